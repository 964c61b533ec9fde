"""The headcount of a pool in a store: its registrations and earlier pools' check-ins, estimated.

This is the one place where the estimate meets the store: it reads seats per
risk band (`Store.pool_turnout`, one GROUP BY each) and hands the band totals
to `estimate_headcount`. Show-up rates are learned from earlier pools whose
holders checked in (`checkin` actions whose target is the pool); with none,
the model's prior answers.

    from headcount.services.headcount import pool_headcount
    result = pool_headcount(store, "rally-tulsa")
    result.to_dict()  # what GET /v1/pools/{id}/headcount returns
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from headcount.estimate.bands import BandCounts, Bands
from headcount.estimate.model import estimate_headcount
from headcount.estimate.prior import Prior
from headcount.estimate.result import HeadcountEstimate
from headcount.store.base import Store
from headcount.store.turnout import TurnoutRow
from headcount.types import Pool


class UnknownPool(LookupError):
    """The pool asked about (or one named as history) does not exist; `field` names which."""

    def __init__(self, field: str, pool_id: str) -> None:
        super().__init__(f"no pool {pool_id!r}")
        self.field = field
        self.pool_id = pool_id


@dataclass(frozen=True)
class PoolHeadcount:
    """An estimate for one pool, with what it was learned from."""

    pool_id: str
    estimate: HeadcountEstimate
    history: tuple[str, ...]  # earlier pools whose check-ins taught the show-up rates
    checked_in: int  # seats of this pool whose holder has checked in so far

    def to_dict(self) -> dict[str, object]:
        return {"pool_id": self.pool_id, **self.estimate.to_dict(), "checked_in": self.checked_in,
                "history": list(self.history)}


def _counts(bands: Bands, rows: list[TurnoutRow], with_check_ins: bool) -> BandCounts:
    n = len(bands)
    reg, sq, came = np.zeros(n), np.zeros(n), np.zeros(n)
    for r in rows:
        reg[r.band] += r.seats
        sq[r.band] += r.sum_sq
        came[r.band] += r.checked_in
    return BandCounts(reg, came if with_check_ins else None, sq)


def learned_from(store: Store, pool: Pool, bands: Bands, now: float,
                 history: Sequence[str] | None = None) -> tuple[tuple[str, ...], list[BandCounts]]:
    """The earlier pools whose check-ins teach `pool`'s show-up rates, and their band counts.

    `history` names them; by default every other pool of the same kind (event, stock) with
    at least one check-in: a shop is not a rally. The one definition the headcount view and
    the lottery's overbooking share, so a draw issues tickets on the estimate staff see."""
    rows = store.pool_turnout(bands.edges, now, None if history is None else list(history))
    by_pool: dict[str, list[TurnoutRow]] = {}
    for row in rows:
        if row.pool_id != pool.id:
            by_pool.setdefault(row.pool_id, []).append(row)
    used = sorted(p for p, prow in by_pool.items() if sum(r.checked_in for r in prow) > 0)
    if history is None:
        used = [p for p in used if (other := store.get_pool(p, now)) is not None and other.kind == pool.kind]
    return tuple(used), [_counts(bands, by_pool[p], True) for p in used]


def pool_headcount(store: Store, pool_id: str, *, history: Sequence[str] | None = None,
                   bands: Bands | None = None, prior: Prior | None = None, level: float = 0.9,
                   now: float | None = None) -> PoolHeadcount:
    """Estimate how many real people will come to `pool_id`.

    `history`: the earlier pools to learn show-up rates from; by default every
    other pool of the same kind (event, stock) with at least one check-in. A named pool with no check-in at all
    is left out (it has no check-in data, which is not the same as nobody came).
    Raises `UnknownPool` for a pool that does not exist.
    """
    bands = bands or Bands()
    now = time.time() if now is None else now
    pool = store.get_pool(pool_id, now)
    if pool is None:
        raise UnknownPool("pool_id", pool_id)
    if history is not None:
        history = list(dict.fromkeys(h for h in history if h != pool_id))
        for h in history:
            if store.get_pool(h, now) is None:
                raise UnknownPool("history", h)
    own = store.pool_turnout(bands.edges, now, [pool_id])
    used, past = learned_from(store, pool, bands, now, history)
    estimate = estimate_headcount(
        _counts(bands, own, False), past,
        bands=bands, capacity=pool.capacity, level=level, prior=prior,
    )
    return PoolHeadcount(pool_id, estimate, used, sum(r.checked_in for r in own))
