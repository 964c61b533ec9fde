"""The store interface every backend implements.

Operations are at the granularity of ledger operations, not SQL statements: a
hold must be checked and written atomically, and each backend does that in its
own best way (a grouped write transaction on SQLite, one server-side function
call on PostgreSQL). The same test suite runs against every backend.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: Idempotency records are kept this long; a replay after that is a new request.
IDEMPOTENCY_RETENTION_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    secret_hash: str
    role: str
    created_at: float
    revoked: bool = False
    #: Unix time after which the key no longer works (None: never)
    expires_at: float | None = None
    revoked_at: float | None = None
    #: whose key it is, for people reading `headcount keys list` (never a secret)
    label: str | None = None

    def usable(self, now: float) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One row of the action log: every ledger decision and every action."""

    seq: int
    ts: float
    verb: str
    actor_key: str
    target: str
    pool_id: str | None
    quantity: int
    decision: str
    score: float
    reasons: tuple[str, ...]
    attrs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """An action to log: allowed only if every budget (limit, window_s) has room."""

    actor_key: str
    verb: str
    target: str
    ts: float
    budgets: tuple[tuple[int, int], ...]
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    attrs: dict[str, Any] | None = None
    denied: bool = False  # the guard refused: log it, count nothing


@dataclass(frozen=True, slots=True)
class ActionResult:
    allowed: bool
    remaining: int | None  # room left in the tightest budget after this action
    exceeded: tuple[int, int] | None  # the (limit, window_s) that refused it


def budget_sql(param: str) -> str:
    """The count behind a budget; its WHERE matches the partial index `actions_budget`."""
    return (
        f"SELECT count(*) FROM actions WHERE actor_key = {param} AND verb = {param} AND ts > {param}"
        " AND ts <= {p} AND verb NOT IN ('hold', 'confirm', 'release') AND decision = 'allowed'"
    ).replace("{p}", param)


def velocity_counts(conn: Any, keys: Sequence[str], minute: int, windows: tuple[int, ...],
                    param: str) -> dict[str, tuple[int, ...]]:
    """Each key's counts over every window, in one query (a request hits several keys at once)."""
    if not keys:
        return {}
    keys = list(dict.fromkeys(keys))
    sums = ", ".join(f"coalesce(sum(count) FILTER (WHERE bucket > {param}), 0)" for _ in windows)
    marks = ", ".join([param] * len(keys))
    sql = f"SELECT key, {sums} FROM velocity WHERE key IN ({marks}) AND bucket > {param} GROUP BY key"
    params = (*(minute - w // 60 for w in windows), *keys, minute - max(windows) // 60)
    counts = {row[0]: tuple(int(n) for n in row[1:]) for row in conn.execute(sql, params).fetchall()}
    return {k: counts.get(k, (0,) * len(windows)) for k in keys}


def decide_budgets(counts: list[int], budgets: tuple[tuple[int, int], ...]) -> ActionResult:
    remaining: int | None = None
    for (limit, window), used in zip(budgets, counts, strict=True):
        if used >= limit:
            return ActionResult(False, 0, (limit, window))
        room = limit - used - 1
        remaining = room if remaining is None else min(remaining, room)
    return ActionResult(True, remaining, None)


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """One raw contact value, encrypted (AES-GCM) under the key ring's `key_id`."""

    actor_key: str
    kind: str
    value_key: str
    key_id: str
    nonce: bytes
    ciphertext: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One read of personal data; `mac` chains it to the entry before."""

    seq: int
    ts: float
    who: str
    role: str
    action: str
    subject: str
    reason: str
    key_id: str
    prev_mac: str
    mac: str


@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    """A challenge put to a risky actor, and what became of it.

    `scope` is what it unlocks (`pool:<id>` or `action:<verb>`); the token a
    pass yields is good until `token_expires_at`, once (`redeemed_at`).
    `redeemed_by` names the request that spent it (a digest of its
    Idempotency-Key), so that a replay of that request still gets through.
    """

    id: str
    actor_key: str
    scope: str
    score: float
    reasons: tuple[str, ...]
    created_at: float
    expires_at: float
    passed_at: float | None = None
    token_expires_at: float | None = None
    redeemed_at: float | None = None
    redeemed_by: str | None = None


#: Challenge rows are kept this long after they expire (see ChallengeRecord.redeemed_by).
CHALLENGE_RETENTION_S = IDEMPOTENCY_RETENTION_S

CHALLENGE_COLUMNS = ("id, actor_key, scope, score, reasons, created_at, expires_at, passed_at,"
                     " token_expires_at, redeemed_at, redeemed_by")


def challenge_sql(param: str) -> dict[str, str]:
    """The statements behind the challenge methods, in one place for both dialects."""
    sql = {
        "insert": f"INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES ({', '.join([param] * 11)})",
        "get": f"SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE id = {param}",
        # pending and not yet expired: passed now, the token good for token_ttl_s
        "pass": f"UPDATE challenges SET passed_at = {param}, token_expires_at = {param}"
                f" WHERE id = {param} AND passed_at IS NULL AND expires_at > {param}",
        # once: unspent and unexpired, or spent by this very request (a replay)
        "redeem": f"UPDATE challenges SET redeemed_at = coalesce(redeemed_at, {param}),"
                  f" redeemed_by = coalesce(redeemed_by, {param})"
                  f" WHERE id = {param} AND actor_key = {param} AND scope = {param} AND passed_at IS NOT NULL"
                  f" AND ((redeemed_at IS NULL AND token_expires_at > {param}) OR redeemed_by = {param})",
        "sweep": f"DELETE FROM challenges WHERE expires_at < {param}"
                 f" AND (token_expires_at IS NULL OR token_expires_at < {param})",
    }
    return sql


def challenge_from_row(row: tuple[Any, ...], reasons: tuple[str, ...]) -> ChallengeRecord:
    return ChallengeRecord(row[0], row[1], row[2], float(row[3]), reasons, *row[5:])


#: Risk bands for charts until a policy names its own: score below 0.3, below 0.7, above.
RISK_BAND_SQL = (
    "CASE WHEN risk_score < 0.3 THEN 'low' WHEN risk_score < 0.7 THEN 'medium' ELSE 'high' END"
)


def astuple_audit(e: AuditEntry) -> tuple[object, ...]:
    return (e.seq, e.ts, e.who, e.role, e.action, e.subject, e.reason, e.key_id, e.prev_mac, e.mac)


class StoreError(RuntimeError):
    """The store cannot do what was asked (bad URL, unreachable server, ...)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (a failover, a restart); retry later.

    A write that failed this way may or may not have happened: retry it with the
    same Idempotency-Key to get its real answer.
    """


#: Waits on the database (lock, connection, statement) end after this long by default.
DEFAULT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether the store could write just now; `detail` is one line saying why not."""

    ok: bool
    detail: str = ""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An error as one short line (a fault repeated every round must not flood a log)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:limit]


# hold ids ---------------------------------------------------------------------
#
# A public hold id is `h_` + 11 hex digits of the creation time in milliseconds
# (so new ids land at the end of the token index, as the rows do) + 22 random
# URL-safe characters (128 bits). It says when the hold was made, which its
# holder knows anyway, and nothing about how many holds there are. Ids of the
# old form `h<seq>_<16 hex>` (made before migration 0013) stay valid.

_NEW_ID = re.compile(r"h_([0-9a-f]{11}[A-Za-z0-9_-]{22})")
_OLD_ID = re.compile(r"h([1-9][0-9]{0,18})_([0-9a-f]{16})")
MAX_HOLD_ID_LEN = 40


@dataclass(frozen=True, slots=True)
class HoldRef:
    """A parsed hold id: the token to look up, and for old ids the sequence it must match."""

    token: str
    seq: int | None = None


def new_hold_token() -> str:
    return f"{time.time_ns() // 1_000_000 & 0xFFFFFFFFFFF:011x}{secrets.token_urlsafe(16)}"


def format_hold_id(token: str) -> str:
    return f"h_{token}"


def parse_hold_id(hold_id: object) -> HoldRef | None:
    """The token of a well-formed hold id; None for anything else (never an exception).

    Non-ASCII, over-long, non-string and malformed ids are all simply unknown.
    """
    if not isinstance(hold_id, str) or len(hold_id) > MAX_HOLD_ID_LEN or not hold_id.isascii():
        return None
    new = _NEW_ID.fullmatch(hold_id)
    if new is not None:
        return HoldRef(new.group(1))
    old = _OLD_ID.fullmatch(hold_id)
    if old is not None and int(old.group(1)) < 2**63:
        return HoldRef(old.group(2), int(old.group(1)))
    return None


def same_token(stored: str, given: str) -> bool:
    """Constant-time comparison of two ASCII tokens (bytes: `compare_digest` refuses non-ASCII str)."""
    return secrets.compare_digest(stored.encode("utf-8", "replace"), given.encode("utf-8", "replace"))


def owns(hold_owner: str | None, caller: str | None) -> bool:
    """Whether a caller may see or change a hold (see `ports.Holds`)."""
    return caller is None or (hold_owner is not None and same_token(hold_owner, caller))


_LEAD_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def check_lead_name(name: str) -> str:
    if not isinstance(name, str) or not _LEAD_NAME.fullmatch(name):
        raise ValueError(f"leader lock name must be 1-40 of a-z, 0-9, _ and -, not {name!r}")
    return name


# the union of the ports, defined over the records above (re-exported: callers import it from here)
from headcount.store.ports import Store as Store  # noqa: E402
