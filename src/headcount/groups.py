"""Coordinated groups in the running service: detection over the recent action log.

One server process (the leader, chosen by a lock on the store) reads new actions,
keeps a window of the recent log in memory, runs the detection ensemble on a
schedule and stores the blocks; every process reloads the members of the stored
blocks, and the guard gives each of them the `coordinated_group` reason. Detection
is a batch over the log, so a group is flagged from its next request on.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from headcount.detect import DEFAULT_MIN_SCORE, ActionLog, Ensemble
from headcount.store.base import Store
from headcount.store.blocks import StoredBlock, block_id

log = logging.getLogger("headcount.groups")

DEFAULT_WINDOW_S = 7 * 86400
PAGE = 50_000
MIN_EVENTS = 50  # fewer actions than this hold no block worth a run


class Leadership:
    """Whether this process runs detection: one per store, whichever takes the lock first."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._handle: Any = None

    def acquire(self) -> bool:
        if self._handle is not None:
            return True
        path = getattr(self.store, "path", None)
        if path is not None:  # SQLite: a lock file beside the database
            handle = open(f"{path}.detect.lock", "a+")  # noqa: SIM115 (held for the process's life)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._handle = handle
            return True
        pool = getattr(self.store, "_pool", None)
        if pool is None:
            return True
        conn = pool.getconn()  # PostgreSQL: a session advisory lock on a connection kept
        if conn.execute("SELECT pg_try_advisory_lock(727001)").fetchone()[0]:
            self._handle = conn
            return True
        pool.putconn(conn)
        return False

    def release(self) -> None:
        if self._handle is None:
            return
        if hasattr(self._handle, "fileno"):
            self._handle.close()
        else:
            self.store._pool.putconn(self._handle)  # type: ignore[attr-defined]
        self._handle = None


class GroupWatch:
    """The recent action log, the detector run over it, and the flagged persons."""

    def __init__(self, store: Store, *, window_s: float = DEFAULT_WINDOW_S, top: int = 20,
                 min_score: float = DEFAULT_MIN_SCORE, clock: Callable[[], float] = time.time) -> None:
        self.store, self.window_s, self.top, self.min_score, self.clock = store, window_s, top, min_score, clock
        self.members: frozenset[str] = frozenset()
        self._rows: deque[tuple[float, str, str, str, str]] = deque()
        self._cursor = 0
        self.last_run: dict[str, Any] = {}

    def collect(self) -> int:
        """Read the actions logged since the last call; forget those past the window."""
        added = 0
        while True:
            page = self.store.read_actions(self._cursor, PAGE)
            for a in page:
                attrs = a.attrs or {}
                # the target alone: a hold, its confirmation and the check-in are one
                # person on one pool, not three targets acted on together
                self._rows.append((a.ts, a.actor_key, a.target,
                                   str(attrs.get("ip") or "-"), str(attrs.get("device") or "-")))
            if page:
                self._cursor = page[-1].seq
                added += len(page)
            if len(page) < PAGE:
                break
        horizon = self.clock() - self.window_s
        while self._rows and self._rows[0][0] < horizon:
            self._rows.popleft()
        return added

    def detect(self) -> list[StoredBlock]:
        """Run the ensemble over the window and make its blocks the stored set."""
        began = time.perf_counter()
        blocks: list[StoredBlock] = []
        if len(self._rows) >= MIN_EVENTS:
            ts, actor, target, ip, device = (np.array(c) for c in zip(*self._rows))
            action_log = ActionLog.from_arrays(actor, target, ts, {"ip": ip, "device": device})
            model = Ensemble(top=self.top, min_score=self.min_score).fit(action_log)
            now = self.clock()
            for b in model.blocks_:
                actors = tuple(str(a) for a in b.actors)
                blocks.append(StoredBlock(block_id(actors), now, now, b.detector, round(b.score, 2),
                                          float(b.start), float(b.end), round(b.density, 4), b.events,
                                          actors, tuple(str(t) for t in b.targets), b.evidence))
        self.store.replace_blocks(blocks)
        self.last_run = {"events": len(self._rows), "blocks": len(blocks),
                         "seconds": round(time.perf_counter() - began, 3)}
        return blocks

    def refresh(self) -> frozenset[str]:
        """Reload the members of the stored blocks (every process, leader or not)."""
        self.members = self.store.block_members()
        return self.members

    def run_once(self) -> None:
        self.collect()
        self.detect()
        self.refresh()


def watch_interval() -> float:
    """Seconds between detection runs (`HEADCOUNT_DETECT_INTERVAL_S`; 0 turns detection off)."""
    return float(os.environ.get("HEADCOUNT_DETECT_INTERVAL_S", "60"))
