"""Bearer API keys with roles, verified against the store with a short cache.

A verified key is cached for `cache_s` (`HEADCOUNT_KEY_CACHE_S`, 1 s by
default; never past the key's expiry), so a revoked key stops working in every
process within that time without a database read on every request.

Failed authentications are counted per client address (`ClientAddress` decides
what that is; `X-Forwarded-For` only from trusted proxies). A key is always
verified first: a valid key is never refused because its address failed
before (a spoofed or shared address cannot lock its owner out); only failures
from an address over the limit answer 429 instead of 401.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from headcount.api.problems import ProblemError
from headcount.services.keys import Role, role_allows, verify_record
from headcount.store.base import Store, StoreUnavailable

CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str | None  # None: anonymous
    role: Role | None

    def can(self, needed: Role) -> bool:
        return self.role is not None and role_allows(self.role, needed)


ANONYMOUS = Principal(None, None)


class FailureLimiter:
    """Count failed authentications per address and minute; `over` says when to answer 429.

    Per process: with N server processes an address gets at most N times the
    limit, which still makes guessing keys hopeless (they have 256 random bits).
    """

    WINDOW_S = 60.0

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        q = self._failures.setdefault(address, deque())
        while q and q[0] <= now - self.WINDOW_S:
            q.popleft()
        return q

    def retry_after(self, address: str) -> int | None:
        """Seconds until the address may fail again, if it is over the limit now."""
        now = time.monotonic()
        q = self._recent(address, now)
        if len(q) >= self.per_minute:
            return int(q[0] + self.WINDOW_S - now) + 1
        return None

    def failed(self, address: str) -> None:
        now = time.monotonic()
        q = self._recent(address, now)
        if len(q) < self.per_minute * 2:  # bounded memory per address
            q.append(now)
        if len(self._failures) > 100_000:  # forget the oldest addresses
            for key in list(self._failures)[:50_000]:
                del self._failures[key]


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "bad-credentials", detail, field="Authorization",
                        headers={"WWW-Authenticate": "Bearer"})


class KeyVerifier:
    #: how long a verified key stays good while the store cannot be asked (no revocation can be
    #: written to an unreachable store either); past this, requests get 503
    STALE_S = 60.0

    def __init__(self, store: Store, failures_per_minute: int = 20, cache_s: float = 1.0,
                 store_ok: Callable[[], bool] = lambda: True) -> None:
        self._store = store
        self.store_ok = store_ok
        # token -> (good until, principal or None, verified at); times are time.monotonic()
        self._cache: OrderedDict[str, tuple[float, Principal | None, float]] = OrderedDict()
        self.cache_s = cache_s
        self.limiter = FailureLimiter(failures_per_minute)

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached verifications (of one key id, or all): a revocation in this process is immediate."""
        if key_id is None:
            self._cache.clear()
            return
        for token in [t for t, (_, p, _) in self._cache.items() if p is not None and p.key_id == key_id]:
            del self._cache[token]

    def _lookup(self, token: str) -> tuple[float, Principal | None]:
        """(how long the answer may be cached, the principal or None) from the store."""
        now = time.time()
        record = verify_record(self._store, token, now)
        if record is None:
            return self.cache_s, None
        ttl = self.cache_s if record.expires_at is None else min(self.cache_s, record.expires_at - now)
        return ttl, Principal(record.key_id, Role(record.role))

    def _failure(self, address: str, detail: str) -> ProblemError:
        retry = self.limiter.retry_after(address)
        self.limiter.failed(address)
        if retry is not None:
            return ProblemError(429, "too-many-failed-authentications",
                                f"too many failed authentications; try again in {retry} s",
                                field="Authorization", headers={"Retry-After": str(retry)})
        return _unauthorized(detail)

    async def authenticate(self, header: str | None, address: str) -> Principal:
        """The caller behind an Authorization header (ANONYMOUS without one); raises ProblemError."""
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise self._failure(address, "Authorization must be 'Bearer <api key>'")
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            principal = hit[1]
        elif hit is not None and hit[1] is not None and not self.store_ok() and now - hit[2] < self.STALE_S:
            # the store is down: asking it would hang for its timeout; the request's own
            # store access answers 503 (writes at once, from Admission)
            principal = hit[1]
        else:
            try:  # off the event loop: a store that hangs must not stall every other request
                ttl, principal = await asyncio.to_thread(self._lookup, token)
            except StoreUnavailable as exc:
                raise ProblemError(503, "store-unavailable", f"cannot verify the API key now: {exc}",
                                   headers={"Retry-After": "1"}) from None
            if ttl > 0:
                self._cache[token] = (now + ttl, principal, now)
                if len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        if principal is None:
            raise self._failure(address, "unknown, revoked or expired API key")
        return principal

    async def principal(self, request: Request) -> Principal:
        """The request's caller: what `AuthFirst` found, else verified now."""
        found = request.scope.get("headcount.principal")
        if isinstance(found, Principal):
            return found
        address = request.client.host if request.client else "unknown"
        return await self.authenticate(request.headers.get("authorization"), address)


def require(principal: Principal, needed: Role) -> None:
    if principal.key_id is None:
        raise ProblemError(
            401, "authentication-required", f"this needs an API key with the {needed.value} role",
            field="Authorization", headers={"WWW-Authenticate": "Bearer"},
        )
    if not principal.can(needed):
        raise ProblemError(
            403, "forbidden", f"the {principal.role} role cannot do this; it needs {needed.value}",
        )
