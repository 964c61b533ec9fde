"""The service's pure ASGI middleware, outermost first (each one job; see `install_middleware`).

* `SecurityHeaders`: security headers on every answer.
* `ClientAddress`: the client's address; `X-Forwarded-For` counts only when the
  connection comes from a configured proxy (issue 13 M6).
* `Admission`: at most `max_inflight` requests at once per process; beyond that,
  and for writes while the store's health check fails, 503 with `Retry-After`
  at once, so that load is shed before latency explodes (issue 13 L, M3).
  `/healthz` is never queued behind anything.
* `AuthFirst`: the API key is verified before a request body is read; bodies
  larger than `max_body_bytes` are refused with 413 without being read, and a
  body must arrive within `body_timeout_s` (issue 13 M5, L).

Starlette's BaseHTTPMiddleware halved throughput here, so all of them are plain
ASGI callables; each answers its own problems (they sit outside FastAPI's
exception handlers).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcount.api.problems import ProblemError, problem_response

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]

#: paths that answer from memory and must stay fast under any load
HEALTH_PATHS = frozenset({"/healthz", "/v1/health"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


async def send_problem(send: Send, error: ProblemError, *, close: bool = False) -> None:
    """Answer with a problem document from middleware (outside FastAPI's exception handlers)."""
    headers = dict(error.headers or {})
    if close:  # the body was not read: the connection cannot be reused
        headers["Connection"] = "close"
    response = problem_response(error.status, error.code, error.detail, field=error.field,
                                reasons=error.reasons, extra=error.extra, headers=headers)
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class SecurityHeaders:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware halved throughput here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def parse_networks(items: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(i.strip(), strict=False) for i in items if i.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: list[str], trusted: tuple[IPNetwork, ...]) -> str | None:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies the client is the right-most `X-Forwarded-For` entry
    that is not itself a trusted proxy (entries further left are whatever the
    client chose to send). A malformed entry stops the walk at the last good hop.
    """
    if not trusted or peer is None:
        return peer
    peer_ip = _ip(peer)
    if peer_ip is None or not any(peer_ip in n for n in trusted):
        return peer
    hops = [h for header in forwarded_for for h in header.split(",")]
    address = peer
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break
        address = str(ip)
        if not any(ip in n for n in trusted):
            break
    return address


class ClientAddress:
    """Set `scope["client"]` to the real client address (see `client_address`).

    The server's own proxy-header handling must be off (`headcount serve` runs
    uvicorn with `proxy_headers=False`), else any local process could claim any
    address by sending `X-Forwarded-For`.
    """

    def __init__(self, app: ASGIApp, trusted: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = parse_networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.trusted:
            client = scope.get("client")
            peer = client[0] if client else None
            forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
            address = client_address(peer, forwarded, self.trusted)
            if address != peer:
                scope = {**scope, "client": (address, 0)}
        await self.app(scope, receive, send)


class Admission:
    """Shed load before latency explodes: a concurrency limit that adapts to the latency seen.

    At most `limit` requests run at once; one over the limit is answered 503 with
    `Retry-After` at once (a few microseconds, so the process keeps up with a flood
    of them) and its small body is skipped with the connection kept. The limit is
    `max_inflight`; with a `target_s` it starts there and follows the latency of the
    requests it admitted
    and the event loop's lateness (additive increase, multiplicative decrease, as
    TCP does): every `window_s`, if the slowest request that finished in the
    window took longer than `target_s`, or the loop ran a 10 ms tick more than
    `target_s / 4` late, the limit drops by a quarter (not below `floor`); while requests
    finish in time and the limit was reached, it grows by one. So when the process
    gets less CPU than it had (other programs, a slow store), it admits fewer
    requests instead of making all of them slow. Health paths are never refused.

    While `store_ok()` is false (the health check's last write failed), writes under
    `/v1/` get 503 at once instead of each waiting for the store's timeout; reads
    still try (a read-only store can still answer them).
    """

    def __init__(self, app: ASGIApp, max_inflight: int, store_ok: Callable[[], bool] = lambda: True,
                 retry_after_s: int = 1, target_s: float | None = None, window_s: float = 0.1,
                 floor: int | None = None) -> None:
        self.app = app
        self.max_inflight = max_inflight
        self.floor = floor if floor is not None else max(2, max_inflight // 8)
        self.limit = float(max_inflight)
        self.target_s = target_s
        self.window_s = window_s
        self.store_ok = store_ok
        self.retry_after = str(retry_after_s)
        self.inflight = 0
        self.shed = 0
        self._window_end = 0.0
        self._window_n = 0
        self._window_slow = 0
        self._window_full = False
        self._lag = 0.0  # the event loop's worst lateness in the window (see _watch_lag)
        self._lag_handle: asyncio.TimerHandle | None = None

    LAG_TICK_S = 0.01

    def _watch_lag(self, due: float) -> None:
        """A tick every 10 ms; how late it runs is how long every request waits for the loop,
        before the request reached this middleware too (a CPU-starved process shows here first)."""
        now = time.monotonic()
        late = now - due
        if late > self._lag:
            self._lag = late
        self._lag_handle = asyncio.get_running_loop().call_at(now + self.LAG_TICK_S, self._watch_lag,
                                                              now + self.LAG_TICK_S)

    def _finished(self, latency: float) -> None:
        if self.target_s is None:  # a fixed limit
            return
        now = time.monotonic()
        self._window_n += 1
        if latency > self.target_s:
            self._window_slow += 1
        if now < self._window_end:
            return
        # one slow request (a checkpoint, a collection) is no reason to shed: 5% of them are
        if self._window_slow * 20 > self._window_n or self._lag > self.target_s / 2:
            self.limit = max(float(self.floor), self.limit * 0.75)
        elif self._window_full:
            self.limit = min(float(self.max_inflight), self.limit + 1.0)
        self._window_end, self._window_full = now + self.window_s, False
        self._window_n = self._window_slow = 0
        self._lag = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._lag_handle is None and self.target_s is not None and scope["type"] == "http":
            now = time.monotonic()
            self._lag_handle = asyncio.get_running_loop().call_at(now + self.LAG_TICK_S, self._watch_lag,
                                                                  now + self.LAG_TICK_S)
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.limit:
            self.shed += 1
            self._window_full = True
            await send_problem(send, ProblemError(
                503, "overloaded", "the service is at capacity; retry after the time in Retry-After",
                headers={"Retry-After": self.retry_after}), close=_large_body(scope))
            return
        if scope["method"] in WRITE_METHODS and scope["path"].startswith("/v1/") and not self.store_ok():
            await send_problem(send, ProblemError(
                503, "store-unavailable",
                "the database is unavailable (failover or restart); retry with the same Idempotency-Key",
                headers={"Retry-After": self.retry_after}), close=_large_body(scope))
            return
        self.inflight += 1
        if self.inflight >= self.limit:
            self._window_full = True
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
            self._finished(time.monotonic() - started)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return (length is not None and length.strip() not in ("", "0")) or _header(scope, b"transfer-encoding") is not None


def _large_body(scope: Scope) -> bool:
    """A body too large to let the server skip over it: the connection is closed instead.

    A refused request's small body is skipped by the server and the connection kept
    (a shed request must cost as little as possible: no new TCP connection after it).
    """
    length = _header(scope, b"content-length")
    try:
        return (length is None and _header(scope, b"transfer-encoding") is not None) or int(length or 0) > 65536
    except ValueError:
        return True


#: verifies the Authorization header for an address: a principal, or raises ProblemError
Authenticate = Callable[[str | None, str], Any]


class AuthFirst:
    """Verify the caller, then read the body (bounded in size and time), then run the route.

    The principal is left in `scope["headcount.principal"]` for the routes. A
    request that carries a body must be authenticated (every route that takes a
    body needs a key), so an anonymous body is refused with 401 unread.
    """

    def __init__(self, app: ASGIApp, authenticate: Authenticate, max_body_bytes: int,
                 body_timeout_s: float) -> None:
        self.app = app
        self.authenticate = authenticate
        self.max_body = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            await self.app(scope, receive, send)
            return
        has_body = _has_body(scope)
        try:
            length = _header(scope, b"content-length")
            if length is not None:
                try:
                    declared = int(length)
                except ValueError:
                    raise ProblemError(400, "bad-content-length", "Content-Length is not a number",
                                       field="Content-Length") from None
                if declared > self.max_body:
                    raise self._too_large()
            client = scope.get("client")
            principal = await self.authenticate(_header(scope, b"authorization"),
                                                client[0] if client else "unknown")
            if has_body and getattr(principal, "key_id", None) is None and scope["path"].startswith("/v1/"):
                raise ProblemError(401, "authentication-required", "a request with a body needs an API key",
                                   field="Authorization", headers={"WWW-Authenticate": "Bearer"})
        except ProblemError as error:
            await send_problem(send, error, close=has_body)
            return
        scope["headcount.principal"] = principal
        if not has_body:
            await self.app(scope, receive, send)
            return
        try:
            body = await asyncio.wait_for(self._read(receive), self.body_timeout_s)
        except TimeoutError:
            await send_problem(send, ProblemError(
                408, "request-timeout", f"the request body did not arrive within {self.body_timeout_s:g} s",
                field="body"), close=True)
            return
        except ProblemError as error:
            await send_problem(send, error, close=True)
            return
        if body is None:  # the client went away
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> ProblemError:
        return ProblemError(413, "body-too-large", f"the request body may have at most {self.max_body} bytes",
                            field="body")

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
