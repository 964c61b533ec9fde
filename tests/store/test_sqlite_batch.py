"""SQLite's set-based batch of holds answers exactly as holds one by one would."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headcount.store import sqlite_ops as ops
from headcount.store.sqlite import SQLiteStore
from headcount.types import HoldRequest, IdempotencyKey, Outcome, PoolSpec

T0 = 1_800_000_000.0

hold_items = st.lists(
    st.tuples(
        st.sampled_from(["p1", "p2", "missing"]),
        st.integers(1, 3),
        st.sampled_from(["ann", "bob", "cy"]),
        st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"])),
        st.sampled_from(["h1", "h2"]),
        st.one_of(st.none(), st.integers(1, 2)),
        st.floats(0, 120),
    ),
    min_size=2,
    max_size=40,
)


def _fresh(tmp: Path, name: str) -> SQLiteStore:
    store = SQLiteStore(tmp / f"{name}.db")
    store.create_pool(PoolSpec("p1", "p1", "stock", 6, 3, 100), T0)
    store.create_pool(PoolSpec("p2", "p2", "stock", 2, 2, 100), T0)
    # an old hold that is due during the batch
    store.place_hold(HoldRequest("p1", 2, "old"), T0 - 50)
    return store


def _comparable(o: Outcome) -> tuple[Any, ...]:
    body = {k: v for k, v in o.body.items() if k != "hold_id"}
    return o.result, o.replayed, sorted(body.items(), key=str)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hold_items)
def test_batch_equals_sequential(raw: list[tuple[Any, ...]]) -> None:
    now = T0 + 60  # the old hold (expires T0 + 50) is due for every item
    items = [
        (HoldRequest(pool, qty, actor, actor_cap=cap), now + dt / 1e6,
         IdempotencyKey("s", key, h) if key else None)
        for pool, qty, actor, key, h, cap, dt in raw
    ]
    with tempfile.TemporaryDirectory() as tmp:
        one, many = _fresh(Path(tmp), "one"), _fresh(Path(tmp), "many")
        try:
            sequential = [one.write(lambda c, it=it: ops.place_hold(c, *it)) for it in items]
            batched = many.write(lambda c: ops.place_holds(c, items))
            assert [_comparable(o) for o in batched] == [_comparable(o) for o in sequential]
            for pool in ("p1", "p2"):
                a, b = one.get_pool(pool, now), many.get_pool(pool, now)
                assert a is not None and b is not None and (a.held, a.confirmed) == (b.held, b.confirmed)
            assert len(one.read_actions()) == len(many.read_actions())
            for o in batched:  # batch-made holds are real holds
                if "hold_id" in o.body and not o.replayed:
                    assert many.get_hold(o.body["hold_id"]) is not None
        finally:
            one.close()
            many.close()
