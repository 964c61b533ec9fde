"""The decisions log in the store: guard decisions counted per pool and minute, and seats by band.

Each server process counts its decisions in memory (`headcount.services.decisions`)
and adds them here about once a second, one write for many decisions, so a flood
costs the ledger no extra transaction per request. Counts from all processes add
up (`n = n + excluded.n`). The statements are written once for both SQL backends
(`DecisionsSql` is mixed into each, over `SqlStore`'s hooks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from headcount.store.turnout import band_case

#: width of a stored bucket; views re-bucket to a multiple of it
BUCKET_S = 60


@dataclass(frozen=True, slots=True)
class DecisionCount:
    """`n` decisions in one pool, minute, verb, outcome, band and flood state.

    `reason` "" counts the decisions; any other value counts those that carried it."""

    pool_id: str
    bucket: float
    verb: str
    outcome: str
    band: str
    reason: str
    flooded: bool
    n: int
    first_ts: float
    last_ts: float

    @property
    def key(self) -> tuple[str, float, str, str, str, str, bool]:
        return (self.pool_id, self.bucket, self.verb, self.outcome, self.band, self.reason, self.flooded)


@dataclass(frozen=True, slots=True)
class SeatRow:
    """Seats of holds placed in one bucket and risk band; `live` holds count (held or confirmed)."""

    pool_id: str
    bucket: float
    band: int  # index into the policy's band edges
    live: bool  # False: released or expired, so not in the registrations any more
    seats: int


_COLUMNS = "pool_id, bucket, verb, outcome, band, reason, flooded, n, first_ts, last_ts"


class DecisionsSql:
    """The decisions port over `SqlStore`'s hooks (`_write`, `_rows`, `sql.mark`, `floor_sql`)."""

    sql: Any
    floor_sql: str
    _write: Any  # SqlStore's hooks (this class comes before SqlStore in a backend's bases)
    _rows: Any
    _many: Any

    def add_decisions(self, counts: Sequence[DecisionCount]) -> None:
        m = self.sql.mark
        sql = (f"INSERT INTO decision_counts ({_COLUMNS}) VALUES ({', '.join([m] * 10)})"
               " ON CONFLICT (pool_id, bucket, verb, outcome, band, reason, flooded) DO UPDATE SET"
               " n = decision_counts.n + excluded.n,"
               " first_ts = CASE WHEN excluded.first_ts < decision_counts.first_ts"
               "  THEN excluded.first_ts ELSE decision_counts.first_ts END,"
               " last_ts = CASE WHEN excluded.last_ts > decision_counts.last_ts"
               "  THEN excluded.last_ts ELSE decision_counts.last_ts END")
        rows = [(c.pool_id, float(c.bucket), c.verb, c.outcome, c.band, c.reason, int(c.flooded), int(c.n),
                 float(c.first_ts), float(c.last_ts)) for c in counts]
        if rows:
            self._write(lambda conn: self._many(conn, sql, rows))

    def decision_counts(self, since: float, pool_ids: Sequence[str] | None = None) -> list[DecisionCount]:
        m = self.sql.mark
        scope = f" AND pool_id IN ({', '.join([m] * len(pool_ids))})" if pool_ids else ""
        rows = self._rows(f"SELECT {_COLUMNS} FROM decision_counts WHERE bucket >= {m}{scope}"
                          " ORDER BY pool_id, bucket", (float(since), *(pool_ids or ())))
        return [DecisionCount(str(r[0]), float(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), bool(r[6]),
                              int(r[7]), float(r[8]), float(r[9])) for r in rows]

    def seat_timeline(self, edges: Sequence[float], bucket_s: int, since: float, now: float,
                      pool_ids: Sequence[str] | None = None) -> list[SeatRow]:
        m = self.sql.mark
        scope = f" AND pool_id IN ({', '.join([m] * len(pool_ids))})" if pool_ids else ""
        floor = self.floor_sql.format(f"created_at / {int(bucket_s)}")
        rows = self._rows(
            f"SELECT pool_id, {floor} * {int(bucket_s)} AS b, {band_case(edges, 'risk_score')} AS band,"
            f" CASE WHEN status = 'confirmed' OR (status = 'held' AND expires_at > {m}) THEN 1 ELSE 0 END AS live,"
            f" sum(quantity) FROM holds WHERE created_at >= {m}{scope} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2",
            (float(now), float(since), *(pool_ids or ())))
        return [SeatRow(str(r[0]), float(r[1]), int(r[2]), bool(r[3]), int(r[4])) for r in rows]
