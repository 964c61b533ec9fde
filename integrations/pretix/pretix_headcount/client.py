"""The plugin's only way to headcount: its HTTP API v1, over one keep-alive connection per
thread and service (`http.client`: a cart hold costs the shop's process a third of the CPU
`requests` needs, and that CPU is taken while pretix adds).

pretix's SSRF guard is kept: unless pretix.cfg allows private networks, every address the
service's name resolves to is checked with pretix's own `should_block_access` before connecting.
Every call has a short timeout. A service that does not answer (refused connection,
timeout, a 5xx) is `Unreachable`; after one such failure the client skips the
service for `BACKOFF_S`, so an outage costs a shop one timeout, not one per request.
Answers the contract defines (201/200, 403, 409, 428, 429) are returned as `Answer`.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

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


def _private_networks_allowed() -> bool:
    try:
        from django.conf import settings

        return bool(getattr(settings, "ALLOW_HTTP_TO_PRIVATE_NETWORKS", False))
    except Exception:  # outside a configured Django (the benchmark's own round trips)
        return True


def _open_socket(host: str, port: int, timeout: float) -> socket.socket:
    """Resolve, refuse private addresses as pretix does, connect to the first address that answers."""
    err: Exception | None = None
    for af, socktype, proto, _name, sa in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if not _private_networks_allowed():
            from pretix.helpers.ssrf import should_block_access

            blocked, msg = should_block_access(sa)
            if blocked:
                raise OSError(msg)
        sock = socket.socket(af, socktype, proto)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(sa)
            return sock
        except OSError as exc:
            sock.close()
            err = exc
    raise err or OSError(f"{host} did not resolve")


class _Connection(http.client.HTTPConnection):
    """One keep-alive connection whose connect step goes through `_open_socket`."""

    def __init__(self, scheme: str, host: str, port: int) -> None:
        super().__init__(host, port, timeout=TIMEOUT_S[1])
        self.scheme = scheme

    def connect(self) -> None:
        sock = _open_socket(self.host, self.port, TIMEOUT_S[0])
        if self.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        sock.settimeout(TIMEOUT_S[1])
        self.sock = sock


def _connection(scheme: str, host: str, port: int) -> _Connection:
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get((scheme, host, port))
    if conn is None:
        conn = conns[(scheme, host, port)] = _Connection(scheme, host, port)
    return conn


def _send(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request on this thread's connection; a kept-alive connection the server closed
    meanwhile is reopened once (every write carries an idempotency key or is idempotent)."""
    parts = urlsplit(url)
    scheme = parts.scheme or "http"
    if scheme not in ("http", "https") or not parts.hostname:
        raise OSError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = _connection(scheme, parts.hostname, port)
    for attempt in (0, 1):
        reused = conn.sock is not None
        try:
            conn.request(method, target, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                http.client.CannotSendRequest, http.client.ResponseNotReady):
            conn.close()
            if reused and attempt == 0:
                continue
            raise
        except BaseException:
            conn.close()
            raise
        if r.will_close:
            conn.close()
        return r.status, data
    raise OSError("unreachable")  # not reached: the loop returns or raises


class Client:
    """One headcount service: its base URL and a client API key (staff to create pools)."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key

    def _call(self, method: str, path: str, *, json: Any = None, idempotency: str | None = None,
              expected: tuple[int, ...] = (200, 201, 403, 409, 428, 429)) -> Answer:
        if _down_until.get(self.url, 0.0) > time.monotonic():
            raise Unreachable(f"{self.url} failed recently; skipped for a few seconds")
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        if idempotency:
            headers["Idempotency-Key"] = idempotency
        payload = None
        if json is not None:
            payload = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        try:
            status, content = _send(method, self.url + path, payload, headers)
        except Exception as exc:  # network errors, timeouts, TLS, and the SSRF guard's refusals
            _down_until[self.url] = time.monotonic() + BACKOFF_S
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        if status >= 500:
            _down_until[self.url] = time.monotonic() + BACKOFF_S
            raise Unreachable(f"{method} {path}: HTTP {status}")
        try:
            body = jsonlib.loads(content) if content else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if status not in expected:
            detail = body.get("detail") or body.get("title") or content[:200].decode(errors="replace")
            raise Unreachable(f"{method} {path}: HTTP {status}: {detail}")
        return Answer(status, body)

    def create_pool(self, pool_id: str, name: str, capacity: int, per_actor_limit: int,
                    hold_ttl_s: int, allocation: dict[str, Any] | None = None) -> Answer:
        """`allocation`: `{"mode": "lottery", "closes_at": ..., ...}` for a lottery pool."""
        body: dict[str, Any] = {"id": pool_id, "name": name[:200], "kind": "event", "capacity": capacity,
                                "per_actor_limit": per_actor_limit, "hold_ttl_s": hold_ttl_s}
        if allocation is not None:
            body["allocation"] = allocation
        return self._call("POST", "/v1/pools", json=body, idempotency=f"pool-{pool_id}", expected=(201, 409, 422))

    def hold(self, pool_id: str, quantity: int, actor: dict[str, str], idempotency: str | None = None) -> Answer:
        return self._call("POST", f"/v1/pools/{pool_id}/holds", json={"quantity": quantity, "actor": actor},
                          idempotency=idempotency or uuid.uuid4().hex, expected=(201, 403, 404, 409, 428, 429))

    def register(self, pool_id: str, quantity: int, actor: dict[str, str], idempotency: str) -> Answer:
        """A registration for a lottery pool's draw (201, or 200 with the person's first one)."""
        return self._call("POST", f"/v1/pools/{pool_id}/registrations", json={"quantity": quantity, "actor": actor},
                          idempotency=idempotency, expected=(200, 201, 403, 404, 409, 422, 428, 429))

    def registration(self, registration_id: str) -> Answer:
        return self._call("GET", f"/v1/registrations/{registration_id}", expected=(200, 404))

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


def close_connections() -> None:
    """Close this thread's kept-alive connections (the next call connects, and checks, afresh)."""
    for conn in (getattr(_local, "conns", None) or {}).values():
        conn.close()
    _local.conns = {}
