"""An in-process service over a real store (both backends), one API key per role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headcount.api.app import create_app
from headcount.services.keys import create_key
from headcount.store import open_store


@dataclass
class Service:
    client: TestClient
    keys: dict[str, str]
    store: Any

    def auth(self, role: str, idem: str | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.keys[role]}"}
        if idem:
            h["Idempotency-Key"] = idem
        return h

    def lottery_pool(self, pool_id: str, capacity: int, *, closes_in: float = 3600, confirm_within_s: int = 600,
                     per_actor_limit: int = 2, risk: float = 0.05) -> dict[str, Any]:
        r = self.client.post("/v1/pools", headers=self.auth("staff"), json={
            "id": pool_id, "name": pool_id, "kind": "event", "capacity": capacity,
            "per_actor_limit": per_actor_limit, "hold_ttl_s": 600,
            "allocation": {"mode": "lottery", "closes_at": time.time() + closes_in,
                           "confirm_within_s": confirm_within_s, "overbook_risk": risk}})
        assert r.status_code == 201, r.text
        return r.json()

    def register(self, pool_id: str, actor: dict[str, str], quantity: int = 1) -> Any:
        return self.client.post(f"/v1/pools/{pool_id}/registrations", headers=self.auth("client"),
                                json={"quantity": quantity, "actor": actor})


@pytest.fixture
def service(store_url: str) -> Iterator[Service]:
    store = open_store(store_url)
    keys = {role: create_key(store, role) for role in ("client", "staff", "admin")}
    app = create_app(store, sweep_interval=None, close_store=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(client, keys, store)


FIRST = ["anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ida", "jonas", "lena", "max"]
LAST = ["becker", "fischer", "hoffmann", "koch", "meyer", "schmidt", "schulz", "wagner", "weber", "wolf"]


def person(uid: str, i: int) -> dict[str, str]:
    """An actor that looks like a person: a name-like address, an ordinary network of its own."""
    return {"email": f"{FIRST[i % 12]}.{LAST[(i // 12) % 10]}{i}{uid[:4]}@example.org",
            "ip": f"{60 + int(uid[:2], 16) % 100}.{int(uid[2:4], 16)}.{i % 250}.{7 + i % 200}"}
