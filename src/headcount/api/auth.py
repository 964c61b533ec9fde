"""Bearer API keys with roles, verified against the store with a short cache.

A verified key is cached for `CACHE_TTL_S`, so a revoked key stops working
within that time without a database read on every request.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from fastapi import Request

from headcount.api.problems import ProblemError
from headcount.services.keys import Role, role_allows, verify_key
from headcount.store.base import Store

CACHE_TTL_S = 30.0
CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str | None  # None: anonymous
    role: Role | None

    def can(self, needed: Role) -> bool:
        return self.role is not None and role_allows(self.role, needed)


ANONYMOUS = Principal(None, None)


class FailureLimiter:
    """Answer 429 to an address after too many failed authentications in a minute.

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

    def check(self, address: str) -> None:
        now = time.monotonic()
        q = self._recent(address, now)
        if len(q) >= self.per_minute:
            retry = int(q[0] + self.WINDOW_S - now) + 1
            raise ProblemError(429, "too-many-failed-authentications",
                               f"too many failed authentications; try again in {retry} s",
                               field="Authorization", headers={"Retry-After": str(retry)})

    def failed(self, address: str) -> None:
        self._recent(address, time.monotonic()).append(time.monotonic())
        if len(self._failures) > 100_000:  # forget the oldest addresses
            for key in list(self._failures)[:50_000]:
                del self._failures[key]


class KeyVerifier:
    def __init__(self, store: Store, failures_per_minute: int = 20) -> None:
        self._store = store
        self._cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self.limiter = FailureLimiter(failures_per_minute)

    def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization")
        if not header:
            return ANONYMOUS
        address = request.client.host if request.client else "unknown"
        self.limiter.check(address)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.limiter.failed(address)
            raise ProblemError(
                401, "bad-credentials", "Authorization must be 'Bearer <api key>'",
                field="Authorization", headers={"WWW-Authenticate": "Bearer"},
            )
        token = token.strip()
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            principal = hit[1]
        else:
            verified = verify_key(self._store, token)
            principal = Principal(verified[0], verified[1]) if verified else None
            self._cache[token] = (now + CACHE_TTL_S, principal)
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        if principal is None:
            self.limiter.failed(address)
            raise ProblemError(
                401, "bad-credentials", "unknown or revoked API key",
                field="Authorization", headers={"WWW-Authenticate": "Bearer"},
            )
        return principal


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
