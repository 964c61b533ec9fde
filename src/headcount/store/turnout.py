"""Registrations and check-ins of pools per risk band: what the headcount estimate reads.

One GROUP BY in the database, whatever the pool's size: seats registered (held
and not expired, or confirmed), the sum of squared quantities (parties come
together) and the seats whose holder checked in, per pool and risk band. A
check-in is a `checkin` action whose target is the pool; its holder is matched
by person, so a check-in made after two persons merged still finds the holds of
either (a person's key is one of its identities, see `identities`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TurnoutRow:
    pool_id: str
    band: int  # index into the risk-score edges: scores in [edges[band-1], edges[band])
    seats: int
    sum_sq: int
    checked_in: int


def band_case(edges: Sequence[float], column: str = "h.risk_score") -> str:
    """SQL for the band index of a risk score; edges are floats, inlined (never user text)."""
    whens = " ".join(f"WHEN {column} < {float(e)!r} THEN {i}" for i, e in enumerate(edges))
    return f"CASE {whens} ELSE {len(edges)} END" if whens else "0"


def turnout_sql(edges: Sequence[float], pools: int | None, mark: str) -> str:
    """The query; `pools` is how many pool ids are bound (None: every pool with a check-in).

    Parameters in order: the pool ids twice (when given), then `now`.
    """
    if pools is None:
        scope = "IN (SELECT target FROM actions WHERE verb = 'checkin')"
    else:
        scope = f"IN ({', '.join([mark] * pools)})"
    return (
        "WITH came AS ("
        " SELECT DISTINCT a.target AS pool_id, coalesce(i.person, a.actor_key) AS person"
        " FROM actions a LEFT JOIN identities i ON i.identity = a.actor_key"
        f" WHERE a.verb = 'checkin' AND a.target {scope})"
        f" SELECT h.pool_id, {band_case(edges)} AS band, sum(h.quantity), sum(h.quantity * h.quantity),"
        " sum(CASE WHEN c.person IS NULL THEN 0 ELSE h.quantity END)"
        " FROM holds h LEFT JOIN identities hi ON hi.identity = h.actor_key"
        " LEFT JOIN came c ON c.pool_id = h.pool_id AND c.person = coalesce(hi.person, h.actor_key)"
        f" WHERE h.pool_id {scope}"
        f" AND (h.status = 'confirmed' OR (h.status = 'held' AND h.expires_at > {mark}))"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    )


def turnout_params(pool_ids: Sequence[str] | None, now: float) -> tuple[object, ...]:
    ids = tuple(pool_ids) if pool_ids is not None else ()
    return (*ids, *ids, now)


def turnout_rows(rows: list[tuple[object, ...]]) -> list[TurnoutRow]:
    return [TurnoutRow(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]  # type: ignore[call-overload]
