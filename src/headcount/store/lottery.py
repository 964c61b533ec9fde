"""Lottery pools in the store: allocations, registrations, the draw's writes and the pass-down.

Written once over `SqlStore`'s hooks (`_read`, `_write`, `_serialize`), so SQLite and
PostgreSQL run the same statements. Concurrency:

- a registration takes the pool's lottery lock shared (PostgreSQL; SQLite has one
  writer) and is refused once the allocation is closed, so `close_allocation`,
  which takes it exclusively, returns only after every registration that got in
  has committed: the draw reads a complete set;
- the draw is written with `UPDATE ... WHERE drawn_at IS NULL`: of two concurrent
  draws (two processes, or staff twice) one writes, the other reads that one back;
- the pass-down takes the lock exclusively, so two processes never promote twice.

A lottery pool's ledger capacity always equals the seats the lottery has issued and
not lost (held or confirmed), so no hold made outside the draw finds a free seat.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from headcount.store.base import format_hold_id, new_hold_token

T = TypeVar("T")

REG_STATUSES = ("registered", "won", "waitlisted", "refused", "confirmed", "lapsed")
_ALLOC_COLUMNS = ("pool_id, mode, closes_at, confirm_within_s, overbook_risk, capacity, seed, commitment,"
                  " created_at, closed, drawn_at, draw")
_REG_COLUMNS = ("r.token, r.pool_id, r.actor_key, r.quantity, r.risk_score, r.risk_reasons, r.identities,"
                " r.network, r.device, r.owner, r.created_at, r.status, r.position, r.hold_token, r.note,"
                " h.status, h.expires_at, r.phone_block, r.phone_run")
_CHUNK = 500


@dataclass(frozen=True)
class AllocationRecord:
    pool_id: str
    mode: str
    closes_at: float
    confirm_within_s: int
    overbook_risk: float
    capacity: int  # the venue's places
    seed: str
    commitment: str
    created_at: float
    closed: bool = False
    drawn_at: float | None = None
    draw: dict[str, Any] | None = None


@dataclass(frozen=True)
class RegistrationRecord:
    id: str  # "r_" + token
    pool_id: str
    actor_key: str
    quantity: int
    risk_score: float
    risk_reasons: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    network: str | None = None
    device: str | None = None
    owner: str | None = None
    created_at: float = 0.0
    status: str = "registered"
    position: int | None = None
    hold_id: str | None = None
    note: str | None = None
    hold_status: str | None = None  # the win's hold as it stands (held, confirmed, released, expired)
    hold_expires_at: float | None = None
    phone_block: str | None = None
    phone_run: str | None = None


@dataclass(frozen=True)
class Win:
    """A hold the draw (or the pass-down) gives a registration."""

    registration_id: str
    quantity: int
    actor_key: str
    risk_score: float
    owner: str | None


@dataclass
class PassDown:
    """What one pass-down round did."""

    confirmed: list[str] = field(default_factory=list)
    lapsed: list[str] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)


def new_registration_id() -> str:
    return "r_" + secrets.token_urlsafe(16)


def _token(registration_id: str) -> str:
    return registration_id[2:] if registration_id.startswith("r_") else registration_id


def _loads(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


class LotterySql:
    """The `Lottery` port over `SqlStore`'s hooks (mixed into `SqlStore`)."""

    sql: Any

    if TYPE_CHECKING:  # SqlStore's hooks, which this mixin runs its ops through
        def _read(self, fn: Callable[[Any], T]) -> T: ...
        def _write(self, fn: Callable[[Any], T]) -> T: ...
        def _serialize(self, conn: Any, what: str, key: str = "") -> None: ...
        def _many(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None: ...
        def _json_in(self, value: Any) -> Any: ...

    def _marks(self, n: int) -> str:
        return ", ".join([self.sql.mark] * n)

    # allocations -----------------------------------------------------------------------
    def create_allocation(self, a: AllocationRecord) -> AllocationRecord:
        """Attach an allocation to a pool (once: an existing one is returned as it is)."""
        def op(conn: Any) -> None:
            conn.execute(f"INSERT INTO allocations ({_ALLOC_COLUMNS}) VALUES ({self._marks(12)})"
                         " ON CONFLICT (pool_id) DO NOTHING",
                         (a.pool_id, a.mode, a.closes_at, a.confirm_within_s, a.overbook_risk, a.capacity, a.seed,
                          a.commitment, a.created_at, 0, None, None))

        self._write(op)
        got = self.get_allocation(a.pool_id)
        assert got is not None
        return got

    @staticmethod
    def _allocation(row: Sequence[Any]) -> AllocationRecord:
        return AllocationRecord(row[0], row[1], float(row[2]), int(row[3]), float(row[4]), int(row[5]), row[6],
                                row[7], float(row[8]), bool(row[9]), None if row[10] is None else float(row[10]),
                                _loads(row[11]))

    def get_allocation(self, pool_id: str) -> AllocationRecord | None:
        row = self._read(lambda conn: conn.execute(
            f"SELECT {_ALLOC_COLUMNS} FROM allocations WHERE pool_id = {self.sql.mark}", (pool_id,)).fetchone())
        return None if row is None else self._allocation(row)

    def due_allocations(self, now: float) -> list[str]:
        """Pools whose window has closed and whose draw is not made yet."""
        rows = self._read(lambda conn: conn.execute(
            f"SELECT pool_id FROM allocations WHERE drawn_at IS NULL AND closes_at <= {self.sql.mark}"
            " ORDER BY closes_at", (now,)).fetchall())
        return [r[0] for r in rows]

    def drawn_allocations(self) -> list[str]:
        """Pools with a draw whose waitlist may still move."""
        rows = self._read(lambda conn: conn.execute(
            "SELECT pool_id FROM allocations WHERE drawn_at IS NOT NULL ORDER BY drawn_at").fetchall())
        return [r[0] for r in rows]

    def close_allocation(self, pool_id: str) -> None:
        """Take no more registrations; returns once every registration that got in has committed."""
        def op(conn: Any) -> None:
            self._serialize(conn, "lottery", pool_id)
            conn.execute(f"UPDATE allocations SET closed = 1 WHERE pool_id = {self.sql.mark}", (pool_id,))

        self._write(op)

    # registrations -----------------------------------------------------------------------
    def register(self, r: RegistrationRecord, now: float) -> tuple[str, RegistrationRecord | None]:
        """("created" | "existing", the registration) or ("closed" | "no_lottery", None).

        One registration per person and pool: a second one answers with the first."""
        m = self.sql.mark

        def op(conn: Any) -> tuple[str, str | None]:
            self._serialize(conn, "lottery_shared", r.pool_id)
            alloc = conn.execute(f"SELECT closes_at, closed FROM allocations WHERE pool_id = {m}",
                                 (r.pool_id,)).fetchone()
            if alloc is None:
                return "no_lottery", None
            if int(alloc[1]) or now >= float(alloc[0]):
                return "closed", None
            known = conn.execute(f"SELECT token FROM registrations WHERE pool_id = {m} AND actor_key = {m}",
                                 (r.pool_id, r.actor_key)).fetchone()
            if known is not None:
                return "existing", "r_" + known[0]
            conn.execute(
                "INSERT INTO registrations (token, pool_id, actor_key, quantity, risk_score, risk_reasons,"
                f" identities, network, device, owner, created_at, phone_block, phone_run) VALUES ({self._marks(13)})",
                (_token(r.id), r.pool_id, r.actor_key, r.quantity, r.risk_score,
                 orjson.dumps(list(r.risk_reasons)).decode(), orjson.dumps(list(r.identities)).decode(),
                 r.network, r.device, r.owner, now, r.phone_block, r.phone_run))
            return "created", r.id

        what, rid = self._write(op)
        return what, (None if rid is None else self.get_registration(rid))

    def _reg_select(self, where: str) -> str:
        return (f"SELECT {_REG_COLUMNS} FROM registrations r LEFT JOIN holds h ON h.token = r.hold_token"
                f" WHERE {where}")

    @staticmethod
    def _registration(row: Sequence[Any]) -> RegistrationRecord:
        return RegistrationRecord(
            "r_" + row[0], row[1], row[2], int(row[3]), float(row[4]), tuple(_loads(row[5]) or ()),
            tuple(_loads(row[6]) or ()), row[7], row[8], row[9], float(row[10]), row[11],
            None if row[12] is None else int(row[12]), None if row[13] is None else format_hold_id(row[13]),
            row[14], row[15], None if row[16] is None else float(row[16]), row[17], row[18])

    def get_registration(self, registration_id: str) -> RegistrationRecord | None:
        if not isinstance(registration_id, str) or not registration_id.startswith("r_") or len(registration_id) > 64:
            return None
        row = self._read(lambda conn: conn.execute(self._reg_select(f"r.token = {self.sql.mark}"),
                                                   (_token(registration_id),)).fetchone())
        return None if row is None else self._registration(row)

    def registrations(self, pool_id: str) -> list[RegistrationRecord]:
        rows = self._read(lambda conn: conn.execute(
            self._reg_select(f"r.pool_id = {self.sql.mark}") + " ORDER BY r.seq", (pool_id,)).fetchall())
        return [self._registration(r) for r in rows]

    def registration_counts(self, pool_id: str) -> dict[str, tuple[int, int]]:
        """(registrations, seats) per status."""
        rows = self._read(lambda conn: conn.execute(
            f"SELECT status, count(*), coalesce(sum(quantity), 0) FROM registrations WHERE pool_id = {self.sql.mark}"
            " GROUP BY status", (pool_id,)).fetchall())
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def persons_of(self, identities: Sequence[str]) -> dict[str, str]:
        """The person each identity key belongs to now (linking may have merged persons since)."""
        wanted = sorted(set(identities))
        out: dict[str, str] = {}
        for k in range(0, len(wanted), _CHUNK):
            chunk = wanted[k:k + _CHUNK]
            rows = self._read(functools.partial(self._identities_of, chunk))
            out.update({i: p for i, p in rows})
        return out

    def _identities_of(self, chunk: list[str], conn: Any) -> list[Any]:
        return list(conn.execute(self.sql.identities_of(len(chunk)), chunk).fetchall())

    # the draw ---------------------------------------------------------------------------------
    def _issue(self, conn: Any, pool_id: str, win: Win, now: float, ttl_s: float, note: str) -> None:
        m = self.sql.mark
        token = new_hold_token()
        conn.execute(
            "INSERT INTO holds (token, pool_id, actor_key, quantity, status, created_at, ttl_s, expires_at,"
            f" max_expires_at, risk_score, risk_reasons, owner) VALUES ({m}, {m}, {m}, {m}, 'held', {m}, {m}, {m},"
            f" {m}, {m}, {m}, {m})",
            (token, pool_id, win.actor_key, win.quantity, now, ttl_s, now + ttl_s, now + ttl_s, win.risk_score,
             self._lottery_json(["lottery_win"]), win.owner))
        conn.execute(f"UPDATE registrations SET status = 'won', hold_token = {m}, note = {m} WHERE token = {m}",
                     (token, note, _token(win.registration_id)))
        conn.execute(f"UPDATE pools SET capacity = capacity + {m}, held = held + {m} WHERE id = {m}",
                     (win.quantity, win.quantity, pool_id))

    def _lottery_json(self, value: Any) -> Any:
        return self._json_in(value)  # type: ignore[attr-defined]

    def save_draw(self, pool_id: str, draw: dict[str, Any], statuses: dict[str, tuple[str, int | None, str | None]],
                  wins: Sequence[Win], now: float, ttl_s: float) -> bool:
        """Write the draw once: True if this call wrote it, False if a draw was there already.

        `statuses`: registration id -> (status, position in the draw order, note) for every
        registration that did not win; `wins` get their holds (`ttl_s` to confirm)."""
        m = self.sql.mark
        blob = orjson.dumps(draw).decode()

        def op(conn: Any) -> bool:
            self._serialize(conn, "lottery", pool_id)
            cur = conn.execute(f"UPDATE allocations SET drawn_at = {m}, draw = {m}, closed = 1"
                               f" WHERE pool_id = {m} AND drawn_at IS NULL", (now, blob, pool_id))
            if cur.rowcount != 1:
                return False
            rows = [(status, position, note, _token(rid)) for rid, (status, position, note) in statuses.items()]
            self._many(conn, f"UPDATE registrations SET status = {m}, position = {m}, note = {m}"  # type: ignore[attr-defined]
                             f" WHERE token = {m}", rows)
            for win in wins:
                self._issue(conn, pool_id, win, now, ttl_s, "drawn")
            return True

        return bool(self._write(op))

    def pass_down(self, pool_id: str, now: float, ttl_s: float) -> PassDown:
        """Confirmed wins become `confirmed`; lapsed or declined ones pass to the waitlist, in order."""
        m = self.sql.mark
        out = PassDown()

        def op(conn: Any) -> None:
            self._serialize(conn, "lottery", pool_id)
            rows = conn.execute(
                "SELECT r.token, r.quantity, r.status, h.status, h.expires_at, h.token FROM registrations r"
                f" JOIN holds h ON h.token = r.hold_token WHERE r.pool_id = {m}"
                " AND r.status IN ('won', 'confirmed')", (pool_id,)).fetchall()
            freed = 0
            for token, quantity, status, hold_status, expires_at, hold_token in rows:
                q = int(quantity)
                if hold_status == "held" and float(expires_at) <= now:  # lapsed, not yet swept
                    conn.execute(f"UPDATE holds SET status = 'expired' WHERE token = {m} AND status = 'held'",
                                 (hold_token,))
                    conn.execute(f"UPDATE pools SET held = held - {m} WHERE id = {m}", (q, pool_id))
                    hold_status = "expired"
                if hold_status == "confirmed" and status == "won":
                    conn.execute(f"UPDATE registrations SET status = 'confirmed' WHERE token = {m}", (token,))
                    out.confirmed.append("r_" + token)
                elif hold_status in ("expired", "released"):
                    conn.execute(f"UPDATE registrations SET status = 'lapsed' WHERE token = {m}", (token,))
                    out.lapsed.append("r_" + token)
                    freed += q
            if not freed:
                return
            conn.execute(f"UPDATE pools SET capacity = capacity - {m} WHERE id = {m}", (freed, pool_id))
            waiting = conn.execute(
                "SELECT token, quantity, actor_key, risk_score, owner FROM registrations"
                f" WHERE pool_id = {m} AND status = 'waitlisted' ORDER BY position", (pool_id,)).fetchall()
            for token, quantity, actor_key, risk_score, owner in waiting:
                if freed <= 0:
                    break
                q = int(quantity)
                if q > freed:
                    continue
                self._issue(conn, pool_id, Win("r_" + token, q, actor_key, float(risk_score), owner), now, ttl_s,
                            "passed_down")
                out.promoted.append("r_" + token)
                freed -= q

        self._write(op)
        return out
