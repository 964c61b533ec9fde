"""The ledger checked against a model small enough to be obviously right.

Hypothesis drives random sequences of pool creation, holds, confirmations,
releases, extensions, sweeps and clock jumps; after every step the store's
figures must equal the model's and the invariants must hold.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from headcount.services.holds import Ledger
from headcount.store import open_store
from headcount.store.base import Store
from headcount.types import MAX_HOLD_LIFETIME_FACTOR, ActorInfo, PoolSpec, Result

ACTORS = ["ann", "bob", "cy", "dee"]


@dataclass
class ModelHold:
    pool: str
    actor: str
    qty: int
    status: str
    expires: float
    max_expires: float
    ttl: float


@dataclass
class ModelPool:
    capacity: int
    limit: int
    ttl: int


class LedgerModel(RuleBasedStateMachine):
    store_url: str = ""
    pools = Bundle("pools")
    holds = Bundle("holds")

    @initialize()
    def start(self) -> None:
        self.store: Store = open_store(self.store_url)
        self.now = 1_800_000_000.0
        self.ledger = Ledger(self.store, clock=lambda: self.now)
        self.prefix = uuid.uuid4().hex[:8]
        self.model_pools: dict[str, ModelPool] = {}
        self.model_holds: dict[str, ModelHold] = {}

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()

    # model helpers -----------------------------------------------------------
    def _live(self, h: ModelHold) -> bool:
        return h.status == "confirmed" or (h.status == "held" and h.expires > self.now)

    def _usage(self, pool: str, actor: str) -> int:
        return sum(h.qty for h in self.model_holds.values() if h.pool == pool and h.actor == actor and self._live(h))

    def _figures(self, pool: str) -> tuple[int, int]:
        held = sum(h.qty for h in self.model_holds.values()
                   if h.pool == pool and h.status == "held" and h.expires > self.now)
        confirmed = sum(h.qty for h in self.model_holds.values() if h.pool == pool and h.status == "confirmed")
        return held, confirmed

    # rules ---------------------------------------------------------------------
    @rule(target=pools, capacity=st.integers(0, 6), limit=st.integers(1, 3), ttl=st.sampled_from([30, 100, 300]))
    def create_pool(self, capacity: int, limit: int, ttl: int) -> str:
        pool_id = f"{self.prefix}-{len(self.model_pools)}"
        out = self.ledger.create_pool(PoolSpec(pool_id, "p", "stock", capacity, limit, ttl))
        assert out.result is Result.CREATED
        self.model_pools[pool_id] = ModelPool(capacity, limit, ttl)
        return pool_id

    @rule(target=holds, pool=pools, actor=st.sampled_from(ACTORS), qty=st.integers(1, 3))
    def place_hold(self, pool: str, actor: str, qty: int) -> str:
        mp = self.model_pools[pool]
        out = self.ledger.hold(pool, qty, ActorInfo(id=actor))
        held, confirmed = self._figures(pool)
        if self._usage(pool, f"id:{actor}") + qty > mp.limit:
            assert out.result is Result.ACTOR_LIMIT
        elif held + confirmed + qty > mp.capacity:
            assert out.result is Result.SOLD_OUT
        else:
            assert out.result is Result.HELD
            assert out.body["expires_at"] == pytest.approx(self.now + mp.ttl)
            hid = out.body["hold_id"]
            self.model_holds[hid] = ModelHold(pool, f"id:{actor}", qty, "held", self.now + mp.ttl,
                                              self.now + mp.ttl * MAX_HOLD_LIFETIME_FACTOR, mp.ttl)
            return hid
        return "h0_none"

    def _expire_if_due(self, h: ModelHold) -> None:
        if h.status == "held" and h.expires <= self.now:
            h.status = "expired"

    @rule(hold_id=holds)
    def confirm(self, hold_id: str) -> None:
        out = self.ledger.confirm(hold_id)
        h = self.model_holds.get(hold_id)
        if h is None:
            assert out.result is Result.NOT_FOUND
            return
        self._expire_if_due(h)
        if h.status in ("held", "confirmed"):
            h.status = "confirmed"
            assert out.result is Result.CONFIRMED
        else:
            assert out.result is Result.BAD_STATE

    @rule(hold_id=holds)
    def release(self, hold_id: str) -> None:
        out = self.ledger.release(hold_id)
        h = self.model_holds.get(hold_id)
        if h is None:
            assert out.result is Result.NOT_FOUND
            return
        self._expire_if_due(h)
        assert out.result is Result.RELEASED
        if h.status in ("held", "confirmed"):
            h.status = "released"
        assert out.body["status"] == h.status

    @rule(hold_id=holds)
    def extend(self, hold_id: str) -> None:
        out = self.ledger.extend(hold_id)
        h = self.model_holds.get(hold_id)
        if h is None:
            assert out.result is Result.NOT_FOUND
            return
        self._expire_if_due(h)
        new = min(self.now + h.ttl, h.max_expires)
        if h.status == "held" and new > h.expires:
            h.expires = new
            assert out.result is Result.EXTENDED
            assert out.body["expires_at"] == pytest.approx(new)
        else:
            assert out.result is Result.BAD_STATE

    @rule(dt=st.sampled_from([0, 1, 29, 30, 60, 99, 100, 250]))
    def advance_clock(self, dt: int) -> None:
        self.now += dt

    @rule()
    def sweep(self) -> None:
        self.ledger.sweep()
        for h in self.model_holds.values():
            self._expire_if_due(h)

    # invariants -----------------------------------------------------------------
    @invariant()
    def figures_match_the_model(self) -> None:
        for pool_id, mp in self.model_pools.items():
            pool = self.ledger.pool(pool_id)
            assert pool is not None
            assert (pool.held, pool.confirmed) == self._figures(pool_id)
            assert 0 <= pool.held + pool.confirmed <= mp.capacity
            for actor in ACTORS:
                usage = self.store.actor_usage(pool_id, f"id:{actor}", self.now)
                assert usage == self._usage(pool_id, f"id:{actor}") <= mp.limit


@pytest.mark.slow
def test_ledger_matches_model(store_url: str) -> None:
    machine = type("Machine", (LedgerModel,), {"store_url": store_url})
    run = settings(
        max_examples=60, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )(machine).TestCase
    run().runTest()
