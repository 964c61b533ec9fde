"""The cleaned contact list: the registrants judged real, for an organiser whose database was flooded.

A person is judged real when every hold they placed in the pool scored in the
policy's first band (below 0.35 in the default policy: a normal hold) and they are
a member of no detected coordinated group. The list needs the contacts kept in the vault
(HEADCOUNT_KEEP_CONTACTS=1); decrypting them is a personal-data read, so it is
written to the audit chain first, like `headcount contacts export`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from headcount.privacy.audit import record_read
from headcount.privacy.keyring import KeyRing
from headcount.privacy.vault import unseal
from headcount.store.base import Store

#: The default policy's first band ends here; `registrants` takes the policy's own bound.
LOW_RISK_BELOW = 0.35
PAGE = 10_000


@dataclass(frozen=True)
class Registrant:
    actor_key: str
    seats: int
    max_score: float
    in_group: bool
    real_below: float = LOW_RISK_BELOW  # the policy's first band's bound

    @property
    def real(self) -> bool:
        return self.max_score < self.real_below and not self.in_group


@dataclass(frozen=True)
class CleanedContact:
    actor_key: str
    seats: int
    emails: tuple[str, ...]
    phones: tuple[str, ...]


def registrants(store: Store, pool_id: str, group_members: Iterable[str] = (),
                progress: Callable[[int], None] | None = None,
                real_below: float = LOW_RISK_BELOW) -> dict[str, Registrant]:
    """Everyone who got a hold in the pool, from the action log (paged; `progress` gets rows read)."""
    members = set(group_members)
    seats: dict[str, int] = {}
    worst: dict[str, float] = {}
    after = 0
    while True:
        page = store.read_actions(after, PAGE)
        if not page:
            break
        for a in page:
            if a.verb == "hold" and a.pool_id == pool_id and a.decision == "held":
                seats[a.actor_key] = seats.get(a.actor_key, 0) + a.quantity
                worst[a.actor_key] = max(worst.get(a.actor_key, 0.0), a.score)
        after = page[-1].seq
        if progress:
            progress(len(page))
    return {k: Registrant(k, seats[k], worst[k], k in members, real_below) for k in seats}


def judged_real(people: dict[str, Registrant]) -> list[Registrant]:
    return sorted((p for p in people.values() if p.real), key=lambda p: p.actor_key)


def cleaned_contacts(store: Store, ring: KeyRing, pool_id: str, real: list[Registrant], *, who: str,
                     reason: str) -> list[CleanedContact]:
    """Decrypt the kept e-mails and phones of the people judged real; audited first.

    Raises ValueError naming what is missing: a reason, or kept contacts at all.
    """
    if not reason or not reason.strip():
        raise ValueError("reason: exporting personal data needs a reason")
    kept = store.all_contacts()
    if not kept:
        raise ValueError("contacts: none are kept; the service keeps them only with HEADCOUNT_KEEP_CONTACTS=1")
    record_read(store, ring, who=who, role="privacy", action="contacts.export.cleaned",
                subject=f"pool:{pool_id}", reason=reason)
    wanted = {p.actor_key: p for p in real}
    emails: dict[str, list[str]] = {}
    phones: dict[str, list[str]] = {}
    for record in kept:
        if record.actor_key in wanted and record.kind in ("email", "phone"):
            into = emails if record.kind == "email" else phones
            into.setdefault(record.actor_key, []).append(unseal(ring, record))
    return [CleanedContact(k, wanted[k].seats, tuple(sorted(emails.get(k, ()))), tuple(sorted(phones.get(k, ()))))
            for k in sorted(wanted) if k in emails or k in phones]
