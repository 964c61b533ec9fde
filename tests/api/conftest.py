"""An in-process service over a real store, with one API key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from headcount.api.app import create_app
from headcount.services.keys import create_key
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


FIRST = ["anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ida", "jonas", "lena", "max"]
LAST = ["becker", "fischer", "hoffmann", "koch", "meyer", "schmidt", "schulz", "wagner", "weber", "wolf"]


def person_email(uid: str, i: int = 0, domain: str = "example.org") -> str:
    """A unique address that looks typed by a person (random hex would look machine-made)."""
    h = int(uid, 16)
    return f"{FIRST[h % len(FIRST)]}.{LAST[(h // 12) % len(LAST)]}{h % 97}x{i}@{domain}"
