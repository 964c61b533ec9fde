"""GET /v1/dashboard and GET /v1/pools/{id}/decisions: refusals, flood state, bands from the policy.

Every guard decision on a hold or an action is counted in the decisions log (by
outcome, band, reason and flood flag); the dashboard call answers all pools at once
from the same views the report renders."""

from __future__ import annotations

import time

import pytest

from headcount.policy import Policy
from headcount.services.views import Views
from headcount.store import open_store
from headcount.store.decisions import DecisionCount
from tests.api.conftest import Service, person_email


def _pool(service: Service, pool_id: str, capacity: int = 5_000, kind: str = "event") -> None:
    r = service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": pool_id, "name": f"Pool {pool_id}", "kind": kind, "capacity": capacity, "per_actor_limit": 2,
        "hold_ttl_s": 600})
    assert r.status_code == 201, r.text


def _hold(service: Service, pool_id: str, actor: dict[str, str]) -> int:
    r = service.client.post(f"/v1/pools/{pool_id}/holds", headers=service.auth("client"), json={"actor": actor})
    return r.status_code


def _dashboard(service: Service) -> dict:  # type: ignore[type-arg]
    r = service.client.get("/v1/dashboard", headers=service.auth("staff"))
    assert r.status_code == 200, r.text
    return r.json()


def _view(body: dict, pool_id: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in body["pools"] if p["id"] == pool_id)


def test_refusals_by_reason_and_band_equal_the_answers_clients_got(service: Service, uid: str) -> None:
    pool = f"{uid}-rally"
    _pool(service, pool)
    statuses = [_hold(service, pool, {"email": person_email(uid, i)}) for i in range(6)]
    statuses += [_hold(service, pool, {"email": f"{uid}x{i}@mailinator.com"}) for i in range(4)]  # throwaway
    assert statuses.count(201) == 6 and statuses.count(403) == 4
    view = _view(_dashboard(service), pool)
    d = view["decisions"]
    assert d["total"] == 10 and d["refused"] == 4
    assert d["by_outcome"] == {"allowed": 6, "shortened": 0, "challenged": 0, "denied": 4}
    assert d["by_band"] == {"normal": 6, "short_hold": 0, "deny": 4}  # the policy's bands, by name
    assert d["top_reasons"][0]["reason"] == "email_disposable" and d["top_reasons"][0]["refusals"] == 4
    assert d["top_reasons"][0]["words"] == "throwaway e-mail domain"
    assert view["flood"]["on"] is False
    # the one-pool route says the same
    one = service.client.get(f"/v1/pools/{pool}/decisions", headers=service.auth("staff")).json()
    assert one["decisions"]["by_outcome"] == d["by_outcome"] and one["flood"] == view["flood"]
    points = view["timeline"]["points"]
    assert sum(sum(p["decisions"].values()) for p in points) == 10
    assert sum(sum(p["seats"].values()) for p in points) == view["headcount"]["registered"] == 6
    assert view["timeline"]["bands"] == ["normal", "short_hold", "deny"]


def test_flood_mode_shows_with_since_when(service: Service, uid: str) -> None:
    pool = f"{uid}-flood"
    _pool(service, pool)
    began = time.time()
    for i in range(110):  # mostly machine-made addresses: risky, a flood once 100 are seen
        actor = {"email": f"xk{uid}q{i}z@example.org"} if i % 4 else {"email": person_email(uid, i)}
        _hold(service, pool, actor)
    view = _view(_dashboard(service), pool)
    flood = view["flood"]
    assert flood["on"] is True and flood["flooded_decisions"] >= 1
    assert flood["since"] is not None and flood["since"] >= time.strftime("%Y-%m-%dT%H:%M", time.gmtime(began))
    assert any(r["reason"] == "pool_flooded" for r in view["decisions"]["top_reasons"])
    assert view["id"] in _dashboard(service)["totals"]["flooded_pools"]
    assert _dashboard(service)["pools"][0]["id"] == pool  # a flooded pool comes first


def test_public_and_wrong_keys(service: Service, uid: str) -> None:
    _pool(service, f"{uid}-p")
    public = service.client.get("/v1/dashboard").json()
    entry = next(p for p in public["pools"] if p["id"] == f"{uid}-p")
    assert set(entry) == {"id", "name", "kind", "light"} and entry["name"] == f"Pool {uid}-p"
    assert "bands" not in public and set(public["lights"]) == {"green", "yellow", "red"}
    client = service.client.get("/v1/dashboard", headers=service.auth("client")).json()
    assert "bands" not in client  # figures are for staff
    wrong = service.client.get("/v1/dashboard", headers={"Authorization": "Bearer hc_nope_nope"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["field"] == "Authorization"


@pytest.mark.parametrize(("path", "status", "field"), [("nope-{uid}", 404, "pool_id"), ("bad id!", 422, "pool_id")])
def test_decisions_route_names_the_field(service: Service, uid: str, path: str, status: int, field: str) -> None:
    r = service.client.get(f"/v1/pools/{path.format(uid=uid)}/decisions", headers=service.auth("staff"))
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    assert r.json().get("field", field) == field
    assert service.client.get(f"/v1/pools/{uid}/decisions").status_code == 401


def test_actions_are_counted_per_verb(service: Service, uid: str) -> None:
    for i in range(3):
        r = service.client.post("/v1/actions", headers=service.auth("client"), json={
            "verb": "follow", "actor": {"id": f"{uid}-f{i}"}, "target": "@someone"})
        assert r.status_code == 200
    assert _dashboard(service)["actions"]["follow"]["total"] >= 3


def test_the_decisions_port_adds_counts_on_both_backends(store_url: str, uid: str) -> None:
    store = open_store(store_url)
    try:
        row = DecisionCount(f"{uid}-p", 120.0, "hold", "denied", "deny", "", True, 3, 121.0, 150.0)
        store.add_decisions([row])
        store.add_decisions([DecisionCount(f"{uid}-p", 120.0, "hold", "denied", "deny", "", True, 2, 100.0, 170.0),
                             DecisionCount(f"{uid}-p", 120.0, "hold", "denied", "deny", "email_disposable", True,
                                           5, 100.0, 170.0)])
        got = [c for c in store.decision_counts(0.0, [f"{uid}-p"])]
        total = next(c for c in got if c.reason == "")
        assert (total.n, total.first_ts, total.last_ts) == (5, 100.0, 170.0)
        assert {c.reason for c in got} == {"", "email_disposable"}
        assert store.decision_counts(200.0, [f"{uid}-p"]) == []
    finally:
        store.close()


def test_views_use_the_policy_bands_not_fixed_cut_offs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from importlib import resources

    text = (resources.files("headcount.policy") / "default.toml").read_text("utf-8")  # four bands of its own
    text = text.replace('name = "normal"         # the pool\'s hold time and per-person limit\nbelow = 0.35',
                        'name = "calm"\nbelow = 0.34\n\n[[bands]]\nname = "watch"\nbelow = 0.5')
    policy = Policy.from_toml(text, "test")
    assert [b.name for b in policy.bands] == ["calm", "watch", "short_hold", "deny"]
    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        views = Views(store, policy)
        assert [b["name"] for b in views.dashboard([], [], time.time())["bands"]] == ["calm", "watch", "short_hold",
                                                                                         "deny"]
        assert views.bands.edges == (0.34, 0.5, 0.65)
    finally:
        store.close()


def test_outcomes_follow_the_policy_bands_including_challenges() -> None:
    from importlib import resources

    from headcount.services.decisions import outcome_of
    from headcount.types import Decision

    text = (resources.files("headcount.policy") / "default.toml").read_text("utf-8")
    text = text.replace('[[bands]]\nname = "deny"', '[[bands]]\nname = "challenge"\nbelow = 0.8\nchallenge = true\n'
                        'on_pass = "short_hold"\n\n[[bands]]\nname = "deny"')
    policy = Policy.from_toml(text, "test")

    def decide(score: float, **kw: object) -> tuple[str, str]:
        band = policy.band(score)
        return outcome_of(Decision(actor_key="k", score=score, reasons=(), extra={"band": band.name}, **kw), policy)

    assert decide(0.1) == ("allowed", "normal")
    assert decide(0.5) == ("shortened", "short_hold")
    assert decide(0.7, allow=False, challenge=True) == ("challenged", "challenge")
    assert decide(0.9, allow=False) == ("denied", "deny")
