"""A follow log replayed through the service's detection job, as the service runs it.

The events are written in time order into an embedded SQLite store (the `actions` rows the
HTTP path writes), a slice per round; after each slice `GroupWatch.stream_tick` runs with
its clock at the slice's last event, and after the last one the full pass (`detect`). What
the stream and the full pass stored is what the service would have flagged.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from headcount.services.detection import GroupWatch
from headcount.simulate.crowds import CrowdLog
from headcount.store import open_store
from headcount.store.blocks import StoredBlock


@dataclass
class Replay:
    """Every block the stream stored at any round (by id, last version) and the full pass's."""

    stream: dict[str, StoredBlock] = field(default_factory=dict)
    full: list[StoredBlock] = field(default_factory=list)
    rounds: int = 0
    admitted_rounds: int = 0  # rounds whose stream candidates passed the admission filter

    def actors(self) -> set[str]:
        return {a for b in [*self.stream.values(), *self.full] for a in b.actors}


def replay(log: CrowdLog, db: Path, round_events: int = 250) -> Replay:
    """Stream `log` through a fresh store at `db`, `round_events` events per stream round."""
    store = open_store(f"sqlite:///{db}")
    order = log.order()
    now = [float(log.ts[int(order[0])]) if len(order) else 0.0]
    watch = GroupWatch(store, clock=lambda: now[0])
    out = Replay()
    try:
        for start in range(0, len(order), round_events):
            part = order[start:start + round_events].tolist()
            rows = [(log.ts[i], "follow", log.actor[i], log.target[i], "allowed",
                     json.dumps({"ip": log.ip[i], "device": log.device[i]})) for i in part]
            with sqlite3.connect(db) as conn:
                conn.executemany("INSERT INTO actions (ts, verb, actor_key, target, decision, attrs)"
                                 " VALUES (?, ?, ?, ?, ?, ?)", rows)
            now[0] = max(now[0], log.ts[part[-1]])
            # a round here stands for a stretch of service time longer than the re-judge pause
            # (REJUDGE_S of wall time), which a replay faster than real time would not wait for
            watch._judged_at = -math.inf
            for b in watch.stream_tick():
                out.stream[b.id] = b
            out.rounds += 1
            out.admitted_rounds += bool(watch.stream_stats.get("judged"))
        out.full = watch.detect()
    finally:
        store.close()
    return out
