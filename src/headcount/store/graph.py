"""The identity graph in the store, shared by every server process (issue 12).

Four things, all plain SQL over the hooks of `SqlStore`, so SQLite and PostgreSQL
do the same:

- **linking** (`_assign_op`, behind `link_identities`): the rule of `headcount.store.linking`, under the link lock;
- **fan-out** (`record_graph`): for the keys of an accepted hold, every pair not
  seen before adds one to each side's count of distinct partners of that kind;
- **behaviour memory**: the keys behind each hold, so that confirmed and
  abandoned (expired or released unconfirmed) holds count for them;
- **verified identities** and the codes that verify them.

Only accepted holds write here: a refused or denied request leaves the graph as it was.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from headcount.store.base import format_hold_id, velocity_counts
from headcount.store.linking import assign_person, kind_of

T = TypeVar("T")
Conn = Any

#: kinds whose distinct partners are counted (the subjects of fan-out reasons)
SUBJECTS = frozenset({"dev", "email", "tel", "net", "blk", "area"})
#: kinds whose holds are remembered (what a person brings of their own)
REMEMBERED = frozenset({"dev", "email", "tel", "id"})
#: what linking reads of a known person
MEMBER_KINDS = frozenset({"email", "id", "dev"})
#: a verification code's life and its wrong guesses before it is spent
CODE_TTL_S = 900.0
CODE_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class KeyView:
    """What the store knows of one identity key."""

    person: str | None = None
    partners: dict[str, int] = field(default_factory=dict)  # kind -> distinct partners seen
    confirmed: int = 0
    abandoned: int = 0
    verified: bool = False
    linked: frozenset[str] = frozenset()  # which of the asked keys are already its partners


@dataclass(frozen=True, slots=True)
class Verification:
    id: str
    identity: str
    expires_at: float
    code: str | None = None  # only when issued
    confirmed_at: float | None = None


#: a velocity key's condition: None (always counts), an identity that must be new, or
#: (identity, within): the identity must be new next to `within` (a person new to a network)
Guard = str | tuple[str, str] | None

#: judged inside the write, on the view and the counts with this request's hits: True when
#: the request is refused, and its hits are taken back (a refused attempt spends no budget)
Refused = Callable[[dict[str, "KeyView"], dict[str, tuple[int, ...]]], bool]


def _device_pairs(keys: Sequence[str]) -> list[tuple[str, str]]:
    """(device, partner) for every other key of a request: only its owner sends a device id,
    so its attempts may count at once, refused or not, without harming anyone else."""
    devices = [k for k in keys if kind_of(k) == "dev"]
    return [(d, k) for d in devices for k in dict.fromkeys(keys) if kind_of(k) != "dev"]


def _code_hash(verification_id: str, code: str) -> str:
    return hashlib.sha256(f"{verification_id}\x1f{code}".encode()).hexdigest()


class GraphStore:
    """Mixed into `SqlStore`; uses its `_read`, `_write`, `_awrite`, `_serialize`, `sql`."""

    sql: Any
    _read: Callable[..., Any]
    _write: Callable[..., Any]
    _awrite: Callable[..., Any]
    _serialize: Callable[..., None]
    _many: Callable[..., None]

    def _in(self, n: int) -> str:
        return ", ".join([self.sql.mark] * n)

    # reading -------------------------------------------------------------------
    def _view(self, conn: Conn, keys: Sequence[str], now: float) -> dict[str, KeyView]:
        if not keys:
            return {}
        keys = list(dict.fromkeys(keys))
        marks, m = self._in(len(keys)), self.sql.mark
        persons = dict(conn.execute(f"SELECT identity, person FROM identities WHERE identity IN ({marks})",
                                    keys).fetchall())
        partners: dict[str, dict[str, int]] = {}
        for identity, fact, n in conn.execute(
                f"SELECT identity, fact, n FROM identity_facts WHERE identity IN ({marks})", keys):
            if fact.startswith("p:"):
                partners.setdefault(identity, {})[fact[2:]] = int(n)
        memory = {identity: (int(c or 0), int(a or 0)) for identity, c, a in conn.execute(
            "SELECT hk.identity, sum(CASE WHEN h.status = 'confirmed' THEN 1 ELSE 0 END),"
            " sum(CASE WHEN h.status IN ('released', 'expired')"
            f"          OR (h.status = 'held' AND h.expires_at <= {m}) THEN 1 ELSE 0 END)"
            f" FROM hold_keys hk JOIN holds h ON h.token = hk.token WHERE hk.identity IN ({marks})"
            " GROUP BY hk.identity", [now, *keys])}
        verified = {r[0] for r in conn.execute(f"SELECT identity FROM verified WHERE identity IN ({marks})", keys)}
        linked: dict[str, set[str]] = {}
        if partners:
            for a, b in conn.execute(f"SELECT a, b FROM identity_pairs WHERE a IN ({marks}) AND b IN ({marks})",
                                     [*keys, *keys]):
                linked.setdefault(a, set()).add(b)
        return {k: KeyView(persons.get(k), partners.get(k, {}), *memory.get(k, (0, 0)), k in verified,
                           frozenset(linked.get(k, ()))) for k in keys}

    def graph_view(self, keys: Sequence[str], now: float) -> dict[str, KeyView]:
        return self._read(lambda conn: self._view(conn, keys, now))  # type: ignore[no-any-return]

    def _view_and_hit_op(self, keys: Sequence[str], now: float, rate_keys: dict[str, Guard],
                         windows: tuple[int, ...], refused: Refused | None = None,
                         ) -> Callable[[Conn], tuple[dict[str, KeyView], dict[str, tuple[int, ...]]]]:
        """The view of `keys`, then a velocity hit for each rate key whose guard key (if any) is new;
        the hits are taken back when `refused` says the request is refused."""

        device_pairs = _device_pairs(keys)

        def new(guard: Guard, view: dict[str, KeyView], added: set[tuple[str, str]]) -> bool:
            if guard is None:
                return True
            if isinstance(guard, str):
                return view.get(guard, KeyView()).person is None
            key, within = guard  # new next to `within`: the pair is new now, or neither lists the other
            if (key, within) in added:
                return True
            return key not in view.get(within, KeyView()).linked and within not in view.get(key, KeyView()).linked

        def op(conn: Conn) -> tuple[dict[str, KeyView], dict[str, tuple[int, ...]]]:
            # a device's own attempts count first, so a burst from one device sees itself grow
            added = self._add_pairs(conn, device_pairs)
            view = self._view(conn, keys, now)
            hit = [k for k, guard in rate_keys.items() if new(guard, view, added)]
            minute = int(now // 60)
            self._many(conn, self.sql.velocity_hit, [(k, minute) for k in hit])
            counts = velocity_counts(conn, hit, minute, windows, self.sql.mark)
            if hit and refused is not None and refused(view, counts):
                # a flood of refused fakes behind a carrier NAT must not use up its real people's budget
                self._many(conn, self.sql.velocity_take_back, [(k, minute) for k in hit])
            return view, counts

        return op

    def view_and_hit(self, keys: Sequence[str], now: float, rate_keys: dict[str, Guard],
                     windows: tuple[int, ...], refused: Refused | None = None,
                     ) -> tuple[dict[str, KeyView], dict[str, tuple[int, ...]]]:
        """One write: what the store knows of `keys`, and the velocity counts after this request.

        `rate_keys`: velocity key -> an identity key that must be new for the hit to count
        (a number block counts new numbers, not a family's repeated one), or None.
        `refused`: judges the request in the same write; a refused one's hits do not stay."""
        return self._write(  # type: ignore[no-any-return]
            self._view_and_hit_op(keys, now, rate_keys, windows, refused))

    async def aview_and_hit(self, keys: Sequence[str], now: float, rate_keys: dict[str, Guard],
                            windows: tuple[int, ...], refused: Refused | None = None,
                            ) -> tuple[dict[str, KeyView], dict[str, tuple[int, ...]]]:
        return await self._awrite(  # type: ignore[no-any-return]
            self._view_and_hit_op(keys, now, rate_keys, windows, refused))

    # linking -------------------------------------------------------------------
    def _assign_op(self, keys: list[str], now: float) -> Callable[[Conn], str]:
        def op(conn: Conn) -> str:
            self._serialize(conn, "link")
            marks = self._in(len(keys))
            known = dict(conn.execute(f"SELECT identity, person FROM identities WHERE identity IN ({marks})",
                                      keys).fetchall())
            members: dict[str, list[str]] = {}
            persons = sorted(set(known.values()))
            if persons:
                for person, identity in conn.execute(
                        f"SELECT person, identity FROM identities WHERE person IN ({self._in(len(persons))})",
                        persons):
                    if kind_of(identity) in MEMBER_KINDS:
                        members.setdefault(person, []).append(identity)
            verified = {r[0] for r in conn.execute(f"SELECT identity FROM verified WHERE identity IN ({marks})",
                                                   keys)}
            person, folded, new = assign_person(keys, known, members, verified)
            self._many(conn, self.sql.identity_merge, [(person, other) for other in sorted(folded)])
            self._many(conn, self.sql.identity_insert, [(i, person, now) for i in new])
            return person

        return op

    # fan-out and memory ----------------------------------------------------------
    def _add_pairs(self, conn: Conn, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Each pair not seen before adds one to its first key's count of partners of that kind;
        the pairs that were new."""
        m = self.sql.mark
        added: set[tuple[str, str]] = set()
        for a, b in pairs:
            cur = conn.execute(f"INSERT INTO identity_pairs (a, b) VALUES ({m}, {m}) ON CONFLICT DO NOTHING", (a, b))
            if cur.rowcount == 1:
                added.add((a, b))
                conn.execute(f"INSERT INTO identity_facts (identity, fact, n) VALUES ({m}, {m}, 1)"
                             " ON CONFLICT (identity, fact) DO UPDATE SET n = identity_facts.n + 1",
                             (a, f"p:{kind_of(b)}"))
        return added

    def _record_op(self, keys: Sequence[str], token: str) -> Callable[[Conn], None]:
        keys = list(dict.fromkeys(keys))
        pairs = [(a, b) for a in keys if kind_of(a) in SUBJECTS for b in keys if kind_of(b) != kind_of(a)]
        m = self.sql.mark

        def op(conn: Conn) -> None:
            self._add_pairs(conn, pairs)
            self._many(conn, f"INSERT INTO hold_keys (identity, token) VALUES ({m}, {m}) ON CONFLICT DO NOTHING",
                       [(k, token) for k in keys if kind_of(k) in REMEMBERED])

        return op

    def record_graph(self, keys: Sequence[str], hold_id: str) -> None:
        """After an accepted hold: its keys' new partners, and the hold for their memory."""
        self._write(self._record_op(keys, hold_id.removeprefix("h_")))

    async def arecord_graph(self, keys: Sequence[str], hold_id: str) -> None:
        await self._awrite(self._record_op(keys, hold_id.removeprefix("h_")))

    def holds_behind(self, keys: Sequence[str], now: float, limit: int = 10_000) -> list[str]:
        """The live holds a key made (to take back a farm's): read from the hold memory."""
        keys = [k for k in dict.fromkeys(keys) if kind_of(k) in REMEMBERED]
        if not keys:
            return []
        m = self.sql.mark
        sql = ("SELECT DISTINCT h.token FROM hold_keys hk JOIN holds h ON h.token = hk.token"
               f" WHERE hk.identity IN ({self._in(len(keys))})"
               f" AND (h.status = 'confirmed' OR (h.status = 'held' AND h.expires_at > {m})) LIMIT {int(limit)}")
        rows = self._read(lambda conn: conn.execute(sql, [*keys, now]).fetchall())
        return [format_hold_id(r[0]) for r in rows]

    # verification ----------------------------------------------------------------
    def issue_verification(self, identity: str, now: float, ttl_s: float = CODE_TTL_S) -> Verification:
        """A code for `identity`, to be delivered by the client through its own channel."""
        vid, code = f"v_{secrets.token_urlsafe(12)}", f"{secrets.randbelow(10**6):06d}"
        m = self.sql.mark
        self._write(lambda conn: conn.execute(
            f"INSERT INTO verifications (id, identity, code_hash, created_at, expires_at) VALUES"
            f" ({m}, {m}, {m}, {m}, {m})", (vid, identity, _code_hash(vid, code), now, now + ttl_s)))
        return Verification(vid, identity, now + ttl_s, code=code)

    def confirm_verification(self, verification_id: str, code: str, now: float) -> Verification | str:
        """The confirmed verification, or why not: 'unknown', 'expired', 'spent' or 'wrong_code'.

        A confirmed identity starts a person of its own: holds that someone else made
        by typing it before it was verified stay with that someone."""
        m = self.sql.mark

        def op(conn: Conn) -> Verification | str:
            row = conn.execute(f"SELECT identity, code_hash, expires_at, attempts, confirmed_at FROM verifications"
                               f" WHERE id = {m}", (verification_id,)).fetchone()
            if row is None:
                return "unknown"
            identity, code_hash, expires_at, attempts, confirmed_at = row
            if confirmed_at is not None:
                return Verification(verification_id, identity, expires_at, confirmed_at=confirmed_at)
            if expires_at <= now or attempts >= CODE_ATTEMPTS:
                return "expired" if expires_at <= now else "spent"
            if not hmac.compare_digest(code_hash, _code_hash(verification_id, code)):
                conn.execute(f"UPDATE verifications SET attempts = attempts + 1 WHERE id = {m}", (verification_id,))
                return "wrong_code"
            conn.execute(f"UPDATE verifications SET confirmed_at = {m} WHERE id = {m}", (now, verification_id))
            already = conn.execute(f"SELECT 1 FROM verified WHERE identity = {m}", (identity,)).fetchone()
            if already is None:
                conn.execute(f"INSERT INTO verified (identity, verified_at) VALUES ({m}, {m})", (identity, now))
                self._serialize(conn, "link")
                person = f"{identity}#{int(now * 1000):x}"
                if conn.execute(f"UPDATE identities SET person = {m} WHERE identity = {m}",
                                (person, identity)).rowcount == 0:
                    conn.execute(self.sql.identity_insert, (identity, person, now))
            return Verification(verification_id, identity, expires_at, confirmed_at=now)

        return self._write(op)  # type: ignore[no-any-return]

    def is_verified(self, identities: Sequence[str]) -> bool:
        """Whether any of these identities is verified."""
        if not identities:
            return False
        ids = list(identities)
        row = self._read(lambda conn: conn.execute(
            f"SELECT 1 FROM verified WHERE identity IN ({self._in(len(ids))}) LIMIT 1", ids).fetchone())
        return row is not None

    def person_verified(self, person: str) -> bool:
        """Whether a person holds a verified identity (double opt-in for confirmations)."""
        m = self.sql.mark
        row = self._read(lambda conn: conn.execute(
            f"SELECT 1 FROM identities i JOIN verified v ON v.identity = i.identity WHERE i.person = {m} LIMIT 1",
            (person,)).fetchone())
        return row is not None
