"""Coordinated groups in the running service: detection over the recent action log.

One server process (the leader, chosen by a lock on the store) reads new actions,
keeps a window of the recent log in memory, runs the detection ensemble on a
schedule and stores the blocks; every process reloads the members of the stored
blocks, and the guard gives each of them the `coordinated_group` reason. Detection
is a batch over the log, so a group is flagged from its next request on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from headcount.detect import DEFAULT_MIN_SCORE, ActionLog
from headcount.detect.detection import detect_all
from headcount.store.base import Store
from headcount.store.blocks import StoredBlock, block_id, same_pattern

log = logging.getLogger("headcount.services.detection")

DEFAULT_WINDOW_S = 7 * 86400
PAGE = 50_000
REREAD = 10_000  # how far back each read starts (rows that committed late)
MIN_EVENTS = 50  # fewer actions than this hold no block worth a run
LEADER_LOCK = 727_001  # PostgreSQL advisory lock key of the detection leader


class Leadership:
    """Whether this process runs detection: one per store, whichever takes the store's leader lock."""

    NAME = "detect"

    def __init__(self, store: Store) -> None:
        self.store = store
        self._leading = False

    def acquire(self) -> bool:
        """Take (or, after a lost connection, take again) the lock; True while this process leads."""
        self._leading = self.store.try_lead(self.NAME)
        return self._leading

    def release(self) -> None:
        if self._leading:
            self.store.release_lead(self.NAME)
            self._leading = False


class Vocabulary:
    """Strings to dense int codes, kept across runs, so the window is held as int arrays."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.labels: list[str] = []

    def encode(self, values: list[str]) -> np.ndarray:
        index, labels = self.index, self.labels
        out = np.empty(len(values), dtype=np.int64)
        for i, value in enumerate(values):
            code = index.get(value)
            if code is None:
                code = index[value] = len(labels)
                labels.append(value)
            out[i] = code
        return out

    def decode(self, codes: Any) -> tuple[str, ...]:
        return tuple(self.labels[int(c)] for c in codes)


COLUMNS = ("actor", "target", "ip", "device")


class GroupWatch:
    """The recent action log, the detector run over it, and the flagged persons.

    The window is held as arrays of codes (a few bytes per action, not a Python
    object per field), appended page by page and cut by time before each run.
    """

    def __init__(self, store: Store, *, window_s: float = DEFAULT_WINDOW_S, top: int = 20,
                 min_score: float = DEFAULT_MIN_SCORE, clock: Callable[[], float] = time.time) -> None:
        self.store, self.window_s, self.top, self.min_score, self.clock = store, window_s, top, min_score, clock
        self.members: frozenset[str] = frozenset()
        #: each flagged person's confidence (the highest of their blocks): the guard scales
        #: the `coordinated_group` weight by it
        self.confidence: dict[str, float] = {}
        self.vocab = {name: Vocabulary() for name in COLUMNS}
        self._ts = np.empty(0, dtype=np.float64)
        self._codes = {name: np.empty(0, dtype=np.int64) for name in COLUMNS}
        self._cursor = 0
        self._recent: set[int] = set()  # sequence numbers seen within REREAD of the cursor
        self.last_run: dict[str, Any] = {}

    def __len__(self) -> int:
        return int(self._ts.size)

    def collect(self) -> int:
        """Read the actions logged since the last call; forget those past the window.

        On PostgreSQL a row can commit after a row with a higher sequence number, so
        each read starts `REREAD` numbers back and skips what it has already seen.
        """
        added = 0
        start = max(0, self._cursor - REREAD)
        while True:
            rows = self.store.read_actions(start, PAGE)
            fresh = [a for a in rows if a.seq not in self._recent]
            if fresh:
                self._append(fresh)
                self._recent.update(a.seq for a in fresh)
                self._cursor = max(self._cursor, fresh[-1].seq)
                added += len(fresh)
            if len(rows) < PAGE:
                break
            start = rows[-1].seq
        floor = self._cursor - REREAD
        self._recent = {q for q in self._recent if q > floor}
        recent = self._ts >= self.clock() - self.window_s  # imported events may be out of order
        if not recent.all():
            self._ts = self._ts[recent]
            self._codes = {name: codes[recent] for name, codes in self._codes.items()}
        return added

    def _append(self, page: list[Any]) -> None:
        # the target alone: a hold, its confirmation and the check-in are one
        # person on one pool, not three targets acted on together
        fields = {"actor": [a.actor_key for a in page], "target": [a.target for a in page],
                  "ip": [str((a.attrs or {}).get("ip") or "-") for a in page],
                  "device": [str((a.attrs or {}).get("device") or "-") for a in page]}
        self._ts = np.concatenate([self._ts, np.fromiter((a.ts for a in page), np.float64, len(page))])
        for name in COLUMNS:
            self._codes[name] = np.concatenate([self._codes[name], self.vocab[name].encode(fields[name])])

    def detect(self) -> list[StoredBlock]:
        """Run the ensemble over the window and make its blocks the stored set."""
        began = time.perf_counter()
        blocks: list[StoredBlock] = []
        if len(self) >= MIN_EVENTS:
            c = self._codes
            action_log = ActionLog.from_arrays(c["actor"], c["target"], self._ts.astype(np.int64),
                                               {"ip": c["ip"], "device": c["device"]})
            found = detect_all(action_log, top=self.top, min_score=self.min_score)
            now = self.clock()
            for b in found.blocks:
                actors = self.vocab["actor"].decode(b.actors)
                blocks.append(StoredBlock(block_id(actors), now, now, b.detector, round(b.score, 2),
                                          float(b.start), float(b.end), round(b.density, 4), b.events,
                                          actors, self.vocab["target"].decode(b.targets),
                                          self._readable(b.evidence)))
        cleared = self.store.dismissals()  # staff reviewed these: not the same pattern again
        blocks = [b for b in blocks if not any(same_pattern(b, d) for d in cleared)]
        self.store.replace_blocks(blocks)
        self.last_run = {"events": len(self), "blocks": len(blocks),
                         "seconds": round(time.perf_counter() - began, 3)}
        return blocks

    def _readable(self, evidence: dict[str, Any]) -> dict[str, Any]:
        """The evidence with network and device codes turned back into their keyed hashes."""
        out = dict(evidence)
        for name in ("ip", "device"):
            if isinstance(out.get(name), list):
                out[name] = [{**item, "value": self.vocab[name].labels[int(item["value"])]}
                             for item in out[name]]
        return out

    def refresh(self) -> frozenset[str]:
        """Reload the members of the stored blocks (every process, leader or not)."""
        blocks = self.store.list_blocks(100_000)
        weights: dict[str, float] = {}
        for b in blocks:
            c = float(b.evidence.get("confidence", 1.0))
            for person in b.actors:
                weights[person] = max(weights.get(person, 0.0), c)
        self.confidence = weights
        self.members = frozenset(weights)
        return self.members

    def run_once(self) -> None:
        self.collect()
        self.detect()
        self.refresh()


def watch_interval() -> float:
    """Seconds between detection runs (`HEADCOUNT_DETECT_INTERVAL_S`; 0 turns detection off)."""
    return float(os.environ.get("HEADCOUNT_DETECT_INTERVAL_S", "60"))
