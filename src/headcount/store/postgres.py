"""The production store: PostgreSQL through psycopg 3 with a connection pool.

Each ledger write is one call of a server-side function (see
`migrations/postgres/0001_ledger.sql` and `0013_hold_owner.sql`): one round trip
and one transaction that locks the pool's row, so the row lock is held for the
shortest possible time and many server processes can share one database.

Every wait is bounded by `timeout_s` (default 5 s; `?timeout_s=` in the URL,
taken out before the URL reaches libpq): connecting (`connect_timeout`, TCP
keepalives), waiting for a pooled connection, waiting for a lock
(`lock_timeout`) and running a statement (`statement_timeout`). A lost server,
a standby that refuses writes, a full disk or a timeout is `StoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from headcount.store.base import (
    DEFAULT_TIMEOUT_S,
    IDEMPOTENCY_RETENTION_S,
    StoreError,
    StoreHealth,
    StoreUnavailable,
    check_lead_name,
    new_hold_token,
    one_line,
    parse_hold_id,
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

#: Arbitrary constant for the advisory lock that serialises migrations.
_MIGRATION_LOCK = 7_302_214_055
_AUDIT_LOCK = 7_302_214_056
_LINK_LOCK = 7_302_214_057
#: leader locks that existed before `try_lead` keep their keys (a rolling upgrade keeps one leader)
_LEAD_KEYS = {"detect": 727_001}
#: migrations may build indexes on big tables: their own, longer bounds
_MIGRATION_TIMEOUT_MS = 600_000

#: errors that mean "the database cannot do this now" (retry later), not "this request is wrong"
_FAULTS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,  # connection lost, server shutting down, disk full, lock/statement timeout
    psycopg.InterfaceError,  # the connection is closed
    psycopg.errors.ReadOnlySqlTransaction,  # a standby (after a failover, before the URL follows)
    PoolTimeout,
)


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL without headcount's own query options, and those options."""
    parts = urlsplit(url)
    ours, theirs = {}, []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in {"timeout_s", "statement_timeout_s"}:
            ours[key] = value
        else:
            theirs.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(theirs))), ours


def lead_key(name: str) -> int:
    """The advisory lock key of a leader lock (a signed 64-bit number)."""
    if name in _LEAD_KEYS:
        return _LEAD_KEYS[name]
    return int.from_bytes(hashlib.blake2b(f"headcount-lead:{name}".encode(), digest_size=8).digest(), "big",
                          signed=True)


class PostgresStore(DecisionsSql, SqlStore):
    """PostgreSQL backend; safe to share between threads and processes."""

    sql = Statements("%s")

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 16,
                 timeout_s: float | None = None, statement_timeout_s: float | None = None) -> None:
        self.url, options = split_url(url)
        try:
            self.timeout_s = float(timeout_s if timeout_s is not None else options.get("timeout_s", DEFAULT_TIMEOUT_S))
            statement_s = float(statement_timeout_s if statement_timeout_s is not None
                                else options.get("statement_timeout_s", self.timeout_s))
        except ValueError as exc:
            raise StoreError(f"timeout_s in the store URL must be a number of seconds: {exc}") from exc
        if not 0 < self.timeout_s <= 3600 or not 0 < statement_s <= 3600:
            raise StoreError("timeout_s and statement_timeout_s must be above 0 and at most 3600 seconds")
        ms = int(self.timeout_s * 1000)
        self._conn_kwargs: dict[str, Any] = {
            "connect_timeout": max(1, math.ceil(self.timeout_s)),
            "keepalives": 1, "keepalives_idle": max(1, math.ceil(self.timeout_s)), "keepalives_interval": 1,
            "keepalives_count": 3, "tcp_user_timeout": ms,
            "options": f"-c lock_timeout={ms} -c statement_timeout={int(statement_s * 1000)}"
                       f" -c idle_in_transaction_session_timeout={max(ms, 60_000)}",
        }
        self._leads: dict[str, psycopg.Connection[Any]] = {}
        self._leads_lock = threading.Lock()
        try:  # one direct attempt first: an unreachable server fails now, not after the pool's wait
            psycopg.connect(self.url, **self._conn_kwargs).close()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {_redact(self.url)}: {one_line(exc)}") from exc
        try:
            self._pool = ConnectionPool(
                self.url,
                min_size=min_size,
                max_size=max_size,
                kwargs={"autocommit": True, "prepare_threshold": 0, **self._conn_kwargs},
                open=True,
                timeout=self.timeout_s,
            )
            self._pool.wait(timeout=max(self.timeout_s, 10.0))
        except (psycopg.Error, Exception) as exc:  # PoolTimeout is not a psycopg.Error
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {_redact(self.url)}: {one_line(exc)}") from exc
        self._migrate()

    def _migrate(self) -> None:
        with self._conn() as conn, conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {_MIGRATION_TIMEOUT_MS}")
            conn.execute(f"SET LOCAL statement_timeout = {_MIGRATION_TIMEOUT_MS}")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
            )
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for migration in load_migrations("postgres"):
                if migration.version in applied:
                    continue
                conn.execute(migration.sql.encode(), prepare=False)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, now())",
                    (migration.version, migration.name),
                )

    def close(self) -> None:
        for name in list(self._leads):
            self.release_lead(name)
        self._pool.close()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a lost server becomes StoreUnavailable, not a crash."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except _FAULTS as exc:
            # drop every broken idle connection now, so the next request reconnects
            # (with a multi-host URL, to whichever server is the primary by then)
            threading.Thread(target=self._pool.check, daemon=True).start()
            raise StoreUnavailable(f"PostgreSQL unavailable: {one_line(exc)}") from exc

    # the shared SQL's hooks -------------------------------------------------------
    def _read(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._conn() as conn:
            return fn(conn)

    def _write(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._conn() as conn, conn.transaction():
            return fn(conn)

    async def _awrite(self, fn: Callable[[psycopg.Connection[Any]], T]) -> T:
        return await asyncio.to_thread(self._write, fn)

    def _serialize(self, conn: psycopg.Connection[Any], what: str, key: str = "") -> None:
        if what == "audit":
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
        elif what == "link":
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LINK_LOCK,))
        elif what == "blocks":
            conn.execute("LOCK TABLE blocks IN EXCLUSIVE MODE")
        elif what == "action":
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 2))", (key,))
        elif what == "lottery":  # a lottery pool's close, draw and pass-down
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 3))", (key,))
        elif what == "lottery_shared":  # its registrations (many at once, none during the close)
            conn.execute("SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 3))", (key,))

    def _many(self, conn: psycopg.Connection[Any], sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            conn.cursor().executemany(sql, rows)

    def _json_in(self, value: Any) -> Any:
        return Jsonb(value)

    def _json_out(self, value: Any) -> Any:
        return value

    # health and the leader lock ---------------------------------------------------
    def health(self) -> StoreHealth:
        try:
            with self._conn() as conn:
                conn.execute(self.sql.meta_ping, (repr(time.time()),))
        except StoreError as exc:
            return StoreHealth(False, one_line(exc))
        return StoreHealth(True)

    def ping(self) -> bool:
        return self.health().ok

    def try_lead(self, name: str) -> bool:
        """A session advisory lock on a connection of its own (outside the pool, in autocommit:
        no transaction stays open). A lost connection loses the lock: checked on every call."""
        key = lead_key(check_lead_name(name))
        with self._leads_lock:
            held = self._leads.get(name)
            if held is not None:
                try:
                    held.execute("SELECT 1")
                    return True
                except psycopg.Error:
                    self._leads.pop(name)
                    held.close()
            try:
                conn = psycopg.connect(self.url, autocommit=True, **self._conn_kwargs)
                won = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])  # type: ignore[index]
            except psycopg.Error as exc:
                raise StoreUnavailable(f"PostgreSQL unavailable: {one_line(exc)}") from exc
            if not won:
                conn.close()
                return False
            self._leads[name] = conn
            return True

    def release_lead(self, name: str) -> None:
        with self._leads_lock:
            conn = self._leads.pop(name, None)
        if conn is None:
            return
        try:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lead_key(name),))
        except psycopg.Error:
            pass  # the connection is gone, and the lock with it
        finally:
            conn.close()

    async def aread(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    # pools ---------------------------------------------------------------------
    def create_pool(self, spec: PoolSpec, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        with self._conn() as conn, conn.transaction():
            if idem is not None:
                row = conn.execute(
                    "SELECT * FROM hc_idem_lookup(%s, %s, %s)", (idem.scope, idem.key, idem.request_hash)
                ).fetchone()
                if row is not None:
                    return Outcome(Result(row[0]), row[1], replayed=row[2])
            inserted = conn.execute(
                self.sql.pool_insert + " ON CONFLICT (id) DO NOTHING RETURNING id",
                (spec.id, spec.name, spec.kind, spec.capacity, spec.per_actor_limit, spec.hold_ttl_s,
                 spec.light.yellow_at, spec.light.red_at, now, spec.phone_region),
            ).fetchone()
            if inserted is None:
                outcome = Outcome(Result.EXISTS, {"pool_id": spec.id, "reasons": ["pool_exists"]})
            else:
                outcome = Outcome(Result.CREATED, {"pool_id": spec.id})
            if idem is not None:
                conn.execute(self.sql.idem_insert, (idem.scope, idem.key, idem.request_hash, outcome.result.value,
                                                    Jsonb(outcome.body), now))
            return outcome

    # holds ---------------------------------------------------------------------
    def place_hold(self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        row = self._one(
            "SELECT * FROM hc_place_hold(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                req.pool_id, req.quantity, req.actor_key, req.ttl_factor, req.actor_cap,
                req.risk_score, Jsonb(list(req.risk_reasons)), new_hold_token(), req.owner, now,
                *_idem_params(idem),
            ),
        )
        assert row is not None
        return Outcome(Result(row[0]), row[1], replayed=row[2])

    def _change(self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None,
                owner: str | None = None) -> Outcome:
        ref = parse_hold_id(hold_id)
        echo = hold_id.replace("\x00", "\ufffd") if isinstance(hold_id, str) else str(hold_id)  # text has no NUL
        row = self._one(
            "SELECT * FROM hc_change_hold(%s::text, %s::bigint, %s::text, %s::text, %s::float8, %s::text,"
            " %s::text, %s::text, %s::text)",
            ("" if ref is None else ref.token, None if ref is None else ref.seq, echo, action, now, owner,
             *_idem_params(idem)),
        )
        assert row is not None
        return Outcome(Result(row[0]), row[1], replayed=row[2])

    def confirm_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None,
                     owner: str | None = None) -> Outcome:
        return self._change(hold_id, "confirm", now, idem, owner)

    def release_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None,
                     owner: str | None = None) -> Outcome:
        return self._change(hold_id, "release", now, idem, owner)

    def extend_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None,
                    owner: str | None = None) -> Outcome:
        return self._change(hold_id, "extend", now, idem, owner)

    async def aplace_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        return await asyncio.to_thread(self.place_hold, req, now, idem)

    async def achange_hold(
        self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None = None,
        owner: str | None = None,
    ) -> Outcome:
        if action not in {"confirm", "release", "extend"}:
            raise ValueError(f"unknown hold action {action!r}")
        return await asyncio.to_thread(self._change, hold_id, action, now, idem, owner)

    def sweep(self, now: float) -> int:
        row = self._one("SELECT hc_sweep(%s, %s)", (now, now - IDEMPOTENCY_RETENTION_S))
        self._write(lambda conn: self._sweep_side_tables(conn, now))
        return int(row[0]) if row else 0

    # person linking ---------------------------------------------------------------
    def link_and_hit(self, identities: list[str], now: float, keys: list[str],
                     windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        """Apart: linking takes a global lock only when it must add or merge identities."""
        person = self.resolve_person(identities) or self.link_identities(identities, now)
        return person, self.hit_velocity(keys, now, windows)

    async def alink_and_hit(self, identities: list[str], now: float, keys: list[str],
                            windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        return await asyncio.to_thread(self.link_and_hit, identities, now, keys, windows)

    # staff review of blocks -------------------------------------------------------
    def dismiss_block(self, block_id: str, who: str, reason: str, now: float) -> StoredBlock | None:
        """Take a current block out (its members lose the reason) and keep it as reviewed."""
        with self._conn() as conn, conn.transaction():
            row = conn.execute(f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE id = %s FOR UPDATE", (block_id,)).fetchone()
            if row is None:
                return None
            block = block_from_row(row)
            conn.execute("DELETE FROM blocks WHERE id = %s", (block_id,))
            conn.execute("INSERT INTO block_review VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (block_id) DO UPDATE"
                         " SET dismissed_at = EXCLUDED.dismissed_at, dismissed_by = EXCLUDED.dismissed_by,"
                         " reason = EXCLUDED.reason",
                         dismissal_row(Dismissal(block_id, now, who, reason, block.actors, block.targets)))
            return block

    def dismissals(self) -> list[Dismissal]:
        """Every block staff dismissed."""
        with self._conn() as conn:
            rows = conn.execute("SELECT block_id, dismissed_at, dismissed_by, reason, actors, targets"
                                " FROM block_review").fetchall()
        return [dismissal_from_row(r) for r in rows]

def _idem_params(idem: IdempotencyKey | None) -> tuple[str | None, str | None, str | None]:
    if idem is None:
        return None, None, None
    return idem.scope, idem.key, idem.request_hash


def _redact(url: str) -> str:
    """Hide a password in a connection URL before it reaches a message."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


__all__ = ["PostgresStore"]
