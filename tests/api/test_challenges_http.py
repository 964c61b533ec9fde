"""Challenge bands over HTTP: 428 with a challenge, the client's backend passes it,
the retried request gets the passed band once, on every store.

The default policy has no challenge band (see the README), so these tests run the
service with a policy file that has one (HEADCOUNT_POLICY).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headcount.api.app import create_app
from headcount.services.keys import create_key
from headcount.store import open_store
from tests.api.conftest import Service, person_email

POLICY = """
[weights]
email_machine_made = 0.7
email_disposable = 2.0
ua_automation = 1.5

[challenge]
ttl_s = 600
token_ttl_s = 300

[[bands]]
name = "normal"
below = 0.35

[[bands]]
name = "short_hold"
below = 0.4
ttl_factor = 0.25
actor_cap = 1

[[bands]]
name = "challenge"       # a generated address: prove you are a person first
below = 0.65
challenge = true
on_pass = "short_hold"

[[bands]]
name = "deny"
deny = true
"""


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    monkeypatch.setenv("HEADCOUNT_POLICY", str(path))
    return path


@pytest.fixture
def svc(policy_file: Path, store_url: str, request: pytest.FixtureRequest, uid: str) -> Service:
    """The service under the challenge policy, with a pool of 100 (hold time 600 s)."""
    service: Service = request.getfixturevalue("service")  # built after HEADCOUNT_POLICY is set
    r = service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": f"p{uid}", "name": "Rally", "kind": "event", "capacity": 100, "per_actor_limit": 2,
        "hold_ttl_s": 600})
    assert r.status_code == 201, r.text
    return service


def generated(uid: str, i: int = 0) -> dict[str, str]:
    """An actor whose address looks machine-made: the challenge band of POLICY."""
    return {"email": f"user{str(int(uid, 16))[:7]}{i}@outlook.com"}


def hold(svc: Service, uid: str, actor: dict[str, str], token: Any = None, key: str | None = None,
         client: TestClient | None = None):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"quantity": 1, "actor": actor}
    if token is not None:
        body["challenge_token"] = token
    headers = {**svc.auth("client"), **({"Idempotency-Key": key} if key else {})}
    return (client or svc.client).post(f"/v1/pools/p{uid}/holds", json=body, headers=headers)


def pass_(svc: Service, challenge_id: str, client: TestClient | None = None):  # type: ignore[no-untyped-def]
    return (client or svc.client).post(f"/v1/challenges/{challenge_id}/pass", headers=svc.auth("client"))


def challenged(svc: Service, uid: str, actor: dict[str, str]) -> str:
    r = hold(svc, uid, actor)
    assert r.status_code == 428, r.text
    return r.json()["challenge"]["id"]


def token_for(svc: Service, uid: str, actor: dict[str, str]) -> str:
    r = pass_(svc, challenged(svc, uid, actor))
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_a_challenge_is_issued_passed_and_its_token_accepted_once(svc: Service, uid: str) -> None:
    actor = generated(uid)
    r = hold(svc, uid, actor)
    assert r.status_code == 428 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "urn:headcount:problem:challenge-required"
    assert problem["reasons"] == ["email_machine_made", "challenge"]
    assert problem["risk"]["reasons"] == ["email_machine_made"] and "field" not in problem
    challenge = problem["challenge"]
    assert challenge["id"].startswith("ch_") and challenge["expires_at"].endswith("Z")

    passed = pass_(svc, challenge["id"])
    assert passed.status_code == 200, passed.text
    token = passed.json()["token"]
    assert passed.json()["scope"] == f"pool:p{uid}"
    assert pass_(svc, challenge["id"]).json()["token"] == token  # passing again is safe: the same token

    before = time.time()
    ok = hold(svc, uid, actor, token, key=f"k1-{uid}")
    assert ok.status_code == 201, ok.text
    assert ok.json()["risk"]["reasons"] == ["email_machine_made", "challenge_passed"]
    lasts = time.mktime(time.strptime(ok.json()["expires_at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone - before
    assert lasts < 200  # the short hold the policy gives a passed challenge (600 s x 0.25)

    again = hold(svc, uid, actor, token, key=f"k2-{uid}")  # the token was spent
    assert again.status_code == 428 and again.json()["field"] == "challenge_token"
    assert again.json()["reasons"] == ["email_machine_made", "challenge_token_used", "challenge"]
    assert again.json()["challenge"]["id"] != challenge["id"]  # a new challenge to pass
    assert pass_(svc, challenge["id"]).status_code == 409  # a spent challenge cannot be passed again

    replay = hold(svc, uid, actor, token, key=f"k1-{uid}")  # the request that spent it, repeated
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["hold_id"] == ok.json()["hold_id"]


def test_a_token_is_bound_to_its_person_and_pool(svc: Service, uid: str) -> None:
    token = token_for(svc, uid, generated(uid, 1))
    other = hold(svc, uid, generated(uid, 2), token)
    assert other.status_code == 428 and other.json()["field"] == "challenge_token"
    assert "challenge_token_mismatch" in other.json()["reasons"]
    r = svc.client.post("/v1/actions", headers=svc.auth("client"), json={
        "verb": "follow", "actor": generated(uid, 1), "target": "x", "challenge_token": token})
    assert r.status_code == 428 and "challenge_token_mismatch" in r.json()["reasons"]  # another scope
    assert hold(svc, uid, generated(uid, 1), token).status_code == 201  # still good for its own


def test_expired_tokens_and_challenges_are_refused(svc: Service, uid: str) -> None:
    challenges = svc.client.app.state.challenges  # type: ignore[attr-defined]
    actor = generated(uid, 3)
    late = challenged(svc, uid, actor)
    challenges.clock = lambda: time.time() + 601  # the person took too long
    try:
        r = pass_(svc, late)
        assert r.status_code == 409 and r.json()["field"] == "challenge_id"
        challenges.clock = lambda: time.time() - 400  # passed 400 s ago: its token lasted 300 s
        token = pass_(svc, challenged(svc, uid, actor)).json()["token"]
    finally:
        challenges.clock = time.time
    r = hold(svc, uid, actor, token)
    assert r.status_code == 428 and "challenge_token_expired" in r.json()["reasons"]


def test_forged_and_unknown_tokens_are_refused(svc: Service, uid: str) -> None:
    actor = generated(uid, 4)
    token = token_for(svc, uid, actor)
    prefix, cid, key_id, mac = token.split(".")
    forged = f"{prefix}.{cid}.{key_id}.{'A' * len(mac)}"
    for bad in (forged, "ct1.ch_nothing.test1.AAAA", "hello"):
        r = hold(svc, uid, actor, bad)
        assert r.status_code == 428 and "challenge_token_invalid" in r.json()["reasons"], bad
    assert hold(svc, uid, actor, token).status_code == 201  # the real one still works


def test_a_normal_request_does_not_spend_a_token(svc: Service, uid: str) -> None:
    token = token_for(svc, uid, generated(uid, 5))
    clean = hold(svc, uid, {"email": person_email(uid)}, token)
    assert clean.status_code == 201 and clean.json()["risk"]["reasons"] == []


def test_actions_are_challenged_too(svc: Service, uid: str) -> None:
    body = {"verb": "follow", "actor": generated(uid, 6), "target": "acct-1"}
    r = svc.client.post("/v1/actions", headers=svc.auth("client"), json=body)
    assert r.status_code == 428 and r.json()["allowed"] is False
    assert r.json()["reasons"] == ["email_machine_made", "challenge"]
    token = pass_(svc, r.json()["challenge"]["id"]).json()["token"]
    ok = svc.client.post("/v1/actions", headers=svc.auth("client"), json={**body, "challenge_token": token})
    assert ok.status_code == 200, ok.text
    assert ok.json()["allowed"] is True and ok.json()["risk"]["reasons"] == ["email_machine_made", "challenge_passed"]
    again = svc.client.post("/v1/actions", headers=svc.auth("client"), json={**body, "challenge_token": token})
    assert again.status_code == 428 and "challenge_token_used" in again.json()["reasons"]


@pytest.mark.parametrize(("token", "field"), [
    (123, "challenge_token"), ("", "challenge_token"), ("not a token!", "challenge_token"),
    (["ct1"], "challenge_token"), ("x" * 301, "challenge_token"),
])
def test_bad_tokens_are_422_naming_the_field(svc: Service, uid: str, token: Any, field: str) -> None:
    r = hold(svc, uid, generated(uid), token)
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    a = svc.client.post("/v1/actions", headers=svc.auth("client"), json={
        "verb": "follow", "actor": {"id": uid}, "target": "x", "challenge_token": token})
    assert a.status_code == 422 and a.json()["field"] == field, a.text


def test_passing_needs_a_client_key_and_a_real_challenge(svc: Service, uid: str) -> None:
    cid = challenged(svc, uid, generated(uid, 7))
    assert svc.client.post(f"/v1/challenges/{cid}/pass").status_code == 401
    bad = pass_(svc, "not-a-challenge")
    assert bad.status_code == 422 and bad.json()["field"] == "challenge_id"
    unknown = pass_(svc, "ch_unknown")
    assert unknown.status_code == 404 and unknown.json()["field"] == "challenge_id"


def test_a_token_is_spent_once_across_server_processes(policy_file: Path, store_url: str, uid: str) -> None:
    """Two services over one store (as two server processes are): one token, one hold."""
    stores = [open_store(store_url) for _ in range(2)]
    key = create_key(stores[0], "admin")
    clients = [TestClient(create_app(s, sweep_interval=None, close_store=True), raise_server_exceptions=False)
               for s in stores]
    svc = Service(clients[0], {"client": key, "staff": key})
    try:
        for c in clients:
            c.__enter__()
        svc.client.post("/v1/pools", headers=svc.auth("staff"), json={
            "id": f"p{uid}", "name": "Rally", "kind": "event", "capacity": 100, "per_actor_limit": 2,
            "hold_ttl_s": 600})
        actor = generated(uid, 8)
        token = token_for(svc, uid, actor)
        codes: list[int] = []
        barrier = threading.Barrier(2)

        def attempt(client: TestClient) -> None:
            barrier.wait()
            codes.append(hold(svc, uid, actor, token, client=client).status_code)

        threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [201, 428]
    finally:
        for c in clients:
            c.__exit__(None, None, None)


def test_the_default_policy_does_not_challenge(service: Service, uid: str) -> None:
    service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": f"p{uid}", "name": "Rally", "kind": "event", "capacity": 100, "per_actor_limit": 2, "hold_ttl_s": 600})
    r = hold(service, uid, generated(uid))
    assert r.status_code == 201  # a short hold, as the README's table says
