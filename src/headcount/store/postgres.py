"""The production store: PostgreSQL through psycopg 3 with a connection pool.

Each ledger write is one call of a server-side function (see
`migrations/postgres/0001_ledger.sql`): one round trip and one transaction that
locks the pool's row, so the row lock is held for the shortest possible time and
many server processes can share one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from headcount.ledger.models import (
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
    RISK_BAND_SQL,
    ActionRecord,
    ActionRequest,
    ActionResult,
    ApiKeyRecord,
    AuditEntry,
    ContactRecord,
    StoreError,
    StoreUnavailable,
    astuple_audit,
    budget_sql,
    decide_budgets,
    merge_persons,
    parse_hold_id,
)
from headcount.store.base import CHALLENGE_RETENTION_S, ChallengeRecord, challenge_from_row, challenge_sql
from headcount.store.base import velocity_params, velocity_sql
from headcount.store.migrate import load_migrations
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

_CHALLENGE_SQL = challenge_sql("%s")

_POOL_SELECT = (
    "SELECT id, name, kind, capacity, per_actor_limit, hold_ttl_s, light_yellow_at, light_red_at,"
    " held, confirmed, created_at,"
    " (SELECT coalesce(sum(quantity), 0) FROM holds h"
    "   WHERE h.pool_id = pools.id AND h.status = 'held' AND h.expires_at <= %s)"
    " FROM pools"
)

#: Arbitrary constant for the advisory lock that serialises migrations.
_MIGRATION_LOCK = 7_302_214_055
_AUDIT_LOCK = 7_302_214_056
_LINK_LOCK = 7_302_214_057


class PostgresStore:
    """PostgreSQL backend; safe to share between threads and processes."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 16) -> None:
        self.url = url
        try:  # one direct attempt first: an unreachable server fails now, not after the pool's wait
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc
        try:
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                kwargs={"autocommit": True, "prepare_threshold": 0},
                open=True,
                timeout=30.0,
            )
            self._pool.wait(timeout=30.0)
        except (psycopg.Error, Exception) as exc:  # PoolTimeout is not a psycopg.Error
            raise StoreError(f"cannot connect to PostgreSQL at {_redact(url)}: {exc}") from exc
        self._migrate()

    def _migrate(self) -> None:
        with self._conn() as conn, conn.transaction():
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
        self._pool.close()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a lost server becomes StoreUnavailable, not a crash."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # drop every broken idle connection now, so the next request reconnects
            # (with a multi-host URL, to whichever server is the primary by then)
            threading.Thread(target=self._pool.check, daemon=True).start()
            raise StoreUnavailable(f"PostgreSQL unavailable: {str(exc).strip()[:300]}") from exc

    def _fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._conn() as conn:
            cur = conn.cursor(row_factory=tuple_row)
            return cur.execute(sql, params).fetchone()

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
                "INSERT INTO pools (id, name, kind, capacity, per_actor_limit, hold_ttl_s,"
                " light_yellow_at, light_red_at, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
                (spec.id, spec.name, spec.kind, spec.capacity, spec.per_actor_limit, spec.hold_ttl_s,
                 spec.light.yellow_at, spec.light.red_at, now),
            ).fetchone()
            if inserted is None:
                outcome = Outcome(Result.EXISTS, {"pool_id": spec.id, "reasons": ["pool_exists"]})
            else:
                outcome = Outcome(Result.CREATED, {"pool_id": spec.id})
            if idem is not None:
                conn.execute(
                    "INSERT INTO idempotency VALUES (%s, %s, %s, %s, %s, %s)",
                    (idem.scope, idem.key, idem.request_hash, outcome.result.value,
                     Jsonb(outcome.body), now),
                )
            return outcome

    def get_pool(self, pool_id: str, now: float) -> Pool | None:
        row = self._fetchone(_POOL_SELECT + " WHERE id = %s", (now, pool_id))
        return _pool_from_row(row) if row else None

    def list_pools(self, now: float) -> list[Pool]:
        with self._conn() as conn:
            rows = conn.execute(_POOL_SELECT + " ORDER BY created_at, id", (now,)).fetchall()
        return [_pool_from_row(r) for r in rows]

    # holds ---------------------------------------------------------------------
    def place_hold(self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        row = self._fetchone(
            "SELECT * FROM hc_place_hold(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                req.pool_id, req.quantity, req.actor_key, req.ttl_factor, req.actor_cap,
                req.risk_score, Jsonb(list(req.risk_reasons)), secrets.token_hex(8), now,
                *_idem_params(idem),
            ),
        )
        assert row is not None
        return Outcome(Result(row[0]), row[1], replayed=row[2])

    def _change(self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None) -> Outcome:
        parsed = parse_hold_id(hold_id) or (0, "")
        row = self._fetchone(
            "SELECT * FROM hc_change_hold(%s, %s, %s, %s, %s, %s, %s, %s)",
            (parsed[0], parsed[1], hold_id, action, now, *_idem_params(idem)),
        )
        assert row is not None
        return Outcome(Result(row[0]), row[1], replayed=row[2])

    def confirm_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self._change(hold_id, "confirm", now, idem)

    def release_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self._change(hold_id, "release", now, idem)

    def extend_hold(self, hold_id: str, now: float, idem: IdempotencyKey | None = None) -> Outcome:
        return self._change(hold_id, "extend", now, idem)

    async def aplace_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        return await asyncio.to_thread(self.place_hold, req, now, idem)

    async def achange_hold(
        self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        if action not in {"confirm", "release", "extend"}:
            raise ValueError(f"unknown hold action {action!r}")
        return await asyncio.to_thread(self._change, hold_id, action, now, idem)

    async def aread(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    def get_hold(self, hold_id: str) -> Hold | None:
        parsed = parse_hold_id(hold_id)
        if parsed is None:
            return None
        row = self._fetchone(
            "SELECT token, pool_id, actor_key, quantity, status, created_at, expires_at,"
            " max_expires_at FROM holds WHERE seq = %s",
            (parsed[0],),
        )
        if row is None or not secrets.compare_digest(row[0], parsed[1]):
            return None
        return Hold(hold_id, row[1], row[2], row[3], row[4], row[5], row[6], row[7])

    def actor_usage(self, pool_id: str, actor_key: str, now: float) -> int:
        row = self._fetchone(
            "SELECT coalesce(sum(quantity), 0) FROM holds WHERE pool_id = %s AND actor_key = %s"
            " AND (status = 'confirmed' OR (status = 'held' AND expires_at > %s))",
            (pool_id, actor_key, now),
        )
        return int(row[0]) if row else 0

    def sweep(self, now: float) -> int:
        row = self._fetchone("SELECT hc_sweep(%s, %s)", (now, now - IDEMPOTENCY_RETENTION_S))
        with self._conn() as conn:
            conn.execute("DELETE FROM velocity WHERE bucket < %s", (int(now // 60) - 24 * 60 - 1,))
            conn.execute(_CHALLENGE_SQL["sweep"], (now - CHALLENGE_RETENTION_S,) * 2)
        return int(row[0]) if row else 0

    def hold_timeline(self, pool_id: str, bucket_s: int, since: float) -> list[tuple[float, str, int]]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT floor(created_at / %s) * %s AS b, {RISK_BAND_SQL} AS band, sum(quantity)"
                " FROM holds WHERE pool_id = %s AND created_at >= %s GROUP BY b, band ORDER BY b",
                (bucket_s, bucket_s, pool_id, since),
            ).fetchall()
        return [(float(b), band, int(q)) for b, band, q in rows]

    # blocks --------------------------------------------------------------------
    def replace_blocks(self, blocks: list[StoredBlock]) -> None:
        select, delete, insert = replace_sql("%s")
        with self._conn() as conn, conn.transaction():
            conn.execute("LOCK TABLE blocks IN EXCLUSIVE MODE")
            before = dict(conn.execute(select).fetchall())
            rows = carry_detected_at(blocks, before)
            conn.execute(delete)
            cur = conn.cursor()
            if rows:
                cur.executemany(insert, [block_row(b) for b in rows])
            members = [(a, b.id) for b in rows for a in b.actors]
            if members:
                cur.executemany("INSERT INTO block_members VALUES (%s, %s) ON CONFLICT DO NOTHING", members)

    def list_blocks(self, limit: int = 100) -> list[StoredBlock]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY detected_at DESC, score DESC LIMIT %s", (limit,)
            ).fetchall()
        return [block_from_row(r) for r in rows]

    def block_members(self) -> frozenset[str]:
        with self._conn() as conn:
            return frozenset(r[0] for r in conn.execute("SELECT DISTINCT actor_key FROM block_members"))

    def dismiss_block(self, block_id: str, who: str, reason: str, now: float) -> StoredBlock | None:
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
        with self._conn() as conn:
            rows = conn.execute("SELECT block_id, dismissed_at, dismissed_by, reason, actors, targets"
                                " FROM block_review").fetchall()
        return [dismissal_from_row(r) for r in rows]

    def pool_turnout(self, edges: Sequence[float], now: float,
                     pool_ids: Sequence[str] | None = None) -> list[TurnoutRow]:
        if pool_ids is not None and not pool_ids:
            return []
        sql = turnout_sql(edges, None if pool_ids is None else len(pool_ids), "%s")
        with self._conn() as conn:
            return turnout_rows(conn.execute(sql, turnout_params(pool_ids, now)).fetchall())

    # API keys ----------------------------------------------------------------
    def add_api_key(self, record: ApiKeyRecord) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, role, created_at, revoked)"
                " VALUES (%s, %s, %s, %s, %s)",
                (record.key_id, record.secret_hash, record.role, record.created_at, record.revoked),
            )

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = self._fetchone(
            "SELECT key_id, secret_hash, role, created_at, revoked FROM api_keys WHERE key_id = %s",
            (key_id,),
        )
        return ApiKeyRecord(row[0], row[1], row[2], row[3], row[4]) if row else None

    def record_action(self, action: ActionRequest) -> ActionResult:
        with self._conn() as conn, conn.transaction():
            if action.denied:
                result = ActionResult(False, None, None)
            else:  # one person's actions of one verb are counted and appended one at a time
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 2))",
                             (f"{action.actor_key}\x1f{action.verb}",))
                counts = [int(conn.execute(budget_sql("%s"), (action.actor_key, action.verb,
                                                               action.ts - window, action.ts)).fetchone()[0])
                          for _, window in action.budgets]
                result = decide_budgets(counts, action.budgets)
            decision = "allowed" if result.allowed else ("denied" if action.denied else "limited")
            conn.execute(
                "INSERT INTO actions (ts, verb, actor_key, target, pool_id, quantity, decision, score,"
                " reasons, attrs) VALUES (%s, %s, %s, %s, NULL, 1, %s, %s, %s, %s)",
                (action.ts, action.verb, action.actor_key, action.target, decision, action.score,
                 Jsonb(list(action.reasons)), Jsonb(action.attrs or {})),
            )
            return result

    async def arecord_action(self, action: ActionRequest) -> ActionResult:
        return await asyncio.to_thread(self.record_action, action)

    # velocity -----------------------------------------------------------------------
    def hit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        if not keys:
            return {}
        minute = int(now // 60)
        with self._conn() as conn, conn.transaction():
            conn.cursor().executemany(
                "INSERT INTO velocity VALUES (%s, %s, 1) ON CONFLICT (key, bucket) DO UPDATE"
                " SET count = velocity.count + 1", [(k, minute) for k in keys])
            sql = velocity_sql(windows, "%s")
            return {k: tuple(int(n) for n in conn.execute(sql, velocity_params(k, minute, windows)).fetchone())
                    for k in keys}

    async def ahit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return await asyncio.to_thread(self.hit_velocity, keys, now, windows)

    # challenges -----------------------------------------------------------------------
    def create_challenge(self, record: ChallengeRecord) -> None:
        r = record
        with self._conn() as conn:
            conn.execute(_CHALLENGE_SQL["insert"], (
                r.id, r.actor_key, r.scope, r.score, orjson.dumps(list(r.reasons)).decode(), r.created_at,
                r.expires_at, r.passed_at, r.token_expires_at, r.redeemed_at, r.redeemed_by))

    @staticmethod
    def _challenge(conn: psycopg.Connection[Any], challenge_id: str) -> ChallengeRecord | None:
        row = conn.execute(_CHALLENGE_SQL["get"], (challenge_id,)).fetchone()
        return None if row is None else challenge_from_row(row, tuple(orjson.loads(row[4])))

    def get_challenge(self, challenge_id: str) -> ChallengeRecord | None:
        with self._conn() as conn:
            return self._challenge(conn, challenge_id)

    def pass_challenge(self, challenge_id: str, now: float, token_ttl_s: float) -> ChallengeRecord | None:
        with self._conn() as conn, conn.transaction():
            conn.execute(_CHALLENGE_SQL["pass"], (now, now + token_ttl_s, challenge_id, now))
            return self._challenge(conn, challenge_id)

    def redeem_challenge(
        self, challenge_id: str, actor_key: str, scope: str, now: float, request_ref: str | None = None
    ) -> bool:
        with self._conn() as conn:
            cur = conn.execute(_CHALLENGE_SQL["redeem"],
                               (now, request_ref, challenge_id, actor_key, scope, now, request_ref))
            return cur.rowcount == 1

    # person linking ---------------------------------------------------------------
    def resolve_person(self, identities: list[str]) -> str | None:
        with self._conn() as conn:
            rows = conn.execute("SELECT identity, person FROM identities WHERE identity = ANY(%s)",
                                (identities,)).fetchall()
        persons = {p for _, p in rows}
        return persons.pop() if len(rows) == len(set(identities)) and len(persons) == 1 else None

    def link_identities(self, identities: list[str], now: float) -> str:
        with self._conn() as conn, conn.transaction():
            # linking is rare next to holds: one lock keeps concurrent merges consistent
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LINK_LOCK,))
            known = dict(conn.execute("SELECT identity, person FROM identities WHERE identity = ANY(%s)",
                                      (identities,)).fetchall())
            person, others, new = merge_persons(known, identities)
            if others:
                conn.execute("UPDATE identities SET person = %s WHERE person = ANY(%s)", (person, list(others)))
            if new:
                conn.cursor().executemany("INSERT INTO identities VALUES (%s, %s, %s)",
                                          [(i, person, now) for i in new])
            return person

    async def alink_identities(self, identities: list[str], now: float) -> str:
        return await asyncio.to_thread(self.link_identities, identities, now)

    def link_and_hit(self, identities: list[str], now: float, keys: list[str],
                     windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        """Apart: linking takes a global lock only when it must add or merge identities."""
        person = self.resolve_person(identities) or self.link_identities(identities, now)
        return person, self.hit_velocity(keys, now, windows)

    async def alink_and_hit(self, identities: list[str], now: float, keys: list[str],
                            windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        return await asyncio.to_thread(self.link_and_hit, identities, now, keys, windows)

    # personal data ---------------------------------------------------------------
    def put_contacts(self, records: list[ContactRecord]) -> None:
        with self._conn() as conn:
            conn.cursor().executemany(
                "INSERT INTO contacts VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(r.actor_key, r.kind, r.value_key, r.key_id, r.nonce, r.ciphertext, r.created_at)
                 for r in records],
            )

    def get_contacts(self, actor_key: str) -> list[ContactRecord]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT * FROM contacts WHERE actor_key = %s ORDER BY kind, created_at", (actor_key,)
            ).fetchall()
        return [ContactRecord(r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5]), r[6]) for r in rows]

    def all_contacts(self) -> list[ContactRecord]:
        with self._conn() as conn:
            rows = conn.execute("SELECT * FROM contacts ORDER BY actor_key, kind").fetchall()
        return [ContactRecord(r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5]), r[6]) for r in rows]

    def purge_contacts(self, before: float) -> int:
        with self._conn() as conn:
            return conn.execute("DELETE FROM contacts WHERE created_at < %s", (before,)).rowcount

    def append_audit(self, make: Callable[[int, str], AuditEntry]) -> AuditEntry:
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
            last = conn.execute("SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            entry = make((int(last[0]) + 1) if last else 1, last[1] if last else "")
            conn.execute("INSERT INTO audit VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         astuple_audit(entry))
            return entry

    def read_audit(self) -> list[AuditEntry]:
        with self._conn() as conn:
            rows = conn.execute("SELECT * FROM audit ORDER BY seq").fetchall()
        return [AuditEntry(int(r[0]), *r[1:]) for r in rows]

    # action log ----------------------------------------------------------------
    def read_actions(self, after_seq: int = 0, limit: int = 10_000) -> list[ActionRecord]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT seq, ts, verb, actor_key, target, pool_id, quantity, decision, score,"
                " reasons, attrs FROM actions WHERE seq > %s ORDER BY seq LIMIT %s",
                (after_seq, limit),
            ).fetchall()
        return [
            ActionRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], tuple(r[9]), r[10])
            for r in rows
        ]


def _idem_params(idem: IdempotencyKey | None) -> tuple[str | None, str | None, str | None]:
    if idem is None:
        return None, None, None
    return idem.scope, idem.key, idem.request_hash


def _pool_from_row(row: tuple[Any, ...]) -> Pool:
    return Pool(
        id=row[0],
        name=row[1],
        kind=row[2],
        capacity=int(row[3]),
        per_actor_limit=int(row[4]),
        hold_ttl_s=int(row[5]),
        light_thresholds=LightThresholds(row[6], row[7]),
        held=int(row[8]) - int(row[11]),
        confirmed=int(row[9]),
        created_at=row[10],
    )


def _redact(url: str) -> str:
    """Hide a password in a connection URL before it reaches a message."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


__all__ = ["PostgresStore"]
