"""headcount: tell real people from fake crowds.

A holds ledger that fakes cannot lock up, identity signals and linking,
coordinated-group detection, and real-headcount estimates, as a library with a
CLI and an HTTP service on top::

    import headcount
    from headcount import ActorInfo, PoolSpec

    with headcount.open("sqlite:///data/headcount.db") as hc:
        hc.create_pool(PoolSpec("caps", "Caps", "stock", capacity=500, per_actor_limit=3, hold_ttl_s=600))
        outcome = hc.hold("caps", 1, ActorInfo(email="ann@example.org"))
        if outcome.ok:
            hc.confirm(outcome.body["hold_id"])
"""

from headcount.core import Headcount, open
from headcount.policy import Policy, PolicyError
from headcount.privacy.keyring import KeyRingError
from headcount.services.lottery import LotteryConfig, LotteryError
from headcount.settings import Settings, SettingsError
from headcount.store.base import StoreError, StoreUnavailable
from headcount.types import (
    ActorInfo,
    Hold,
    IdempotencyKey,
    LightThresholds,
    Outcome,
    Pool,
    PoolSpec,
    Result,
)

__version__ = "0.1.0"

__all__ = [
    "ActorInfo",
    "Headcount",
    "Hold",
    "IdempotencyKey",
    "KeyRingError",
    "LightThresholds",
    "LotteryConfig",
    "LotteryError",
    "Outcome",
    "Policy",
    "PolicyError",
    "Pool",
    "PoolSpec",
    "Result",
    "Settings",
    "SettingsError",
    "StoreError",
    "StoreUnavailable",
    "__version__",
    "open",
]
