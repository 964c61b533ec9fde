"""The ledger service: the one place where holds are decided and recorded.

It asks the guard about the actor (risk, which person it is, how long a hold may
last, how many it may have) and then lets the store execute the hold atomically.
The HTTP API and the CLI are thin layers over this class.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from headcount.ledger.models import (
    Hold,
    HoldRequest,
    IdempotencyKey,
    Outcome,
    Pool,
    PoolSpec,
    Result,
)

if TYPE_CHECKING:  # the store imports ledger.models; avoid a cycle at run time
    from headcount.privacy.keyring import KeyRing
    from headcount.store.base import Store


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


class Guard(Protocol):
    def assess(self, actor: ActorInfo, pool_id: str, now: float) -> Decision: ...


class IdentityGuard:
    """The guard without signals: one actor key per stated identity, no risk.

    The first of id, e-mail, phone, device and IP names the actor. With a key
    ring (as the service always has) the key is a keyed hash of the value, so
    no raw identity reaches the store. The signals guard (`headcount.guard`)
    replaces this with person linking and risk.
    """

    def __init__(self, ring: KeyRing | None = None) -> None:
        self.ring = ring

    def assess(self, actor: ActorInfo, pool_id: str, now: float) -> Decision:
        for kind, value in (
            ("id", actor.id),
            ("email", actor.email.lower() if actor.email else None),
            ("tel", actor.phone),
            ("dev", actor.device),
            ("ip", actor.ip),
        ):
            if value:
                key = self.ring.pseudonym(kind, value) if self.ring else f"{kind}:{value}"
                return Decision(actor_key=key)
        return Decision(actor_key="anonymous")


class Ledger:
    """Pools and holds with no oversell, per-person limits and short holds."""

    def __init__(
        self,
        store: Store,
        guard: Guard | None = None,
        clock: Callable[[], float] = time.time,
        keep_contacts: Callable[[str, ActorInfo], None] | None = None,
    ) -> None:
        self.store = store
        self.guard: Guard = guard or IdentityGuard()
        self.clock = clock
        #: called after each successful hold to keep the actor's raw contacts (encrypted)
        self.keep_contacts = keep_contacts

    def create_pool(self, spec: PoolSpec, idem: IdempotencyKey | None = None) -> Outcome:
        return self.store.create_pool(spec, self.clock(), idem)

    def pool(self, pool_id: str) -> Pool | None:
        return self.store.get_pool(pool_id, self.clock())

    def pools(self) -> list[Pool]:
        return self.store.list_pools(self.clock())

    def _decide(self, pool_id: str, quantity: int, actor: ActorInfo, now: float) -> HoldRequest | Outcome:
        decision = self.guard.assess(actor, pool_id, now)
        if not decision.allow:
            return Outcome(
                Result.DENIED,
                {"pool_id": pool_id, "risk": {"score": decision.score, "reasons": list(decision.reasons)},
                 "reasons": [*decision.reasons, "denied"]},
            )
        return HoldRequest(
            pool_id=pool_id,
            quantity=quantity,
            actor_key=decision.actor_key,
            ttl_factor=decision.ttl_factor,
            actor_cap=decision.actor_cap,
            risk_score=decision.score,
            risk_reasons=decision.reasons,
        )

    def hold(
        self,
        pool_id: str,
        quantity: int,
        actor: ActorInfo,
        idem: IdempotencyKey | None = None,
    ) -> Outcome:
        now = self.clock()
        request = self._decide(pool_id, quantity, actor, now)
        if isinstance(request, Outcome):
            return request
        outcome = self.store.place_hold(request, now, idem)
        if outcome.ok and not outcome.replayed and self.keep_contacts:
            self.keep_contacts(request.actor_key, actor)
        return outcome

    async def ahold(
        self, pool_id: str, quantity: int, actor: ActorInfo, idem: IdempotencyKey | None = None
    ) -> Outcome:
        """`hold` for the async HTTP service."""
        now = self.clock()
        request = self._decide(pool_id, quantity, actor, now)
        if isinstance(request, Outcome):
            return request
        outcome = await self.store.aplace_hold(request, now, idem)
        if outcome.ok and not outcome.replayed and self.keep_contacts:
            await asyncio.to_thread(self.keep_contacts, request.actor_key, actor)
        return outcome

    async def achange(self, hold_id: str, action: str, idem: IdempotencyKey | None = None) -> Outcome:
        """confirm, release or extend, for the async HTTP service."""
        return await self.store.achange_hold(hold_id, action, self.clock(), idem)

    def confirm(self, hold_id: str, idem: IdempotencyKey | None = None) -> Outcome:
        return self.store.confirm_hold(hold_id, self.clock(), idem)

    def release(self, hold_id: str, idem: IdempotencyKey | None = None) -> Outcome:
        return self.store.release_hold(hold_id, self.clock(), idem)

    def extend(self, hold_id: str, idem: IdempotencyKey | None = None) -> Outcome:
        return self.store.extend_hold(hold_id, self.clock(), idem)

    def get_hold(self, hold_id: str) -> Hold | None:
        return self.store.get_hold(hold_id)

    def sweep(self) -> int:
        return self.store.sweep(self.clock())
