"""Over HTTP, follows do not count as registrations for velocity (see `headcount.guard.signals_guard`)."""

from __future__ import annotations

from tests.api.conftest import Service, person_email
from tests.signals.test_velocity_per_verb import network


def test_over_http_follows_leave_registrations_alone(service: Service, uid: str) -> None:
    net = network(uid)
    for i in range(25):  # an office network following: allowed, no velocity
        r = service.client.post("/v1/actions", headers=service.auth("client"), json={
            "verb": "follow", "actor": {"email": person_email(uid, i, "web.de"), "ip": f"{net}.{i + 1}"},
            "target": f"acct-{i}"})
        assert r.status_code == 200 and r.json()["risk"]["reasons"] == [], r.text
    r = service.client.post("/v1/actions", headers=service.auth("client"), json={
        "verb": "register", "actor": {"email": person_email(uid, 99, "web.de"), "ip": f"{net}.200"}, "target": "t"})
    assert r.status_code == 200 and r.json()["risk"]["reasons"] == []
