"""Coordinated groups in the running service: detection over the recent action log.

One server process (the leader, chosen by a lock on the store) reads new actions,
keeps a window of the recent log in memory and finds groups in it two ways:

- **streaming** (`stream_tick`, every `HEADCOUNT_STREAM_INTERVAL_S`, in a thread of
  its own): new actions update an incrementally peeled graph of the window
  (`detect.stream`); when its densest part is unlikely by chance it is judged as the
  batch judges its own candidates (`judge_groups`) and, if it holds, stored at once;
- **the full pass** (`detect`, every `HEADCOUNT_DETECT_INTERVAL_S`): every finding of
  `headcount detect` over the window through one library call (`detect_all`: the
  ensemble, follow-back rings, churn), the safety net for what the stream misses.

The stored set is the full pass's blocks plus the streamed ones no full block holds.
Every process reloads the members of the stored blocks; the guard gives each of them
the `coordinated_group` reason from their next request. The guard's lookup reads an
attribute (a frozenset swapped whole): never store I/O, never a lock.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from headcount.detect import DEFAULT_MIN_SCORE, ActionLog
from headcount.detect.detection import Detection, detect_all, judge_groups
from headcount.detect.stream import SlidingGraph
from headcount.store.base import Store
from headcount.store.blocks import (
    OPERATOR,
    Dismissal,
    StoredBlock,
    block_id,
    same_pattern,
    scoped_to,
)

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

    @property
    def leading(self) -> bool:
        """Whether the last `acquire` took the lock (no store call)."""
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


COLUMNS = ("actor", "target", "ip", "device", "verb", "client")
STREAM_OVERLAP = 0.5  # a streamed block sharing this share of its members with a full-pass one is that one
STREAM_CANDIDATES = 3  # dense parts of the window the stream follows at once
REJUDGE_S = 1.0  # a changed stream candidate is judged again at most this often


class GroupWatch:
    """The recent action log, the detection run over it, and the flagged persons.

    The window is held as arrays of codes (a few bytes per action, not a Python
    object per field), appended page by page and cut by time. Two threads use it:
    the stream's rounds and the full pass; `_lock` guards only the appends and the
    swap of the published set, never a detection run.
    """

    def __init__(self, store: Store, *, window_s: float = DEFAULT_WINDOW_S, top: int = 20,
                 min_score: float = DEFAULT_MIN_SCORE, clock: Callable[[], float] = time.time) -> None:
        self.store, self.window_s, self.top, self.min_score, self.clock = store, window_s, top, min_score, clock
        #: persons flagged for everyone: their group shows in the operator's own record
        self.members: frozenset[str] = frozenset()
        #: persons whose group shows only in some clients' actions, with those clients: what one
        #: client asserts about identities cannot by itself flag another client's customers
        self.members_for: dict[str, frozenset[str]] = {}
        #: each flagged person's confidence (the highest of their blocks): the guard scales
        #: the `coordinated_group` weight by it
        self.confidence: dict[str, float] = {}
        self.vocab = {name: Vocabulary() for name in COLUMNS}
        self._ts = np.empty(0, dtype=np.float64)
        self._codes = {name: np.empty(0, dtype=np.int64) for name in COLUMNS}
        self._cursor = 0
        self._recent: set[int] = set()  # sequence numbers seen within REREAD of the cursor
        self.last_run: dict[str, Any] = {}
        self.graph = SlidingGraph(window_s, stream_max_events())
        self._lock = threading.Lock()
        self._publishing = threading.Lock()  # the stream and the full pass both publish
        self._full: list[StoredBlock] = []  # the last full pass's blocks
        self._streamed: list[StoredBlock] = []  # the stream's blocks that held
        self._published: tuple[tuple[str, tuple[str, ...]], ...] | None = None
        self._dismissed: list[Dismissal] = []
        self._judged: tuple[tuple[frozenset[int], frozenset[int], int], ...] | None = None
        self._judged_at = -np.inf
        #: what the last stream round did: events read, seconds, the newest event's age
        self.stream_stats: dict[str, Any] = {}

    def __len__(self) -> int:
        return int(self._ts.size)

    def collect(self) -> int:
        """Read the actions logged since the last call; forget those past the window.

        On PostgreSQL a row can commit after a row with a higher sequence number, so
        each read starts `REREAD` numbers back and skips what it has already seen.
        """
        with self._lock:
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
            now = self.clock()
            recent = self._ts >= now - self.window_s  # imported events may be out of order
            if not recent.all():
                self._ts = self._ts[recent]
                self._codes = {name: codes[recent] for name, codes in self._codes.items()}
            self.graph.expire(now)
            return added

    def _append(self, page: list[Any]) -> None:
        # the target alone: a hold, its confirmation and the check-in are one
        # person on one pool, not three targets acted on together
        fields = {"actor": [a.actor_key for a in page], "target": [a.target for a in page],
                  "ip": [str((a.attrs or {}).get("ip") or "-") for a in page],
                  "device": [str((a.attrs or {}).get("device") or "-") for a in page],
                  "verb": [a.verb for a in page],
                  "client": [str((a.attrs or {}).get("client") or OPERATOR) for a in page]}
        ts = np.fromiter((a.ts for a in page), np.float64, len(page))
        codes = {name: self.vocab[name].encode(fields[name]) for name in COLUMNS}
        self._ts = np.concatenate([self._ts, ts])
        for name in COLUMNS:
            self._codes[name] = np.concatenate([self._codes[name], codes[name]])
        self.graph.add(codes["actor"], codes["target"], np.floor(ts))

    def window_log(self) -> ActionLog:
        """The window as an action log (labels are this watch's codes), from a snapshot."""
        with self._lock:
            ts, c = self._ts, dict(self._codes)
        log = ActionLog.from_arrays(c["actor"], c["target"], ts.astype(np.int64),
                                    {"ip": c["ip"], "device": c["device"], "verb": c["verb"]})
        verbs = self.vocab["verb"].labels  # follow rings and churn read the verb as text
        log.mode_labels["verb"] = np.array([verbs[int(v)] for v in log.mode_labels["verb"]], dtype=object)
        return log

    def findings(self) -> Detection:
        """Everything `headcount detect` reports, over the window: one library call."""
        return detect_all(self.window_log(), top=self.top, min_score=self.min_score)

    def detect(self) -> list[StoredBlock]:
        """The full pass: every finding over the window becomes the full part of the stored set."""
        began = time.perf_counter()
        blocks: list[StoredBlock] = []
        if len(self) >= MIN_EVENTS:
            found = self.findings()
            now = self.clock()
            blocks = [self._stored(b, now) for b in found.blocks]
            blocks += [self._churner(c, now) for c in found.churn[: self.top]]
        self._dismissed = self.store.dismissals()  # staff reviewed these: not the same pattern again
        self._full = blocks
        stored = self._publish(force=True)
        self.last_run = {"events": len(self), "blocks": len(stored),
                         "seconds": round(time.perf_counter() - began, 3)}
        return stored

    def _clients(self, actors: Any, targets: Any | None = None) -> list[str]:
        """The clients whose actions (of `actors`, on `targets`) a finding rests on."""
        with self._lock:
            actor, target, client = self._codes["actor"], self._codes["target"], self._codes["client"]
        at = np.flatnonzero(np.isin(actor, np.asarray(actors, dtype=np.int64)))
        if targets is not None:  # only the members' events: the window is read once, not twice
            at = at[np.isin(target[at], np.asarray(targets, dtype=np.int64))]
        return sorted(self.vocab["client"].decode(np.unique(client[at])))

    def _stored(self, b: Any, now: float) -> StoredBlock:
        actors = self.vocab["actor"].decode(b.actors)
        evidence = {**self._readable(b.evidence), "clients": self._clients(b.actors, b.targets)}
        return StoredBlock(block_id(actors), now, now, b.detector, round(b.score, 2), float(b.start),
                           float(b.end), round(b.density, 4), b.events, actors,
                           self.vocab["target"].decode(b.targets), evidence)

    def _churner(self, c: Any, now: float) -> StoredBlock:
        """A follow-then-unfollow churner as a block of one; its confidence is the share undone."""
        actor = self.vocab["actor"].labels[int(c.actor)]
        return StoredBlock(block_id((actor, "churn")), now, now, "churn", 0.0, now - self.window_s, now,
                           round(c.share, 4), c.follows + c.unfollows, (actor,), (),
                           {**c.to_dict(), "actor": actor, "confidence": round(c.share, 4),
                            "clients": self._clients([int(c.actor)])})

    def stream_tick(self) -> list[StoredBlock]:
        """One round of streaming detection: new actions into the graph, its densest part judged."""
        began = time.perf_counter()
        added = self.collect()
        with self._lock:  # the full pass's collect changes the graph too
            dense = self.graph.candidates(STREAM_CANDIDATES, self.min_score)
        passing = [d for d in dense if d.score >= self.min_score and d.actors.size >= 3 and d.targets.size >= 2]
        # the same members with a tenth more pairs are judged again too: the stored block's
        # figures (events, score, window) follow the ring as it forms
        key = tuple((frozenset(d.actors.tolist()), frozenset(d.targets.tolist()),
                     int(math.log(d.edges) / math.log(1.1))) for d in passing)
        judged = False
        if not passing:
            self._streamed, self._judged = [], None
        elif key != self._judged and time.perf_counter() - self._judged_at >= REJUDGE_S:
            found = judge_groups(self.window_log(), [(d.actors, d.targets) for d in passing],
                                 top=len(passing), min_score=self.min_score)
            now = self.clock()
            self._streamed = [self._stored(b, now) for b in found.blocks]
            self._judged, self._judged_at, judged = key, time.perf_counter(), True
        stored = self._publish()
        newest = float(self._ts.max()) if self._ts.size else None
        self.stream_stats = {"read": added, "events": len(self.graph), "repeeled": self.graph.peel.repeeled,
                             "judged": judged, "candidate_scores": [round(d.score, 2) for d in dense],
                             "seconds": round(time.perf_counter() - began, 4),
                             "late_dropped": self.graph.dropped_late,
                             "newest_event_age_s": None if newest is None else round(self.clock() - newest, 3)}
        return stored

    def _publish(self, force: bool = False) -> list[StoredBlock]:
        """Store the full pass's blocks and the streamed ones they do not hold, if the set changed."""
        with self._publishing:
            return self._publish_locked(force)

    def _publish_locked(self, force: bool) -> list[StoredBlock]:
        full = self._full
        extra = [b for b in self._streamed
                 if not any(len(set(b.actors) & set(f.actors)) >= STREAM_OVERLAP * len(b.actors) for f in full)]
        blocks = [b for b in full + extra if not any(same_pattern(b, d) for d in self._dismissed)]
        shape = tuple((b.id, b.actors) for b in blocks)
        if force or shape != self._published:
            self.store.replace_blocks(blocks)
            self._published = shape
            self._flag(blocks)
        return blocks

    def _flag(self, blocks: list[StoredBlock]) -> None:
        """Who is flagged, for whom (`scoped_to`), and how surely."""
        weights: dict[str, float] = {}
        everyone: set[str] = set()
        scoped: dict[str, set[str]] = {}
        for b in blocks:
            c = float(b.evidence.get("confidence", 1.0))
            clients = scoped_to(b)
            for person in b.actors:
                weights[person] = max(weights.get(person, 0.0), c)
                if clients is None:
                    everyone.add(person)
                else:
                    scoped.setdefault(person, set()).update(clients)
        self.confidence = weights  # swaps of whole objects: readers never wait
        self.members_for = {p: frozenset(cs) for p, cs in scoped.items() if p not in everyone}
        self.members = frozenset(everyone)

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
        self._dismissed = self.store.dismissals()
        self._flag(self.store.list_blocks(100_000))
        return self.members

    def run_once(self) -> None:
        self.collect()
        self.detect()
        self.refresh()


def stream_max_events() -> int | None:
    """Events the stream's graph keeps, the newest (`HEADCOUNT_STREAM_MAX_EVENTS`, 250,000; 0: the whole
    window). It bounds a stream round's cost whatever the traffic; the full pass reads the window."""
    n = int(os.environ.get("HEADCOUNT_STREAM_MAX_EVENTS", "250000"))
    return n if n > 0 else None


def watch_interval() -> float:
    """Seconds between detection runs (`HEADCOUNT_DETECT_INTERVAL_S`; 0 turns detection off)."""
    return float(os.environ.get("HEADCOUNT_DETECT_INTERVAL_S", "60"))
