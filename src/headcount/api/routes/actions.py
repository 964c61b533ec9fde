"""Free actions: follow, unfollow, register, check in, ... each decided and logged."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints, field_validator
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import PrincipalDep
from headcount.api.problems import ProblemError, problem_response
from headcount.api.render import iso, json_response
from headcount.api.schemas import (
    CHALLENGE_TOKEN_DOC,
    ActorIn,
    ChallengeToken,
    Strict,
    problem_responses,
)
from headcount.policy.budgets import LEDGER_VERBS
from headcount.services.keys import Role
from headcount.types import ActorInfo

router = APIRouter(tags=["actions"])
MAX_FUTURE_S = 300
MAX_PAST_S = 90 * 86400
#: a `ts` further back than this is an import of past events: staff only (issue 13 M1)
CLIENT_PAST_S = 300


class ActionIn(Strict):
    verb: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{0,31}$")] = Field(
        description="follow, unfollow, register, checkin, or any lower-case verb of yours")
    actor: ActorIn
    target: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    ts: float | int | str | None = Field(None, description="when it happened: Unix seconds or ISO 8601; default now")
    challenge_token: ChallengeToken | None = Field(None, description=CHALLENGE_TOKEN_DOC)

    @field_validator("verb")
    @classmethod
    def _not_ledger(cls, verb: str) -> str:
        if verb in LEDGER_VERBS:
            raise ValueError(f"{verb!r} is written by the ledger; use the holds endpoints")
        return verb

    @field_validator("ts")
    @classmethod
    def _time(cls, ts: float | int | str | None) -> float | None:
        if ts is None:
            return None
        if isinstance(ts, str):
            try:
                parsed = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError("not ISO 8601 (e.g. 2026-11-22T15:04:05Z) nor Unix seconds") from exc
            if parsed.tzinfo is None:
                raise ValueError("an ISO 8601 time needs a time zone (Z or +hh:mm)")
            ts = parsed.timestamp()
        now = datetime.now().timestamp()
        if not (now - MAX_PAST_S <= float(ts) <= now + MAX_FUTURE_S):
            raise ValueError("must lie within the last 90 days and not in the future")
        return float(ts)


@router.post("/v1/actions", responses=problem_responses(400, 401, 403, 422, 428, 429))
async def record_action(body: ActionIn, request: Request, principal: PrincipalDep) -> Response:
    """Decide one action: 200 `{allowed, remaining, risk}`, 429 when the person's budget is spent, 403 when denied.

    428 with `challenge: {id, expires_at}` when the policy asks for a challenge (see the holds).
    """
    require(principal, Role.CLIENT)
    if body.ts is not None and float(body.ts) < time.time() - CLIENT_PAST_S and not principal.can(Role.STAFF):
        # backdated events from a client framed others as a coordinated group (issue 13 M1)
        raise ProblemError(403, "import-needs-staff", f"a ts more than {CLIENT_PAST_S} s in the past imports "
                           "past events, which needs a staff key", field="ts")
    a = body.actor
    outcome = await request.app.state.actions.arecord(
        body.verb, ActorInfo(a.id, a.email, a.phone, a.ip, a.device, a.user_agent), body.target,
        body.ts, body.challenge_token,  # type: ignore[arg-type]
        client=None if principal.can(Role.STAFF) else principal.key_id,  # staff imports: the operator's record
    )
    risk = {"score": float(outcome.decision.score), "reasons": list(outcome.decision.reasons)}
    if outcome.result.allowed:
        return json_response({"allowed": True, "remaining": outcome.result.remaining, "risk": risk})
    extra = {"allowed": False, "remaining": 0 if outcome.budget else None, "risk": risk}
    if outcome.challenge is not None:
        extra["challenge"] = {"id": outcome.challenge.id, "expires_at": iso(outcome.challenge.expires_at)}
        return problem_response(
            428, "challenge-required", "pass the challenge, then repeat the request with its challenge_token",
            reasons=outcome.reasons, extra=extra, field="challenge_token" if outcome.refused_token else None)
    if not outcome.decision.allow:
        return problem_response(403, "denied", "the action was refused on risk", reasons=outcome.reasons,
                                extra=extra)
    assert outcome.budget is not None
    return problem_response(
        429, "budget-spent",
        f"this person may {body.verb} at most {outcome.budget.limit} times {outcome.budget.name.replace('_', ' ')}",
        reasons=outcome.reasons, extra=extra, headers={"Retry-After": str(min(outcome.budget.window_s, 3600))},
    )
