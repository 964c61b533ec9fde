"""The store's ports: one small protocol per concern, and `Store`, their union.

A service states the port it needs (a detection job needs `ActionLog`,
`Blocks` and `LeaderLock`, not 40 methods), so a fake for a test, or a new
backend, implements only that concern. Both backends implement every port;
the contract tests in `tests/store/` run each port against both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from headcount.store.base import (
    ActionRecord,
    ActionRequest,
    ActionResult,
    ApiKeyRecord,
    AuditEntry,
    ChallengeRecord,
    ContactRecord,
    StoreHealth,
)
from headcount.store.blocks import Dismissal, StoredBlock
from headcount.store.decisions import DecisionCount, SeatRow
from headcount.store.graph import Guard, KeyView, Refused, Verification
from headcount.store.lottery import AllocationRecord, PassDown, RegistrationRecord, Win
from headcount.store.turnout import TurnoutRow
from headcount.types import Hold, HoldRequest, IdempotencyKey, Outcome, Pool, PoolSpec

T = TypeVar("T")


@runtime_checkable
class Lifecycle(Protocol):
    """Opening is the backend's constructor; this is the rest of a store's life."""

    url: str

    def close(self) -> None: ...

    def ping(self) -> bool:
        """Whether the store can write right now (never raises; bounded by the store's timeout)."""
        ...

    def health(self) -> StoreHealth:
        """`ping` with the reason when it cannot (one line, for `/healthz` and logs)."""
        ...

    async def aread(self, fn: Callable[[], T]) -> T:
        """Run a blocking read from async code in the way that suits the backend."""
        ...


@runtime_checkable
class Pools(Protocol):
    def create_pool(
        self, spec: PoolSpec, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    def get_pool(self, pool_id: str, now: float) -> Pool | None: ...

    def list_pools(self, now: float) -> list[Pool]: ...


@runtime_checkable
class Holds(Protocol):
    """The ledger's holds. A hold with an owner answers only to that owner.

    `owner` None (operators, the CLI, the library) reaches every hold; an owner
    that is not the hold's gets exactly the answer an unknown hold gets. Holds
    made before holds had owners (owner NULL after migration 0013) answer only
    to callers that pass no owner.
    """

    def place_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    def confirm_hold(
        self, hold_id: str, now: float, idem: IdempotencyKey | None = None, owner: str | None = None
    ) -> Outcome: ...

    def release_hold(
        self, hold_id: str, now: float, idem: IdempotencyKey | None = None, owner: str | None = None
    ) -> Outcome: ...

    def extend_hold(
        self, hold_id: str, now: float, idem: IdempotencyKey | None = None, owner: str | None = None
    ) -> Outcome: ...

    def get_hold(self, hold_id: str, owner: str | None = None) -> Hold | None: ...

    def sweep(self, now: float) -> int:
        """Expire due holds in every pool and drop old idempotency records.

        Returns the number of holds expired. Availability never counts an
        expired hold even before a sweep; sweeping only makes it permanent.
        """
        ...

    def actor_usage(self, pool_id: str, actor_key: str, now: float) -> int:
        """Quantity an actor holds or has confirmed in a pool (expired excluded)."""
        ...

    async def aplace_hold(
        self, req: HoldRequest, now: float, idem: IdempotencyKey | None = None
    ) -> Outcome: ...

    async def achange_hold(
        self, hold_id: str, action: str, now: float, idem: IdempotencyKey | None = None,
        owner: str | None = None,
    ) -> Outcome:
        """`action` is confirm, release or extend."""
        ...

    def hold_timeline(self, pool_id: str, bucket_s: int, since: float) -> list[tuple[float, str, int]]:
        """Holds placed per time bucket and risk band: (bucket start, band, quantity)."""
        ...


@runtime_checkable
class ActionLog(Protocol):
    def read_actions(self, after_seq: int = 0, limit: int = 10_000) -> list[ActionRecord]: ...

    def record_action(self, action: ActionRequest) -> ActionResult:
        """Check the person's budgets for the verb and append the action, atomically."""
        ...

    async def arecord_action(self, action: ActionRequest) -> ActionResult: ...


@runtime_checkable
class Velocity(Protocol):
    def hit_velocity(self, keys: list[str], now: float, windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Count one event for each key now; return each key's counts over each window (this one included)."""
        ...

    async def ahit_velocity(self, keys: list[str], now: float,
                            windows: tuple[int, ...]) -> dict[str, tuple[int, ...]]: ...


@runtime_checkable
class Identities(Protocol):
    """Person linking: identities (pseudonyms) joined into persons."""

    def resolve_person(self, identities: list[str]) -> str | None:
        """The person all these identities already belong to, or None (a read)."""
        ...

    def link_identities(self, identities: list[str], now: float) -> str:
        """The person of these identities, linked by `headcount.store.linking`'s rule (persons
        merge unless their mailboxes clash; a shared device or number joins no household)."""
        ...

    async def alink_identities(self, identities: list[str], now: float) -> str: ...

    def link_and_hit(self, identities: list[str], now: float, keys: list[str],
                     windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]:
        """`link_identities` and `hit_velocity` at once: the person, and the counts. A
        registration needs both; a store whose writes queue (SQLite) does them in one write."""
        ...

    async def alink_and_hit(self, identities: list[str], now: float, keys: list[str],
                            windows: tuple[int, ...]) -> tuple[str, dict[str, tuple[int, ...]]]: ...


@runtime_checkable
class IdentityGraph(Protocol):
    """Fan-out, behaviour memory and verified identities (`headcount.store.graph`)."""

    def view_and_hit(self, keys: Sequence[str], now: float, rate_keys: dict[str, Guard],
                     windows: tuple[int, ...], refused: Refused | None = None,
                     ) -> tuple[dict[str, KeyView], dict[str, tuple[int, ...]]]:
        """What the store knows of `keys`, and velocity counts after this request (one write);
        `refused` judges it in that write, and a refused request's hits are taken back."""
        ...

    async def aview_and_hit(self, keys: Sequence[str], now: float, rate_keys: dict[str, Guard],
                            windows: tuple[int, ...], refused: Refused | None = None,
                            ) -> tuple[dict[str, KeyView], dict[str, tuple[int, ...]]]: ...

    def graph_view(self, keys: Sequence[str], now: float) -> dict[str, KeyView]: ...

    def record_graph(self, keys: Sequence[str], hold_id: str) -> None:
        """After an accepted hold only: new partners of its keys, and the hold for their memory."""
        ...

    async def arecord_graph(self, keys: Sequence[str], hold_id: str) -> None: ...

    def holds_behind(self, keys: Sequence[str], now: float, limit: int = ...) -> list[str]:
        """Ids of the live holds (held and unexpired, or confirmed) made with any of `keys`."""
        ...

    def issue_verification(self, identity: str, now: float, ttl_s: float = ...) -> Verification: ...

    def confirm_verification(self, verification_id: str, code: str, now: float) -> Verification | str: ...

    def person_verified(self, person: str) -> bool: ...


@runtime_checkable
class Challenges(Protocol):
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


@runtime_checkable
class Contacts(Protocol):
    """Raw contact values, encrypted; only the key ring can read them."""

    def put_contacts(self, records: list[ContactRecord]) -> None:
        """Keep encrypted contacts; a value already kept for the actor is left as is."""
        ...

    def get_contacts(self, actor_key: str) -> list[ContactRecord]: ...

    def all_contacts(self) -> list[ContactRecord]: ...

    def purge_contacts(self, before: float) -> int:
        """Delete contacts kept since before `before`; returns how many."""
        ...


@runtime_checkable
class Audit(Protocol):
    def append_audit(self, make: Callable[[int, str], AuditEntry]) -> AuditEntry:
        """Append `make(next_seq, prev_mac)` atomically at the end of the audit chain."""
        ...

    def read_audit(self) -> list[AuditEntry]: ...


@runtime_checkable
class ApiKeys(Protocol):
    def add_api_key(self, record: ApiKeyRecord) -> None: ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord | None: ...

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key, revoked and expired ones included, oldest first (secrets are hashes)."""
        ...

    def revoke_api_key(self, key_id: str, now: float) -> bool:
        """Revoke a key; False when there is no such key or it was revoked already."""
        ...


@runtime_checkable
class Blocks(Protocol):
    """The detection job's latest findings, shared by every server process."""

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
        ...

    def dismissals(self) -> list[Dismissal]:
        """Every block staff dismissed."""
        ...


@runtime_checkable
class Turnout(Protocol):
    def pool_turnout(self, edges: Sequence[float], now: float,
                     pool_ids: Sequence[str] | None = None) -> list[TurnoutRow]:
        """Seats registered and checked in per pool and risk band (see `store.turnout`).

        `pool_ids` None: every pool some `checkin` action targets (the history).
        """
        ...


@runtime_checkable
class LeaderLock(Protocol):
    """One process per store does a job (detection): whichever takes the lock first.

    Not blocking; the lock is the process's until `release_lead` or its end
    (SQLite: an flock on `<db>.<name>.lock`; PostgreSQL: a session advisory lock
    on a connection of its own). `try_lead` while leading checks that the lock is
    still held (a PostgreSQL restart drops it) and takes it again if it can.
    """

    def try_lead(self, name: str) -> bool: ...

    def release_lead(self, name: str) -> None: ...


@runtime_checkable
class Meta(Protocol):
    """Facts about the store itself (the key ring's check values, a kept key ring)."""

    def get_meta(self, key: str) -> str | None: ...

    def put_meta_if_absent(self, key: str, value: str) -> str:
        """Store `value` under `key` unless one is there; the value that is there after."""
        ...

    def meta_keys(self, prefix: str) -> list[str]: ...


@runtime_checkable
class Decisions(Protocol):
    """The decisions log (see `store.decisions`): guard decisions counted per pool and minute."""

    def add_decisions(self, counts: Sequence[DecisionCount]) -> None:
        """Add these counts to the stored ones (every server process adds its own)."""
        ...

    def decision_counts(self, since: float, pool_ids: Sequence[str] | None = None) -> list[DecisionCount]:
        """The counts of every bucket from `since` on (of these pools, or all)."""
        ...

    def seat_timeline(self, edges: Sequence[float], bucket_s: int, since: float, now: float,
                      pool_ids: Sequence[str] | None = None) -> list[SeatRow]:
        """Seats of holds placed per pool, bucket and band (index into `edges`), live or lapsed."""
        ...


@runtime_checkable
class Lottery(Protocol):
    """Lottery pools: their allocation, registrations, the draw's writes (once) and the pass-down."""

    def create_allocation(self, a: AllocationRecord) -> AllocationRecord: ...

    def get_allocation(self, pool_id: str) -> AllocationRecord | None: ...

    def due_allocations(self, now: float) -> list[str]: ...

    def drawn_allocations(self) -> list[str]: ...

    def close_allocation(self, pool_id: str) -> None:
        """No more registrations; returns once every registration that got in has committed."""
        ...

    def register(self, r: RegistrationRecord, now: float) -> tuple[str, RegistrationRecord | None]:
        """("created" | "existing", it) or ("closed" | "no_lottery", None); one per person and pool."""
        ...

    def get_registration(self, registration_id: str) -> RegistrationRecord | None: ...

    def registrations(self, pool_id: str) -> list[RegistrationRecord]: ...

    def registration_counts(self, pool_id: str) -> dict[str, tuple[int, int]]: ...

    def persons_of(self, identities: Sequence[str]) -> dict[str, str]: ...

    def save_draw(self, pool_id: str, draw: dict[str, object],
                  statuses: dict[str, tuple[str, int | None, str | None]], wins: Sequence[Win], now: float,
                  ttl_s: float) -> bool:
        """Write the draw once (True); False when a draw is there already (nothing written)."""
        ...

    def pass_down(self, pool_id: str, now: float, ttl_s: float) -> PassDown: ...


@runtime_checkable
class Store(Lifecycle, Pools, Holds, ActionLog, Velocity, Identities, Challenges, Contacts, Audit,
            ApiKeys, Blocks, Turnout, LeaderLock, Meta, IdentityGraph, Decisions, Lottery, Protocol):
    """Persistence for pools, holds, API keys and the action log: every port at once."""


PORTS: tuple[type, ...] = (Lifecycle, Pools, Holds, ActionLog, Velocity, Identities, Challenges, Contacts,
                           Audit, ApiKeys, Blocks, Turnout, LeaderLock, Meta, IdentityGraph, Decisions, Lottery)
