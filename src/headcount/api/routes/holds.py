"""Holds: place one on a pool, then confirm, release or extend it."""

from __future__ import annotations

from fastapi import APIRouter, Header, Path, Request
from starlette.responses import Response

from headcount.api.auth import Principal, require
from headcount.api.deps import LedgerDep, PrincipalDep
from headcount.api.idempotency import idempotency_key
from headcount.api.problems import ProblemError
from headcount.api.render import iso, json_response, outcome_response
from headcount.api.routes.pools import POOL_ID
from headcount.api.schemas import HoldIn, HoldOut, HoldStateOut, problem_responses
from headcount.services.keys import Role
from headcount.types import ActorInfo

router = APIRouter(tags=["holds"])
PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422, 428, 429)
HOLD_ID = Path(max_length=64)
IDEM_HEADER = Header(
    None, alias="Idempotency-Key", max_length=255,
    description="Repeat a request safely: the same key and body give the same answer.",
)


@router.post("/v1/pools/{pool_id}/holds", status_code=201, response_model=HoldOut, responses=PROBLEMS)
async def place_hold(
    body: HoldIn,
    request: Request,
    ledger: LedgerDep,
    principal: PrincipalDep,
    pool_id: str = POOL_ID,
    idempotency: str | None = IDEM_HEADER,
) -> Response:
    """Hold `quantity` of a pool for an actor: 201, or 409 (nothing left), 429 (limit), 403 (denied).

    428 when the policy asks for a challenge: the answer carries `challenge: {id, expires_at}`;
    pass it (`POST /v1/challenges/{id}/pass`) and repeat the request with `challenge_token`.
    """
    require(principal, Role.CLIENT)
    a = body.actor
    actor = ActorInfo(a.id, a.email, a.phone, a.ip, a.device, a.user_agent)
    return outcome_response(await ledger.ahold(
        pool_id, body.quantity, actor, idempotency_key(request, principal, body), body.challenge_token,
        owner=principal.key_id))


@router.post("/v1/holds/{hold_id}/confirm", response_model=HoldStateOut, responses=PROBLEMS)
async def confirm_hold(
    request: Request, ledger: LedgerDep, principal: PrincipalDep,
    hold_id: str = HOLD_ID, idempotency: str | None = IDEM_HEADER,
) -> Response:
    """Turn a live hold into a confirmed registration or sale."""
    require(principal, Role.CLIENT)
    return outcome_response(await ledger.achange(hold_id, "confirm", idempotency_key(request, principal),
                                                   owner=_owner(principal)))


@router.post("/v1/holds/{hold_id}/extend", response_model=HoldStateOut, responses=PROBLEMS)
async def extend_hold(
    request: Request, ledger: LedgerDep, principal: PrincipalDep,
    hold_id: str = HOLD_ID, idempotency: str | None = IDEM_HEADER,
) -> Response:
    """Give a live hold another hold time, never beyond 3x its first hold time in all."""
    require(principal, Role.CLIENT)
    return outcome_response(await ledger.achange(hold_id, "extend", idempotency_key(request, principal),
                                                   owner=_owner(principal)))


@router.delete("/v1/holds/{hold_id}", response_model=HoldStateOut, responses=PROBLEMS)
async def release_hold(
    request: Request, ledger: LedgerDep, principal: PrincipalDep,
    hold_id: str = HOLD_ID, idempotency: str | None = IDEM_HEADER,
) -> Response:
    """Give a hold (or a confirmed registration) back to the pool."""
    require(principal, Role.CLIENT)
    return outcome_response(await ledger.achange(hold_id, "release", idempotency_key(request, principal),
                                                   owner=_owner(principal)))


@router.get("/v1/holds/{hold_id}", response_model=HoldStateOut, responses=PROBLEMS)
async def get_hold(ledger: LedgerDep, principal: PrincipalDep, hold_id: str = HOLD_ID) -> Response:
    """A hold's state; an expired hold shows as expired even before the sweeper ran."""
    require(principal, Role.CLIENT)
    hold = await ledger.store.aread(lambda: ledger.get_hold(hold_id, owner=_owner(principal)))
    if hold is None:
        raise ProblemError(404, "not-found", "no such hold", field="hold_id")
    status = hold.status
    if status == "held" and hold.expires_at <= ledger.clock():
        status = "expired"
    body = {
        "hold_id": hold.id, "pool_id": hold.pool_id, "status": status,
        "quantity": hold.quantity, "expires_at": iso(hold.expires_at),
    }
    if principal.can(Role.STAFF):
        body["actor_key"] = hold.actor_key  # a keyed hash, never the raw identity
    return json_response(body)


def _owner(principal: Principal) -> str | None:
    """Whose holds a caller may see and change: a client only its own; staff every hold."""
    return None if principal.can(Role.STAFF) else principal.key_id
