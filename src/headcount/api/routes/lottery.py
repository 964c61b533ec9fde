"""Lottery pools: registrations, the draw, registrations' states, the published draw."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Header, Path, Request
from starlette.responses import Response

from headcount.api.auth import Principal, require
from headcount.api.deps import PrincipalDep
from headcount.api.idempotency import idempotency_key
from headcount.api.problems import ProblemError, problem_response
from headcount.api.render import iso, json_response, outcome_response
from headcount.api.routes.pools import POOL_ID
from headcount.api.schemas import PoolIn, RegistrationIn, problem_responses
from headcount.services.keys import Role
from headcount.services.lottery import Answer, LotteryConfig, LotteryError, LotteryService
from headcount.types import ActorInfo, PoolSpec

router = APIRouter(tags=["lottery"])
PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422, 428, 429)
REGISTRATION_ID = Path(max_length=64)
IDEM_HEADER = Header(None, alias="Idempotency-Key", max_length=255,
                     description="Repeat a request safely: one registration per person in any case.")

STATUS = {"created": 201, "existing": 200, "ok": 200, "closed": 409, "not_found": 404, "denied": 403,
          "challenge": 428, "actor_limit": 429, "not_lottery": 409,
          "invalid": 422}
DETAIL = {
    "closed": "registration for this pool is closed",
    "not_found": "no such pool",
    "denied": "the registration was refused on risk",
    "challenge": "pass the challenge, then repeat the request with its challenge_token",
    "actor_limit": "more than this person may ask for in this pool",
    "not_lottery": "this pool is not allocated by lottery",
    "invalid": "refused as given: check this field (a typo?) and send the registration again",
}


def lottery_of_app(app: Any) -> LotteryService:
    """The app's lottery service: its `Headcount`'s, the one a library user gets (no second wiring)."""
    service: LotteryService = app.state.headcount.lottery
    return service


def lottery_of(request: Request) -> LotteryService:
    return lottery_of_app(request.app)


def _times(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    for key in ("closes_at", "drawn_at", "confirm_by"):
        if isinstance(out.get(key), int | float):
            out[key] = iso(out[key])
    if isinstance(out.get("allocation"), dict):
        out["allocation"] = _times(out["allocation"])
    return out


def answer_response(answer: Answer) -> Response:
    status = STATUS[answer.status]
    body = _times(answer.body)
    if status < 400:
        return json_response(body, status)
    reasons = [str(r) for r in body.pop("reasons", [])]
    field = body.pop("field", None)
    code = "invalid-field" if answer.status == "invalid" else answer.status.replace("_", "-")
    if answer.status == "denied":
        reasons = [*reasons] or ["denied"]
    return problem_response(status, code, DETAIL.get(answer.status, answer.status), reasons=reasons, field=field,
                            extra=body)


def parse_closes_at(value: str | int | float | None) -> float:
    """Unix seconds from ISO 8601 text (UTC when it names no offset) or a number; 422 otherwise."""
    field = "allocation.closes_at"
    if value is None:
        raise ProblemError(422, "invalid-field", "allocation.closes_at is required for a lottery", field=field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        ts = float(value)
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ProblemError(422, "invalid-field", f"allocation.closes_at: not an ISO 8601 time: {value!r}"[:200],
                               field=field) from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ts = parsed.timestamp()
    if not math.isfinite(ts) or not 0 < ts < 32_503_680_000:
        raise ProblemError(422, "invalid-field", "allocation.closes_at is out of range", field=field)
    return ts


def create_lottery_pool(request: Request, spec: PoolSpec, body: PoolIn, principal: Principal) -> Response:
    """`POST /v1/pools` with `allocation.mode == "lottery"` (called by the pools route)."""
    alloc = body.allocation
    assert alloc is not None
    config = LotteryConfig(parse_closes_at(alloc.closes_at), alloc.confirm_within_s, alloc.overbook_risk)
    service = lottery_of(request)
    try:
        outcome = service.create_pool(spec, config, idempotency_key(request, principal, body))
    except LotteryError as exc:
        raise ProblemError(422, "invalid-field", f"{exc.field}: {exc}", field=exc.field) from exc
    if outcome.ok and "allocation" in outcome.body:
        return json_response(_times(outcome.body), 201)
    return outcome_response(outcome)


@router.post("/v1/pools/{pool_id}/registrations", status_code=201, responses=PROBLEMS)
async def register(
    body: RegistrationIn, request: Request, principal: PrincipalDep, pool_id: str = POOL_ID,
    idempotency: str | None = IDEM_HEADER,
) -> Response:
    """Register a person for a lottery pool: 201, or 200 with the person's first registration;
    403 denied on risk (with reasons), 409 once the window has closed, 429 above the per-person limit."""
    require(principal, Role.CLIENT)
    a = body.actor
    actor = ActorInfo(a.id, a.email, a.phone, a.ip, a.device, a.user_agent)
    return answer_response(await lottery_of(request).aregister(
        pool_id, body.quantity, actor, owner=principal.key_id, idem=idempotency_key(request, principal, body),
        challenge_token=body.challenge_token))


@router.post("/v1/pools/{pool_id}/allocate", responses=PROBLEMS)
async def allocate(request: Request, principal: PrincipalDep, pool_id: str = POOL_ID) -> Response:
    """Close the window and draw (staff). It runs by itself at `closes_at`; called again, or by two
    processes at once, it answers with the one draw."""
    require(principal, Role.STAFF)
    return answer_response(await asyncio.to_thread(lottery_of(request).allocate, pool_id))


@router.get("/v1/pools/{pool_id}/lottery", responses=PROBLEMS)
async def lottery_view(request: Request, principal: PrincipalDep, pool_id: str = POOL_ID) -> Response:
    """A lottery pool's state: the seed's commitment (before the close), the seed and the
    registration digest (after the draw); staff also see counts per status and the overbooking."""
    service = lottery_of(request)
    view = await asyncio.to_thread(service.view, pool_id, principal.can(Role.STAFF))
    if view is None:
        raise ProblemError(404, "not-found", f"no lottery pool {pool_id!r}", field="pool_id")
    return json_response(_times(view))


@router.get("/v1/pools/{pool_id}/draw", responses=PROBLEMS)
async def published_draw(request: Request, pool_id: str = POOL_ID) -> Response:
    """The published draw (anyone): entries (random ids, seats, weight, refusal), the seed, the
    digest, the order; `headcount lottery verify --draw FILE` recomputes it. 404 before the draw."""
    draw = await asyncio.to_thread(lottery_of(request).published, pool_id)
    if draw is None:
        raise ProblemError(404, "not-found", f"pool {pool_id!r} has no draw (yet)", field="pool_id")
    return json_response(draw)


@router.get("/v1/registrations/{registration_id}", responses=PROBLEMS)
async def get_registration(request: Request, principal: PrincipalDep,
                           registration_id: str = REGISTRATION_ID) -> Response:
    """A registration's state: registered, won (with `hold_id` to confirm), waitlisted, refused,
    confirmed or lapsed. Clients see their own registrations; staff every one."""
    require(principal, Role.CLIENT)
    staff = principal.can(Role.STAFF)
    view = await asyncio.to_thread(lottery_of(request).registration, registration_id,
                                   None if staff else principal.key_id, staff)
    if view is None:
        raise ProblemError(404, "not-found", "no such registration", field="registration_id")
    return json_response(_times(view))
