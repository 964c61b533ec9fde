"""The ledger service: the one place where holds are decided and recorded.

It asks the guard about the actor (risk, which person it is, how long a hold may
last, how many it may have) and then lets the store execute the hold atomically.
The HTTP API and the CLI are thin layers over this class.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
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
    from headcount.challenges import ChallengeRequired, ChallengeService
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
    #: the policy asks for a challenge: refused (allow is False) unless a valid token comes
    #: with the request, and then `passed` applies instead
    challenge: bool = False
    passed: Decision | None = None


class Guard(Protocol):
    def assess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold") -> Decision:
        """`verb` is "hold" for the ledger, the action's verb for /v1/actions."""
        ...


class IdentityGuard:
    """The guard without signals: who the person is, no risk.

    With a key ring (as the service always has) identities are keyed hashes, so
    no raw identity reaches the store. With a store it links identities: an
    e-mail, phone, device or client id seen together with a known one joins that
    person, so the per-person limit holds for fifty addresses behind one phone.
    IP addresses are not identities (real people share networks); an actor with
    only an IP is keyed by it. The signals guard adds risk and canonical mailboxes.
    """

    LINKED_KINDS = ("id", "email", "tel", "dev")

    def __init__(self, ring: KeyRing | None = None, store: Store | None = None) -> None:
        self.ring = ring
        self.store = store
        #: (ring, its derived pseudonym key, its key id), read and replaced as one tuple
        self._pseudonym: tuple[KeyRing | None, bytes, str] = (None, b"", "")

    def _key(self, kind: str, value: str) -> str:
        """`ring.pseudonym(kind, value)`: the same `kind:keyid:hash`, with the derived key kept
        and the HMAC done in one call (`hmac.digest`, in C); raw `kind:value` without a ring."""
        ring = self.ring
        if not ring:
            return f"{kind}:{value}"
        cached, secret, key_id = self._pseudonym
        if cached is not ring:  # a new ring (rotation, or a test swapping it)
            secret, key_id = ring.derived("pseudonym"), ring.current_id
            self._pseudonym = (ring, secret, key_id)
        mac = hmac.digest(secret, f"{kind}\x1f{value}".encode(), "sha256")
        return f"{kind}:{key_id}:{base64.urlsafe_b64encode(mac[:18]).decode()}"

    def identities(self, actor: ActorInfo) -> list[str]:
        values = (actor.id, actor.email.lower() if actor.email else None, actor.phone, actor.device)
        return [self._key(kind, v) for kind, v in zip(self.LINKED_KINDS, values, strict=True) if v]

    def person(self, keys: list[str], actor: ActorInfo, now: float) -> str:
        """The person these identity keys belong to (linking them in the store)."""
        if not keys:
            return self._key("ip", actor.ip) if actor.ip else "anonymous"
        if self.store is None:
            return keys[0]
        return self.store.resolve_person(keys) or self.store.link_identities(keys, now)

    async def aperson(self, keys: list[str], actor: ActorInfo, now: float) -> str:
        if not keys or self.store is None:
            return self.person(keys, actor, now)
        store = self.store
        found = await store.aread(lambda: store.resolve_person(keys))
        return found or await store.alink_identities(keys, now)

    def assess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold") -> Decision:
        return Decision(actor_key=self.person(self.identities(actor), actor, now))

    async def aassess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold") -> Decision:
        return Decision(actor_key=await self.aperson(self.identities(actor), actor, now))


class Ledger:
    """Pools and holds with no oversell, per-person limits and short holds."""

    def __init__(
        self,
        store: Store,
        guard: Guard | None = None,
        clock: Callable[[], float] = time.time,
        keep_contacts: Callable[[str, ActorInfo], None] | None = None,
        challenges: ChallengeService | None = None,
    ) -> None:
        self.store = store
        self.guard: Guard = guard or IdentityGuard()
        self.clock = clock
        #: called after each successful hold to keep the actor's raw contacts (encrypted)
        self.keep_contacts = keep_contacts
        #: issues and checks challenges; without it a challenge band denies
        self.challenges = challenges

    def create_pool(self, spec: PoolSpec, idem: IdempotencyKey | None = None) -> Outcome:
        return self.store.create_pool(spec, self.clock(), idem)

    def pool(self, pool_id: str) -> Pool | None:
        return self.store.get_pool(pool_id, self.clock())

    def pools(self) -> list[Pool]:
        return self.store.list_pools(self.clock())

    def _decide(
        self, pool_id: str, quantity: int, actor: ActorInfo, now: float,
        token: str | None = None, idem: IdempotencyKey | None = None,
    ) -> HoldRequest | Outcome:
        decision = self.guard.assess(actor, pool_id, now)
        if decision.challenge and self.challenges is not None:
            return self._request(pool_id, quantity, self.challenges.resolve(
                decision, f"pool:{pool_id}", token, now, idem))
        return self._request(pool_id, quantity, decision)

    async def _adecide(
        self, pool_id: str, quantity: int, actor: ActorInfo, now: float,
        token: str | None = None, idem: IdempotencyKey | None = None,
    ) -> HoldRequest | Outcome:
        aassess = getattr(self.guard, "aassess", None)
        decision = await aassess(actor, pool_id, now) if aassess else self.guard.assess(actor, pool_id, now)
        if decision.challenge and self.challenges is not None:  # rare: only risky requests get here
            return self._request(pool_id, quantity, await asyncio.to_thread(
                self.challenges.resolve, decision, f"pool:{pool_id}", token, now, idem))
        return self._request(pool_id, quantity, decision)

    @staticmethod
    def _request(pool_id: str, quantity: int, decision: Decision | ChallengeRequired) -> HoldRequest | Outcome:
        if not isinstance(decision, Decision):
            body: dict[str, object] = {
                "pool_id": pool_id,
                "risk": {"score": decision.decision.score, "reasons": list(decision.decision.reasons)},
                "reasons": decision.reasons,
                "challenge": {"id": decision.challenge.id, "expires_at": decision.challenge.expires_at},
            }
            if decision.refused is not None:
                body["field"] = "challenge_token"
            return Outcome(Result.CHALLENGE, body)
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
        challenge_token: str | None = None,
    ) -> Outcome:
        now = self.clock()
        request = self._decide(pool_id, quantity, actor, now, challenge_token, idem)
        if isinstance(request, Outcome):
            return request
        outcome = self.store.place_hold(request, now, idem)
        if outcome.ok and not outcome.replayed and self.keep_contacts:
            self.keep_contacts(request.actor_key, actor)
        return outcome

    async def ahold(
        self, pool_id: str, quantity: int, actor: ActorInfo, idem: IdempotencyKey | None = None,
        challenge_token: str | None = None,
    ) -> Outcome:
        """`hold` for the async HTTP service."""
        now = self.clock()
        request = await self._adecide(pool_id, quantity, actor, now, challenge_token, idem)
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
