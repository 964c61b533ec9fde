"""The embedded store: one SQLite file in WAL mode, no server.

Why it is shaped like this (measured in `bench/ledger.py`):

* A commit's cost is the WAL bytes it writes. A hold dirties a handful of
  B-tree pages, so the database uses 1 KiB pages and a hold touches as few
  indexes as it can.
* Writes go through one writer thread per process that commits concurrent
  operations together (group commit), each in its own savepoint so that one
  failing operation never affects another. An operation's answer is released
  only after its COMMIT returned.
* Several server processes share the file. SQLite's own busy handler sleeps for
  milliseconds when the write lock is taken; an `flock` on a side file instead
  hands the lock over as soon as it is free.
* WAL checkpoints run on a background thread, off the write path.

Durability: `synchronous=NORMAL` in WAL mode keeps every committed transaction
across a crash of the process (SIGKILL included); only a power cut can lose the
last transactions. `?synchronous=full` trades throughput for that too.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import queue
import secrets
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import orjson

from headcount.ledger.models import (
    MAX_HOLD_LIFETIME_FACTOR,
    Hold,
    HoldRequest,
    IdempotencyKey,
    LightThresholds,
    Outcome,
    Pool,
    PoolSpec,
    Result,
)
from headcount.store.base import (
    IDEMPOTENCY_RETENTION_S,
    ActionRecord,
    ApiKeyRecord,
    StoreError,
    format_hold_id,
    parse_hold_id,
)
from headcount.store.migrate import load_migrations

T = TypeVar("T")

MAX_BATCH = 256
PAGE_SIZE = 1024
CHECKPOINT_INTERVAL_S = 0.5

_POOL_COLUMNS = (
    "id, name, kind, capacity, per_actor_limit, hold_ttl_s, light_yellow_at, light_red_at,"
    " held, confirmed, created_at"
)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class _FileLock:
    """An exclusive `flock` shared by every process that opens the same database."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._thread_lock = threading.Lock()

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        os.close(self._fd)


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes effect on a new file
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpoint thread does it
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -32768")
    return conn


class _GroupCommitWriter:
    """Runs write operations on one connection, committing concurrent ones together."""

    def __init__(self, conn: sqlite3.Connection, lock: _FileLock) -> None:
        self._conn = conn
        self._lock = lock
        self._queue: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Future[Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="headcount-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Callable[[sqlite3.Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((op, future))
        return future

    def call(self, op: Callable[[sqlite3.Connection], T]) -> T:
        return self.submit(op).result()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._execute(batch)
            if stop:
                return

    def _execute(self, batch: list[tuple[Callable[[sqlite3.Connection], Any], Future[Any]]]) -> None:
        conn = self._conn
        done: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for op, future in batch:
                        conn.execute("SAVEPOINT op")
                        try:
                            value = op(conn)
                        except Exception as exc:  # one failing op must not sink the batch
                            conn.execute("ROLLBACK TO op")
                            conn.execute("RELEASE op")
                            done.append((future, None, exc))
                        else:
                            conn.execute("RELEASE op")
                            done.append((future, value, None))
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except Exception as exc:
            for _, future in batch:
                future.set_exception(StoreError(f"write transaction failed: {exc}"))
            return
        for future, value, error in done:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)


class SQLiteStore:
    """The embedded default store."""

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL") -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        if synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
            raise StoreError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")
        self._synchronous = synchronous.upper()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = _FileLock(self.path + ".lock")
        self._write_conn = _connect(self.path, self._synchronous)
        with self._lock:
            self._migrate(self._write_conn)
        self._writer = _GroupCommitWriter(self._write_conn, self._lock)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="headcount-sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    # plumbing ----------------------------------------------------------------
    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in load_migrations("sqlite"):
            if migration.version in applied:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, strftime('%s','now'))",
                    (migration.version, migration.name),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self._synchronous)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _checkpoint_loop(self) -> None:
        conn = _connect(self.path, self._synchronous)
        try:
            while not self._closing.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.OperationalError:
                    pass  # busy: the next round will do it
        finally:
            conn.close()

    def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run `op(conn)` inside the group-committed write transaction."""
        return self._writer.call(op)

    def close(self) -> None:
        self._closing.set()
        self._writer.stop()
        self._checkpointer.join(timeout=5)
        with self._readers_lock:
            for conn in self._readers:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass  # belongs to another thread that is gone
            self._readers.clear()
        try:
            self._write_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass
        self._write_conn.close()
        self._lock.close()

    # pools ---------------------------------------------------------------------
    def create_pool(self, spec: PoolSpec, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        def op(conn: sqlite3.Connection) -> Outcome:
            replay = _idem_lookup(conn, idem)
            if replay is not None:
                return replay
            exists = conn.execute("SELECT 1 FROM pools WHERE id = ?", (spec.id,)).fetchone()
            if exists:
                outcome = Outcome(Result.EXISTS, {"pool_id": spec.id, "reasons": ["pool_exists"]})
            else:
                conn.execute(
                    f"INSERT INTO pools ({_POOL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,0,0,?)",
                    (
                        spec.id,
                        spec.name,
                        spec.kind,
                        spec.capacity,
                        spec.per_actor_limit,
                        spec.hold_ttl_s,
                        spec.light.yellow_at,
                        spec.light.red_at,
                        now,
                    ),
                )
                outcome = Outcome(Result.CREATED, {"pool_id": spec.id})
            _idem_record(conn, idem, outcome, now)
            return outcome

        return self.write(op)

    def get_pool(self, pool_id: str, now: float) -> Pool | None:
        row = self._reader().execute(
            f"SELECT {_POOL_COLUMNS},"
            " (SELECT coalesce(sum(quantity), 0) FROM holds"
            "   WHERE pool_id = pools.id AND status = 'held' AND expires_at <= ?)"
            " FROM pools WHERE id = ?",
            (now, pool_id),
        ).fetchone()
        return _pool_from_row(row) if row else None

    def list_pools(self, now: float) -> list[Pool]:
        rows = self._reader().execute(
            f"SELECT {_POOL_COLUMNS},"
            " (SELECT coalesce(sum(quantity), 0) FROM holds"
            "   WHERE pool_id = pools.id AND status = 'held' AND expires_at <= ?)"
            " FROM pools ORDER BY created_at, id",
            (now,),
        ).fetchall()
        return [_pool_from_row(row) for row in rows]

    # holds ---------------------------------------------------------------------
    def place_hold(self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self.write(lambda conn: _place_hold(conn, req, now, idem))

    def confirm_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self.write(lambda conn: _change_hold(conn, hold_id, "confirm", now, idem))

    def release_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self.write(lambda conn: _change_hold(conn, hold_id, "release", now, idem))

    def extend_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self.write(lambda conn: _change_hold(conn, hold_id, "extend", now, idem))

    async def aplace_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        # await the group commit directly: no thread-pool hop on the hot path
        return await asyncio.wrap_future(
            self._writer.submit(lambda conn: _place_hold(conn, req, now, idem))
        )

    async def achange_hold(
        self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        if action not in {"confirm", "release", "extend"}:
            raise ValueError(f"unknown hold action {action!r}")
        return await asyncio.wrap_future(
            self._writer.submit(lambda conn: _change_hold(conn, hold_id, action, now, idem))
        )

    async def aread(self, fn: Callable[[], T]) -> T:
        # reads of a local WAL database take microseconds and never wait for writers
        return fn()

    def get_hold(self, hold_id: str) -> Hold | None:
        parsed = parse_hold_id(hold_id)
        if parsed is None:
            return None
        row = self._reader().execute(
            "SELECT seq, token, pool_id, actor_key, quantity, status, created_at, expires_at,"
            " max_expires_at FROM holds WHERE seq = ?",
            (parsed[0],),
        ).fetchone()
        if row is None or not secrets.compare_digest(row[1], parsed[1]):
            return None
        return Hold(hold_id, row[2], row[3], row[4], row[5], row[6], row[7], row[8])

    def actor_usage(self, pool_id: str, actor_key: str, now: float) -> int:
        return _actor_usage(self._reader(), pool_id, actor_key, now)

    def sweep(self, now: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            expired = 0
            pool_ids = [r[0] for r in conn.execute("SELECT id FROM pools")]
            for pool_id in pool_ids:
                freed = _expire_due(conn, pool_id, now)
                if freed:
                    conn.execute("UPDATE pools SET held = held - ? WHERE id = ?", (freed[1], pool_id))
                    expired += freed[0]
            conn.execute(
                "DELETE FROM idempotency WHERE created_at < ?", (now - IDEMPOTENCY_RETENTION_S,)
            )
            return expired

        return self.write(op)

    # API keys ----------------------------------------------------------------
    def add_api_key(self, record: ApiKeyRecord) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, role, created_at, revoked)"
                " VALUES (?, ?, ?, ?, ?)",
                (record.key_id, record.secret_hash, record.role, record.created_at, int(record.revoked)),
            )

        self.write(op)

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = self._reader().execute(
            "SELECT key_id, secret_hash, role, created_at, revoked FROM api_keys WHERE key_id = ?",
            (key_id,),
        ).fetchone()
        if row is None:
            return None
        return ApiKeyRecord(row[0], row[1], row[2], row[3], bool(row[4]))

    # action log ----------------------------------------------------------------
    def read_actions(self, after_seq: int = 0, limit: int = 10_000) -> list[ActionRecord]:
        rows = self._reader().execute(
            "SELECT seq, ts, verb, actor_key, target, pool_id, quantity, decision, score, reasons,"
            " attrs FROM actions WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [
            ActionRecord(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                tuple(orjson.loads(r[9])), orjson.loads(r[10]),
            )
            for r in rows
        ]


# operations run inside the write transaction ---------------------------------


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (they contain no semicolons in literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _pool_from_row(row: tuple[Any, ...]) -> Pool:
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


def _idem_lookup(conn: sqlite3.Connection, idem: IdempotencyKey | None) -> Outcome | None:
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


def _idem_record(
    conn: sqlite3.Connection, idem: IdempotencyKey | None, outcome: Outcome, now: float
) -> None:
    if idem is None:
        return
    conn.execute(
        "INSERT INTO idempotency (scope, key, request_hash, result, body, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (idem.scope, idem.key, idem.request_hash, outcome.result.value, _dumps(outcome.body), now),
    )


def _log(
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


def _expire_due(conn: sqlite3.Connection, pool_id: str, now: float) -> tuple[int, int] | None:
    """Mark a pool's due holds expired; returns (holds, quantity) freed."""
    rows = conn.execute(
        "UPDATE holds SET status = 'expired'"
        " WHERE pool_id = ? AND status = 'held' AND expires_at <= ? RETURNING quantity",
        (pool_id, now),
    ).fetchall()
    if not rows:
        return None
    return len(rows), sum(r[0] for r in rows)


def _actor_usage(conn: sqlite3.Connection, pool_id: str, actor_key: str, now: float) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(quantity), 0) FROM holds WHERE pool_id = ? AND actor_key = ?"
        " AND (status = 'confirmed' OR (status = 'held' AND expires_at > ?))",
        (pool_id, actor_key, now),
    ).fetchone()
    return int(row[0])


def _place_hold(
    conn: sqlite3.Connection, req: HoldRequest, now: float, idem: IdempotencyKey | None
) -> Outcome:
    replay = _idem_lookup(conn, idem)
    if replay is not None:
        return replay
    pool = conn.execute(
        "SELECT capacity, per_actor_limit, hold_ttl_s, held, confirmed FROM pools WHERE id = ?",
        (req.pool_id,),
    ).fetchone()
    if pool is None:
        outcome = Outcome(Result.NOT_FOUND, {"pool_id": req.pool_id, "reasons": ["unknown_pool"]})
        _idem_record(conn, idem, outcome, now)
        return outcome
    capacity, per_actor_limit, hold_ttl_s, held, confirmed = pool
    freed = _expire_due(conn, req.pool_id, now)
    freed_qty = freed[1] if freed else 0
    held -= freed_qty
    cap = per_actor_limit if req.actor_cap is None else min(per_actor_limit, req.actor_cap)
    used = _actor_usage(conn, req.pool_id, req.actor_key, now)
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
        _log(conn, now, "hold", req.actor_key, req.pool_id, req.pool_id, req.quantity,
             outcome.result.value, req.risk_score, outcome.body["reasons"])
        _idem_record(conn, idem, outcome, now)
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
    _log(conn, now, "hold", req.actor_key, req.pool_id, req.pool_id, req.quantity, "held",
         req.risk_score, reasons)
    _idem_record(conn, idem, outcome, now)
    return outcome


def _change_hold(
    conn: sqlite3.Connection, hold_id: str, action: str, now: float, idem: IdempotencyKey | None
) -> Outcome:
    """Confirm, release or extend a hold; the pool's counters move with it."""
    replay = _idem_lookup(conn, idem)
    if replay is not None:
        return replay
    outcome = _change_hold_unrecorded(conn, hold_id, action, now)
    _idem_record(conn, idem, outcome, now)
    return outcome


def _change_hold_unrecorded(conn: sqlite3.Connection, hold_id: str, action: str, now: float) -> Outcome:
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
        _log(conn, now, "confirm", actor_key, pool_id, pool_id, quantity, "confirmed")
        return Outcome(Result.CONFIRMED, {**base, "status": "confirmed"})

    if action == "release":
        if status in {"released", "expired"}:
            return Outcome(Result.RELEASED, {**base, "status": status})
        column = "held" if status == "held" else "confirmed"
        conn.execute("UPDATE holds SET status = 'released' WHERE seq = ?", (seq,))
        conn.execute(f"UPDATE pools SET {column} = {column} - ? WHERE id = ?", (quantity, pool_id))
        _log(conn, now, "release", actor_key, pool_id, pool_id, quantity, "released")
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
