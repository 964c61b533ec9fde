"""The holds ledger: limited capacity that fakes cannot lock up, and no oversell."""

from headcount.ledger.models import (
    MAX_HOLD_LIFETIME_FACTOR,
    Hold,
    HoldRequest,
    IdempotencyKey,
    LightThresholds,
    Outcome,
    Pool,
    PoolSpec,
    Result,
)
from headcount.ledger.service import ActorInfo, Decision, Guard, IdentityGuard, Ledger

__all__ = [
    "MAX_HOLD_LIFETIME_FACTOR",
    "ActorInfo",
    "Decision",
    "Guard",
    "Hold",
    "HoldRequest",
    "IdempotencyKey",
    "IdentityGuard",
    "Ledger",
    "LightThresholds",
    "Outcome",
    "Pool",
    "PoolSpec",
    "Result",
]
