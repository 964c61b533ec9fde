"""Which person a request's identity keys belong to: the linking rule, as one pure function.

Linking exists so that one person cannot take a pool's per-person limit once per
spelling of themselves. It must not do two other things:

- **join a household.** A family shares one tablet or one phone number, but each
  member has a mailbox of their own. Merging everyone behind a shared device into
  one person would cap the family at one person's limit. So a person holds at most
  one mailbox and one account id: a key seen with another mailbox is *shared*, and
  it does not pull a new mailbox into the old person. (Many mailboxes behind one
  device is then a risk signal of the guard's: `identity_fanout_device`.)
- **let anyone type someone else into their own person.** A verified identifier
  (`POST /v1/verifications`) belongs to the person who proved it. A request that
  names it without bringing that person's device is a *claim*: it is charged to
  the requester's other keys, never to the owner.

Keys are `kind:...` strings (`id`, `email`, `tel`, `dev`); person ids are keys too
(the first key a person was seen with), so every process agrees on them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

#: kinds a person holds at most one of: two different ones are two people
EXCLUSIVE = ("id", "email")
#: which key finds the person first, when a request's keys know several
PRIORITY = {"id": 0, "email": 1, "tel": 2, "dev": 3}


def kind_of(key: str) -> str:
    return key.split(":", 1)[0]


def _exclusive(keys: Collection[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for k in keys:
        if kind_of(k) in EXCLUSIVE:
            out.setdefault(kind_of(k), set()).add(k)
    return out


def _conflicts(a: Mapping[str, set[str]], b: Mapping[str, set[str]]) -> bool:
    return any(a.get(kind) and b.get(kind) and not (a[kind] & b[kind]) for kind in EXCLUSIVE)


def claims(keys: Collection[str], known: Mapping[str, str], members: Mapping[str, Collection[str]],
           verified: Collection[str]) -> set[str]:
    """The verified keys this request only claims: their person has a device, and not this one's."""
    devices = {k for k in keys if kind_of(k) == "dev"}
    out = set()
    for k in keys:
        if k in verified and k in known:
            theirs = {m for m in members.get(known[k], ()) if kind_of(m) == "dev"}
            if theirs and not theirs & devices:
                out.add(k)
    return out


def assign_person(
    keys: list[str],
    known: Mapping[str, str],
    members: Mapping[str, Collection[str]],
    verified: Collection[str] = (),
) -> tuple[str, set[str], list[str]]:
    """(the person, other persons to fold into it, keys to add to it) for one request.

    `known`: key -> person for the request's keys already linked; `members`: every
    known person's keys (at least their exclusive ones and devices); `verified`:
    which of the request's keys are verified.
    """
    claimed = claims(keys, known, members, verified)
    usable = [k for k in keys if k not in claimed] or keys[:1]
    held = _exclusive(usable)

    def rank(person: str) -> tuple[int, str]:
        return min(PRIORITY.get(kind_of(k), 9) for k in usable if known.get(k) == person), person

    chosen: str | None = None
    folded: set[str] = set()
    for person in sorted({known[k] for k in usable if k in known}, key=rank):
        theirs = _exclusive(members.get(person, ()))
        if _conflicts(held, theirs):
            continue  # a shared device or number: it stays with the person it came with
        if chosen is None:
            chosen = person
        else:
            folded.add(person)
        for kind, ks in theirs.items():
            held.setdefault(kind, set()).update(ks)
    new = [k for k in usable if k not in known]
    if chosen is None:
        chosen = min(new) if new else min(usable)
    return chosen, folded, new
