"""Free actions (follow, register, check in, ...): one decision each, with budgets.

The guard says who the person is and how risky; the budgets say how often that
person may do this; the store counts and appends atomically, so all server
processes share one count. Every attempt lands in the action log, which the
detectors read.

The guard is asked with the verb, so velocity counts `register` as a
registration and other verbs only in their own key space, if the policy counts
them at all (see `headcount.guard.signals_guard`). When the policy asks for a
challenge, the action is refused (logged as denied, reason `challenge`) until it
comes back with a token; with a good one it counts against the budgets as usual.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from headcount.guard.identity import Guard, IdentityGuard
from headcount.policy.budgets import DEFAULT_BUDGETS, Budget, budgets_for
from headcount.privacy.keyring import KeyRing
from headcount.services.challenges import Challenge, ChallengeRequired, ChallengeService, Refusal
from headcount.services.twins import Step, Steps, run_async, run_sync
from headcount.store.base import ActionRequest, ActionResult, Store
from headcount.types import ActorInfo, Decision


@dataclass(frozen=True)
class ActionOutcome:
    result: ActionResult
    decision: Decision
    budget: Budget | None  # the budget that refused it, if one did
    challenge: Challenge | None = None  # refused until the person passes this challenge
    refused_token: Refusal | None = None  # why the token it brought did not count

    @property
    def reasons(self) -> list[str]:
        reasons = list(self.decision.reasons)
        if self.challenge is not None:
            return [*reasons, *([self.refused_token.value] if self.refused_token else []), "challenge"]
        if not self.decision.allow:
            reasons.append("denied")
        elif self.budget is not None:
            reasons.append(f"budget_{self.budget.name}")
        return reasons


class ActionService:
    #: told of every guard decision: (None, verb, decision, time); the service's decisions log
    on_decision: Callable[[str | None, str, Decision, float], None] | None = None

    def __init__(
        self,
        store: Store,
        guard: Guard | None = None,
        ring: KeyRing | None = None,
        budgets: dict[str, tuple[Budget, ...]] | None = None,
        clock: Callable[[], float] = time.time,
        challenges: ChallengeService | None = None,
    ) -> None:
        self.store = store
        self.guard: Guard = guard or IdentityGuard(ring)
        self.ring = ring
        self.budgets = budgets or DEFAULT_BUDGETS
        self.clock = clock
        self.challenges = challenges  # without it a challenge band denies

    def _request(
        self, verb: str, actor: ActorInfo, target: str, ts: float | None, token: str | None = None,
        client: str | None = None,
    ) -> tuple[ActionRequest, Decision, tuple[Budget, ...], ChallengeRequired | None]:
        now = self.clock() if ts is None else ts
        # sync: called from a thread
        decision = self.guard.assess(actor, f"action:{verb}", now, verb=verb, client=client)
        required = None
        if decision.challenge and self.challenges is not None:
            # the challenge expires by the clock, whatever time an imported event carries
            resolved = self.challenges.resolve(decision, f"action:{verb}", token, self.clock())
            if isinstance(resolved, ChallengeRequired):
                required = resolved
                decision = replace(decision, reasons=(*decision.reasons, "challenge"))
            else:
                decision = resolved
        if self.on_decision is not None:
            self.on_decision(None, verb, decision, now)
        budgets = budgets_for(verb, self.budgets)
        attrs = {}
        for kind, value in (("ip", actor.ip), ("device", actor.device)):
            if value:  # extra modes for the detectors, as keyed hashes
                attrs[kind] = self.ring.pseudonym(kind, value) if self.ring else value
        if client is not None:  # whose claim this is: a group only its actions show is its finding
            attrs["client"] = client
        request = ActionRequest(
            actor_key=decision.actor_key, verb=verb, target=target, ts=now,
            budgets=tuple((b.limit, b.window_s) for b in budgets),
            score=decision.score, reasons=decision.reasons, attrs=attrs, denied=not decision.allow,
        )
        return request, decision, budgets, required

    def _outcome(
        self, result: ActionResult, decision: Decision, budgets: tuple[Budget, ...], required: ChallengeRequired | None,
    ) -> ActionOutcome:
        if required is not None:
            return ActionOutcome(result, required.decision, None, required.challenge, required.refused)
        refused_by = None
        if result.exceeded is not None:
            refused_by = next(b for b in budgets if (b.limit, b.window_s) == result.exceeded)
        return ActionOutcome(result, decision, refused_by)

    def _record(self, verb: str, actor: ActorInfo, target: str, ts: float | None,
                challenge_token: str | None, client: str | None) -> Steps[ActionOutcome]:
        """The steps of an action, for `record` and `arecord` alike (the guard's part blocks: a thread)."""
        request, decision, budgets, required = yield Step(
            functools.partial(self._request, verb, actor, target, ts, challenge_token, client), blocking=True)
        result: ActionResult = yield Step(functools.partial(self.store.record_action, request),
                                          functools.partial(self.store.arecord_action, request))
        return self._outcome(result, decision, budgets, required)

    def record(
        self, verb: str, actor: ActorInfo, target: str, ts: float | None = None, challenge_token: str | None = None,
        client: str | None = None,
    ) -> ActionOutcome:
        """`client`: the API key that sends it (None: the operator, whose findings apply to everyone)."""
        return run_sync(self._record(verb, actor, target, ts, challenge_token, client))

    async def arecord(
        self, verb: str, actor: ActorInfo, target: str, ts: float | None = None, challenge_token: str | None = None,
        client: str | None = None,
    ) -> ActionOutcome:
        return await run_async(self._record(verb, actor, target, ts, challenge_token, client))
