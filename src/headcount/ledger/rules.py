"""The hold rules, as one pure function: given a pool's state and a person's usage, the answer.

The SQLite store applies it to one hold and to a batch of holds; the PostgreSQL
store has the same rules in PL/pgSQL (`hc_place_hold`, a round trip's worth of
work under the pool's row lock), and `tests/store/test_hold_rules_contract.py`
runs the same cases against this function and both stores.

Order matters and is part of the contract: an unknown pool first, then the
person's limit (a person at their limit is told so even when the pool is
sold out, so they do not wait for seats they could never get), then capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headcount.types import MAX_HOLD_LIFETIME_FACTOR, HoldRequest, Result


@dataclass(frozen=True, slots=True)
class PoolState:
    """What the rules read of a pool; `held` already without the holds that are due."""

    capacity: int
    per_actor_limit: int
    hold_ttl_s: float
    held: int
    confirmed: int


@dataclass(frozen=True, slots=True)
class HoldVerdict:
    """The decision and everything a store writes or answers because of it."""

    result: Result  # HELD, SOLD_OUT, ACTOR_LIMIT or NOT_FOUND
    reasons: tuple[str, ...]  # as answered (and logged, for a refusal)
    limit: int = 0  # the per-person cap that applied
    used: int = 0  # the person's quantity before this hold
    ttl_s: float = 0.0
    expires_at: float = 0.0
    max_expires_at: float = 0.0

    @property
    def held(self) -> bool:
        return self.result is Result.HELD

    def body(self, req: HoldRequest, hold_id: str | None = None) -> dict[str, Any]:
        """The answer's body, as both stores give it."""
        if self.result is Result.NOT_FOUND:
            return {"pool_id": req.pool_id, "reasons": list(self.reasons)}
        if self.result is Result.ACTOR_LIMIT:
            return {"pool_id": req.pool_id, "reasons": list(self.reasons), "limit": self.limit, "used": self.used}
        if self.result is Result.SOLD_OUT:
            return {"pool_id": req.pool_id, "reasons": list(self.reasons)}
        return {"hold_id": hold_id, "pool_id": req.pool_id, "status": "held", "quantity": req.quantity,
                "expires_at": self.expires_at,
                "risk": {"score": req.risk_score, "reasons": list(req.risk_reasons)}}

    @property
    def log_reasons(self) -> tuple[str, ...]:
        """What the action log keeps: the risk reasons of a hold, the refusal's reasons otherwise."""
        return self.reasons


def decide_hold(pool: PoolState | None, used: int, req: HoldRequest, now: float) -> HoldVerdict:
    """Whether `req` gets a hold now, and until when.

    `used` is the person's quantity held (unexpired) or confirmed in the pool.
    """
    risk = tuple(req.risk_reasons)
    if pool is None:
        return HoldVerdict(Result.NOT_FOUND, ("unknown_pool",))
    cap = pool.per_actor_limit if req.actor_cap is None else min(pool.per_actor_limit, req.actor_cap)
    if used + req.quantity > cap:
        return HoldVerdict(Result.ACTOR_LIMIT, (*risk, "actor_limit"), limit=cap, used=used)
    if pool.held + pool.confirmed + req.quantity > pool.capacity:
        return HoldVerdict(Result.SOLD_OUT, (*risk, "sold_out"), limit=cap, used=used)
    ttl = max(1.0, pool.hold_ttl_s * req.ttl_factor)
    return HoldVerdict(Result.HELD, risk, limit=cap, used=used, ttl_s=ttl, expires_at=now + ttl,
                       max_expires_at=now + ttl * MAX_HOLD_LIFETIME_FACTOR)
