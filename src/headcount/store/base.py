"""The store interface every backend implements.

Operations are at the granularity of ledger operations, not SQL statements: a
hold must be checked and written atomically, and each backend does that in its
own best way (a grouped write transaction on SQLite, one server-side function
call on PostgreSQL). The same test suite runs against every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")

from headcount.ledger.models import Hold, HoldRequest, IdempotencyKey, Outcome, Pool, PoolSpec
from headcount.store.blocks import Dismissal, StoredBlock
from headcount.store.turnout import TurnoutRow

#: Idempotency records are kept this long; a replay after that is a new request.
IDEMPOTENCY_RETENTION_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    secret_hash: str
    role: str
    created_at: float
    revoked: bool = False


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


def velocity_sql(windows: tuple[int, ...], param: str) -> str:
    """One query for a key's counts over every window; bind `velocity_params`."""
    sums = ", ".join(f"coalesce(sum(count) FILTER (WHERE bucket > {param}), 0)" for _ in windows)
    return f"SELECT {sums} FROM velocity WHERE key = {param} AND bucket > {param}"


def velocity_params(key: str, minute: int, windows: tuple[int, ...]) -> tuple[object, ...]:
    """Each window's oldest minute bucket (exclusive), the key, and the widest window's."""
    return (*(minute - w // 60 for w in windows), key, minute - max(windows) // 60)


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


def merge_persons(known: dict[str, str], identities: list[str]) -> tuple[str, set[str], list[str]]:
    """Given known identity -> person, pick the person (the smallest, so every process
    agrees), the other persons to fold into it and the identities still to add."""
    persons = set(known.values())
    person = min(persons) if persons else min(identities)
    return person, persons - {person}, [i for i in identities if i not in known]


def astuple_audit(e: AuditEntry) -> tuple[object, ...]:
    return (e.seq, e.ts, e.who, e.role, e.action, e.subject, e.reason, e.key_id, e.prev_mac, e.mac)


@runtime_checkable
class Store(Protocol):
    """Persistence for pools, holds, API keys and the action log."""

    url: str

    def close(self) -> None: ...

    # pools -----------------------------------------------------------------
    def create_pool(
        self, spec: PoolSpec, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    def get_pool(self, pool_id: str, now: float) -> Pool | None: ...

    def list_pools(self, now: float) -> list[Pool]: ...

    # holds -----------------------------------------------------------------
    def place_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    def confirm_hold(
        self, hold_id: str, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    def release_hold(
        self, hold_id: str, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    def extend_hold(
        self, hold_id: str, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    def get_hold(self, hold_id: str) -> Hold | None: ...

    def sweep(self, now: float) -> int:
        """Expire due holds in every pool and drop old idempotency records.

        Returns the number of holds expired. Availability never counts an
        expired hold even before a sweep; sweeping only makes it permanent.
        """
        ...

    def actor_usage(self, pool_id: str, actor_key: str, now: float) -> int:
        """Quantity an actor holds or has confirmed in a pool (expired excluded)."""
        ...

    # the same for async callers (the HTTP service): no event-loop blocking ----
    async def aplace_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    async def achange_hold(
        self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome:
        """`action` is confirm, release or extend."""
        ...

    async def aread(self, fn: Callable[[], T]) -> T:
        """Run a blocking read from async code in the way that suits the backend."""
        ...

    def hold_timeline(self, pool_id: str, bucket_s: int, since: float) -> list[tuple[float, str, int]]:
        """Holds placed per time bucket and risk band: (bucket start, band, quantity)."""
        ...

    def replace_blocks(self, blocks: list[StoredBlock]) -> None:
        """Make `blocks` the current set (members included); blocks seen before keep their first time."""
        ...

    def list_blocks(self, limit: int = 100) -> list[StoredBlock]:
        """The current blocks, newest detection first."""
        ...

    def block_members(self) -> frozenset[str]:
        """Every person key in a current block."""
        ...

    def dismiss_block(self, block_id: str, who: str, reason: str, now: float) -> StoredBlock | None:
        """Take a current block out (its members lose the reason) and keep it as reviewed."""
        raise NotImplementedError

    def dismissals(self) -> list[Dismissal]:
        """Every block staff dismissed."""
        raise NotImplementedError

    def pool_turnout(self, edges: Sequence[float], now: float,
                     pool_ids: Sequence[str] | None = None) -> list[TurnoutRow]:
        """Seats registered and checked in per pool and risk band (see `store.turnout`).

        `pool_ids` None: every pool some `checkin` action targets (the history).
        """
        ...

    # API keys ----------------------------------------------------------------
    def add_api_key(self, record: ApiKeyRecord) -> None: ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    # action log ----------------------------------------------------------------
    def read_actions(self, after_seq: int = 0, limit: int = 10_000) -> list[ActionRecord]: ...

    def record_action(self, action: ActionRequest) -> ActionResult:
        """Check the person's budgets for the verb and append the action, atomically."""
        ...

    async def arecord_action(self, action: ActionRequest) -> ActionResult: ...

    # velocity -----------------------------------------------------------------------
    def hit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Count one event for each key now; return each key's counts over each window (this one included)."""
        ...

    async def ahit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]: ...

    def link_and_hit(self, identities: list[str], now: float, keys: list[str],
                     windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        """`link_identities` and `hit_velocity` at once: the person, and the counts. A
        registration needs both; a store whose writes queue (SQLite) does them in one write."""
        ...

    async def alink_and_hit(self, identities: list[str], now: float, keys: list[str],
                            windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]: ...

    # person linking ---------------------------------------------------------------
    def resolve_person(self, identities: list[str]) -> str | None:
        """The person all these identities already belong to, or None (a read)."""
        ...

    def link_identities(self, identities: list[str], now: float) -> str:
        """Join the identities into one person, merging persons they belonged to."""
        ...

    async def alink_identities(self, identities: list[str], now: float) -> str: ...

    # challenges -----------------------------------------------------------------------
    def create_challenge(self, record: ChallengeRecord) -> None: ...

    def get_challenge(self, challenge_id: str) -> ChallengeRecord | None: ...

    def pass_challenge(self, challenge_id: str, now: float, token_ttl_s: float) -> ChallengeRecord | None:
        """Mark a pending, unexpired challenge passed; return the challenge as it now stands."""
        ...

    def redeem_challenge(
        self, challenge_id: str, actor_key: str, scope: str, now: float, request_ref: str | None = None
    ) -> bool:
        """Spend a passed challenge's token, atomically and once, for this person and scope.

        True also when `request_ref` is the request that spent it (a replay).
        """
        ...

    # personal data ---------------------------------------------------------------
    def put_contacts(self, records: list[ContactRecord]) -> None:
        """Keep encrypted contacts; a value already kept for the actor is left as is."""
        ...

    def get_contacts(self, actor_key: str) -> list[ContactRecord]: ...

    def all_contacts(self) -> list[ContactRecord]: ...

    def purge_contacts(self, before: float) -> int:
        """Delete contacts kept since before `before`; returns how many."""
        ...

    def append_audit(self, make: Callable[[int, str], AuditEntry]) -> AuditEntry:
        """Append `make(next_seq, prev_mac)` atomically at the end of the audit chain."""
        ...

    def read_audit(self) -> list[AuditEntry]: ...


class StoreError(RuntimeError):
    """The store cannot do what was asked (bad URL, unreachable server, ...)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now (a failover, a restart); retry later.

    A write that failed this way may or may not have happened: retry it with the
    same Idempotency-Key to get its real answer.
    """


def parse_hold_id(hold_id: str) -> tuple[int, str] | None:
    """Split a public hold id `h<seq>_<token>` into its sequence number and token.

    The token makes ids unguessable, so one client cannot confirm or release
    another's holds by counting.
    """
    if not hold_id.startswith("h") or "_" not in hold_id or len(hold_id) > 64:
        return None
    seq_part, _, token = hold_id[1:].partition("_")
    if not seq_part.isdigit() or not token.isalnum():
        return None
    seq = int(seq_part)
    if seq <= 0 or seq >= 2**63:
        return None
    return seq, token


def format_hold_id(seq: int, token: str) -> str:
    return f"h{seq}_{token}"
