"""The vocabulary every layer shares: pools, holds, actors, decisions and outcomes.

Plain frozen dataclasses at the bottom of the package: they import nothing of
headcount, so a store never sees HTTP, the API never sees SQL, and no layer
needs another layer to name a value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

PoolKind = Literal["event", "stock"]
Light = Literal["green", "yellow", "red"]

#: A hold can be extended, but its whole life never exceeds this many times the
#: pool's hold time. pretix allows 11x; short holds are the defence against denial
#: of inventory, so ours is 3x: a real buyer gets time to finish, a hoarder cannot
#: keep stock locked by pinging "extend".
MAX_HOLD_LIFETIME_FACTOR = 3


class Result(enum.StrEnum):
    """What a ledger operation did; stored with idempotency records and replayed."""

    CREATED = "created"  # pool created
    HELD = "held"
    CONFIRMED = "confirmed"
    RELEASED = "released"
    EXTENDED = "extended"
    SOLD_OUT = "sold_out"  # not enough capacity left
    ACTOR_LIMIT = "actor_limit"  # per-actor (per-person) limit reached
    DENIED = "denied"  # the guard refused the actor
    CHALLENGE = "challenge_required"  # refused until the person passes a challenge (never stored)
    INVALID = "invalid_field"  # a field looks mistyped: the person is asked to correct it (never stored)
    NOT_FOUND = "not_found"
    EXISTS = "exists"  # pool id already taken
    BAD_STATE = "bad_state"  # e.g. confirming an expired or released hold
    IDEMPOTENCY_MISMATCH = "idempotency_mismatch"
    LOTTERY_POOL = "lottery_pool"  # a direct hold on a lottery pool: seats go through the draw (never stored)


@dataclass(frozen=True, slots=True)
class LightThresholds:
    """When a pool's public traffic light turns yellow and red.

    Fractions of capacity still available: yellow at or below `yellow_at`, red at
    or below `red_at` (red always when nothing is left).
    """

    yellow_at: float = 0.2
    red_at: float = 0.0

    def light(self, available: int, capacity: int) -> Light:
        if available <= 0 or (capacity > 0 and available / capacity <= self.red_at):
            return "red"
        if capacity > 0 and available / capacity <= self.yellow_at:
            return "yellow"
        return "green"


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A pool to create: a capacity that holds draw from."""

    id: str
    name: str
    kind: PoolKind
    capacity: int
    per_actor_limit: int
    hold_ttl_s: int
    light: LightThresholds = field(default_factory=LightThresholds)
    #: the region whose national format this pool's phone numbers are read in (e.g. "US");
    #: None: the service's configured default, else only international numbers parse
    phone_region: str | None = None


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool as it stands; `held` never counts expired holds."""

    id: str
    name: str
    kind: PoolKind
    capacity: int
    per_actor_limit: int
    hold_ttl_s: int
    light_thresholds: LightThresholds
    held: int
    confirmed: int
    created_at: float
    phone_region: str | None = None

    @property
    def available(self) -> int:
        return self.capacity - self.held - self.confirmed

    @property
    def light(self) -> Light:
        return self.light_thresholds.light(self.available, self.capacity)

    def public_view(self) -> dict[str, Any]:
        return {"id": self.id, "light": self.light}

    def staff_view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "capacity": self.capacity,
            "per_actor_limit": self.per_actor_limit,
            "hold_ttl_s": self.hold_ttl_s,
            "held": self.held,
            "confirmed": self.confirmed,
            "available": self.available,
            "light": self.light,
            "light_thresholds": {
                "yellow_at": self.light_thresholds.yellow_at,
                "red_at": self.light_thresholds.red_at,
            },
            "phone_region": self.phone_region,
        }


HoldStatus = Literal["held", "confirmed", "released", "expired"]


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    pool_id: str
    actor_key: str
    quantity: int
    status: HoldStatus
    created_at: float
    expires_at: float
    max_expires_at: float
    owner: str | None = None  # the client that made it (None: made before holds had owners)


@dataclass(frozen=True, slots=True)
class HoldRequest:
    """A hold as the store executes it: the guard has already set ttl and cap."""

    pool_id: str
    quantity: int
    actor_key: str
    ttl_factor: float = 1.0  # risk-weighted: shorter holds for riskier actors
    actor_cap: int | None = None  # a tighter per-actor cap than the pool's, if any
    risk_score: float = 0.0
    risk_reasons: tuple[str, ...] = ()
    owner: str | None = None  # the client (API key or its application) the hold will belong to
    graph_keys: tuple[str, ...] = ()  # the identity graph's keys of the request, recorded once held


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's Idempotency-Key, scoped to the caller, with the request's digest."""

    scope: str
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a write: what happened and the body that describes it."""

    result: Result
    body: dict[str, Any]
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.result in {
            Result.CREATED,
            Result.HELD,
            Result.CONFIRMED,
            Result.RELEASED,
            Result.EXTENDED,
        }


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """What a client tells about the person behind a request (all optional)."""

    id: str | None = None
    email: str | None = None
    phone: str | None = None
    ip: str | None = None
    device: str | None = None
    user_agent: str | None = None

    def has_identity(self) -> bool:
        return any((self.id, self.email, self.phone, self.device, self.ip))


@dataclass(frozen=True, slots=True)
class Decision:
    """The guard's verdict on an actor for one hold or action."""

    actor_key: str
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    allow: bool = True
    ttl_factor: float = 1.0
    actor_cap: int | None = None
    extra: dict[str, object] = field(default_factory=dict)
    #: the policy asks for a challenge: refused (allow is False) unless a valid token comes
    #: with the request, and then `passed` applies instead
    challenge: bool = False
    passed: Decision | None = None
