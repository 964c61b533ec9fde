"""POST /v1/actions: budgets per person and verb, clear errors for bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.conftest import Service, person_email


def post(service: Service, body: dict[str, Any], role: str = "client"):  # type: ignore[no-untyped-def]
    return service.client.post("/v1/actions", json=body, headers=service.auth(role))


def test_follows_are_allowed_until_the_budget_is_spent(service: Service, uid: str) -> None:
    answers = [post(service, {"verb": "register", "actor": {"email": person_email(uid)}, "target": f"t{i}"})
               for i in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].json() == {"allowed": True, "remaining": 2, "risk": {"score": 0.0, "reasons": []}}
    spent = answers[3]
    assert spent.headers["content-type"] == "application/problem+json"
    assert spent.json()["reasons"] == ["budget_per_hour"] and spent.json()["allowed"] is False
    assert int(spent.headers["Retry-After"]) > 0
    # another person is not affected
    assert post(service, {"verb": "register", "actor": {"email": person_email(uid, 1)}, "target": "t"}).status_code == 200


def test_past_events_can_be_imported_with_their_time(service: Service, uid: str) -> None:
    earlier = datetime.now(UTC) - timedelta(hours=20)
    for i in range(3):  # 20 hours ago: counts for the daily budget (5), not the hourly one (3)
        r = post(service, {"verb": "register", "actor": {"id": uid}, "target": f"t{i}",
                           "ts": (earlier + timedelta(minutes=i)).isoformat()}, role="staff")  # imports: staff
        assert r.status_code == 200
    assert post(service, {"verb": "register", "actor": {"id": uid}, "target": "t3"}).json()["remaining"] == 1
    assert post(service, {"verb": "register", "actor": {"id": uid}, "target": "t4"}).json()["remaining"] == 0
    assert post(service, {"verb": "register", "actor": {"id": uid}, "target": "t5"}).status_code == 429


@pytest.mark.parametrize(("body", "field"), [
    ({"verb": "Follow!", "actor": {"id": "a"}, "target": "x"}, "verb"),
    ({"verb": "hold", "actor": {"id": "a"}, "target": "x"}, "verb"),
    ({"verb": "follow", "actor": {"id": "a"}}, "target"),
    ({"verb": "follow", "actor": {"id": "a"}, "target": ""}, "target"),
    ({"verb": "follow", "actor": {}, "target": "x"}, "actor"),
    ({"verb": "follow", "actor": {"id": "a"}, "target": "x", "ts": "yesterday"}, "ts"),
    ({"verb": "follow", "actor": {"id": "a"}, "target": "x", "ts": "2026-11-22T10:00:00"}, "ts"),
    ({"verb": "follow", "actor": {"id": "a"}, "target": "x", "ts": 1e12}, "ts"),
    ({"verb": "follow", "actor": {"id": "a"}, "target": "x", "ts": -5}, "ts"),
])
def test_bad_actions_name_the_field(service: Service, body: dict[str, Any], field: str) -> None:
    r = post(service, body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_actions_need_a_client_key(service: Service) -> None:
    assert service.client.post("/v1/actions", json={"verb": "follow", "actor": {"id": "a"}, "target": "x"}).status_code == 401
