"""The plugin's only way to headcount: its HTTP API v1, through one pooled `requests` session.

Every call has a short timeout. A service that does not answer (refused connection,
timeout, a 5xx) is `Unreachable`; after one such failure the client skips the
service for `BACKOFF_S`, so an outage costs a shop one timeout, not one per request.
Answers the contract defines (201/200, 403, 409, 428, 429) are returned as `Answer`.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

TIMEOUT_S = (1.0, 2.0)  # connect, read
BACKOFF_S = 10.0

_local = threading.local()
_down_until: dict[str, float] = {}


class Unreachable(Exception):
    """headcount did not answer usefully (network error, timeout, 5xx, or a broken configuration)."""


@dataclass
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reasons(self) -> list[str]:
        reasons = self.body.get("reasons")
        if reasons is None:
            reasons = (self.body.get("risk") or {}).get("reasons", [])
        return [str(r) for r in reasons or []]


def _session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.trust_env = False  # no proxies from the environment between pretix and headcount
        _local.session = s
    return s


class Client:
    """One headcount service: its base URL and a client API key (staff to create pools)."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key

    def _call(self, method: str, path: str, *, json: Any = None, idempotency: str | None = None,
              expected: tuple[int, ...] = (200, 201, 403, 409, 428, 429)) -> Answer:
        if _down_until.get(self.url, 0.0) > time.monotonic():
            raise Unreachable(f"{self.url} failed recently; skipped for a few seconds")
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if idempotency:
            headers["Idempotency-Key"] = idempotency
        try:
            r = _session().request(method, self.url + path, json=json, headers=headers, timeout=TIMEOUT_S)
        except Exception as exc:  # requests' errors, and urllib3's from pretix's SSRF guard
            _down_until[self.url] = time.monotonic() + BACKOFF_S
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        if r.status_code >= 500:
            _down_until[self.url] = time.monotonic() + BACKOFF_S
            raise Unreachable(f"{method} {path}: HTTP {r.status_code}")
        try:
            body = r.json() if r.content else {}
        except ValueError:
            body = {}
        if r.status_code not in expected:
            detail = body.get("detail") or body.get("title") or r.text[:200]
            raise Unreachable(f"{method} {path}: HTTP {r.status_code}: {detail}")
        return Answer(r.status_code, body if isinstance(body, dict) else {})

    def create_pool(self, pool_id: str, name: str, capacity: int, per_actor_limit: int,
                    hold_ttl_s: int) -> Answer:
        return self._call("POST", "/v1/pools", json={
            "id": pool_id, "name": name[:200], "kind": "event", "capacity": capacity,
            "per_actor_limit": per_actor_limit, "hold_ttl_s": hold_ttl_s,
        }, idempotency=f"pool-{pool_id}", expected=(201, 409, 422))

    def hold(self, pool_id: str, quantity: int, actor: dict[str, str], idempotency: str | None = None) -> Answer:
        return self._call("POST", f"/v1/pools/{pool_id}/holds", json={"quantity": quantity, "actor": actor},
                          idempotency=idempotency or uuid.uuid4().hex, expected=(201, 403, 404, 409, 428, 429))

    def confirm(self, hold_id: str) -> Answer:
        return self._call("POST", f"/v1/holds/{hold_id}/confirm", expected=(200, 404, 409))

    def release(self, hold_id: str) -> Answer:
        return self._call("DELETE", f"/v1/holds/{hold_id}", expected=(200, 404, 409))

    def action(self, verb: str, actor: dict[str, str], target: str, ts: float | None = None) -> Answer:
        body: dict[str, Any] = {"verb": verb, "actor": actor, "target": target}
        if ts is not None:
            body["ts"] = ts
        return self._call("POST", "/v1/actions", json=body, expected=(200, 403, 428, 429))

    def pool(self, pool_id: str) -> Answer:
        return self._call("GET", f"/v1/pools/{pool_id}", expected=(200, 404))

    def headcount(self, pool_id: str) -> Answer:
        return self._call("GET", f"/v1/pools/{pool_id}/headcount", expected=(200, 403, 404))

    def hold_state(self, hold_id: str) -> Answer:
        return self._call("GET", f"/v1/holds/{hold_id}", expected=(200, 404))


def forget_failures() -> None:
    """Forget recent failures (tests that bring a service back up call this)."""
    _down_until.clear()
