"""Vetting before the draw: who takes part, with what weight, judged over the whole registration set.

A lottery sees every registration before it decides, so it can judge a flood with
full information instead of in arrival order:

- **one person, one entry**: identities are linked again at the draw (a person who
  registered twice under identities that were merged since keeps the first);
- **coordinated groups**: the detection ensemble runs over the registration set
  (person x pool x time x network x device), and members of its blocks, or of the
  groups the service's detection job stored, are refused;
- **shared infrastructure**: more than `SHARED_LIMIT` persons on one device, or on one
  block of consecutive numbers (E.164 without its last three digits), counted over the
  whole set, so the first of a farm's identities is judged as the last (a family on one
  tablet stays under it, and is one person anyway); two persons or more with different
  numbers at most five apart (`consecutive_numbers`: SIMs bought in small batches;
  a family sharing a number is one person); a network alone is not enough: carrier NAT puts hundreds of
  real people behind one address);
- **risk**: the registration's score, read through the policy's bands: the deny band
  is refused, the first band weighs 1, any other band `OTHER_BAND_WEIGHT`.

Every decision is published with the entry (`Entry.refused`), so it can be reviewed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from headcount.allocation.draw import Entry
from headcount.detect import DEFAULT_MIN_SCORE
from headcount.detect.detection import detect_all
from headcount.detect.log import ActionLog
from headcount.policy import Policy
from headcount.store.lottery import RegistrationRecord

log = logging.getLogger("headcount.allocation")

OTHER_BAND_WEIGHT = 0.5
SHARED_LIMIT = 5  # persons per device or number block beyond which all of them are refused
MIN_DETECT = 50  # fewer registrations than this hold no group worth a run


@dataclass(frozen=True)
class Vetted:
    entries: list[Entry]
    scores: dict[str, float]  # registration id -> risk score (for the overbooking's bands)
    persons: dict[str, str]  # registration id -> the person it belongs to now
    detected: int  # persons in blocks found over the registration set


def person_of(reg: RegistrationRecord, persons: dict[str, str]) -> str:
    for identity in reg.identities:
        p = persons.get(identity)
        if p is not None:
            return p
    return reg.actor_key


def detect_groups(regs: Sequence[RegistrationRecord], person: dict[str, str],
                  min_score: float = DEFAULT_MIN_SCORE) -> set[str]:
    """Persons in coordinated blocks of the registration set (empty for small sets)."""
    if len(regs) < MIN_DETECT:
        return set()
    actors = [person[r.id] for r in regs]
    ts = np.array([int(r.created_at) for r in regs], dtype=np.int64)
    extra = {"ip": [r.network or "-" for r in regs], "device": [r.device or "-" for r in regs]}
    try:
        action_log = ActionLog.from_arrays(actors, [r.pool_id for r in regs], ts, extra)
        found = detect_all(action_log, top=20, min_score=min_score)
    except Exception:  # detection is evidence, never a reason to fail the draw
        log.exception("detection over the registration set failed")
        return set()
    members: set[str] = set()
    codes = np.asarray(action_log.actor_labels)
    for b in found.blocks:
        members.update(str(codes[int(a)]) for a in b.actors)
    return members


def vet(regs: Sequence[RegistrationRecord], persons: dict[str, str], flagged: Collection[str], policy: Policy,
        *, detect: bool = True) -> Vetted:
    """The draw's entries for these registrations (every registration gets one)."""
    person = {r.id: person_of(r, persons) for r in regs}
    first: dict[str, RegistrationRecord] = {}
    for r in sorted(regs, key=lambda r: (r.created_at, r.id)):
        first.setdefault(person[r.id], r)
    kept = [r for r in regs if first[person[r.id]].id == r.id]
    grouped = detect_groups(kept, person) if detect else set()
    shared: dict[tuple[str, str], set[str]] = {}
    for r in kept:
        for kind, key in (("device", r.device), ("phone_block", r.phone_block),
                          *(("phone_run", k) for k in (r.phone_run or "").split())):
            if key:
                shared.setdefault((kind, key), set()).add(person[r.id])
    crowded = {(kind, key) for (kind, key), persons_on in shared.items()
               if len(persons_on) > (1 if kind == "phone_run" else SHARED_LIMIT)}
    entries: list[Entry] = []
    for r in regs:
        p = person[r.id]
        if first[p].id != r.id:
            entries.append(Entry(r.id, r.quantity, 0.0, "duplicate_person"))
        elif p in flagged or r.actor_key in flagged or p in grouped:
            entries.append(Entry(r.id, r.quantity, 0.0, "coordinated_group"))
        elif ("device", r.device) in crowded:
            entries.append(Entry(r.id, r.quantity, 0.0, "shared_device"))
        elif ("phone_block", r.phone_block) in crowded:
            entries.append(Entry(r.id, r.quantity, 0.0, "shared_number_block"))
        elif any(("phone_run", k) in crowded for k in (r.phone_run or "").split()):
            entries.append(Entry(r.id, r.quantity, 0.0, "consecutive_numbers"))
        else:
            band = policy.band(r.risk_score)
            if band.deny or band.challenge:
                entries.append(Entry(r.id, r.quantity, 0.0, "deny_band"))
            else:
                weight = 1.0 if band is policy.bands[0] else OTHER_BAND_WEIGHT
                entries.append(Entry(r.id, r.quantity, weight))
    return Vetted(entries, {r.id: r.risk_score for r in regs}, person, len(grouped))
