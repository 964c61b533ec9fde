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

Faults (an unwritable file, a full disk, a write lock held by another program)
surface as `StoreUnavailable` within `timeout_s` (default 5 s, `?timeout_s=` in
the URL): SQLite's busy timeout bounds the wait for its lock, each operation
carries a deadline (one that passed in the queue is answered, not run), and a
caller never waits longer than the deadline. After a fault the writer opens a
new connection for its next batch, so a store opened while the file was
read-only writes again once it is writable. The database, its WAL and SHM and
the lock files are created owner-only (0600).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import orjson

from headcount.store import sqlite_ops as ops
from headcount.store.base import (
    DEFAULT_TIMEOUT_S,
    IDEMPOTENCY_RETENTION_S,
    StoreError,
    StoreHealth,
    StoreUnavailable,
    check_lead_name,
    one_line,
)
from headcount.store.blocks import COLUMNS as BLOCK_COLUMNS
from headcount.store.blocks import (
    Dismissal,
    StoredBlock,
    block_from_row,
    dismissal_from_row,
    dismissal_row,
)
from headcount.store.decisions import DecisionsSql
from headcount.store.migrate import load_migrations
from headcount.store.sqlbase import SqlStore, Statements
from headcount.types import HoldRequest, IdempotencyKey, Outcome, PoolSpec, Result

T = TypeVar("T")

MAX_BATCH = 256
PAGE_SIZE = 1024
CHECKPOINT_INTERVAL_S = 0.5
#: how much longer than the deadline a caller waits for an operation the writer has started
GRACE_S = 0.25

#: SQLite's primary result codes that mean "the database cannot do this now", not "this is wrong"
_FAULT_CODES = {3, 5, 6, 7, 8, 10, 11, 13, 14, 15, 22, 23, 26}  # PERM BUSY LOCKED NOMEM READONLY IOERR
#                                                                  CORRUPT FULL CANTOPEN PROTOCOL NOLFS AUTH NOTADB


def is_fault(exc: BaseException) -> bool:
    """Whether an error is the database's condition (retry later), not the operation's fault."""
    if isinstance(exc, StoreUnavailable | OSError):
        return True
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError
    ):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return (code & 0xFF) in _FAULT_CODES
        text = str(exc).lower()
        return any(w in text for w in ("locked", "readonly", "read-only", "disk", "i/o", "unable to open", "full"))
    return False


def is_read_only(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == 8) or "readonly" in str(exc).lower()


def unavailable(exc: BaseException) -> StoreUnavailable:
    if isinstance(exc, StoreUnavailable):
        return exc
    return StoreUnavailable(f"SQLite unavailable: {one_line(exc)}")


def _create_private(path: str) -> None:
    """Create `path` owner-only if it does not exist (SQLite gives its WAL and SHM the same mode)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # unwritable directory: connecting reports it


class _FileLock:
    """An exclusive `flock` shared by every process that opens the same database."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._thread_lock = threading.Lock()

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            # every holder is a headcount writer whose transaction is bounded by its busy
            # timeout, so this wait is bounded too; callers' own deadlines bound theirs
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        os.close(self._fd)


def _repair_side_files(path: str) -> None:
    """Make the WAL and SHM writable again if they were made while the database was read-only.

    SQLite gives them the database file's mode when it creates them; a server started
    while the file was read-only leaves a read-only SHM behind, and with it no connection
    of any process can write, even once the database is writable again.
    """
    if not os.access(path, os.W_OK):
        return
    for side in (f"{path}-wal", f"{path}-shm"):
        try:
            if not os.access(side, os.W_OK) and os.path.exists(side):
                os.chmod(side, 0o600)
        except OSError:
            pass  # not ours: writing reports it


def _connect(path: str, synchronous: str, cache_mib: int = 8, timeout_s: float = DEFAULT_TIMEOUT_S
             ) -> sqlite3.Connection:
    _create_private(path)
    _repair_side_files(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout_s)
    try:
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes effect on a new file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpoint thread does it
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA cache_size = -{cache_mib * 1024}")  # per connection
    except BaseException:
        conn.close()
        raise
    return conn


class _Pending(NamedTuple):
    op: Any  # Callable[[sqlite3.Connection], T] | HoldOp
    future: Any  # Future | _AsyncAnswer
    deadline: float  # time.monotonic() after which it is answered unavailable, not run


class _GroupCommitWriter:
    """Runs write operations on one connection, committing concurrent ones together."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], lock: _FileLock, timeout_s: float,
                 conn: sqlite3.Connection | None = None,
                 on_fault: Callable[[BaseException], None] = lambda _exc: None) -> None:
        self._connect = connect
        self._on_fault = on_fault
        self._conn = conn
        self._lock = lock
        self.timeout_s = timeout_s
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="headcount-sqlite-writer", daemon=True)
        self._thread.start()

    def submit(self, op: Callable[[sqlite3.Connection], T] | HoldOp) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put(_Pending(op, future, time.monotonic() + self.timeout_s))
        return future

    def submit_async(self, op: Callable[[sqlite3.Connection], T] | HoldOp) -> asyncio.Future[T]:
        """For coroutines: an asyncio future, resolved in the caller's loop (or unavailable at its deadline)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        timer = loop.call_later(self.timeout_s + GRACE_S, _expire, future, self.timeout_s)
        self._queue.put(_Pending(op, _AsyncAnswer(loop, future, timer), time.monotonic() + self.timeout_s))
        return future

    def call(self, op: Callable[[sqlite3.Connection], T] | HoldOp) -> T:
        future = self.submit(op)
        try:
            return future.result(timeout=self.timeout_s + GRACE_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise StoreUnavailable(f"SQLite unavailable: no answer within {self.timeout_s:g} s") from None

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def close_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self.close_connection()
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
            now = time.monotonic()
            late = [p for p in batch if p.deadline < now]
            if late:
                _answer_all(late, StoreUnavailable(
                    f"SQLite unavailable: the write waited more than {self.timeout_s:g} s"))
                batch = [p for p in batch if p.deadline >= now]
            if batch:
                self._execute(batch)
            if stop:
                self.close_connection()
                return

    def _execute(self, batch: list[_Pending]) -> None:
        done: list[tuple[Any, Any, BaseException | None]] = []
        try:
            if self._conn is None:  # first use, or the connection a fault left behind was dropped
                self._conn = self._connect()
            conn = self._conn
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for run in _runs(batch):
                        if isinstance(run[0].op, HoldOp):
                            done.extend(self._holds(run))
                        else:
                            done.extend(self._one(p.op, p.future) for p in run)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise
        except Exception as exc:
            if is_fault(exc):
                # a new connection next time: one opened read-only, or broken, must not stay
                self.close_connection()
                self._on_fault(exc)
                error: BaseException = unavailable(exc)
            else:
                error = StoreError(f"write transaction failed: {one_line(exc)}")
            _answer_all(batch, error)
            return
        # answers go out only after COMMIT returned; async callers' answers are
        # handed to their event loop in one wake-up per batch, not one per answer
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_AsyncAnswer, Any, BaseException | None]]] = {}
        for future, value, err in done:
            if isinstance(future, _AsyncAnswer):
                by_loop.setdefault(future.loop, []).append((future, value, err))
            elif future.cancelled():
                continue
            elif err is not None:
                future.set_exception(err)
            else:
                future.set_result(value)
        for loop, answers in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, answers)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more

    def _one(self, op: Callable[[sqlite3.Connection], Any], future: Any) -> tuple[Any, Any, BaseException | None]:
        conn = self._conn
        assert conn is not None
        conn.execute("SAVEPOINT op")
        try:
            value = op(conn)
        except Exception as exc:  # one failing op must not sink the batch, unless the database failed
            if is_fault(exc):
                raise
            conn.execute("ROLLBACK TO op")
            conn.execute("RELEASE op")
            return future, None, exc
        conn.execute("RELEASE op")
        return future, value, None

    def _holds(self, run: list[_Pending]) -> list[tuple[Any, Any, BaseException | None]]:
        """A run of holds as one set-based step; one by one if that step fails."""
        conn = self._conn
        assert conn is not None
        conn.execute("SAVEPOINT holds")
        try:
            outcomes = ops.place_holds(conn, [p.op for p in run])
        except Exception as exc:
            if is_fault(exc):
                raise
            conn.execute("ROLLBACK TO holds")
            conn.execute("RELEASE holds")
            return [self._one(p.op.run, p.future) for p in run]
        conn.execute("RELEASE holds")
        return [(p.future, outcome, None) for p, outcome in zip(run, outcomes, strict=True)]


class _AsyncAnswer(NamedTuple):
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    timer: asyncio.TimerHandle  # answers "unavailable" if the writer has not by the deadline


def _expire(future: asyncio.Future[Any], timeout_s: float) -> None:
    if not future.done():
        future.set_exception(StoreUnavailable(f"SQLite unavailable: no answer within {timeout_s:g} s"))


def _deliver(answers: list[tuple[_AsyncAnswer, Any, BaseException | None]]) -> None:
    for answer, value, error in answers:
        answer.timer.cancel()
        future = answer.future
        if future.done():
            continue  # cancelled, or answered unavailable at its deadline
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _answer_all(batch: list[_Pending], error: BaseException) -> None:
    for p in batch:
        if isinstance(p.future, _AsyncAnswer):
            try:
                answer: list[tuple[_AsyncAnswer, Any, BaseException | None]] = [(p.future, None, error)]
                p.future.loop.call_soon_threadsafe(_deliver, answer)
            except RuntimeError:
                pass
        elif not p.future.cancelled():
            p.future.set_exception(error)


class HoldOp(NamedTuple):
    """A hold for the writer; consecutive ones are executed as one set-based step."""

    req: HoldRequest
    now: float
    idem: IdempotencyKey | None

    def run(self, conn: sqlite3.Connection) -> Outcome:
        """This hold alone (when its set-based run failed and each is retried by itself)."""
        return ops.place_hold(conn, self.req, self.now, self.idem)


def _runs(batch: list[_Pending]) -> list[list[_Pending]]:
    """Split a batch into runs of holds and runs of other operations, in order."""
    runs: list[list[_Pending]] = []
    for item in batch:
        kind = isinstance(item.op, HoldOp)
        if runs and isinstance(runs[-1][0].op, HoldOp) == kind:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class SQLiteStore(DecisionsSql, SqlStore):
    """The embedded default store."""

    sql = Statements("?")
    floor_sql = "CAST({} AS INTEGER)"

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL",
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        if synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
            raise StoreError(f"synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}")
        if not 0 < timeout_s <= 3600:
            raise StoreError(f"timeout_s must be above 0 and at most 3600, not {timeout_s!r}")
        self._synchronous = synchronous.upper()
        self.timeout_s = float(timeout_s)
        self._leads: dict[str, int] = {}
        self._leads_lock = threading.Lock()
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock = _FileLock(self.path + ".lock")
            conn = _connect(self.path, self._synchronous, cache_mib=32, timeout_s=self.timeout_s)
            with self._lock:
                self._migrate(conn)
        except (OSError, sqlite3.Error) as exc:
            if is_fault(exc):
                raise unavailable(exc) from exc
            raise StoreError(f"cannot open the SQLite store at {self.path}: {one_line(exc)}") from exc
        self._writer = _GroupCommitWriter(
            lambda: _connect(self.path, self._synchronous, cache_mib=32, timeout_s=self.timeout_s),
            self._lock, self.timeout_s, conn, self._after_fault)
        self._local = threading.local()
        self._generation = 0  # connections of an older generation are reopened before use
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
        """Apply missing migrations. With none missing this writes nothing, so a store whose
        file is read-only right now still opens (and answers unavailable until it is not)."""
        applied: set[int] = set()
        has_table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone()
        if has_table:
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        missing = [m for m in load_migrations("sqlite") if m.version not in applied]
        if not missing:
            return
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        for migration in missing:
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
        if conn is None or self._local.generation != self._generation:
            self._drop_reader()
            conn = _connect(self.path, self._synchronous, timeout_s=self.timeout_s)
            self._local.conn, self._local.generation = conn, self._generation
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _after_fault(self, exc: BaseException) -> None:
        """After "read-only": close every connection of this process to the file.

        SQLite shares one SHM mapping among a process's connections to a file; while
        any connection opened read-only holds it, even a new connection cannot write.
        """
        if not is_read_only(exc):
            return
        self._generation += 1
        with self._readers_lock:
            stale, self._readers = self._readers, []
        for conn in stale:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _drop_reader(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        self._local.generation = self._generation
        if conn is not None:
            with self._readers_lock:
                if conn in self._readers:
                    self._readers.remove(conn)
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        for attempt in (1, 2):
            try:
                return fn(self._reader())
            except sqlite3.ProgrammingError as exc:
                # closed under us by _after_fault: once more on a new connection
                if attempt == 2 or "closed" not in str(exc):
                    raise
                self._local.conn = None
            except (sqlite3.Error, OSError) as exc:
                if not is_fault(exc):
                    raise
                self._drop_reader()  # reopened on the next read
                raise unavailable(exc) from exc
        raise AssertionError("unreachable")

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._writer.call(fn)

    async def _awrite(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._writer.submit_async(fn)

    def _bool(self, value: bool) -> Any:
        return int(value)

    def _json_in(self, value: Any) -> Any:
        return ops._dumps(value)

    def _json_out(self, value: Any) -> Any:
        return orjson.loads(value)

    def _checkpoint_loop(self) -> None:
        conn: sqlite3.Connection | None = None
        generation = self._generation
        try:
            while not self._closing.wait(CHECKPOINT_INTERVAL_S):
                try:
                    if conn is not None and generation != self._generation:
                        conn.close()
                        conn = None
                    if conn is None:
                        generation = self._generation
                        conn = _connect(self.path, self._synchronous, timeout_s=self.timeout_s)
                        with self._readers_lock:  # so that _after_fault closes it too
                            self._readers.append(conn)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except (sqlite3.Error, OSError):
                    # busy, or a fault: the next round tries again (on a new connection)
                    if conn is not None:
                        conn.close()
                        conn = None
        finally:
            if conn is not None:
                conn.close()

    def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run `op(conn)` inside the group-committed write transaction."""
        return self._writer.call(op)

    def close(self) -> None:
        self._closing.set()
        for name in list(self._leads):
            self.release_lead(name)
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
            last = _connect(self.path, self._synchronous, timeout_s=min(self.timeout_s, 1.0))
            try:
                last.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                last.close()
        except (sqlite3.Error, OSError):
            pass
        self._lock.close()

    # health and the leader lock ------------------------------------------------
    def health(self) -> StoreHealth:
        try:
            self.write(lambda conn: conn.execute(self.sql.meta_ping, (repr(time.time()),)))
        except StoreError as exc:
            return StoreHealth(False, one_line(exc))
        return StoreHealth(True)

    def ping(self) -> bool:
        return self.health().ok

    def try_lead(self, name: str) -> bool:
        check_lead_name(name)
        with self._leads_lock:
            if name in self._leads:
                return True
            try:
                fd = os.open(f"{self.path}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise unavailable(exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._leads[name] = fd
            return True

    def release_lead(self, name: str) -> None:
        with self._leads_lock:
            fd = self._leads.pop(name, None)
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock

    async def aread(self, fn: Callable[[], T]) -> T:
        # reads of a local WAL database take microseconds and never wait for writers
        return fn()

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
                conn.execute(self.sql.pool_insert, (spec.id, spec.name, spec.kind, spec.capacity,
                                                    spec.per_actor_limit, spec.hold_ttl_s, spec.light.yellow_at,
                                                    spec.light.red_at, now, spec.phone_region))
                outcome = Outcome(Result.CREATED, {"pool_id": spec.id})
            ops.idem_record(conn, idem, outcome, now)
            return outcome

        return self.write(op)

    # holds ---------------------------------------------------------------------
    def place_hold(self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self._writer.call(HoldOp(req, now, idem))

    def _change_op(self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None,
                   owner: str | None) -> Callable[[sqlite3.Connection], Outcome]:
        if action not in {"confirm", "release", "extend"}:
            raise ValueError(f"unknown hold action {action!r}")
        return lambda conn: ops.change_hold(conn, hold_id, action, now, idem, owner)

    def confirm_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None,
                     owner: str | None = None) -> Outcome:
        return self.write(self._change_op(hold_id, "confirm", now, idem, owner))

    def release_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None,
                     owner: str | None = None) -> Outcome:
        return self.write(self._change_op(hold_id, "release", now, idem, owner))

    def extend_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None,
                    owner: str | None = None) -> Outcome:
        return self.write(self._change_op(hold_id, "extend", now, idem, owner))

    async def aplace_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        # await the group commit directly: no thread-pool hop on the hot path
        return await self._writer.submit_async(HoldOp(req, now, idem))

    async def achange_hold(
        self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None = None,
        owner: str | None = None,
    ) -> Outcome:
        return await self._writer.submit_async(self._change_op(hold_id, action, now, idem, owner))

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
            self._sweep_side_tables(conn, now)
            return expired

        return self.write(op)

    # velocity and linking in one write (a registration needs both) -------------------
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

    # staff review of blocks -------------------------------------------------------
    def dismiss_block(self, block_id: str, who: str, reason: str, now: float) -> StoredBlock | None:
        """Take a current block out (its members lose the reason) and keep it as reviewed."""
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
        """Every block staff dismissed."""
        return [dismissal_from_row(r) for r in self._reader().execute(
            "SELECT block_id, dismissed_at, dismissed_by, reason, actors, targets FROM block_review")]

