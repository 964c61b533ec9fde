"""An in-process service over a real store, with one API key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from headcount.access import create_key
from headcount.api.app import create_app
from headcount.store import open_store


@dataclass
class Service:
    client: TestClient
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture
def service(store_url: str) -> Iterator[Service]:
    store = open_store(store_url)
    keys = {role: create_key(store, role) for role in ("client", "staff", "privacy", "admin")}
    app = create_app(store, sweep_interval=None, close_store=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(client, keys)
