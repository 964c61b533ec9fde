"""What both SQL backends share: the statements, written once, and the methods built on them.

A backend supplies the placeholder (`?` or `%s`) and a few hooks: how to run a
read, how to run a write transaction (SQLite: on the group-committing writer;
PostgreSQL: a pooled connection), how to serialise writers that must not
interleave (PostgreSQL's advisory locks; SQLite has one writer already), and
how JSON columns travel. The ledger's hold operations stay in each backend
(SQLite: `sqlite_ops` over `ledger.rules`; PostgreSQL: its server-side functions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from headcount.store.base import (
    CHALLENGE_RETENTION_S,
    RISK_BAND_SQL,
    ActionRecord,
    ActionRequest,
    ActionResult,
    ApiKeyRecord,
    AuditEntry,
    ChallengeRecord,
    ContactRecord,
    astuple_audit,
    budget_sql,
    challenge_from_row,
    challenge_sql,
    decide_budgets,
    owns,
    parse_hold_id,
    same_token,
    velocity_counts,
)
from headcount.store.blocks import COLUMNS as BLOCK_COLUMNS
from headcount.store.blocks import (
    StoredBlock,
    block_from_row,
    block_row,
    carry_detected_at,
    replace_sql,
)
from headcount.store.graph import GraphStore
from headcount.store.lottery import LotterySql
from headcount.store.turnout import TurnoutRow, turnout_params, turnout_rows, turnout_sql
from headcount.types import Hold, LightThresholds, Pool

T = TypeVar("T")
Conn = Any  # sqlite3.Connection or psycopg.Connection: both have execute() -> cursor

POOL_COLUMNS = (
    "id, name, kind, capacity, per_actor_limit, hold_ttl_s, light_yellow_at, light_red_at,"
    " held, confirmed, created_at, phone_region"
)
API_KEY_COLUMNS = "key_id, secret_hash, role, created_at, revoked, expires_at, revoked_at, label"
HOLD_COLUMNS = ("seq, token, pool_id, actor_key, quantity, status, created_at, expires_at, max_expires_at,"
                " owner")


class Statements:
    """Every statement the backends share, for one placeholder style."""

    def __init__(self, m: str) -> None:
        self.mark = m
        self.pool_select = (
            f"SELECT {POOL_COLUMNS},"
            " (SELECT coalesce(sum(quantity), 0) FROM holds h"
            f"   WHERE h.pool_id = pools.id AND h.status = 'held' AND h.expires_at <= {m})"
            " FROM pools"
        )
        self.pool_insert = (f"INSERT INTO pools ({POOL_COLUMNS}) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m},"
                            f" 0, 0, {m}, {m})")
        self.hold_by_token = f"SELECT {HOLD_COLUMNS} FROM holds WHERE token = {m}"
        self.actor_usage = (
            f"SELECT coalesce(sum(quantity), 0) FROM holds WHERE pool_id = {m} AND actor_key = {m}"
            f" AND (status = 'confirmed' OR (status = 'held' AND expires_at > {m}))"
        )
        self.expire_due = (
            "UPDATE holds SET status = 'expired'"
            f" WHERE pool_id = {m} AND status = 'held' AND expires_at <= {m} RETURNING quantity"
        )
        self.idem_lookup = f"SELECT request_hash, result, body FROM idempotency WHERE scope = {m} AND key = {m}"
        self.idem_insert = ("INSERT INTO idempotency (scope, key, request_hash, result, body, created_at)"
                            f" VALUES ({m}, {m}, {m}, {m}, {m}, {m})")
        self.log_hold = ("INSERT INTO actions (ts, verb, actor_key, target, pool_id, quantity, decision, score,"
                         f" reasons) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m}, {m}, {m})")
        self.log_action = ("INSERT INTO actions (ts, verb, actor_key, target, pool_id, quantity, decision, score,"
                           f" reasons, attrs) VALUES ({m}, {m}, {m}, {m}, NULL, 1, {m}, {m}, {m}, {m})")
        self.read_actions = ("SELECT seq, ts, verb, actor_key, target, pool_id, quantity, decision, score,"
                             f" reasons, attrs FROM actions WHERE seq > {m} ORDER BY seq LIMIT {m}")
        self.budget = budget_sql(m)
        self.api_key_insert = ("INSERT INTO api_keys (key_id, secret_hash, role, created_at, revoked,"
                               f" expires_at, label) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})")
        self.api_key_get = f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_id = {m}"
        self.api_key_list = f"SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id"
        self.api_key_revoke = (f"UPDATE api_keys SET revoked = {m}, revoked_at = {m}"
                               f" WHERE key_id = {m} AND revoked = {m}")
        self.velocity_hit = (f"INSERT INTO velocity (key, bucket, count) VALUES ({m}, {m}, 1)"
                             " ON CONFLICT (key, bucket) DO UPDATE SET count = velocity.count + 1")
        self.velocity_take_back = (f"UPDATE velocity SET count = count - 1"
                                   f" WHERE key = {m} AND bucket = {m} AND count > 0")
        self.velocity_sweep = f"DELETE FROM velocity WHERE bucket < {m}"
        self.challenge = challenge_sql(m)
        self.contacts_insert = (f"INSERT INTO contacts VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})"
                                " ON CONFLICT DO NOTHING")
        self.contacts_of = f"SELECT * FROM contacts WHERE actor_key = {m} ORDER BY kind, created_at"
        self.contacts_all = "SELECT * FROM contacts ORDER BY actor_key, kind"
        self.contacts_purge = f"DELETE FROM contacts WHERE created_at < {m}"
        self.audit_last = "SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1"
        self.audit_insert = f"INSERT INTO audit VALUES ({', '.join([m] * 10)})"
        self.audit_all = "SELECT * FROM audit ORDER BY seq"
        self.identity_insert = f"INSERT INTO identities VALUES ({m}, {m}, {m})"
        self.identity_merge = f"UPDATE identities SET person = {m} WHERE person = {m}"
        self.blocks = replace_sql(m)
        self.block_list = f"SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY detected_at DESC, score DESC LIMIT {m}"
        self.block_member_insert = f"INSERT INTO block_members VALUES ({m}, {m}) ON CONFLICT DO NOTHING"
        self.block_members = "SELECT DISTINCT actor_key FROM block_members"
        self.meta_ping = (f"INSERT INTO meta (key, value) VALUES ('ping', {m})"
                          " ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        self.meta_get = f"SELECT value FROM meta WHERE key = {m}"
        self.meta_put_absent = f"INSERT INTO meta (key, value) VALUES ({m}, {m}) ON CONFLICT (key) DO NOTHING"
        self.meta_keys = f"SELECT key FROM meta WHERE substr(key, 1, {m}) = {m} ORDER BY key"

    def identities_of(self, n: int) -> str:
        return f"SELECT identity, person FROM identities WHERE identity IN ({', '.join([self.mark] * n)})"

    def timeline(self, floor: str) -> str:
        m = self.mark
        return (f"SELECT {floor.format(f'created_at / {m}')} * {m} AS b, {RISK_BAND_SQL} AS band, sum(quantity)"
                f" FROM holds WHERE pool_id = {m} AND created_at >= {m} GROUP BY b, band ORDER BY b")


def pool_from_row(row: Sequence[Any]) -> Pool:
    """A pool from `pool_select`'s row: the last column is the quantity of holds already due."""
    return Pool(
        id=row[0], name=row[1], kind=row[2], capacity=int(row[3]), per_actor_limit=int(row[4]),
        hold_ttl_s=int(row[5]), light_thresholds=LightThresholds(row[6], row[7]),
        held=int(row[8]) - int(row[12]), confirmed=int(row[9]), created_at=row[10], phone_region=row[11],
    )


def api_key_from_row(row: Sequence[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(row[0], row[1], row[2], float(row[3]), bool(row[4]),
                        None if row[5] is None else float(row[5]), None if row[6] is None else float(row[6]), row[7])


def hold_from_row(hold_id: str, row: Sequence[Any]) -> Hold:
    return Hold(hold_id, row[2], row[3], int(row[4]), row[5], row[6], row[7], row[8], row[9])


def find_hold(rows: Sequence[Sequence[Any]], hold_id: str, owner: str | None) -> Sequence[Any] | None:
    """The row of `hold_id` among the rows with its token, if the caller may see it."""
    ref = parse_hold_id(hold_id)
    if ref is None:
        return None
    for row in rows:
        if (ref.seq is None or int(row[0]) == ref.seq) and same_token(row[1], ref.token) and owns(row[9], owner):
            return row
    return None


class SqlStore(GraphStore, LotterySql):
    """The methods both backends implement alike, over the hooks below."""

    sql: Statements
    #: how the dialect floors a number (for time buckets); `{}` is the expression
    floor_sql = "floor({})"

    # hooks ----------------------------------------------------------------------
    def _read(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` on a connection for reading."""
        raise NotImplementedError

    def _write(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` in one write transaction."""
        raise NotImplementedError

    async def _awrite(self, fn: Callable[[Conn], T]) -> T:
        raise NotImplementedError

    def _serialize(self, conn: Conn, what: str, key: str = "") -> None:
        """Make concurrent writers of `what` (audit, link, blocks, action) take turns, if needed."""

    def _many(self, conn: Conn, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            conn.executemany(sql, rows)

    def _json_in(self, value: Any) -> Any:
        """A value for a JSON column."""
        raise NotImplementedError

    def _json_out(self, value: Any) -> Any:
        """A JSON column's value as Python."""
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._read(lambda conn: conn.execute(sql, params).fetchall())

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._read(lambda conn: conn.execute(sql, params).fetchone())

    # pools ------------------------------------------------------------------------
    def get_pool(self, pool_id: str, now: float) -> Pool | None:
        row = self._one(self.sql.pool_select + f" WHERE id = {self.sql.mark}", (now, pool_id))
        return pool_from_row(row) if row else None

    def list_pools(self, now: float) -> list[Pool]:
        return [pool_from_row(r) for r in self._rows(self.sql.pool_select + " ORDER BY created_at, id", (now,))]

    # holds (reads) ------------------------------------------------------------------
    def get_hold(self, hold_id: str, owner: str | None = None) -> Hold | None:
        ref = parse_hold_id(hold_id)
        if ref is None:
            return None
        row = find_hold(self._rows(self.sql.hold_by_token, (ref.token,)), hold_id, owner)
        return None if row is None else hold_from_row(hold_id, row)

    def actor_usage(self, pool_id: str, actor_key: str, now: float) -> int:
        row = self._one(self.sql.actor_usage, (pool_id, actor_key, now))
        return int(row[0]) if row else 0

    def hold_timeline(self, pool_id: str, bucket_s: int, since: float) -> list[tuple[float, str, int]]:
        rows = self._rows(self.sql.timeline(self.floor_sql), (bucket_s, bucket_s, pool_id, since))
        return [(float(b), band, int(q)) for b, band, q in rows]

    # blocks -------------------------------------------------------------------------
    def replace_blocks(self, blocks: list[StoredBlock]) -> None:
        select, delete, insert = self.sql.blocks

        def op(conn: Conn) -> None:
            self._serialize(conn, "blocks")
            rows = carry_detected_at(blocks, dict(conn.execute(select).fetchall()))
            conn.execute(delete)  # members go with their blocks (ON DELETE CASCADE)
            self._many(conn, insert, [block_row(b) for b in rows])
            self._many(conn, self.sql.block_member_insert, [(a, b.id) for b in rows for a in b.actors])

        self._write(op)

    def list_blocks(self, limit: int = 100) -> list[StoredBlock]:
        return [block_from_row(r) for r in self._rows(self.sql.block_list, (limit,))]

    def block_members(self) -> frozenset[str]:
        return frozenset(r[0] for r in self._rows(self.sql.block_members))

    def pool_turnout(self, edges: Sequence[float], now: float,
                     pool_ids: Sequence[str] | None = None) -> list[TurnoutRow]:
        if pool_ids is not None and not pool_ids:
            return []
        sql = turnout_sql(edges, None if pool_ids is None else len(pool_ids), self.sql.mark)
        return turnout_rows(self._rows(sql, turnout_params(pool_ids, now)))

    # API keys -------------------------------------------------------------------------
    def add_api_key(self, record: ApiKeyRecord) -> None:
        params = (record.key_id, record.secret_hash, record.role, record.created_at, self._bool(record.revoked),
                  record.expires_at, record.label)
        self._write(lambda conn: conn.execute(self.sql.api_key_insert, params))

    def _bool(self, value: bool) -> Any:
        return value

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = self._one(self.sql.api_key_get, (key_id,))
        return None if row is None else api_key_from_row(row)

    def list_api_keys(self) -> list[ApiKeyRecord]:
        return [api_key_from_row(r) for r in self._rows(self.sql.api_key_list)]

    def revoke_api_key(self, key_id: str, now: float) -> bool:
        params = (self._bool(True), now, key_id, self._bool(False))
        return bool(self._write(lambda conn: conn.execute(self.sql.api_key_revoke, params).rowcount))

    # action log -------------------------------------------------------------------------
    def _action_op(self, action: ActionRequest) -> Callable[[Conn], ActionResult]:
        def op(conn: Conn) -> ActionResult:
            if action.denied:
                result = ActionResult(False, None, None)
            else:  # one person's actions of one verb are counted and appended one at a time
                self._serialize(conn, "action", f"{action.actor_key}\x1f{action.verb}")
                counts = [int(conn.execute(self.sql.budget, (action.actor_key, action.verb, action.ts - window,
                                                              action.ts)).fetchone()[0])
                          for _, window in action.budgets]
                result = decide_budgets(counts, action.budgets)
            decision = "allowed" if result.allowed else ("denied" if action.denied else "limited")
            conn.execute(self.sql.log_action, (
                action.ts, action.verb, action.actor_key, action.target, decision, action.score,
                self._json_in(list(action.reasons)), self._json_in(action.attrs or {})))
            return result

        return op

    def record_action(self, action: ActionRequest) -> ActionResult:
        return self._write(self._action_op(action))

    async def arecord_action(self, action: ActionRequest) -> ActionResult:
        return await self._awrite(self._action_op(action))

    def read_actions(self, after_seq: int = 0, limit: int = 10_000) -> list[ActionRecord]:
        return [
            ActionRecord(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7], r[8],
                         tuple(self._json_out(r[9])), self._json_out(r[10]))
            for r in self._rows(self.sql.read_actions, (after_seq, limit))
        ]

    # velocity -------------------------------------------------------------------------
    def _velocity_op(self, keys: list[str], now: float,
                     windows: tuple[int, ...]) -> Callable[[Conn], dict[str, tuple[int, ...]]]:
        def op(conn: Conn) -> dict[str, tuple[int, ...]]:
            minute = int(now // 60)
            self._many(conn, self.sql.velocity_hit, [(k, minute) for k in keys])
            return velocity_counts(conn, keys, minute, windows, self.sql.mark)

        return op

    def hit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return self._write(self._velocity_op(keys, now, windows)) if keys else {}

    async def ahit_velocity(self, keys: list[str], now: float,
                            windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return await self._awrite(self._velocity_op(keys, now, windows)) if keys else {}

    # challenges -------------------------------------------------------------------------
    def create_challenge(self, record: ChallengeRecord) -> None:
        r = record
        row = (r.id, r.actor_key, r.scope, r.score, self._text_json(list(r.reasons)), r.created_at, r.expires_at,
               r.passed_at, r.token_expires_at, r.redeemed_at, r.redeemed_by)
        self._write(lambda conn: conn.execute(self.sql.challenge["insert"], row))

    @staticmethod
    def _text_json(value: Any) -> str:
        import orjson

        return orjson.dumps(value).decode()

    def _challenge(self, conn: Conn, challenge_id: str) -> ChallengeRecord | None:
        import orjson

        row = conn.execute(self.sql.challenge["get"], (challenge_id,)).fetchone()
        return None if row is None else challenge_from_row(row, tuple(orjson.loads(row[4])))

    def get_challenge(self, challenge_id: str) -> ChallengeRecord | None:
        return self._read(lambda conn: self._challenge(conn, challenge_id))

    def pass_challenge(self, challenge_id: str, now: float, token_ttl_s: float) -> ChallengeRecord | None:
        def op(conn: Conn) -> ChallengeRecord | None:
            conn.execute(self.sql.challenge["pass"], (now, now + token_ttl_s, challenge_id, now))
            return self._challenge(conn, challenge_id)

        return self._write(op)

    def redeem_challenge(
        self, challenge_id: str, actor_key: str, scope: str, now: float, request_ref: str | None = None
    ) -> bool:
        params = (now, request_ref, challenge_id, actor_key, scope, now, request_ref)
        return self._write(lambda conn: conn.execute(self.sql.challenge["redeem"], params).rowcount == 1)

    def _sweep_side_tables(self, conn: Conn, now: float) -> None:
        conn.execute(self.sql.velocity_sweep, (int(now // 60) - 24 * 60 - 1,))
        conn.execute(self.sql.challenge["sweep"], (now - CHALLENGE_RETENTION_S,) * 2)

    # person linking -----------------------------------------------------------------------
    def resolve_person(self, identities: list[str]) -> str | None:
        rows = self._rows(self.sql.identities_of(len(identities)), identities)
        persons = {p for _, p in rows}
        return persons.pop() if len(rows) == len(set(identities)) and len(persons) == 1 else None

    def _link_op(self, identities: list[str], now: float) -> Callable[[Conn], str]:
        """Linking by `headcount.store.linking`'s rule (a shared device joins no household)."""
        return self._assign_op(identities, now)

    def link_identities(self, identities: list[str], now: float) -> str:
        return self._write(self._link_op(identities, now))

    async def alink_identities(self, identities: list[str], now: float) -> str:
        return await self._awrite(self._link_op(identities, now))

    # personal data ------------------------------------------------------------------------
    def put_contacts(self, records: list[ContactRecord]) -> None:
        rows = [(r.actor_key, r.kind, r.value_key, r.key_id, r.nonce, r.ciphertext, r.created_at) for r in records]
        self._write(lambda conn: self._many(conn, self.sql.contacts_insert, rows))

    @staticmethod
    def _contact(r: Sequence[Any]) -> ContactRecord:
        return ContactRecord(r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5]), r[6])

    def get_contacts(self, actor_key: str) -> list[ContactRecord]:
        return [self._contact(r) for r in self._rows(self.sql.contacts_of, (actor_key,))]

    def all_contacts(self) -> list[ContactRecord]:
        return [self._contact(r) for r in self._rows(self.sql.contacts_all)]

    def purge_contacts(self, before: float) -> int:
        return self._write(lambda conn: conn.execute(self.sql.contacts_purge, (before,)).rowcount)

    def append_audit(self, make: Callable[[int, str], AuditEntry]) -> AuditEntry:
        def op(conn: Conn) -> AuditEntry:
            self._serialize(conn, "audit")
            last = conn.execute(self.sql.audit_last).fetchone()
            entry = make((int(last[0]) + 1) if last else 1, last[1] if last else "")
            conn.execute(self.sql.audit_insert, astuple_audit(entry))
            return entry

        return self._write(op)

    def read_audit(self) -> list[AuditEntry]:
        return [AuditEntry(int(r[0]), *r[1:]) for r in self._rows(self.sql.audit_all)]

    # the store's own facts (key checks, a kept key ring) ----------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one(self.sql.meta_get, (key,))
        return row[0] if row else None

    def put_meta_if_absent(self, key: str, value: str) -> str:
        """Store `value` under `key` unless one is there; the value that is there after."""
        def op(conn: Conn) -> str:
            conn.execute(self.sql.meta_put_absent, (key, value))
            return conn.execute(self.sql.meta_get, (key,)).fetchone()[0]

        return self._write(op)

    def meta_keys(self, prefix: str) -> list[str]:
        return [r[0] for r in self._rows(self.sql.meta_keys, (len(prefix), prefix))]
