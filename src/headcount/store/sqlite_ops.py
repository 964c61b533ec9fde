"""The SQLite store's operations: each runs inside the writer's transaction.

Every function takes the writer's connection and returns an `Outcome`; checks
come before writes, so a refused operation writes nothing but its log and
idempotency records.
"""

from __future__ import annotations

import secrets
import sqlite3
from typing import Any

import orjson

from headcount.store.base import format_hold_id, parse_hold_id
from headcount.types import (
    MAX_HOLD_LIFETIME_FACTOR,
    HoldRequest,
    IdempotencyKey,
    LightThresholds,
    Outcome,
    Pool,
    Result,
)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()



def split_sql(script: str) -> list[str]:
    """Split a migration into statements (they contain no semicolons in literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def pool_from_row(row: tuple[Any, ...]) -> Pool:
    due = row[11]
    return Pool(
        id=row[0],
        name=row[1],
        kind=row[2],
        capacity=row[3],
        per_actor_limit=row[4],
        hold_ttl_s=row[5],
        light_thresholds=LightThresholds(row[6], row[7]),
        held=row[8] - due,
        confirmed=row[9],
        created_at=row[10],
    )


def idem_lookup(conn: sqlite3.Connection, idem: IdempotencyKey | None) -> Outcome | None:
    if idem is None:
        return None
    row = conn.execute(
        "SELECT request_hash, result, body FROM idempotency WHERE scope = ? AND key = ?",
        (idem.scope, idem.key),
    ).fetchone()
    if row is None:
        return None
    if row[0] != idem.request_hash:
        return Outcome(
            Result.IDEMPOTENCY_MISMATCH,
            {"reasons": ["idempotency_key_reused"], "idempotency_key": idem.key},
        )
    return Outcome(Result(row[1]), orjson.loads(row[2]), replayed=True)


def idem_record(
    conn: sqlite3.Connection, idem: IdempotencyKey | None, outcome: Outcome, now: float
) -> None:
    if idem is None:
        return
    conn.execute(
        "INSERT INTO idempotency (scope, key, request_hash, result, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (idem.scope, idem.key, idem.request_hash, outcome.result.value, _dumps(outcome.body), now),
    )


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
    conn.execute(
        "INSERT INTO actions (ts, verb, actor_key, target, pool_id, quantity, decision, score,"
        " reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (now, verb, actor_key, target, pool_id, quantity, decision, score, _dumps(list(reasons))),
    )


def expire_due(conn: sqlite3.Connection, pool_id: str, now: float) -> tuple[int, int] | None:
    """Mark a pool's due holds expired; returns (holds, quantity) freed."""
    rows = conn.execute(
        "UPDATE holds SET status = 'expired'"
        " WHERE pool_id = ? AND status = 'held' AND expires_at <= ? RETURNING quantity",
        (pool_id, now),
    ).fetchall()
    if not rows:
        return None
    return len(rows), sum(r[0] for r in rows)


def actor_usage(conn: sqlite3.Connection, pool_id: str, actor_key: str, now: float) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(quantity), 0) FROM holds WHERE pool_id = ? AND actor_key = ?"
        " AND (status = 'confirmed' OR (status = 'held' AND expires_at > ?))",
        (pool_id, actor_key, now),
    ).fetchone()
    return int(row[0])


def place_hold(
    conn: sqlite3.Connection, req: HoldRequest, now: float, idem: IdempotencyKey | None
) -> Outcome:
    replay = idem_lookup(conn, idem)
    if replay is not None:
        return replay
    pool = conn.execute(
        "SELECT capacity, per_actor_limit, hold_ttl_s, held, confirmed FROM pools WHERE id = ?",
        (req.pool_id,),
    ).fetchone()
    if pool is None:
        outcome = Outcome(Result.NOT_FOUND, {"pool_id": req.pool_id, "reasons": ["unknown_pool"]})
        idem_record(conn, idem, outcome, now)
        return outcome
    capacity, per_actor_limit, hold_ttl_s, held, confirmed = pool
    freed = expire_due(conn, req.pool_id, now)
    freed_qty = freed[1] if freed else 0
    held -= freed_qty
    cap = per_actor_limit if req.actor_cap is None else min(per_actor_limit, req.actor_cap)
    used = actor_usage(conn, req.pool_id, req.actor_key, now)
    reasons = list(req.risk_reasons)
    if used + req.quantity > cap:
        outcome = Outcome(
            Result.ACTOR_LIMIT,
            {"pool_id": req.pool_id, "reasons": [*reasons, "actor_limit"], "limit": cap, "used": used},
        )
    elif held + confirmed + req.quantity > capacity:
        outcome = Outcome(Result.SOLD_OUT, {"pool_id": req.pool_id, "reasons": [*reasons, "sold_out"]})
    else:
        outcome = None
    if outcome is not None:
        if freed_qty:
            conn.execute("UPDATE pools SET held = ? WHERE id = ?", (held, req.pool_id))
        log_action(conn, now, "hold", req.actor_key, req.pool_id, req.pool_id, req.quantity,
             outcome.result.value, req.risk_score, outcome.body["reasons"])
        idem_record(conn, idem, outcome, now)
        return outcome

    conn.execute("UPDATE pools SET held = ? WHERE id = ?", (held + req.quantity, req.pool_id))
    ttl = max(1.0, hold_ttl_s * req.ttl_factor)
    token = secrets.token_hex(8)
    expires_at = now + ttl
    seq = conn.execute(
        "INSERT INTO holds (token, pool_id, actor_key, quantity, status, created_at, ttl_s,"
        " expires_at, max_expires_at, risk_score, risk_reasons)"
        " VALUES (?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?) RETURNING seq",
        (token, req.pool_id, req.actor_key, req.quantity, now, ttl, expires_at,
         now + ttl * MAX_HOLD_LIFETIME_FACTOR, req.risk_score, _dumps(reasons)),
    ).fetchone()[0]
    outcome = Outcome(
        Result.HELD,
        {
            "hold_id": format_hold_id(seq, token),
            "pool_id": req.pool_id,
            "status": "held",
            "quantity": req.quantity,
            "expires_at": expires_at,
            "risk": {"score": req.risk_score, "reasons": reasons},
        },
    )
    log_action(conn, now, "hold", req.actor_key, req.pool_id, req.pool_id, req.quantity, "held",
         req.risk_score, reasons)
    idem_record(conn, idem, outcome, now)
    return outcome


def change_hold(
    conn: sqlite3.Connection, hold_id: str, action: str, now: float, idem: IdempotencyKey | None
) -> Outcome:
    """Confirm, release or extend a hold; the pool's counters move with it."""
    replay = idem_lookup(conn, idem)
    if replay is not None:
        return replay
    outcome = change_hold_unrecorded(conn, hold_id, action, now)
    idem_record(conn, idem, outcome, now)
    return outcome


def change_hold_unrecorded(conn: sqlite3.Connection, hold_id: str, action: str, now: float) -> Outcome:
    parsed = parse_hold_id(hold_id)
    row = None
    if parsed is not None:
        row = conn.execute(
            "SELECT token, pool_id, actor_key, quantity, status, ttl_s, expires_at, max_expires_at"
            " FROM holds WHERE seq = ?",
            (parsed[0],),
        ).fetchone()
    if parsed is None or row is None or not secrets.compare_digest(row[0], parsed[1]):
        return Outcome(Result.NOT_FOUND, {"hold_id": hold_id, "reasons": ["unknown_hold"]})
    seq = parsed[0]
    _, pool_id, actor_key, quantity, status, ttl_s, expires_at, max_expires_at = row
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
    usage), the decisions in order in memory, then one `executemany` per table.
    This is what lets the ledger approach the raw store's rate: the per-hold
    cost is a few row writes, not a dozen statements.
    """
    if len(items) == 1:
        return [place_hold(conn, *items[0])]
    outcomes: list[Outcome | None] = [None] * len(items)

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
    pools: dict[str, list[Any]] = {}
    for row in conn.execute(
        "SELECT id, capacity, per_actor_limit, hold_ttl_s, held, confirmed FROM pools"
        f" WHERE id IN ({','.join('?' * len(pool_ids))})",
        pool_ids,
    ):
        pools[row[0]] = list(row[1:])
    freed_any: set[str] = set()
    for pool_id in pools:
        freed = expire_due(conn, pool_id, now_max)
        if freed:
            pools[pool_id][3] -= freed[1]
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

    next_seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM holds").fetchone()[0]
    hold_rows: list[tuple[Any, ...]] = []
    log_rows: list[tuple[Any, ...]] = []
    idem_rows: list[tuple[Any, ...]] = []
    touched: set[str] = set()
    for i, (req, now, idem) in enumerate(items):
        if idem is not None:
            prior = stored.get((idem.scope, idem.key))
            if prior is not None:
                if prior[0] != idem.request_hash:
                    outcomes[i] = Outcome(
                        Result.IDEMPOTENCY_MISMATCH,
                        {"reasons": ["idempotency_key_reused"], "idempotency_key": idem.key},
                    )
                else:
                    outcomes[i] = Outcome(Result(prior[1]), orjson.loads(prior[2]), replayed=True)
                continue
        pool = pools.get(req.pool_id)
        reasons = list(req.risk_reasons)
        if pool is None:
            outcome = Outcome(Result.NOT_FOUND, {"pool_id": req.pool_id, "reasons": ["unknown_pool"]})
        else:
            capacity, per_actor_limit, hold_ttl_s, held, confirmed = pool
            cap = per_actor_limit if req.actor_cap is None else min(per_actor_limit, req.actor_cap)
            used = usage[(req.pool_id, req.actor_key)]
            if used + req.quantity > cap:
                outcome = Outcome(Result.ACTOR_LIMIT, {"pool_id": req.pool_id,
                                  "reasons": [*reasons, "actor_limit"], "limit": cap, "used": used})
            elif held + confirmed + req.quantity > capacity:
                outcome = Outcome(Result.SOLD_OUT, {"pool_id": req.pool_id, "reasons": [*reasons, "sold_out"]})
            else:
                pool[3] += req.quantity
                usage[(req.pool_id, req.actor_key)] = used + req.quantity
                touched.add(req.pool_id)
                ttl = max(1.0, hold_ttl_s * req.ttl_factor)
                token = secrets.token_hex(8)
                seq = next_seq
                next_seq += 1
                hold_rows.append((seq, token, req.pool_id, req.actor_key, req.quantity, now, ttl, now + ttl,
                                  now + ttl * MAX_HOLD_LIFETIME_FACTOR, req.risk_score, _dumps(reasons)))
                outcome = Outcome(Result.HELD, {
                    "hold_id": format_hold_id(seq, token), "pool_id": req.pool_id, "status": "held",
                    "quantity": req.quantity, "expires_at": now + ttl,
                    "risk": {"score": req.risk_score, "reasons": reasons},
                })
            log_reasons = reasons if outcome.result is Result.HELD else outcome.body["reasons"]
            log_rows.append((now, "hold", req.actor_key, req.pool_id, req.pool_id, req.quantity,
                             outcome.result.value, req.risk_score, _dumps(log_reasons)))
        outcomes[i] = outcome
        if idem is not None:
            stored[(idem.scope, idem.key)] = (idem.request_hash, outcome.result.value, _dumps(outcome.body))
            idem_rows.append((idem.scope, idem.key, idem.request_hash, outcome.result.value,
                              _dumps(outcome.body), now))

    for pool_id in touched | freed_any:
        conn.execute("UPDATE pools SET held = ? WHERE id = ?", (pools[pool_id][3], pool_id))
    if hold_rows:
        conn.executemany(
            "INSERT INTO holds (seq, token, pool_id, actor_key, quantity, status, created_at, ttl_s,"
            " expires_at, max_expires_at, risk_score, risk_reasons)"
            " VALUES (?, ?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?)",
            hold_rows,
        )
    if log_rows:
        conn.executemany(
            "INSERT INTO actions (ts, verb, actor_key, target, pool_id, quantity, decision, score,"
            " reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            log_rows,
        )
    if idem_rows:
        conn.executemany(
            "INSERT INTO idempotency (scope, key, request_hash, result, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            idem_rows,
        )
    return [o for o in outcomes if o is not None]
