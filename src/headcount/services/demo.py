"""Demo data for `headcount serve --demo`: pools that look like the articles' cases,
with a few hours of registrations behind them so the dashboard has something to show."""

from __future__ import annotations

import random
import time

from headcount.services.holds import Ledger
from headcount.store.base import ActionRequest
from headcount.types import ActorInfo, LightThresholds, PoolSpec

DEMO_POOLS = [
    PoolSpec("rally-tulsa", "Rally, 19,200-seat arena", "event", 19_200, 2, 900),
    PoolSpec("shop-caps", "Campaign shop: caps", "stock", 500, 3, 600, LightThresholds(0.25, 0.05)),
    PoolSpec("shop-shirts", "Campaign shop: shirts", "stock", 1_200, 3, 600, LightThresholds(0.25, 0.05)),
]

#: Earlier events whose doors scanned check-ins: what the headcount estimate learns show-up
#: rates from (an organiser's history; with one or two pools its interval is very wide).
#: (pool, registrations, share who came, days ago)
DEMO_PAST = [
    (PoolSpec("rally-okc", "Earlier rally, Oklahoma City (checked in)", "event", 800, 2, 900), 600, 0.55, 14),
    (PoolSpec("rally-wichita", "Earlier rally, Wichita (checked in)", "event", 600, 2, 900), 420, 0.62, 28),
    (PoolSpec("rally-dallas", "Earlier rally, Dallas (checked in)", "event", 1_000, 2, 900), 700, 0.48, 42),
    (PoolSpec("rally-omaha", "Earlier rally, Omaha (checked in)", "event", 500, 2, 900), 350, 0.58, 56),
    (PoolSpec("rally-denver", "Earlier rally, Denver (checked in)", "event", 900, 2, 900), 640, 0.51, 70),
]

#: (pool, registrations over the last hours, share confirmed)
DEMO_ACTIVITY = [("rally-tulsa", 1_500, 0.8), ("shop-caps", 420, 0.9), ("shop-shirts", 300, 0.6)]


def seed_demo(ledger: Ledger, hours: float = 6.0, seed: int = 2020) -> list[str]:
    """Create the demo pools that do not exist yet and replay past registrations into them."""
    created = []
    for spec in DEMO_POOLS:
        if ledger.create_pool(spec).ok:
            created.append(spec.id)
    rng = random.Random(seed)
    now = time.time()
    clock = ledger.clock
    try:
        for pool_id, count, confirm_share in DEMO_ACTIVITY:
            if pool_id not in created:
                continue
            # a quiet start, then a burst (a video went viral), then a tail
            times = sorted(now - hours * 3600 * rng.betavariate(2.5, 1.4) for _ in range(count))
            for i, t in enumerate(times):
                ledger.clock = lambda t=t: t
                outcome = ledger.hold(pool_id, rng.choice((1, 1, 2)), ActorInfo(id=f"demo-{pool_id}-{i}"))
                if outcome.ok and rng.random() < confirm_share:
                    ledger.confirm(outcome.body["hold_id"])
        for spec, registrations, came, days_ago in DEMO_PAST:
            if ledger.create_pool(spec).ok:
                created.append(spec.id)
                _seed_past(ledger, rng, spec, registrations, came, now - days_ago * 86400)
        if "rally-okc" in created:
            _seed_follows(ledger, rng, now, hours)
    finally:
        ledger.clock = clock
    return created


#: "#massfollowing": a ring following the same accounts within the hour, among ordinary follows
DEMO_FOLLOWERS, DEMO_ACCOUNTS, DEMO_RING, DEMO_RING_TARGETS = 400, 300, 40, 15


def _seed_follows(ledger: Ledger, rng: random.Random, now: float, hours: float) -> None:
    """Ordinary follows over the last hours and one follow ring, for the detector to find."""
    from headcount.services.actions import ActionService

    actions = ActionService(ledger.store, ledger.guard, getattr(ledger.guard, "ring", None))
    accounts = [f"@account{i}" for i in range(DEMO_ACCOUNTS)]
    weights = [1 / (i + 1) ** 0.8 for i in range(DEMO_ACCOUNTS)]  # some accounts are popular
    for i in range(DEMO_FOLLOWERS):
        for target in set(rng.choices(accounts, weights, k=rng.randint(2, 8))):
            actions.record("follow", ActorInfo(id=f"demo-fan-{i}"), target, now - hours * 3600 * rng.random())
    ring_targets = rng.sample(accounts[50:], DEMO_RING_TARGETS)
    burst = now - hours * 3600 * 0.4
    for i in range(DEMO_RING):
        for target in ring_targets:
            if rng.random() < 0.8:
                actions.record("follow", ActorInfo(id=f"demo-ring-{i}"), target, burst + rng.random() * 1800)


def _seed_past(ledger: Ledger, rng: random.Random, spec: PoolSpec, registrations: int, came: float,
               start: float) -> None:
    """An earlier event's registrations, confirmed, and the check-ins of those who came."""
    for i in range(registrations):
        t = start + i * 60.0
        ledger.clock = lambda t=t: t
        outcome = ledger.hold(spec.id, rng.choice((1, 1, 2)), ActorInfo(id=f"demo-{spec.id}-{i}"))
        if not outcome.ok:
            continue
        ledger.confirm(outcome.body["hold_id"])
        hold = ledger.get_hold(outcome.body["hold_id"])
        if hold is not None and rng.random() < came:
            # the doors open over two hours a day later, not all in one minute
            ledger.store.record_action(ActionRequest(hold.actor_key, "checkin", spec.id,
                                                     start + 86400 + rng.random() * 7200, ((600, 3600),)))
