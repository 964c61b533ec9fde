"""Lottery pools over HTTP, on both stores: registration, the one draw, wins, the waitlist, bad input."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from headcount.services.lottery import LotteryService, verify_store
from headcount.store.blocks import StoredBlock

from .conftest import Service, person


def _pool(service: Service, n: int = 6, capacity: int = 3, **kw: object) -> tuple[str, list[str]]:
    pool_id = f"lot-{uuid.uuid4().hex[:8]}"
    service.lottery_pool(pool_id, capacity, **kw)  # type: ignore[arg-type]
    uid = uuid.uuid4().hex
    ids = []
    for i in range(n):
        r = service.register(pool_id, person(uid, i))
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "registered"
        ids.append(r.json()["registration_id"])
    return pool_id, ids


def _state(service: Service, rid: str) -> dict:
    r = service.client.get(f"/v1/registrations/{rid}", headers=service.auth("client"))
    assert r.status_code == 200, r.text
    return r.json()


def test_commitment_before_the_close_seed_after(service: Service) -> None:
    pool_id, _ = _pool(service)
    before = service.client.get(f"/v1/pools/{pool_id}/lottery").json()
    assert before["state"] == "open" and len(before["commitment"]) == 64 and "seed" not in before
    assert service.client.get(f"/v1/pools/{pool_id}/draw").status_code == 404
    draw = service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff")).json()
    after = service.client.get(f"/v1/pools/{pool_id}/lottery").json()
    assert after["state"] == "drawn" and after["seed"] == draw["seed"] and after["commitment"] == before["commitment"]
    published = service.client.get(f"/v1/pools/{pool_id}/draw").json()
    assert published["digest"] == draw["digest"] and len(published["entries"]) == 6


def test_one_registration_per_person(service: Service) -> None:
    pool_id, ids = _pool(service, n=2)
    uid = uuid.uuid4().hex
    a = service.register(pool_id, person(uid, 0))
    b = service.register(pool_id, {**person(uid, 0), "ip": "81.9.9.9"})  # the same person again
    assert a.status_code == 201 and b.status_code == 200
    assert a.json()["registration_id"] == b.json()["registration_id"]
    # the same e-mail in another spelling is the same person too
    c = service.register(pool_id, {"email": person(uid, 0)["email"].upper(), "ip": "81.9.9.10"})
    assert c.json()["registration_id"] == a.json()["registration_id"]


def test_draw_gives_holds_to_winners_and_the_rest_wait_in_order(service: Service) -> None:
    pool_id, ids = _pool(service, n=6, capacity=3)
    r = service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["won"] == 3 and body["waitlisted"] == 3 and body["refused"] == 0 and body["tickets"] == 3
    states = [_state(service, rid) for rid in ids]
    won = [s for s in states if s["status"] == "won"]
    waiting = sorted((s for s in states if s["status"] == "waitlisted"), key=lambda s: s["position"])
    assert len(won) == 3 and all(s["hold_id"].startswith("h_") for s in won)
    assert [s["position"] for s in waiting] == [4, 5, 6]
    # a win is confirmed like any hold, by the client that registered
    c = service.client.post(f"/v1/holds/{won[0]['hold_id']}/confirm", headers=service.auth("client"))
    assert c.status_code == 200, c.text
    assert _state(service, won[0]["registration_id"])["status"] == "confirmed"
    # no hold outside the draw gets a seat of a lottery pool
    h = service.client.post(f"/v1/pools/{pool_id}/holds", headers=service.auth("client"),
                            json={"quantity": 1, "actor": person(uuid.uuid4().hex, 99)})
    assert h.status_code == 409 and h.json()["reasons"] == ["lottery_pool"]
    assert verify_store(service.store, pool_id) is None


def _direct_hold(service: Service, pool_id: str) -> object:
    return service.client.post(f"/v1/pools/{pool_id}/holds", headers=service.auth("client"),
                               json={"quantity": 1, "actor": person(uuid.uuid4().hex, 98)})


def test_the_ledger_refuses_direct_holds_on_a_lottery_pool(service: Service) -> None:
    """Before the draw, and after it when a declined win has freed a seat the waitlist has not
    taken yet: a direct hold is 409 lottery-pool saying why, and the seat goes down the waitlist."""
    pool_id, ids = _pool(service, n=4, capacity=2)
    before = _direct_hold(service, pool_id)
    assert before.status_code == 409  # type: ignore[attr-defined]
    assert before.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    problem = before.json()  # type: ignore[attr-defined]
    assert problem["type"] == "urn:headcount:problem:lottery-pool" and problem["status"] == 409
    assert problem["reasons"] == ["lottery_pool"] and problem["field"] == "pool_id"
    assert "lottery" in problem["detail"] and problem["registrations"] == f"/v1/pools/{pool_id}/registrations"
    service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff"))
    won = [rid for rid in ids if _state(service, rid)["status"] == "won"]
    declined = service.client.delete(f"/v1/holds/{_state(service, won[0])['hold_id']}", headers=service.auth("client"))
    assert declined.status_code == 200
    after = _direct_hold(service, pool_id)
    assert after.status_code == 409 and after.json()["reasons"] == ["lottery_pool"]  # type: ignore[attr-defined]
    service.client.app.state.headcount.lottery.pass_down_all()  # type: ignore[attr-defined]
    assert sum(_state(service, rid)["status"] == "won" for rid in ids) == 2
    # a first-come pool next to it takes holds as before
    r = service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": f"fc-{pool_id}", "name": "fc", "kind": "event", "capacity": 5, "per_actor_limit": 2, "hold_ttl_s": 600})
    assert r.status_code == 201, r.text
    assert _direct_hold(service, f"fc-{pool_id}").status_code == 201  # type: ignore[attr-defined]


def test_declined_and_lapsed_wins_pass_down_the_waitlist(service: Service) -> None:
    pool_id, ids = _pool(service, n=5, capacity=2, confirm_within_s=1)
    service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff"))
    states = {rid: _state(service, rid) for rid in ids}
    won = [rid for rid, s in states.items() if s["status"] == "won"]
    waiting = sorted((rid for rid, s in states.items() if s["status"] == "waitlisted"),
                     key=lambda rid: states[rid]["position"])
    # one winner declines at once
    d = service.client.delete(f"/v1/holds/{states[won[0]]['hold_id']}", headers=service.auth("client"))
    assert d.status_code == 200
    lottery: LotteryService = service.client.app.state.headcount.lottery  # type: ignore[attr-defined]
    lottery.pass_down_all()
    assert _state(service, won[0])["status"] == "lapsed"
    assert _state(service, waiting[0])["status"] == "won"
    assert _state(service, waiting[1])["status"] == "waitlisted"
    # the other lets its hold lapse (1 s to confirm)
    time.sleep(1.3)
    assert _state(service, won[1])["status"] == "lapsed"  # shown at once, before the pass-down ran
    lottery.pass_down_all()
    # waiting[0]'s own win lapsed as well by now, so two seats pass down
    assert _state(service, waiting[1])["status"] == "won"
    assert _state(service, waiting[2])["status"] == "won"
    pool = service.client.get(f"/v1/pools/{pool_id}", headers=service.auth("staff")).json()
    assert pool["held"] + pool["confirmed"] == 2 and pool["available"] == 0
    assert verify_store(service.store, pool_id) is None  # passing down changes no drawn result


def test_allocate_twice_and_concurrently_is_one_draw(service: Service) -> None:
    pool_id, _ = _pool(service, n=8, capacity=3)
    answers: list[dict] = []

    def call() -> None:
        answers.append(service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff")).json())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    call()
    assert len({(a["seed"], a["digest"], a["drawn_at"]) for a in answers}) == 1
    counts = service.client.get(f"/v1/pools/{pool_id}/lottery", headers=service.auth("staff")).json()["registrations"]
    assert counts["won"]["registrations"] == 3 and counts["waitlisted"]["registrations"] == 5


def test_after_the_close_registration_is_409(service: Service) -> None:
    pool_id, _ = _pool(service, n=1)
    service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff"))
    r = service.register(pool_id, person(uuid.uuid4().hex, 1))
    assert r.status_code == 409 and r.json()["reasons"] == ["registration_closed"]
    # closed by time alone, before any draw
    short = f"lot-{uuid.uuid4().hex[:8]}"
    service.lottery_pool(short, 3, closes_in=0.5)
    time.sleep(0.7)
    assert service.register(short, person(uuid.uuid4().hex, 2)).status_code == 409


def test_denied_registrations_are_403_with_reasons(service: Service) -> None:
    pool_id, _ = _pool(service, n=0)
    r = service.register(pool_id, {"email": "x7f3k9q2@mailinator.com", "phone": "+15005550006",
                                   "user_agent": "python-requests/2.31", "ip": "10.0.0.1"})
    assert r.status_code == 403, r.text
    assert r.json()["reasons"] and "denied" in r.json()["reasons"]


def test_members_of_coordinated_groups_are_refused(service: Service) -> None:
    pool_id, ids = _pool(service, n=6, capacity=10)
    keys = [service.client.get(f"/v1/registrations/{rid}", headers=service.auth("staff")).json()["actor_key"]
            for rid in ids[:2]]
    now = time.time()
    service.store.replace_blocks([StoredBlock(f"b{uuid.uuid4().hex[:6]}", now, now, "test", 50.0, now - 60, now, 0.9,
                                              10, tuple(keys), (pool_id,), {"confidence": 1.0})])
    body = service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff")).json()
    assert body["refused_by_reason"] == {"coordinated_group": 2} and body["won"] == 4
    assert {_state(service, rid)["status"] for rid in ids[:2]} == {"refused"}
    assert _state(service, ids[0])["reason"] == "coordinated_group"


@pytest.mark.parametrize(("allocation", "field"), [
    ({"mode": "lottery", "closes_at": "2001-01-01T00:00:00Z"}, "allocation.closes_at"),
    ({"mode": "lottery", "closes_at": "next tuesday"}, "allocation.closes_at"),
    ({"mode": "lottery"}, "allocation.closes_at"),
    ({"mode": "lottery", "closes_at": "2999-01-01T00:00:00Z", "confirm_within_s": 0}, "allocation.confirm_within_s"),
    ({"mode": "lottery", "closes_at": "2999-01-01T00:00:00Z", "overbook_risk": 2}, "allocation.overbook_risk"),
    ({"mode": "raffle", "closes_at": "2999-01-01T00:00:00Z"}, "allocation.mode"),
    ({"mode": "lottery", "closes_at": "2999-01-01T00:00:00Z", "seed": "abc"}, "allocation.seed"),
])
def test_bad_allocations_are_422_naming_the_field(service: Service, allocation: dict, field: str) -> None:
    r = service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": f"bad-{uuid.uuid4().hex[:8]}", "name": "x", "kind": "event", "capacity": 10, "per_actor_limit": 2,
        "hold_ttl_s": 60, "allocation": allocation})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


def test_bad_registrations(service: Service) -> None:
    pool_id, _ = _pool(service, n=0, per_actor_limit=2)
    uid = uuid.uuid4().hex
    assert service.register(pool_id, person(uid, 1), quantity=3).status_code == 429
    r = service.client.post(f"/v1/pools/{pool_id}/registrations", headers=service.auth("client"),
                            json={"quantity": "2", "actor": person(uid, 1)})
    assert r.status_code == 422 and r.json()["field"] == "quantity"
    assert service.register("no-such-pool", person(uid, 1)).status_code == 404
    first_come = f"fc-{uuid.uuid4().hex[:8]}"
    service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": first_come, "name": "x", "kind": "event", "capacity": 10, "per_actor_limit": 2, "hold_ttl_s": 60})
    r = service.register(first_come, person(uid, 1))
    assert r.status_code == 409 and r.json()["reasons"] == ["not_a_lottery_pool"]
    assert service.client.post(f"/v1/pools/{first_come}/allocate", headers=service.auth("staff")).status_code == 409
    assert service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("client")).status_code == 403
    assert service.client.get("/v1/registrations/r_nope", headers=service.auth("client")).status_code == 404


def test_verify_names_a_tampered_registration_and_seed(service: Service) -> None:
    pool_id, ids = _pool(service, n=6, capacity=3)
    service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff"))
    store = service.store
    assert verify_store(store, pool_id) is None
    m = store.sql.mark
    store._write(lambda c: c.execute(f"UPDATE registrations SET quantity = 2 WHERE token = {m}", (ids[2][2:],)))
    assert verify_store(store, pool_id) == f"registration {ids[2]}: quantity 2 in the store, 1 in the published draw"
    store._write(lambda c: c.execute(f"UPDATE registrations SET quantity = 1 WHERE token = {m}", (ids[2][2:],)))
    a = store.get_allocation(pool_id)
    import orjson

    forged = {**a.draw, "seed": "00" * 32}
    store._write(lambda c: c.execute(f"UPDATE allocations SET draw = {m} WHERE pool_id = {m}",
                                     (orjson.dumps(forged).decode(), pool_id)))
    assert "does not match the commitment" in (verify_store(store, pool_id) or "")


def test_a_mistyped_field_is_422_naming_it_and_the_corrected_one_registers(service: Service) -> None:
    pool_id, _ = _pool(service, n=0)
    actor = person(uuid.uuid4().hex, 3)
    local = actor["email"].split("@")[0]
    r = service.register(pool_id, {**actor, "email": f"{local}@gmial.com"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "actor.email" and r.json()["reasons"] == ["email_typo"]
    assert r.json()["suggestion"] == f"{local}@gmail.com"
    assert service.register(pool_id, {**actor, "email": f"{local}@gmail.com"}).status_code == 201


def test_the_dashboard_shows_a_lottery_pool(service: Service) -> None:
    """Registrations (counted as decisions), then wins, waitlist and the estimate of the draw."""
    pool_id, ids = _pool(service, n=5, capacity=2)
    view = next(p for p in service.client.get("/v1/dashboard", headers=service.auth("staff")).json()["pools"]
                if p["id"] == pool_id)
    lottery = view["lottery"]
    assert lottery["state"] == "open" and lottery["registered"] == {"registrations": 5, "seats": 5}
    assert lottery["estimate"]["when"] == "forecast" and lottery["estimate"]["expected_attendance"] is not None
    assert view["decisions"]["total"] == 5  # each registration's decision, as the lottery judged it
    drawn = service.client.post(f"/v1/pools/{pool_id}/allocate", headers=service.auth("staff")).json()
    view = next(p for p in service.client.get("/v1/dashboard", headers=service.auth("staff")).json()["pools"]
                if p["id"] == pool_id)
    lottery = view["lottery"]
    assert lottery["state"] == "drawn" and lottery["won"]["registrations"] == drawn["won"] == 2
    assert lottery["waitlisted"]["registrations"] == drawn["waitlisted"] == 3
    assert lottery["estimate"]["when"] == "draw" and lottery["estimate"]["reason"] == drawn["overbooking"]["reason"]
    first_come = [p for p in service.client.get("/v1/dashboard", headers=service.auth("staff")).json()["pools"]
                  if not p["id"].startswith("lot-")]
    assert all("lottery" not in p for p in first_come)
