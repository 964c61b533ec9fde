"""Stored blocks: the detection job's latest findings, shared by every server process.

The job replaces the whole set after each run (a block's id is a digest of its
members, so a ring seen again keeps its id and first detection time); servers read
the members as one set for the guard and the blocks for `GET /v1/blocks`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class StoredBlock:
    id: str
    detected_at: float
    updated_at: float
    detector: str
    score: float
    start: float
    end: float
    density: float
    events: int
    actors: tuple[str, ...]
    targets: tuple[str, ...]
    evidence: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "detected_at": self.detected_at, "updated_at": self.updated_at,
                "detector": self.detector, "score": self.score, "start": self.start, "end": self.end,
                "density": self.density, "events": self.events, "actors": list(self.actors),
                "targets": list(self.targets), "evidence": self.evidence}


#: the client of actions no client key sent: the operator's own record (staff imports, the library)
OPERATOR = ""


def scoped_to(b: StoredBlock) -> frozenset[str] | None:
    """The clients a block's findings are for; None: everyone.

    A block resting only on some clients' actions is those clients' finding: what one
    client asserts about identities cannot by itself flag another client's customers. One
    that shows in the operator's own record, or predates clients being recorded, is everyone's."""
    clients = b.evidence.get("clients")
    if not isinstance(clients, list) or OPERATOR in clients:
        return None
    return frozenset(str(c) for c in clients)


def block_id(actors: tuple[str, ...] | list[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(actors)).encode()).hexdigest()
    return f"b_{digest[:20]}"


COLUMNS = ("id, detected_at, updated_at, detector, score, start_ts, end_ts, density, events, actors,"
           " targets, evidence")


def block_row(b: StoredBlock) -> tuple[Any, ...]:
    return (b.id, b.detected_at, b.updated_at, b.detector, b.score, b.start, b.end, b.density, b.events,
            orjson.dumps(list(b.actors)).decode(), orjson.dumps(list(b.targets)).decode(),
            orjson.dumps(b.evidence).decode())


def block_from_row(r: tuple[Any, ...]) -> StoredBlock:
    return StoredBlock(r[0], float(r[1]), float(r[2]), r[3], float(r[4]), float(r[5]), float(r[6]),
                       float(r[7]), int(r[8]), tuple(orjson.loads(r[9])), tuple(orjson.loads(r[10])),
                       orjson.loads(r[11]))


def replace_sql(mark: str) -> tuple[str, str, str]:
    """(keep the first detection time of blocks seen before, delete the rest, insert one)."""
    return ("SELECT id, detected_at FROM blocks",
            "DELETE FROM blocks",
            f"INSERT INTO blocks ({COLUMNS}) VALUES ({', '.join([mark] * 12)})")


def carry_detected_at(blocks: list[StoredBlock], before: dict[str, float]) -> list[StoredBlock]:
    return [replace(b, detected_at=before.get(b.id, b.detected_at)) for b in blocks]


@dataclass(frozen=True, slots=True)
class Dismissal:
    """A block staff dismissed: who, why, and the pattern (members and targets) not to flag again."""

    block_id: str
    dismissed_at: float
    dismissed_by: str
    reason: str
    actors: tuple[str, ...]
    targets: tuple[str, ...]


def same_pattern(block: StoredBlock, dismissed: Dismissal, share: float = 0.8) -> bool:
    """Mostly the dismissed block's members on mostly its targets: the pattern staff cleared."""
    actors, targets = set(block.actors), set(block.targets)
    if not actors or not targets:
        return False
    return (len(actors & set(dismissed.actors)) >= share * len(actors)
            and len(targets & set(dismissed.targets)) >= 0.5 * len(targets))


def dismissal_row(d: Dismissal) -> tuple[Any, ...]:
    return (d.block_id, d.dismissed_at, d.dismissed_by, d.reason, orjson.dumps(list(d.actors)).decode(),
            orjson.dumps(list(d.targets)).decode())


def dismissal_from_row(r: tuple[Any, ...]) -> Dismissal:
    return Dismissal(r[0], float(r[1]), r[2], r[3], tuple(orjson.loads(r[4])), tuple(orjson.loads(r[5])))
