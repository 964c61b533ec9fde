"""Demo data for `headcount serve --demo`: pools that look like the articles' cases."""

from __future__ import annotations

from headcount.ledger.models import LightThresholds, PoolSpec
from headcount.ledger.service import Ledger

DEMO_POOLS = [
    PoolSpec("rally-tulsa", "Rally, 19,200-seat arena", "event", 19_200, 2, 900),
    PoolSpec("shop-caps", "Campaign shop: caps", "stock", 500, 3, 600, LightThresholds(0.25, 0.05)),
    PoolSpec("shop-shirts", "Campaign shop: shirts", "stock", 1_200, 3, 600, LightThresholds(0.25, 0.05)),
]


def seed_demo(ledger: Ledger) -> list[str]:
    """Create the demo pools that do not exist yet; returns the ids created."""
    created = []
    for spec in DEMO_POOLS:
        if ledger.create_pool(spec).ok:
            created.append(spec.id)
    return created
