"""One set of hold cases, three implementations: `ledger.rules.decide_hold`, SQLite, PostgreSQL.

PostgreSQL keeps the rules in PL/pgSQL (`hc_place_hold`); SQLite applies the pure
function, one hold at a time and in batches. Each case sets up a pool's state
through the store, then asks all three for the same request.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from headcount.ledger.rules import PoolState, decide_hold
from headcount.store.base import Store
from headcount.store.sqlite import SQLiteStore
from headcount.types import HoldRequest, PoolSpec, Result

T0 = 1_800_000_000.0


@dataclass(frozen=True)
class Case:
    name: str
    capacity: int
    limit: int
    before: tuple[tuple[str, int, float], ...]  # holds placed first: (actor, quantity, at)
    req: HoldRequest
    now: float
    result: Result


CASES = [
    Case("room", 5, 2, (), HoldRequest("p", 2, "ann"), T0, Result.HELD),
    Case("exactly full", 3, 3, (("bob", 2, T0),), HoldRequest("p", 1, "ann"), T0, Result.HELD),
    Case("one too many", 3, 3, (("bob", 2, T0),), HoldRequest("p", 2, "ann"), T0, Result.SOLD_OUT),
    Case("person at limit", 10, 2, (("ann", 2, T0),), HoldRequest("p", 1, "ann"), T0, Result.ACTOR_LIMIT),
    Case("limit before capacity", 2, 2, (("ann", 2, T0),), HoldRequest("p", 1, "ann"), T0, Result.ACTOR_LIMIT),
    Case("tighter cap", 10, 4, (("ann", 1, T0),), HoldRequest("p", 1, "ann", actor_cap=1), T0, Result.ACTOR_LIMIT),
    Case("cap above limit ignored", 10, 1, (), HoldRequest("p", 2, "ann", actor_cap=5), T0, Result.ACTOR_LIMIT),
    Case("expired frees seats", 2, 2, (("bob", 2, T0),), HoldRequest("p", 2, "ann"), T0 + 600, Result.HELD),
    Case("expired frees the person", 9, 2, (("ann", 2, T0),), HoldRequest("p", 2, "ann"), T0 + 601, Result.HELD),
    Case("short risky hold", 5, 2, (), HoldRequest("p", 1, "r", ttl_factor=0.25, risk_score=0.7,
                                                   risk_reasons=("disposable_email",)), T0, Result.HELD),
    Case("ttl floor of a second", 5, 2, (), HoldRequest("p", 1, "r", ttl_factor=0.0), T0, Result.HELD),
    Case("reasons kept on refusal", 1, 2, (("bob", 1, T0),),
         HoldRequest("p", 1, "ann", risk_reasons=("velocity",)), T0, Result.SOLD_OUT),
    Case("unknown pool", 5, 2, (), HoldRequest("nope", 1, "ann"), T0, Result.NOT_FOUND),
]


def _pure(case: Case) -> tuple[Result, dict[str, object]]:
    if case.req.pool_id != "p":
        verdict = decide_hold(None, 0, case.req, case.now)
        return verdict.result, verdict.body(case.req)
    live = [(a, q) for a, q, at in case.before if at + 600 > case.now]
    state = PoolState(case.capacity, case.limit, 600, sum(q for _, q in live), 0)
    used = sum(q for a, q in live if a == case.req.actor_key)
    verdict = decide_hold(state, used, case.req, case.now)
    return verdict.result, verdict.body(case.req, "ID" if verdict.held else None)


def _comparable(result: Result, body: dict[str, object]) -> tuple[Result, dict[str, object]]:
    return result, {k: ("ID" if k == "hold_id" else v) for k, v in body.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_store_and_pure_rules_agree(store: Store, uid: str, case: Case) -> None:
    pool = f"{uid}-p"
    assert store.create_pool(PoolSpec(pool, "P", "stock", case.capacity, case.limit, 600), T0 - 1).ok
    for actor, qty, at in case.before:
        assert store.place_hold(HoldRequest(pool, qty, f"{uid}-{actor}"), at).result is Result.HELD
    req = HoldRequest(pool if case.req.pool_id == "p" else f"{uid}-nope", case.req.quantity,
                      f"{uid}-{case.req.actor_key}", case.req.ttl_factor, case.req.actor_cap,
                      case.req.risk_score, case.req.risk_reasons)
    out = store.place_hold(req, case.now)
    expected = _pure(case)
    assert expected[0] is case.result
    got = _comparable(out.result, out.body)
    # the ids in bodies differ by store; everything else must be equal
    want = _comparable(*expected)
    want_body = {k: (req.pool_id if k == "pool_id" else v) for k, v in want[1].items()}
    assert got == (want[0], want_body)


def test_sqlite_batch_agrees_with_the_pure_rules(tmp_path: object) -> None:
    """All the cases' requests as one batch on one SQLite writer: each as if alone."""
    from pathlib import Path

    from headcount.store import sqlite_ops as ops

    store = SQLiteStore(Path(str(tmp_path)) / "b.db")
    try:
        items = []
        for i, case in enumerate(CASES):
            pool = f"c{i}"
            store.create_pool(PoolSpec(pool, "P", "stock", case.capacity, case.limit, 600), T0 - 1)
            for actor, qty, at in case.before:
                store.place_hold(HoldRequest(pool, qty, f"{i}-{actor}"), at)
            r = case.req
            items.append((HoldRequest(pool if r.pool_id == "p" else f"c{i}-nope", r.quantity, f"{i}-{r.actor_key}",
                                      r.ttl_factor, r.actor_cap, r.risk_score, r.risk_reasons), case.now, None))
        # one `now` per batch is how the writer sees it: use the latest for every case that allows it
        same_now = [(i, it) for i, it in enumerate(items) if CASES[i].now == T0]
        outcomes = store.write(lambda c: ops.place_holds(c, [it for _, it in same_now]))
        for (i, it), out in zip(same_now, outcomes, strict=True):
            want = _comparable(*_pure(CASES[i]))
            want_body = {k: (it[0].pool_id if k == "pool_id" else v) for k, v in want[1].items()}
            assert _comparable(out.result, out.body) == (want[0], want_body), CASES[i].name
    finally:
        store.close()
