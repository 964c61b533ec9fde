"""Holds: the one place where holds are decided and recorded.

It asks the guard about the actor (risk, which person it is, how long a hold may
last, how many it may have) and then lets the store execute the hold atomically.
The HTTP API, the CLI and `headcount.Headcount` are thin layers over this class.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from headcount.guard.identity import Guard, IdentityGuard
from headcount.services.twins import Step, Steps, run_async, run_sync
from headcount.signals.phone import known_region
from headcount.signals.typos import Typo
from headcount.types import (
    ActorInfo,
    Decision,
    Hold,
    HoldRequest,
    IdempotencyKey,
    Outcome,
    Pool,
    PoolSpec,
    Result,
)

if TYPE_CHECKING:
    from headcount.services.challenges import ChallengeRequired, ChallengeService
    from headcount.store.base import Store

log = logging.getLogger(__name__)

#: a pool this old, or with capacity, without a lottery allocation is a first-come pool for good
#: (a lottery pool's allocation is written in the call that makes it, with capacity 0 until the
#: draw), so the answer may be remembered
SETTLED_S = 60.0
_REMEMBER = 100_000  # pools remembered either way, per process


def lottery_refusal(pool_id: str) -> Outcome:
    """The answer to a direct hold on a lottery pool: seats go only through registrations and the draw."""
    detail = (f"pool {pool_id!r} is allocated by lottery: no direct holds; register (Headcount.register,"
              f" POST /v1/pools/{pool_id}/registrations) and winners get their holds from the draw")
    return Outcome(Result.LOTTERY_POOL, {"pool_id": pool_id, "field": "pool_id", "reasons": ["lottery_pool"],
                                         "registrations": f"/v1/pools/{pool_id}/registrations", "detail": detail})


class Ledger:
    """Pools and holds with no oversell, per-person limits and short holds."""

    #: told of every guard decision: (pool_id, verb, decision, now); the service's decisions log
    on_decision: Callable[[str | None, str, Decision, float], None] | None = None

    def __init__(
        self,
        store: Store,
        guard: Guard | None = None,
        clock: Callable[[], float] = time.time,
        keep_contacts: Callable[[str, ActorInfo], None] | None = None,
        challenges: ChallengeService | None = None,
        confirm_requires_verified: bool = False,
    ) -> None:
        self.store = store
        self.guard: Guard = guard or IdentityGuard()
        self.clock = clock
        #: called after each successful hold to keep the actor's raw contacts (encrypted)
        self.keep_contacts = keep_contacts
        #: issues and checks challenges; without it a challenge band denies
        self.challenges = challenges
        #: double opt-in (`[graph] confirm_requires_verified`): only a verified person confirms
        self.confirm_requires_verified = confirm_requires_verified
        # what this process knows of pools' allocation (a pool's mode never changes)
        self._lottery_pools: set[str] = set()
        self._first_come: set[str] = set()

    def create_pool(self, spec: PoolSpec, idem: IdempotencyKey | None = None) -> Outcome:
        """A first-come pool. A `phone_region` phone numbers are not known for is a ValueError naming it."""
        if spec.phone_region is not None and not known_region(spec.phone_region):
            raise ValueError(f"phone_region: {spec.phone_region!r} is not a region phone numbers are known for")
        return self.store.create_pool(spec, self.clock(), idem)

    def pool(self, pool_id: str) -> Pool | None:
        return self.store.get_pool(pool_id, self.clock())

    def pools(self) -> list[Pool]:
        return self.store.list_pools(self.clock())

    def _known_lottery(self, pool_id: str) -> bool | None:
        """True/False when this process already knows the pool's mode, None when it must ask the store."""
        if pool_id in self._first_come:
            return False
        return True if pool_id in self._lottery_pools else None

    def _ask_lottery(self, pool_id: str, now: float) -> bool:
        """Whether the pool is allocated by lottery (read from the store, then remembered)."""
        if self.store.get_allocation(pool_id) is not None:
            if len(self._lottery_pools) >= _REMEMBER:
                self._lottery_pools.clear()
            self._lottery_pools.add(pool_id)
            return True
        pool = self.store.get_pool(pool_id, now)
        # a lottery pool has no capacity until its draw, and its allocation exists by then
        if pool is not None and (pool.capacity > 0 or pool.created_at < now - SETTLED_S):
            if len(self._first_come) >= _REMEMBER:
                self._first_come.clear()
            self._first_come.add(pool_id)
        return False

    def is_lottery(self, pool_id: str) -> bool:
        """A lottery pool takes no direct holds: its seats go through registrations and the draw."""
        known = self._known_lottery(pool_id)
        return known if known is not None else self._ask_lottery(pool_id, self.clock())

    def assess_step(self, actor: ActorInfo, pool_id: str, now: float, client: str | None = None,
                    ) -> Step[Decision]:
        """The guard's decision; the event loop awaits its async form when the guard has one.

        `client`: the API key asking (None: the operator)."""
        call = functools.partial(self.guard.assess, actor, pool_id, now, client=client)
        aassess = getattr(self.guard, "aassess", None)
        return Step(call, functools.partial(aassess, actor, pool_id, now, client=client) if aassess else None)

    def _decide(
        self, pool_id: str, quantity: int, actor: ActorInfo, now: float,
        token: str | None = None, idem: IdempotencyKey | None = None, client: str | None = None,
    ) -> Steps[HoldRequest | Outcome]:
        decision: Decision = yield self.assess_step(actor, pool_id, now, client)
        if self.on_decision is not None:
            self.on_decision(pool_id, "hold", decision, now)
        revoke = decision.extra.get("revoke_keys")
        if isinstance(revoke, tuple) and revoke:  # a farm's device: take back what it was given
            yield Step(functools.partial(self.revoke, revoke, now), blocking=True)
        if decision.challenge and self.challenges is not None:  # rare: only risky requests get here
            resolved = yield Step(functools.partial(self.challenges.resolve, decision, f"pool:{pool_id}",
                                                    token, now, idem), blocking=True)
            return self._request(pool_id, quantity, resolved)
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
        typo = decision.extra.get("typo")
        if isinstance(typo, Typo):  # a person to ask, not a risk: nothing was held or counted
            asked: dict[str, object] = {"pool_id": pool_id, "field": typo.field, "reasons": [typo.reason]}
            if typo.suggestion:
                asked["suggestion"] = typo.suggestion
            return Outcome(Result.INVALID, asked)
        risk: dict[str, object] = {"score": decision.score, "reasons": list(decision.reasons)}
        if decision.extra.get("details"):
            risk["details"] = decision.extra["details"]
        if not decision.allow:
            return Outcome(
                Result.DENIED,
                {"pool_id": pool_id, "risk": risk, "reasons": [*decision.reasons, "denied"]},
            )
        graph_keys = decision.extra.get("graph_keys")
        return HoldRequest(
            pool_id=pool_id,
            quantity=quantity,
            actor_key=decision.actor_key,
            ttl_factor=decision.ttl_factor,
            actor_cap=decision.actor_cap,
            risk_score=decision.score,
            risk_reasons=decision.reasons,
            graph_keys=tuple(graph_keys) if isinstance(graph_keys, tuple) else (),
        )

    def _hold(
        self, pool_id: str, quantity: int, actor: ActorInfo, idem: IdempotencyKey | None,
        challenge_token: str | None, owner: str | None,
    ) -> Steps[Outcome]:
        """The steps of a hold, for `hold` and `ahold` alike."""
        now = self.clock()
        known = self._known_lottery(pool_id)
        if known is None:
            ask = functools.partial(self._ask_lottery, pool_id, now)
            known = yield Step(ask, functools.partial(self.store.aread, ask))
        if known:
            return lottery_refusal(pool_id)
        request = yield from self._decide(pool_id, quantity, actor, now, challenge_token, idem, owner)
        if isinstance(request, Outcome):
            return request
        request = dataclasses.replace(request, owner=owner)
        outcome: Outcome = yield Step(functools.partial(self.store.place_hold, request, now, idem),
                                      functools.partial(self.store.aplace_hold, request, now, idem))
        if outcome.ok and not outcome.replayed:
            hold_id = str(outcome.body["hold_id"])
            if request.graph_keys:  # only an accepted hold changes the identity graph
                yield Step(functools.partial(self.store.record_graph, request.graph_keys, hold_id),
                           functools.partial(self.store.arecord_graph, request.graph_keys, hold_id))
            if self.keep_contacts:
                yield Step(functools.partial(self.keep_contacts, request.actor_key, actor), blocking=True)
        return outcome

    def hold(
        self,
        pool_id: str,
        quantity: int,
        actor: ActorInfo,
        idem: IdempotencyKey | None = None,
        challenge_token: str | None = None,
        owner: str | None = None,
    ) -> Outcome:
        """`owner`: the client the hold belongs to (others find no such hold); None: the operator.

        A lottery pool answers `Result.LOTTERY_POOL` before the guard is asked (nothing is
        counted): its seats go only through registrations and the draw."""
        return run_sync(self._hold(pool_id, quantity, actor, idem, challenge_token, owner))

    async def ahold(
        self, pool_id: str, quantity: int, actor: ActorInfo, idem: IdempotencyKey | None = None,
        challenge_token: str | None = None, owner: str | None = None,
    ) -> Outcome:
        """`hold` for the async HTTP service."""
        return await run_async(self._hold(pool_id, quantity, actor, idem, challenge_token, owner))

    def _change(self, hold_id: str, action: str, idem: IdempotencyKey | None, owner: str | None,
                ) -> Steps[Outcome]:
        """confirm, release or extend: the steps for the sync methods and `achange` alike."""
        if action == "confirm" and self.confirm_requires_verified:
            refused = yield Step(functools.partial(self._unverified, hold_id, owner), blocking=True)
            if refused is not None:
                return refused
        now = self.clock()
        sync = {"confirm": self.store.confirm_hold, "release": self.store.release_hold,
                "extend": self.store.extend_hold}.get(action)
        if sync is None:
            raise ValueError(f"unknown hold action {action!r}")
        outcome: Outcome = yield Step(functools.partial(sync, hold_id, now, idem, owner=owner),
                                      functools.partial(self.store.achange_hold, hold_id, action, now, idem,
                                                        owner=owner))
        return outcome

    async def achange(self, hold_id: str, action: str, idem: IdempotencyKey | None = None,
                      owner: str | None = None) -> Outcome:
        """confirm, release or extend, for the async HTTP service (`owner`: only that client's holds)."""
        return await run_async(self._change(hold_id, action, idem, owner))

    def _unverified(self, hold_id: str, owner: str | None) -> Outcome | None:
        """The refusal of a confirmation under double opt-in, or None when it may go ahead."""
        hold = self.store.get_hold(hold_id, owner=owner)
        if hold is None or hold.status != "held" or self.store.person_verified(hold.actor_key):
            return None  # the store answers unknown and finished holds as always
        return Outcome(Result.BAD_STATE, {"hold_id": hold_id, "field": "hold_id",
                                          "reasons": ["verification_required"]})

    def confirm(self, hold_id: str, idem: IdempotencyKey | None = None, owner: str | None = None) -> Outcome:
        return run_sync(self._change(hold_id, "confirm", idem, owner))

    def release(self, hold_id: str, idem: IdempotencyKey | None = None, owner: str | None = None) -> Outcome:
        return run_sync(self._change(hold_id, "release", idem, owner))

    def extend(self, hold_id: str, idem: IdempotencyKey | None = None, owner: str | None = None) -> Outcome:
        return run_sync(self._change(hold_id, "extend", idem, owner))

    def get_hold(self, hold_id: str, owner: str | None = None) -> Hold | None:
        return self.store.get_hold(hold_id, owner=owner)

    def revoke(self, keys: tuple[str, ...], now: float | None = None) -> int:
        """Release every live hold made with `keys` (a device shown to be a farm's); how many.

        Confirmed holds go too: a free registration a farm confirmed is still a seat a real
        person lacks. Each release is the store's ordinary one (counters, action log)."""
        now = self.clock() if now is None else now
        released = 0
        for hold_id in self.store.holds_behind(keys, now):
            if self.store.release_hold(hold_id, now).result is Result.RELEASED:
                released += 1
        if released:
            log.info("released %d holds made by a device past the graph's revoke_device_after", released)
        return released

    def sweep(self) -> int:
        return self.store.sweep(self.clock())
