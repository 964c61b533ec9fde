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
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import orjson

from headcount.ledger.models import (
    Hold,
    HoldRequest,
    IdempotencyKey,
    Outcome,
    Pool,
    PoolSpec,
    Result,
)
from headcount.store import sqlite_ops as ops
from headcount.store.base import (
    IDEMPOTENCY_RETENTION_S,
    RISK_BAND_SQL,
    ActionRecord,
    ActionRequest,
    ActionResult,
    ApiKeyRecord,
    AuditEntry,
    ContactRecord,
    StoreError,
    astuple_audit,
    budget_sql,
    decide_budgets,
    merge_persons,
    parse_hold_id,
)
from headcount.store.base import CHALLENGE_RETENTION_S, ChallengeRecord, challenge_from_row, challenge_sql
from headcount.store.base import velocity_params, velocity_sql
from headcount.store.migrate import load_migrations
from headcount.store.sqlite_ops import _dumps
from headcount.store.blocks import COLUMNS as BLOCK_COLUMNS
from headcount.store.blocks import (
    Dismissal,
    StoredBlock,
    block_from_row,
    block_row,
    carry_detected_at,
    dismissal_from_row,
    dismissal_row,
    replace_sql,
)
from headcount.store.turnout import TurnoutRow, turnout_params, turnout_rows, turnout_sql

T = TypeVar("T")

_CHALLENGE_SQL = challenge_sql("?")

MAX_BATCH = 256
PAGE_SIZE = 1024
CHECKPOINT_INTERVAL_S = 0.5

_POOL_COLUMNS = (
    "id, name, kind, capacity, per_actor_limit, hold_ttl_s, light_yellow_at, light_red_at,"
    " held, confirmed, created_at"
)


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


def _connect(path: str, synchronous: str, cache_mib: int = 8) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes effect on a new file
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpoint thread does it
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{cache_mib * 1024}")  # per connection
    return conn


class _GroupCommitWriter:
    """Runs write operations on one connection, committing concurrent ones together."""

    def __init__(self, conn: sqlite3.Connection, lock: _FileLock) -> None:
        self._conn = conn
        self._lock = lock
        self._queue: queue.SimpleQueue[tuple[Op, Future[Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="headcount-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Callable[[sqlite3.Connection], T] | HoldOp) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((op, future))
        return future

    def submit_async(self, op: Callable[[sqlite3.Connection], T] | HoldOp) -> asyncio.Future[T]:
        """For coroutines: an asyncio future, resolved in the caller's loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((op, _AsyncAnswer(loop, future)))  # type: ignore[arg-type]
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

    def _execute(self, batch: list[tuple[Op, Future[Any]]]) -> None:
        conn = self._conn
        done: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for run in _runs(batch):
                        if isinstance(run[0][0], HoldOp):
                            done.extend(self._holds(run))
                        else:
                            done.extend(self._one(op, future) for op, future in run)  # type: ignore[arg-type]
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except Exception as exc:
            error = StoreError(f"write transaction failed: {exc}")
            for _, future in batch:
                if isinstance(future, _AsyncAnswer):
                    future.loop.call_soon_threadsafe(_deliver, [(future.future, None, error)])
                else:
                    future.set_exception(error)
            return
        # answers go out only after COMMIT returned; async callers' answers are
        # handed to their event loop in one wake-up per batch, not one per answer
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any, BaseException | None]]] = {}
        for future, value, error in done:
            if isinstance(future, _AsyncAnswer):
                by_loop.setdefault(future.loop, []).append((future.future, value, error))
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)
        for loop, answers in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, answers)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more

    def _one(
        self, op: Callable[[sqlite3.Connection], Any], future: Future[Any]
    ) -> tuple[Future[Any], Any, BaseException | None]:
        conn = self._conn
        conn.execute("SAVEPOINT op")
        try:
            value = op(conn)
        except Exception as exc:  # one failing op must not sink the batch
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return future, None, exc
        conn.execute("RELEASE op")
        return future, value, None

    def _holds(self, run: list[tuple[Op, Future[Any]]]) -> list[tuple[Future[Any], Any, BaseException | None]]:
        """A run of holds as one set-based step; one by one if that step fails."""
        conn = self._conn
        items = [op for op, _ in run]
        conn.execute("SAVEPOINT holds")
        try:
            outcomes = ops.place_holds(conn, items)  # type: ignore[arg-type]
        except Exception:
            conn.execute("ROLLBACK TO holds")
            conn.execute("RELEASE holds")
            return [self._one(lambda c, h=op: ops.place_hold(c, *h), fut) for op, fut in run]  # type: ignore[misc]
        conn.execute("RELEASE holds")
        return [(fut, outcome, None) for (_, fut), outcome in zip(run, outcomes, strict=True)]


class _AsyncAnswer(NamedTuple):
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def _deliver(answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in answers:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


class HoldOp(NamedTuple):
    """A hold for the writer; consecutive ones are executed as one set-based step."""

    req: HoldRequest
    now: float
    idem: IdempotencyKey | None


Op = Callable[[sqlite3.Connection], Any] | HoldOp


def _runs(batch: list[tuple[Op, Future[Any]]]) -> list[list[tuple[Op, Future[Any]]]]:
    """Split a batch into runs of holds and runs of other operations, in order."""
    runs: list[list[tuple[Op, Future[Any]]]] = []
    for item in batch:
        kind = isinstance(item[0], HoldOp)
        if runs and isinstance(runs[-1][0][0], HoldOp) == kind:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


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
        self._write_conn = _connect(self.path, self._synchronous, cache_mib=32)
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
                for statement in ops.split_sql(migration.sql):
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
            replay = ops.idem_lookup(conn, idem)
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
            ops.idem_record(conn, idem, outcome, now)
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
        return ops.pool_from_row(row) if row else None

    def list_pools(self, now: float) -> list[Pool]:
        rows = self._reader().execute(
            f"SELECT {_POOL_COLUMNS},"
            " (SELECT coalesce(sum(quantity), 0) FROM holds"
            "   WHERE pool_id = pools.id AND status = 'held' AND expires_at <= ?)"
            " FROM pools ORDER BY created_at, id",
            (now,),
        ).fetchall()
        return [ops.pool_from_row(row) for row in rows]

    # holds ---------------------------------------------------------------------
    def place_hold(self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self._writer.submit(HoldOp(req, now, idem)).result()

    def confirm_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self.write(lambda conn: ops.change_hold(conn, hold_id, "confirm", now, idem))

    def release_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self.write(lambda conn: ops.change_hold(conn, hold_id, "release", now, idem))

    def extend_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self.write(lambda conn: ops.change_hold(conn, hold_id, "extend", now, idem))

    async def aplace_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        # await the group commit directly: no thread-pool hop on the hot path
        return await self._writer.submit_async(HoldOp(req, now, idem))

    async def achange_hold(
        self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        if action not in {"confirm", "release", "extend"}:
            raise ValueError(f"unknown hold action {action!r}")
        return await self._writer.submit_async(
            lambda conn: ops.change_hold(conn, hold_id, action, now, idem)
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
        return ops.actor_usage(self._reader(), pool_id, actor_key, now)

    def sweep(self, now: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            expired = 0
            pool_ids = [r[0] for r in conn.execute("SELECT id FROM pools")]
            for pool_id in pool_ids:
                freed = ops.expire_due(conn, pool_id, now)
                if freed:
                    conn.execute("UPDATE pools SET held = held - ? WHERE id = ?", (freed[1], pool_id))
                    expired += freed[0]
            conn.execute(
                "DELETE FROM idempotency WHERE created_at < ?", (now - IDEMPOTENCY_RETENTION_S,)
            )
            conn.execute("DELETE FROM velocity WHERE bucket < ?", (int(now // 60) - 24 * 60 - 1,))
            conn.execute(_CHALLENGE_SQL["sweep"], (now - CHALLENGE_RETENTION_S,) * 2)
            return expired

        return self.write(op)

    def hold_timeline(self, pool_id: str, bucket_s: int, since: float) -> list[tuple[float, str, int]]:
        rows = self._reader().execute(
            f"SELECT CAST(created_at / ? AS INTEGER) * ? AS b, {RISK_BAND_SQL} AS band, sum(quantity)"
            " FROM holds WHERE pool_id = ? AND created_at >= ? GROUP BY b, band ORDER BY b",
            (bucket_s, bucket_s, pool_id, since),
        ).fetchall()
        return [(float(b), band, int(q)) for b, band, q in rows]

    # blocks --------------------------------------------------------------------
    def replace_blocks(self, blocks: list[StoredBlock]) -> None:
        select, delete, insert = replace_sql("?")

        def op(conn: sqlite3.Connection) -> None:
            before = dict(conn.execute(select).fetchall())
            rows = carry_detected_at(blocks, before)
            conn.execute(delete)  # members go with their blocks (ON DELETE CASCADE)
            conn.executemany(insert, [block_row(b) for b in rows])
            conn.executemany("INSERT OR IGNORE INTO block_members VALUES (?, ?)",
                             [(a, b.id) for b in rows for a in b.actors])

        self.write(op)

    def list_blocks(self, limit: int = 100) -> list[StoredBlock]:
        rows = self._reader().execute(
            f"SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY detected_at DESC, score DESC LIMIT ?", (limit,)
        ).fetchall()
        return [block_from_row(r) for r in rows]

    def block_members(self) -> frozenset[str]:
        return frozenset(r[0] for r in self._reader().execute("SELECT DISTINCT actor_key FROM block_members"))

    def dismiss_block(self, block_id: str, who: str, reason: str, now: float) -> StoredBlock | None:
        found: list[StoredBlock] = []

        def op(conn: sqlite3.Connection) -> None:
            row = conn.execute(f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = ?", (block_id,)).fetchone()
            if row is None:
                return
            block = block_from_row(row)
            conn.execute("DELETE FROM blocks WHERE id = ?", (block_id,))
            conn.execute("INSERT OR REPLACE INTO block_review VALUES (?, ?, ?, ?, ?, ?)",
                         dismissal_row(Dismissal(block_id, now, who, reason, block.actors, block.targets)))
            found.append(block)

        self.write(op)
        return found[0] if found else None

    def dismissals(self) -> list[Dismissal]:
        return [dismissal_from_row(r) for r in self._reader().execute(
            "SELECT block_id, dismissed_at, dismissed_by, reason, actors, targets FROM block_review")]

    def pool_turnout(self, edges: Sequence[float], now: float,
                     pool_ids: Sequence[str] | None = None) -> list[TurnoutRow]:
        if pool_ids is not None and not pool_ids:
            return []
        sql = turnout_sql(edges, None if pool_ids is None else len(pool_ids), "?")
        return turnout_rows(self._reader().execute(sql, turnout_params(pool_ids, now)).fetchall())

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

    def record_action(self, action: ActionRequest) -> ActionResult:
        def op(conn: sqlite3.Connection) -> ActionResult:
            if action.denied:
                result = ActionResult(False, None, None)
            else:
                counts = [conn.execute(budget_sql("?"), (action.actor_key, action.verb, action.ts - window,
                                                         action.ts)).fetchone()[0]
                          for _, window in action.budgets]
                result = decide_budgets(counts, action.budgets)
            decision = "allowed" if result.allowed else ("denied" if action.denied else "limited")
            conn.execute(
                "INSERT INTO actions (ts, verb, actor_key, target, pool_id, quantity, decision, score,"
                " reasons, attrs) VALUES (?, ?, ?, ?, NULL, 1, ?, ?, ?, ?)",
                (action.ts, action.verb, action.actor_key, action.target, decision, action.score,
                 _dumps(list(action.reasons)), _dumps(action.attrs or {})),
            )
            return result

        return self.write(op)

    async def arecord_action(self, action: ActionRequest) -> ActionResult:
        return await asyncio.to_thread(self.record_action, action)

    # velocity -----------------------------------------------------------------------
    def _velocity_op(self, keys: list[str], now: float, windows: tuple[int, ...]) -> Callable[[sqlite3.Connection], dict[str, tuple[int, ...]]]:
        def op(conn: sqlite3.Connection) -> dict[str, tuple[int, ...]]:
            minute = int(now // 60)
            conn.executemany(
                "INSERT INTO velocity VALUES (?, ?, 1) ON CONFLICT (key, bucket) DO UPDATE SET count = count + 1",
                [(k, minute) for k in keys])
            sql = velocity_sql(windows, "?")
            return {k: tuple(conn.execute(sql, velocity_params(k, minute, windows)).fetchone()) for k in keys}

        return op

    def hit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return self.write(self._velocity_op(keys, now, windows)) if keys else {}

    async def ahit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return await self._writer.submit_async(self._velocity_op(keys, now, windows)) if keys else {}

    # challenges -----------------------------------------------------------------------
    def create_challenge(self, record: ChallengeRecord) -> None:
        r = record
        row = (r.id, r.actor_key, r.scope, r.score, _dumps(list(r.reasons)), r.created_at, r.expires_at,
               r.passed_at, r.token_expires_at, r.redeemed_at, r.redeemed_by)
        self.write(lambda conn: conn.execute(_CHALLENGE_SQL["insert"], row))

    @staticmethod
    def _challenge(conn: sqlite3.Connection, challenge_id: str) -> ChallengeRecord | None:
        row = conn.execute(_CHALLENGE_SQL["get"], (challenge_id,)).fetchone()
        return None if row is None else challenge_from_row(row, tuple(orjson.loads(row[4])))

    def get_challenge(self, challenge_id: str) -> ChallengeRecord | None:
        return self._challenge(self._reader(), challenge_id)

    def pass_challenge(self, challenge_id: str, now: float, token_ttl_s: float) -> ChallengeRecord | None:
        def op(conn: sqlite3.Connection) -> ChallengeRecord | None:
            conn.execute(_CHALLENGE_SQL["pass"], (now, now + token_ttl_s, challenge_id, now))
            return self._challenge(conn, challenge_id)

        return self.write(op)

    def redeem_challenge(
        self, challenge_id: str, actor_key: str, scope: str, now: float, request_ref: str | None = None
    ) -> bool:
        params = (now, request_ref, challenge_id, actor_key, scope, now, request_ref)
        return self.write(lambda conn: conn.execute(_CHALLENGE_SQL["redeem"], params).rowcount == 1)

    # person linking ---------------------------------------------------------------
    def resolve_person(self, identities: list[str]) -> str | None:
        marks = ",".join("?" * len(identities))
        rows = self._reader().execute(
            f"SELECT identity, person FROM identities WHERE identity IN ({marks})", identities
        ).fetchall()
        persons = {p for _, p in rows}
        return persons.pop() if len(rows) == len(set(identities)) and len(persons) == 1 else None

    def _link_op(self, identities: list[str], now: float) -> Callable[[sqlite3.Connection], str]:
        def op(conn: sqlite3.Connection) -> str:
            marks = ",".join("?" * len(identities))
            known = dict(conn.execute(
                f"SELECT identity, person FROM identities WHERE identity IN ({marks})", identities))
            person, others, new = merge_persons(known, identities)
            for other in others:
                conn.execute("UPDATE identities SET person = ? WHERE person = ?", (person, other))
            conn.executemany("INSERT INTO identities VALUES (?, ?, ?)", [(i, person, now) for i in new])
            return person

        return op

    def link_identities(self, identities: list[str], now: float) -> str:
        return self.write(self._link_op(identities, now))

    async def alink_identities(self, identities: list[str], now: float) -> str:
        return await self._writer.submit_async(self._link_op(identities, now))

    def _link_and_hit_op(self, identities: list[str], now: float, keys: list[str], windows: tuple[int, ...]
                         ) -> Callable[[sqlite3.Connection], tuple[str, dict[str, tuple[int, ...]]]]:
        link, hit = self._link_op(identities, now), self._velocity_op(keys, now, windows)
        return lambda conn: (link(conn), hit(conn) if keys else {})

    def link_and_hit(self, identities: list[str], now: float, keys: list[str],
                     windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        return self.write(self._link_and_hit_op(identities, now, keys, windows))

    async def alink_and_hit(self, identities: list[str], now: float, keys: list[str],
                            windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        return await self._writer.submit_async(self._link_and_hit_op(identities, now, keys, windows))

    # personal data ---------------------------------------------------------------
    def put_contacts(self, records: list[ContactRecord]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR IGNORE INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.actor_key, r.kind, r.value_key, r.key_id, r.nonce, r.ciphertext, r.created_at)
                 for r in records],
            )

        self.write(op)

    def get_contacts(self, actor_key: str) -> list[ContactRecord]:
        rows = self._reader().execute(
            "SELECT * FROM contacts WHERE actor_key = ? ORDER BY kind, created_at", (actor_key,)
        ).fetchall()
        return [ContactRecord(*r) for r in rows]

    def all_contacts(self) -> list[ContactRecord]:
        rows = self._reader().execute("SELECT * FROM contacts ORDER BY actor_key, kind").fetchall()
        return [ContactRecord(*r) for r in rows]

    def purge_contacts(self, before: float) -> int:
        return self.write(lambda conn: conn.execute("DELETE FROM contacts WHERE created_at < ?", (before,)).rowcount)

    def append_audit(self, make: Callable[[int, str], AuditEntry]) -> AuditEntry:
        def op(conn: sqlite3.Connection) -> AuditEntry:
            last = conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            entry = make((last[0] + 1) if last else 1, last[1] if last else "")
            conn.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", astuple_audit(entry))
            return entry

        return self.write(op)

    def read_audit(self) -> list[AuditEntry]:
        return [AuditEntry(*r) for r in self._reader().execute("SELECT * FROM audit ORDER BY seq")]

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
