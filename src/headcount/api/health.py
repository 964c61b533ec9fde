"""The store's health as the service sees it: one checker thread per process, answers from memory.

`/healthz` (and `/v1/health`) must answer at once even while the store hangs or
the process is flooded, so it never touches the store itself: a daemon thread
writes a ping every `interval_s` (bounded by the store's own timeout) and keeps
the last result. A result older than the interval plus that timeout counts as
unhealthy (the ping itself hangs). While the store is unhealthy `Admission`
answers writes 503 at once; the first ping that succeeds again ends that, so
the service recovers by itself within one interval of the fault ending.
Failures are logged when the state changes, not on every ping.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from headcount.store.base import DEFAULT_TIMEOUT_S, Store, StoreHealth, one_line

log = logging.getLogger("headcount.api")

#: an embedded store's folder with less free space than this is unhealthy (a full disk)
MIN_FREE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class HealthState:
    ok: bool
    detail: str
    checked_s_ago: float


class HealthMonitor:
    def __init__(self, store: Store, interval_s: float = 0.5) -> None:
        self.store = store
        self.interval_s = interval_s
        self.bound_s = float(getattr(store, "timeout_s", DEFAULT_TIMEOUT_S))
        self._last = StoreHealth(True)
        self._at = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop = threading.Event()  # a lifespan can start again after a stop (tests do)
            self._thread = threading.Thread(target=self._run, name="headcount-health", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.bound_s + 1)
            self._thread = None

    def check(self) -> StoreHealth:
        """Ping the store now (blocking, bounded by its timeout) and remember the result."""
        try:
            health = self.store.health()
        except Exception as exc:  # health() must not raise; if a backend's does, it is a fault too
            health = StoreHealth(False, one_line(exc))
        if health.ok:
            health = self._disk()
        if health.ok != self._last.ok:
            if health.ok:
                log.warning("store available again")
            else:
                log.warning("store unavailable: %s", health.detail)
        self._last, self._at = health, time.monotonic()
        return health

    def _disk(self) -> StoreHealth:
        """An embedded store on a full disk: a ping may still fit in the WAL's free frames while
        real writes fail, so the free space of its folder counts too."""
        path = getattr(self.store, "path", None)
        if path is None:
            return StoreHealth(True)
        try:
            st = os.statvfs(os.path.dirname(os.path.abspath(path)) or ".")
        except OSError as exc:
            return StoreHealth(False, f"cannot read the database folder's free space: {one_line(exc)}")
        free = st.f_bavail * st.f_frsize
        if free < MIN_FREE_BYTES:
            return StoreHealth(False, f"the disk holding the database is full ({free} bytes free)")
        return StoreHealth(True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self.interval_s)

    def state(self) -> HealthState:
        age = time.monotonic() - self._at
        if self._thread is not None and age > self.interval_s + self.bound_s + 1.0:
            return HealthState(False, f"the store has not answered a health check for {age:.1f} s", age)
        return HealthState(self._last.ok, self._last.detail, age)

    def ok(self) -> bool:
        return self.state().ok
