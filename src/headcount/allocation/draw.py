"""The lottery draw: a pure function of the published entries, the seed and the number of tickets.

Nothing here reads a clock, a store or arrival order, so every process computes the
same draw and anyone can recompute it (`headcount lottery verify`):

1. Before the window closes the pool publishes `commitment(seed)`, a SHA-256 of a
   secret 256-bit seed. Nobody can choose the seed after seeing the registrations.
2. At the draw every registration becomes an `Entry`: its id, seats, weight (from
   its risk band) and, if refused, why. `digest(entries)` is published with them.
3. Each eligible entry gets the key `log(u) / weight`, where `u` in (0, 1) is an
   HMAC of its id under `HMAC(seed, digest)` (Efraimidis and Spirakis' weighted
   sampling without replacement): ordering by key, highest first, is a random
   permutation in which each entry comes first with probability weight / total.
   The key depends on the id alone, never on when the person registered.
4. `allocate` walks the order and gives each entry its seats while tickets remain;
   a party that no longer fits waits, and everyone not drawn is the waitlist, in order.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DRAW_VERSION = 1
_COMMIT_TAG = b"headcount-lottery-seed-v1\x00"


@dataclass(frozen=True, slots=True)
class Entry:
    """One registration as the draw sees it (no personal data: ids are random)."""

    registration_id: str
    quantity: int
    weight: float  # > 0 for an eligible entry; 0 when refused
    refused: str = ""  # why it takes no part ("coordinated_group", "duplicate_person", ...)

    @property
    def eligible(self) -> bool:
        return not self.refused and self.weight > 0

    def line(self) -> str:
        return f"{self.registration_id}\t{self.quantity}\t{self.weight:.6f}\t{self.refused}"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.registration_id, "quantity": self.quantity, "weight": round(self.weight, 6),
                "refused": self.refused or None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Entry:
        """From `to_dict`'s JSON (hence values of any type, converted here)."""
        return cls(str(d["id"]), int(d["quantity"]), float(d["weight"]), str(d.get("refused") or ""))


def new_seed() -> str:
    """A fresh secret seed, 32 random bytes as hex."""
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    """The published commitment to a seed: SHA-256 of a tag and the seed's bytes, hex."""
    return hashlib.sha256(_COMMIT_TAG + bytes.fromhex(seed)).hexdigest()


def digest(entries: Iterable[Entry]) -> str:
    """SHA-256 over the entries' lines, sorted by registration id (order of arrival plays no part)."""
    h = hashlib.sha256(f"headcount-lottery-entries-v{DRAW_VERSION}\n".encode())
    for e in sorted(entries, key=lambda e: e.registration_id):
        h.update(e.line().encode() + b"\n")
    return h.hexdigest()


def _draw_key(seed: str, entries_digest: str) -> bytes:
    return hmac.digest(bytes.fromhex(seed), entries_digest.encode(), "sha256")


def uniform(key: bytes, registration_id: str) -> float:
    """A number in (0, 1) from the draw key and an id (53 bits, never 0 or 1)."""
    x = int.from_bytes(hmac.digest(key, registration_id.encode(), "sha256")[:8], "big") >> 11
    return (x + 0.5) / float(1 << 53)


def order(entries: Sequence[Entry], seed: str, entries_digest: str | None = None) -> list[str]:
    """The eligible entries' ids in draw order (a weighted random permutation)."""
    key = _draw_key(seed, entries_digest or digest(entries))
    keyed = [(math.log(uniform(key, e.registration_id)) / e.weight, e.registration_id)
             for e in entries if e.eligible]
    keyed.sort(key=lambda t: (-t[0], t[1]))
    return [rid for _, rid in keyed]


def allocate(drawn: Sequence[str], quantities: dict[str, int], tickets: int) -> tuple[list[str], list[str]]:
    """(winners, waitlist) from the draw order: seats while tickets last; who does not fit waits."""
    winners: list[str] = []
    waitlist: list[str] = []
    left = tickets
    for rid in drawn:
        q = quantities[rid]
        if left > 0 and q <= left:
            winners.append(rid)
            left -= q
        else:
            waitlist.append(rid)
    return winners, waitlist


@dataclass(frozen=True)
class Draw:
    """A draw as published: enough to recompute it from nothing else."""

    pool_id: str
    seed: str
    commitment: str
    digest: str
    tickets: int
    entries: tuple[Entry, ...]
    order: tuple[str, ...]
    winners: tuple[str, ...]
    waitlist: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"version": DRAW_VERSION, "pool_id": self.pool_id, "seed": self.seed,
                "commitment": self.commitment, "digest": self.digest, "tickets": self.tickets,
                "entries": [e.to_dict() for e in self.entries], "order": list(self.order),
                "winners": list(self.winners), "waitlist": list(self.waitlist)}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Draw:
        return cls(str(d["pool_id"]), str(d["seed"]), str(d["commitment"]), str(d["digest"]),
                   int(d["tickets"]),  # type: ignore[call-overload]
                   tuple(Entry.from_dict(e) for e in d["entries"]),  # type: ignore[attr-defined]
                   tuple(d["order"]), tuple(d["winners"]), tuple(d["waitlist"]))  # type: ignore[arg-type]


def run_draw(pool_id: str, seed: str, entries: Sequence[Entry], tickets: int) -> Draw:
    """The draw for these entries and this many tickets (seats)."""
    entries = tuple(sorted(entries, key=lambda e: e.registration_id))
    d = digest(entries)
    drawn = order(entries, seed, d)
    winners, waitlist = allocate(drawn, {e.registration_id: e.quantity for e in entries}, tickets)
    return Draw(pool_id, seed, commitment(seed), d, tickets, entries, tuple(drawn), tuple(winners),
                tuple(waitlist))


def first_difference(published: Draw, registrations: Sequence[Entry] | None = None) -> str | None:
    """Recompute a published draw; None when it holds, else the first thing that differs, in words.

    `registrations`: the entries as the store has them now (quantity and id of every
    registration); a registration added, removed or changed since the draw is named.
    """
    try:
        if commitment(published.seed) != published.commitment:
            return "the seed does not match the commitment published before the window closed"
    except ValueError:
        return "the seed is not hex"
    if registrations is not None:
        mine = {e.registration_id: e for e in published.entries}
        theirs = {e.registration_id: e for e in registrations}
        for rid in sorted(set(mine) | set(theirs)):
            if rid not in theirs:
                return f"registration {rid} is in the published draw but not in the store"
            if rid not in mine:
                return f"registration {rid} is in the store but not in the published draw"
            if mine[rid].quantity != theirs[rid].quantity:
                return (f"registration {rid}: quantity {theirs[rid].quantity} in the store,"
                        f" {mine[rid].quantity} in the published draw")
    d = digest(published.entries)
    if d != published.digest:
        return f"the registration digest is {d}, the published one {published.digest}"
    again = run_draw(published.pool_id, published.seed, published.entries, published.tickets)
    for name in ("order", "winners", "waitlist"):
        mine_seq, again_seq = getattr(published, name), getattr(again, name)
        for k, (a, b) in enumerate(zip(mine_seq, again_seq)):
            if a != b:
                return f"{name} position {k + 1}: published {a}, recomputed {b}"
        if len(mine_seq) != len(again_seq):
            return f"{name}: {len(mine_seq)} published, {len(again_seq)} recomputed"
    return None
