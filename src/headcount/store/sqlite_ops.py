"""The SQLite store's operations: each runs inside the writer's transaction.

Every function takes the writer's connection and returns an `Outcome`; checks
come before writes, so a refused operation writes nothing but its log and
idempotency records. Whether a hold is granted is `ledger.rules.decide_hold`,
for one hold and for a batch alike.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import orjson

from headcount.ledger.rules import HoldVerdict, PoolState, decide_hold
from headcount.store.base import format_hold_id, new_hold_token, parse_hold_id
from headcount.store.sqlbase import HOLD_COLUMNS, Statements, find_hold
from headcount.types import HoldRequest, IdempotencyKey, Outcome, Result

SQL = Statements("?")

_POOL_STATE = "SELECT capacity, per_actor_limit, hold_ttl_s, held, confirmed FROM pools WHERE id = ?"
_HOLD_INSERT = ("INSERT INTO holds (token, pool_id, actor_key, quantity, status, created_at, ttl_s,"
                " expires_at, max_expires_at, risk_score, risk_reasons, owner)"
                " VALUES (?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?, ?)")
_HOLD_FOR_CHANGE = f"SELECT {HOLD_COLUMNS}, ttl_s FROM holds WHERE token = ?"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def split_sql(script: str) -> list[str]:
    """Split a migration into statements (they contain no semicolons in literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


_MISMATCH_REASONS = ["idempotency_key_reused"]


def _mismatch(idem: IdempotencyKey) -> Outcome:
    return Outcome(Result.IDEMPOTENCY_MISMATCH, {"reasons": list(_MISMATCH_REASONS), "idempotency_key": idem.key})


def idem_lookup(conn: sqlite3.Connection, idem: IdempotencyKey | None) -> Outcome | None:
    if idem is None:
        return None
    row = conn.execute(SQL.idem_lookup, (idem.scope, idem.key)).fetchone()
    if row is None:
        return None
    if row[0] != idem.request_hash:
        return _mismatch(idem)
    return Outcome(Result(row[1]), orjson.loads(row[2]), replayed=True)


def idem_record(
    conn: sqlite3.Connection, idem: IdempotencyKey | None, outcome: Outcome, now: float
) -> None:
    if idem is None:
        return
    conn.execute(SQL.idem_insert,
                 (idem.scope, idem.key, idem.request_hash, outcome.result.value, _dumps(outcome.body), now))


def log_action(
    conn: sqlite3.Connection,
    now: float,
    verb: str,
    actor_key: str,
    target: str,
    pool_id: str | None,
    quantity: int,
    decision: str,
    score: float = 0.0,
    reasons: tuple[str, ...] | list[str] = (),
) -> None:
    conn.execute(SQL.log_hold,
                 (now, verb, actor_key, target, pool_id, quantity, decision, score, _dumps(list(reasons))))


def expire_due(conn: sqlite3.Connection, pool_id: str, now: float) -> tuple[int, int] | None:
    """Mark a pool's due holds expired; returns (holds, quantity) freed."""
    rows = conn.execute(SQL.expire_due, (pool_id, now)).fetchall()
    if not rows:
        return None
    return len(rows), sum(r[0] for r in rows)


def actor_usage(conn: sqlite3.Connection, pool_id: str, actor_key: str, now: float) -> int:
    return int(conn.execute(SQL.actor_usage, (pool_id, actor_key, now)).fetchone()[0])


def _hold_row(req: HoldRequest, now: float, verdict: HoldVerdict, token: str) -> tuple[Any, ...]:
    return (token, req.pool_id, req.actor_key, req.quantity, now, verdict.ttl_s, verdict.expires_at,
            verdict.max_expires_at, req.risk_score, _dumps(list(req.risk_reasons)), req.owner)


def _log_row(req: HoldRequest, now: float, verdict: HoldVerdict) -> tuple[Any, ...]:
    return (now, "hold", req.actor_key, req.pool_id, req.pool_id, req.quantity, verdict.result.value,
            req.risk_score, _dumps(list(verdict.log_reasons)))


def place_hold(
    conn: sqlite3.Connection, req: HoldRequest, now: float, idem: IdempotencyKey | None
) -> Outcome:
    replay = idem_lookup(conn, idem)
    if replay is not None:
        return replay
    row = conn.execute(_POOL_STATE, (req.pool_id,)).fetchone()
    if row is None:
        verdict = decide_hold(None, 0, req, now)
        outcome = Outcome(verdict.result, verdict.body(req))
        idem_record(conn, idem, outcome, now)
        return outcome
    capacity, per_actor_limit, hold_ttl_s, held, confirmed = row
    freed = expire_due(conn, req.pool_id, now)
    freed_qty = freed[1] if freed else 0
    held -= freed_qty
    used = actor_usage(conn, req.pool_id, req.actor_key, now)
    verdict = decide_hold(PoolState(capacity, per_actor_limit, hold_ttl_s, held, confirmed), used, req, now)
    hold_id = None
    if verdict.held:
        token = new_hold_token()
        hold_id = format_hold_id(token)
        held += req.quantity
        conn.execute(_HOLD_INSERT, _hold_row(req, now, verdict, token))
    if verdict.held or freed_qty:
        conn.execute("UPDATE pools SET held = ? WHERE id = ?", (held, req.pool_id))
    outcome = Outcome(verdict.result, verdict.body(req, hold_id))
    conn.execute(SQL.log_hold, _log_row(req, now, verdict))
    idem_record(conn, idem, outcome, now)
    return outcome


def change_hold(
    conn: sqlite3.Connection, hold_id: str, action: str, now: float, idem: IdempotencyKey | None,
    owner: str | None = None,
) -> Outcome:
    """Confirm, release or extend a hold; the pool's counters move with it."""
    replay = idem_lookup(conn, idem)
    if replay is not None:
        return replay
    outcome = change_hold_unrecorded(conn, hold_id, action, now, owner)
    idem_record(conn, idem, outcome, now)
    return outcome


def change_hold_unrecorded(conn: sqlite3.Connection, hold_id: str, action: str, now: float,
                           owner: str | None = None) -> Outcome:
    """The change itself; another owner's hold is answered exactly as an unknown one."""
    ref = parse_hold_id(hold_id)
    rows = [] if ref is None else conn.execute(_HOLD_FOR_CHANGE, (ref.token,)).fetchall()
    found = find_hold(rows, hold_id, owner)
    if found is None:
        return Outcome(Result.NOT_FOUND, {"hold_id": hold_id, "reasons": ["unknown_hold"]})
    seq, _, pool_id, actor_key, quantity, status, _, expires_at, max_expires_at, _, ttl_s = found
    if status == "held" and expires_at <= now:
        conn.execute("UPDATE holds SET status = 'expired' WHERE seq = ?", (seq,))
        conn.execute("UPDATE pools SET held = held - ? WHERE id = ?", (quantity, pool_id))
        status = "expired"

    base = {"hold_id": hold_id, "pool_id": pool_id, "quantity": quantity}
    if action == "confirm":
        if status == "confirmed":
            return Outcome(Result.CONFIRMED, {**base, "status": "confirmed"})
        if status != "held":
            return Outcome(Result.BAD_STATE, {**base, "status": status, "reasons": [f"hold_{status}"]})
        conn.execute("UPDATE holds SET status = 'confirmed' WHERE seq = ?", (seq,))
        conn.execute(
            "UPDATE pools SET held = held - ?, confirmed = confirmed + ? WHERE id = ?",
            (quantity, quantity, pool_id),
        )
        log_action(conn, now, "confirm", actor_key, pool_id, pool_id, quantity, "confirmed")
        return Outcome(Result.CONFIRMED, {**base, "status": "confirmed"})

    if action == "release":
        if status in {"released", "expired"}:
            return Outcome(Result.RELEASED, {**base, "status": status})
        column = "held" if status == "held" else "confirmed"
        conn.execute("UPDATE holds SET status = 'released' WHERE seq = ?", (seq,))
        conn.execute(f"UPDATE pools SET {column} = {column} - ? WHERE id = ?", (quantity, pool_id))
        log_action(conn, now, "release", actor_key, pool_id, pool_id, quantity, "released")
        return Outcome(Result.RELEASED, {**base, "status": "released"})

    # extend
    if status != "held":
        return Outcome(Result.BAD_STATE, {**base, "status": status, "reasons": [f"hold_{status}"]})
    new_expiry = min(now + ttl_s, max_expires_at)
    if new_expiry <= expires_at:
        return Outcome(
            Result.BAD_STATE,
            {**base, "status": status, "expires_at": expires_at, "reasons": ["extension_cap_reached"]},
        )
    conn.execute("UPDATE holds SET expires_at = ? WHERE seq = ?", (new_expiry, seq))
    return Outcome(Result.EXTENDED, {**base, "status": "held", "expires_at": new_expiry})


# holds in batches -------------------------------------------------------------

HoldItem = tuple[HoldRequest, float, IdempotencyKey | None]


def _values(n: int, width: int) -> str:
    row = "(" + ",".join("?" * width) + ")"
    return ",".join([row] * n)


def place_holds(conn: sqlite3.Connection, items: list[HoldItem]) -> list[Outcome]:
    """Many holds at once, with the answers they would get one after another.

    One query per kind of lookup (idempotency records, pools, due holds, actor
    usage), the decisions in order in memory (`decide_hold`, as for one hold),
    then one `executemany` per table. This is what lets the ledger approach the
    raw store's rate: the per-hold cost is a few row writes, not a dozen statements.
    """
    if len(items) == 1:
        return [place_hold(conn, *items[0])]
    outcomes: list[Outcome] = []

    # idempotency records that exist already
    keyed = {(idem.scope, idem.key) for _, _, idem in items if idem is not None}
    stored: dict[tuple[str, str], tuple[str, str, str]] = {}
    if keyed:
        flat = [v for pair in keyed for v in pair]
        for scope, key, req_hash, result, body in conn.execute(
            "SELECT i.scope, i.key, i.request_hash, i.result, i.body"
            f" FROM (VALUES {_values(len(keyed), 2)}) AS v"
            " JOIN idempotency i ON i.scope = v.column1 AND i.key = v.column2",
            flat,
        ):
            stored[(scope, key)] = (req_hash, result, body)

    # pools, with holds that are due by the latest clock reading in the batch
    now_max = max(now for _, now, _ in items)
    pool_ids = sorted({req.pool_id for req, _, _ in items})
    pools: dict[str, PoolState] = {}
    for row in conn.execute(
        "SELECT id, capacity, per_actor_limit, hold_ttl_s, held, confirmed FROM pools"
        f" WHERE id IN ({','.join('?' * len(pool_ids))})",
        pool_ids,
    ):
        pools[row[0]] = PoolState(*row[1:])
    freed_any: set[str] = set()
    for pool_id, state in pools.items():
        freed = expire_due(conn, pool_id, now_max)
        if freed:
            pools[pool_id] = replace(state, held=state.held - freed[1])
            freed_any.add(pool_id)

    # live usage of every (pool, actor) in the batch
    pairs = sorted({(req.pool_id, req.actor_key) for req, _, _ in items if req.pool_id in pools})
    usage: dict[tuple[str, str], int] = dict.fromkeys(pairs, 0)
    if pairs:
        flat = [v for pair in pairs for v in pair]
        for pool_id, actor_key, qty in conn.execute(
            "SELECT h.pool_id, h.actor_key, sum(h.quantity) FROM holds h"
            f" JOIN (VALUES {_values(len(pairs), 2)}) AS p"
            "   ON h.pool_id = p.column1 AND h.actor_key = p.column2"
            " WHERE h.status = 'confirmed' OR (h.status = 'held' AND h.expires_at > ?)"
            " GROUP BY h.pool_id, h.actor_key",
            [*flat, now_max],
        ):
            usage[(pool_id, actor_key)] = int(qty)

    hold_rows: list[tuple[Any, ...]] = []
    log_rows: list[tuple[Any, ...]] = []
    idem_rows: list[tuple[Any, ...]] = []
    touched: set[str] = set()
    for req, now, idem in items:
        if idem is not None:
            prior = stored.get((idem.scope, idem.key))
            if prior is not None:
                if prior[0] != idem.request_hash:
                    outcomes.append(_mismatch(idem))
                else:
                    outcomes.append(Outcome(Result(prior[1]), orjson.loads(prior[2]), replayed=True))
                continue
        pool = pools.get(req.pool_id)
        used = usage.get((req.pool_id, req.actor_key), 0)
        verdict = decide_hold(pool, used, req, now)
        hold_id = None
        if verdict.held:
            assert pool is not None
            pools[req.pool_id] = replace(pool, held=pool.held + req.quantity)
            usage[(req.pool_id, req.actor_key)] = used + req.quantity
            touched.add(req.pool_id)
            token = new_hold_token()
            hold_id = format_hold_id(token)
            hold_rows.append(_hold_row(req, now, verdict, token))
        if pool is not None:
            log_rows.append(_log_row(req, now, verdict))
        outcome = Outcome(verdict.result, verdict.body(req, hold_id))
        outcomes.append(outcome)
        if idem is not None:
            body = _dumps(outcome.body)
            stored[(idem.scope, idem.key)] = (idem.request_hash, outcome.result.value, body)
            idem_rows.append((idem.scope, idem.key, idem.request_hash, outcome.result.value, body, now))

    for pool_id in touched | freed_any:
        conn.execute("UPDATE pools SET held = ? WHERE id = ?", (pools[pool_id].held, pool_id))
    if hold_rows:
        conn.executemany(_HOLD_INSERT, hold_rows)
    if log_rows:
        conn.executemany(SQL.log_hold, log_rows)
    if idem_rows:
        conn.executemany(SQL.idem_insert, idem_rows)
    return outcomes
