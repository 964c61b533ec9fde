"""Free actions (follow, register, check in, ...): one decision each, with budgets.

The guard says who the person is and how risky; the budgets say how often that
person may do this; the store counts and appends atomically, so all server
processes share one count. Every attempt lands in the action log, which the
detectors read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from headcount.budgets import DEFAULT_BUDGETS, Budget, budgets_for
from headcount.ledger.service import ActorInfo, Decision, Guard, IdentityGuard
from headcount.privacy.keyring import KeyRing
from headcount.store.base import ActionRequest, ActionResult, Store


@dataclass(frozen=True)
class ActionOutcome:
    result: ActionResult
    decision: Decision
    budget: Budget | None  # the budget that refused it, if one did

    @property
    def reasons(self) -> list[str]:
        reasons = list(self.decision.reasons)
        if not self.decision.allow:
            reasons.append("denied")
        elif self.budget is not None:
            reasons.append(f"budget_{self.budget.name}")
        return reasons


class ActionService:
    def __init__(
        self,
        store: Store,
        guard: Guard | None = None,
        ring: KeyRing | None = None,
        budgets: dict[str, tuple[Budget, ...]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.guard: Guard = guard or IdentityGuard(ring)
        self.ring = ring
        self.budgets = budgets or DEFAULT_BUDGETS
        self.clock = clock

    def _request(self, verb: str, actor: ActorInfo, target: str, ts: float | None) -> tuple[ActionRequest, Decision, tuple[Budget, ...]]:
        now = self.clock() if ts is None else ts
        decision = self.guard.assess(actor, f"action:{verb}", now)  # sync: called from a thread
        budgets = budgets_for(verb, self.budgets)
        attrs = {}
        for kind, value in (("ip", actor.ip), ("device", actor.device)):
            if value:  # extra modes for the detectors, as keyed hashes
                attrs[kind] = self.ring.pseudonym(kind, value) if self.ring else value
        request = ActionRequest(
            actor_key=decision.actor_key, verb=verb, target=target, ts=now,
            budgets=tuple((b.limit, b.window_s) for b in budgets),
            score=decision.score, reasons=decision.reasons, attrs=attrs, denied=not decision.allow,
        )
        return request, decision, budgets

    def _outcome(self, result: ActionResult, decision: Decision, budgets: tuple[Budget, ...]) -> ActionOutcome:
        refused_by = None
        if result.exceeded is not None:
            refused_by = next(b for b in budgets if (b.limit, b.window_s) == result.exceeded)
        return ActionOutcome(result, decision, refused_by)

    def record(self, verb: str, actor: ActorInfo, target: str, ts: float | None = None) -> ActionOutcome:
        request, decision, budgets = self._request(verb, actor, target, ts)
        return self._outcome(self.store.record_action(request), decision, budgets)

    async def arecord(self, verb: str, actor: ActorInfo, target: str, ts: float | None = None) -> ActionOutcome:
        request, decision, budgets = await asyncio.to_thread(self._request, verb, actor, target, ts)
        return self._outcome(await self.store.arecord_action(request), decision, budgets)
