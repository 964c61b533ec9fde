"""Lottery pools through the library (`headcount.Headcount`), on both stores: the same
service the HTTP routes and the draw loop use, with the same answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from headcount import ActorInfo, Headcount, LotteryConfig, LotteryError, PoolSpec, Result
from headcount.services.keys import create_key
from headcount.store import open_store

from .conftest import person


class Clock:
    """A clock the test moves: the window closes without waiting for it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hc(store_url: str, clock: Clock) -> Iterator[Headcount]:
    store = open_store(store_url)
    with Headcount.over(store, owns_store=True, clock=clock) as instance:
        yield instance


def _actor(uid: str, i: int) -> ActorInfo:
    return ActorInfo(**person(uid, i))


def _lottery_pool(hc: Headcount, capacity: int = 3, closes_in: float = 3600, kind: str = "event") -> str:
    pool_id = f"lib-{uuid.uuid4().hex[:8]}"
    out = hc.create_pool(PoolSpec(pool_id, pool_id, kind, capacity=capacity, per_actor_limit=2,  # type: ignore[arg-type]
                                  hold_ttl_s=600), lottery=LotteryConfig(closes_at=hc.clock() + closes_in, confirm_within_s=600))
    assert out.ok, out.body
    assert out.body["allocation"]["state"] == "open" and len(out.body["allocation"]["commitment"]) == 64
    return pool_id


def test_register_draw_confirm_and_verify_through_the_library(hc: Headcount) -> None:
    pool_id = _lottery_pool(hc, capacity=3)
    uid = uuid.uuid4().hex
    answers = [hc.register(pool_id, 1, _actor(uid, i)) for i in range(6)]
    assert [a.status for a in answers] == ["created"] * 6
    again = hc.register(pool_id, 1, _actor(uid, 0))  # the same person: the same registration
    assert again.status == "existing" and again.body["registration_id"] == answers[0].body["registration_id"]
    # no hold around the draw: the ledger says why
    direct = hc.hold(pool_id, 1, _actor(uid, 40))
    assert not direct.ok and direct.result is Result.LOTTERY_POOL and direct.body["reasons"] == ["lottery_pool"]
    assert "allocated by lottery" in direct.body["detail"] and direct.body["field"] == "pool_id"

    drawn = hc.allocate(pool_id)
    assert drawn.status == "ok" and drawn.body["won"] == 3 and drawn.body["waitlisted"] == 3
    assert hc.allocate(pool_id).body["seed"] == drawn.body["seed"]  # once
    states = [hc.registration(a.body["registration_id"]) for a in answers]
    won = [s for s in states if s and s["status"] == "won"]
    assert len(won) == 3 and sorted(s["position"] for s in states if s and s["status"] == "waitlisted") == [4, 5, 6]
    assert hc.confirm(won[0]["hold_id"]).ok
    assert hc.release(won[1]["hold_id"]).ok  # a declined win frees a seat for the waitlist, not for a hold
    assert hc.hold(pool_id, 1, _actor(uid, 41)).result is Result.LOTTERY_POOL
    assert hc.registration(won[0]["registration_id"])["status"] == "confirmed"  # type: ignore[index]
    assert hc.register(pool_id, 1, _actor(uid, 50)).status == "closed"

    state = hc.lottery_state(pool_id)
    assert state is not None and state["state"] == "drawn" and state["seed"] == drawn.body["seed"]
    assert "tickets for 3 places" in state["overbooking"]["reason"]
    assert hc.verify_draw(pool_id, state["commitment"]) is None
    assert "not the" in (hc.verify_draw(pool_id, "0" * 64) or "")


def test_bad_lottery_settings_raise_naming_the_field(hc: Headcount) -> None:
    spec = PoolSpec(f"bad-{uuid.uuid4().hex[:8]}", "x", "event", capacity=10, per_actor_limit=1, hold_ttl_s=60)
    with pytest.raises(LotteryError) as past:
        hc.create_pool(spec, lottery=LotteryConfig(closes_at=hc.clock() - 1))
    assert past.value.field == "allocation.closes_at"
    with pytest.raises(LotteryError) as risk:
        hc.create_pool(spec, lottery=LotteryConfig(closes_at=hc.clock() + 60, overbook_risk=1.5))
    assert risk.value.field == "allocation.overbook_risk"
    assert hc.pool(spec.id) is None  # nothing was made
    first_come = hc.create_pool(spec)
    assert first_come.ok and hc.register(spec.id, 1, _actor(uuid.uuid4().hex, 1)).status == "not_lottery"
    assert hc.hold(spec.id, 1, _actor(uuid.uuid4().hex, 2)).result is Result.HELD  # first come takes holds


def test_the_draw_runs_by_itself_once_the_window_closes(hc: Headcount, clock: Clock) -> None:
    pool_id = _lottery_pool(hc, capacity=2, closes_in=60)
    uid = uuid.uuid4().hex
    ids = [hc.register(pool_id, 1, _actor(uid, i)).body["registration_id"] for i in range(4)]
    hc.run_lottery()  # (the store may hold other tests' pools: judged by this pool's state)
    assert hc.lottery_state(pool_id)["state"] == "open"  # type: ignore[index]
    clock.now += 61
    assert hc.run_lottery() >= 1
    drawn = hc.lottery_state(pool_id)
    assert drawn is not None and drawn["state"] == "drawn"
    hc.run_lottery()
    assert hc.lottery_state(pool_id)["drawn_at"] == drawn["drawn_at"]  # type: ignore[index]  # once
    states = {rid: hc.registration(rid) for rid in ids}
    won = [s for s in states.values() if s and s["status"] == "won"]
    assert len(won) == 2
    # a declined win passes down the waitlist on the next round
    assert hc.release(won[0]["hold_id"]).ok
    hc.run_lottery()
    first_waiting = min((s for s in states.values() if s and s["status"] == "waitlisted"),
                        key=lambda s: s["position"])
    assert hc.registration(first_waiting["registration_id"])["status"] == "won"  # type: ignore[index]
    assert hc.verify_draw(pool_id) is None


def test_the_service_serves_the_library_s_lottery(hc: Headcount) -> None:
    """One wiring: what the library drew, the HTTP service shows, and the other way round."""
    app = hc.asgi(sweep_interval=None)
    assert app.state.headcount.lottery is hc.lottery
    staff, client = create_key(hc.store, "staff"), create_key(hc.store, "client")
    pool_id = _lottery_pool(hc, capacity=2)
    uid = uuid.uuid4().hex
    with TestClient(app) as http:
        for i in range(3):
            r = http.post(f"/v1/pools/{pool_id}/registrations", headers={"Authorization": f"Bearer {client}"},
                          json={"quantity": 1, "actor": person(uid, i)})
            assert r.status_code == 201, r.text
        assert hc.register(pool_id, 1, _actor(uid, 0)).status == "existing"  # registered over HTTP
        drawn = hc.allocate(pool_id)
        again = http.post(f"/v1/pools/{pool_id}/allocate", headers={"Authorization": f"Bearer {staff}"})
        assert again.status_code == 200 and again.json()["seed"] == drawn.body["seed"]
        assert http.get(f"/v1/pools/{pool_id}/draw").json() == hc.published_draw(pool_id)


def _past_event(hc: Headcount, kind: str, people: int, came_every: int, uid: str) -> str:
    """An earlier pool, its confirmed holds and check-ins by every `came_every`-th holder."""
    pool_id = f"past-{kind}-{uuid.uuid4().hex[:8]}"
    assert hc.create_pool(PoolSpec(pool_id, pool_id, kind, capacity=people * 2, per_actor_limit=2,  # type: ignore[arg-type]
                                   hold_ttl_s=600)).ok
    for i in range(people):
        actor = ActorInfo(id=f"{pool_id}-{uid}-{i}")
        held = hc.hold(pool_id, 1, actor)
        assert held.ok, held.body
        assert hc.confirm(held.body["hold_id"]).ok
        if i % came_every == 0:
            assert hc.record("checkin", actor, pool_id).result.allowed
    return pool_id


@pytest.fixture
def own_hc(own_store_url: str, clock: Clock) -> Iterator[Headcount]:
    """A store of its own: the history is every earlier pool in the store."""
    with Headcount.over(open_store(own_store_url), owns_store=True, clock=clock) as instance:
        yield instance


def test_the_draw_issues_tickets_on_the_check_in_history(own_hc: Headcount) -> None:
    """Earlier pools' check-ins (of the same kind only) teach the show-up rate the overbooking
    stands on: where half the holders came, a 60-place draw issues more than 60 tickets; where
    everyone came, the same demand gets about the capacity."""
    hc = own_hc
    uid = uuid.uuid4().hex[:6]
    past = sorted(_past_event(hc, "event", 120, 2, uid) for _ in range(3))
    shop = _past_event(hc, "stock", 120, 1, uid)  # everyone "came": a shop is not a rally
    draws = {}
    for kind in ("event", "stock"):
        pool_id = _lottery_pool(hc, capacity=60, kind=kind)
        for i in range(200):
            assert hc.register(pool_id, 1, _actor(uid, i)).status == "created"
        draws[kind] = (pool_id, hc.allocate(pool_id).body)
    pool_id, event = draws["event"]
    ob = event["overbooking"]
    assert ob["method"] == "history" and ob["history_pools"] == 3 and ob["history"] == past, ob
    assert "learned from 3 earlier pool(s)" in ob["reason"]
    assert 0.4 < ob["show_rates"]["normal"] < 0.6, ob  # the band the earlier holders were in
    assert 60 < event["tickets"] <= 130 and ob["p_over_capacity"] <= 0.05, ob
    assert list(hc.headcount(pool_id).history) == past  # the staff's headcount view learns from the same pools
    stock = draws["stock"][1]
    assert stock["overbooking"]["history"] == [shop] and stock["overbooking"]["show_rates"]["normal"] > 0.8
    assert stock["tickets"] < event["tickets"] and stock["tickets"] <= 66, stock["overbooking"]
