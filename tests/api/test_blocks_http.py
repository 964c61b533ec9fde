"""Detection in the service: a follow ring in the action log becomes a block, and its
members' next requests carry the `coordinated_group` reason."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests.api.conftest import Service


def follow(service: Service, who: str, target: str, when: datetime):  # type: ignore[no-untyped-def]
    return service.client.post("/v1/actions", headers=service.auth("staff"), json={  # imports past events
        "verb": "follow", "actor": {"id": who}, "target": target, "ts": when.isoformat()})


def test_a_follow_ring_is_reported_and_its_members_flagged(service: Service, uid: str) -> None:
    rng = random.Random(4)
    now = datetime.now(UTC)
    accounts = [f"@{uid}-acc{i}" for i in range(200)]
    for i in range(150):  # ordinary people follow a few accounts over a day
        for target in rng.sample(accounts, 3):
            assert follow(service, f"{uid}-fan{i}", target, now - timedelta(hours=24 * rng.random())).status_code == 200
    ring, ring_targets = [f"{uid}-ring{i}" for i in range(30)], rng.sample(accounts, 10)
    burst = now - timedelta(hours=2)
    for who in ring:  # a ring follows the same ten accounts within twenty minutes
        for target in ring_targets:
            assert follow(service, who, target, burst + timedelta(minutes=20 * rng.random())).status_code == 200

    watch = service.client.app.state.groups  # the job the schedule runs, run now
    watch.run_once()

    answer = service.client.get("/v1/blocks", headers=service.auth("staff"))
    assert answer.status_code == 200
    blocks = answer.json()["blocks"]
    mine = [b for b in blocks if set(b["targets"]) & set(ring_targets)]
    assert len(mine) == 1
    block = mine[0]
    assert set(block["targets"]) == set(ring_targets)
    assert block["size"] == len(block["actors"]) == 30
    assert block["start"] <= (burst + timedelta(minutes=20)).isoformat() and block["score"] >= 2
    assert {"detectors", "cells", "expected_cells"} <= set(block["evidence"])
    assert block["start"].endswith("Z") and block["detected_at"].endswith("Z")

    flagged = follow(service, ring[0], accounts[0], now)
    assert "coordinated_group" in flagged.json()["risk"]["reasons"]
    ordinary = follow(service, f"{uid}-fan0", accounts[1], now)
    assert "coordinated_group" not in ordinary.json()["risk"]["reasons"]


def test_blocks_are_for_staff(service: Service) -> None:
    assert service.client.get("/v1/blocks").status_code == 401
    assert service.client.get("/v1/blocks", headers=service.auth("client")).status_code == 403
    assert service.client.get("/v1/blocks?limit=0", headers=service.auth("staff")).json()["field"] == "limit"


def test_staff_dismiss_a_block_its_members_lose_the_reason_and_are_not_flagged_again(
        service: Service, uid: str) -> None:
    if service.client.app.state.stream is not None:  # the full pass's dismissal: no race with the stream
        service.client.app.state.stream.stop()
    rng = random.Random(5)
    now = datetime.now(UTC)
    accounts = [f"@{uid}-d{i}" for i in range(200)]
    for i in range(150):
        for target in rng.sample(accounts, 3):
            follow(service, f"{uid}-fan{i}", target, now - timedelta(hours=24 * rng.random()))
    ring, ring_targets = [f"{uid}-ring{i}" for i in range(30)], rng.sample(accounts, 10)
    for who in ring:
        for target in ring_targets:
            follow(service, who, target, now - timedelta(hours=2) + timedelta(minutes=20 * rng.random()))
    watch = service.client.app.state.groups
    watch.run_once()
    staff = service.auth("staff")
    mine = [b for b in service.client.get("/v1/blocks", headers=staff).json()["blocks"]
            if set(b["targets"]) & set(ring_targets)]
    assert len(mine) == 1 and 0.99 <= mine[0]["evidence"]["confidence"] <= 1.0
    block_id = mine[0]["id"]
    url = f"/v1/blocks/{block_id}/dismiss"
    assert service.client.post(url, headers=service.auth("client"), json={"reason": "a choir"}).status_code == 403
    assert service.client.post(url, headers=staff, json={}).json()["field"] == "reason"
    assert service.client.post("/v1/blocks/b_nope/dismiss", headers=staff, json={"reason": "x" * 5}).status_code == 404
    answer = service.client.post(url, headers=staff, json={"reason": "a choir booking its concert"})
    assert answer.status_code == 200 and answer.json()["members"] == 30
    assert "coordinated_group" not in follow(service, ring[0], accounts[0], now).json()["risk"]["reasons"]
    watch.run_once()  # the same members on the same targets: not flagged again
    assert not [b for b in service.client.get("/v1/blocks", headers=staff).json()["blocks"]
                if set(b["targets"]) & set(ring_targets)]
    audit = service.client.app.state.store.read_audit()
    assert any(e.action == "block.dismiss" and e.subject == block_id for e in audit)


def test_the_service_reports_churn_as_the_cli_does(service: Service, uid: str) -> None:
    """The job runs `detect_all` with the verb, so follow-then-unfollow churn becomes a block."""
    now = datetime.now(UTC)
    churner = f"{uid}-churner"
    for i in range(60):  # sixty follows over ten hours, each undone within the hour
        when = now - timedelta(hours=11) + timedelta(minutes=10 * i)
        assert follow(service, churner, f"@{uid}-star{i}", when).status_code == 200
        assert service.client.post("/v1/actions", headers=service.auth("staff"), json={
            "verb": "unfollow", "actor": {"id": churner}, "target": f"@{uid}-star{i}",
            "ts": (when + timedelta(minutes=30)).isoformat()}).status_code == 200
    rng = random.Random(6)
    for i in range(100):  # ordinary people keep what they follow
        for target in rng.sample(range(60), 2):
            follow(service, f"{uid}-fan{i}", f"@{uid}-star{target}", now - timedelta(hours=12 * rng.random()))
    service.client.app.state.groups.run_once()
    churn = [b for b in service.client.get("/v1/blocks", headers=service.auth("staff")).json()["blocks"]
             if b["detector"] == "churn"]
    assert len(churn) == 1 and churn[0]["size"] == 1
    assert churn[0]["evidence"]["unfollows"] == 60 and churn[0]["evidence"]["confidence"] == 1.0
    answer = follow(service, churner, f"@{uid}-star0", now)
    assert "coordinated_group" in answer.json()["risk"]["reasons"]
    assert "coordinated_group" not in follow(service, f"{uid}-fan0", f"@{uid}-star1", now).json()["risk"]["reasons"]


def test_one_clients_claims_flag_nobody_for_another_client(service: Service, uid: str) -> None:
    """Issue 13 M1: a client sends follows in other people's names until they form a ring. The
    group is that client's finding: its own requests for them carry the reason, another client's
    customers (the same people, by their addresses) and that client's holds do not."""
    from headcount.services.keys import create_key

    store = service.client.app.state.store
    other = {"Authorization": f"Bearer {create_key(store, 'client')}"}
    framer = service.auth("client")
    rng = random.Random(6)
    now = datetime.now(UTC)
    accounts = [f"@{uid}-m{i}" for i in range(200)]
    for i in range(150):  # the operator's own record: ordinary people over a day
        for target in rng.sample(accounts, 3):
            assert follow(service, f"{uid}-fan{i}", target, now - timedelta(hours=24 * rng.random())).status_code == 200
    victims, targets = [f"anna.{uid}.{i}@example.org" for i in range(30)], rng.sample(accounts, 10)
    for who in victims:  # live follows, as a client may send them, in the victims' names
        for target in targets:
            r = service.client.post("/v1/actions", headers=framer, json={
                "verb": "follow", "actor": {"email": who}, "target": target,
                "ts": (now - timedelta(seconds=200 * rng.random())).isoformat()})
            assert r.status_code == 200, r.text
    service.client.app.state.groups.run_once()
    blocks = [b for b in service.client.get("/v1/blocks", headers=service.auth("staff")).json()["blocks"]
              if set(b["targets"]) & set(targets)]
    assert len(blocks) == 1
    clients = blocks[0]["evidence"]["clients"]
    assert len(clients) == 1 and clients[0] and clients[0] in service.keys["client"]  # the framer's key id

    pool = {"id": f"{uid}-gig", "name": "Gig", "kind": "event", "capacity": 100, "per_actor_limit": 2,
            "hold_ttl_s": 600}
    assert service.client.post("/v1/pools", json=pool, headers=service.auth("staff")).status_code == 201

    def reasons(headers: dict[str, str], who: str) -> list[str]:
        r = service.client.post(f"/v1/pools/{uid}-gig/holds", headers=headers,
                                json={"quantity": 1, "actor": {"email": who}})
        body = r.json()
        return list(body.get("risk", {}).get("reasons", body.get("reasons", [])))

    assert "coordinated_group" not in reasons(other, victims[0])  # another client's customer
    assert "coordinated_group" in reasons(framer, victims[1])  # the framer's own finding, for itself
