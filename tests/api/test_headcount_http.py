"""GET /v1/pools/{id}/headcount: the estimate over HTTP, learned from earlier pools' check-ins."""

from __future__ import annotations

import pytest

from headcount.estimate import Bands
from headcount.policy import Policy
from headcount.services.headcount import pool_headcount
from headcount.store import open_store
from tests.api.conftest import Service


def _pool(service: Service, pool_id: str, capacity: int = 100) -> None:
    r = service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": pool_id, "name": pool_id, "kind": "event", "capacity": capacity, "per_actor_limit": 4,
        "hold_ttl_s": 600})
    assert r.status_code == 201, r.text


def _register(service: Service, pool_id: str, actor: str, quantity: int = 1) -> None:
    r = service.client.post(f"/v1/pools/{pool_id}/holds", headers=service.auth("client"),
                            json={"quantity": quantity, "actor": {"id": actor}})
    assert r.status_code == 201, r.text
    assert service.client.post(f"/v1/holds/{r.json()['hold_id']}/confirm",
                               headers=service.auth("client")).status_code == 200


def _checkin(service: Service, pool_id: str, actor: str) -> None:
    r = service.client.post("/v1/actions", headers=service.auth("client"),
                            json={"verb": "checkin", "actor": {"id": actor}, "target": pool_id})
    assert r.status_code == 200, r.text


def _headcount(service: Service, pool_id: str, **params: object):  # type: ignore[no-untyped-def]
    return service.client.get(f"/v1/pools/{pool_id}/headcount", params=params, headers=service.auth("staff"))


def test_show_up_rates_come_from_earlier_check_ins(service: Service, store_url: str, uid: str) -> None:
    past, new = f"{uid}-past", f"{uid}-new"
    _pool(service, past)
    _pool(service, new, capacity=25)
    for i in range(40):  # 40 registered, 30 came: a show-up rate of 0.75
        _register(service, past, f"{uid}-p{i}")
        if i < 30:
            _checkin(service, past, f"{uid}-p{i}")
    for i in range(20):
        _register(service, new, f"{uid}-n{i}")
    _checkin(service, new, f"{uid}-n0")  # the doors opened: one has come already

    r = _headcount(service, new, history=[past])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["registered"] == 20 and body["capacity"] == 25 and body["checked_in"] == 1
    assert body["method"] == "history" and body["history"] == [past] and body["history_pools"] == 1
    lo, hi = body["interval"]
    assert 0 <= lo <= body["expected_real"] <= hi <= 20
    assert 12 <= body["expected_real"] <= 18  # about 0.75 x 20, pulled a little towards the prior
    assert body["p_over_capacity"] == 0.0  # the ledger never lets registrations exceed capacity
    assert sum(b["registered"] for b in body["bands"]) == 20
    assert abs(sum(body["uncertainty"].values()) - 1.0) < 1e-3
    # the endpoint is the library call
    store = open_store(store_url)
    try:
        direct = pool_headcount(store, new, history=[past], bands=Bands.from_policy(Policy.load())).to_dict()
    finally:
        store.close()
    assert direct == body
    # by default the history is every pool with check-ins, this pool's own excluded
    default = _headcount(service, new).json()
    assert past in default["history"] and new not in default["history"]


def test_without_history_the_prior_answers(service: Service, uid: str) -> None:
    new, quiet = f"{uid}-new", f"{uid}-quiet"
    _pool(service, new)
    _pool(service, quiet)
    _register(service, quiet, f"{uid}-q", 2)  # a pool without check-ins teaches nothing
    for i in range(10):
        _register(service, new, f"{uid}-n{i}", 2)
    body = _headcount(service, new, history=[quiet]).json()
    assert body["method"] == "prior" and body["history"] == [] and body["registered"] == 20
    assert 0 <= body["interval"][0] < body["expected_real"] < body["interval"][1] <= 20
    assert body["uncertainty"]["calibration"] > 0
    empty = _headcount(service, quiet, history=[new]).json()
    assert empty["registered"] == 2 and empty["method"] == "prior"


def test_headcount_is_for_staff(service: Service, uid: str) -> None:
    _pool(service, f"{uid}-p")
    assert service.client.get(f"/v1/pools/{uid}-p/headcount").status_code == 401
    r = service.client.get(f"/v1/pools/{uid}-p/headcount", headers=service.auth("client"))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("path", "params", "status", "field"), [
    ("nope-{uid}", {}, 404, "pool_id"),
    ("{uid}-p", {"history": ["nope-{uid}"]}, 422, "history"),
    ("{uid}-p", {"history": ["bad id!"]}, 422, "history"),
    ("{uid}-p", {"level": "0.2"}, 422, "level"),
    ("{uid}-p", {"level": "lots"}, 422, "level"),
])
def test_bad_requests_name_the_field(service: Service, uid: str, path: str, params: dict[str, object],
                                     status: int, field: str) -> None:
    _pool(service, f"{uid}-p")
    params = {k: [x.format(uid=uid) for x in v] if isinstance(v, list) else v for k, v in params.items()}
    r = _headcount(service, path.format(uid=uid), **params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == field
