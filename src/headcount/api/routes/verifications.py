"""Verifications: codes for an e-mail address or phone number, delivered by the client.

Server to server with a client key: the client's backend asks for a code, sends it
to the person by its own mailer or SMS provider, and reports the code the person
typed. The code is in the answer because the client, not headcount, delivers it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import StringConstraints
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import PrincipalDep
from headcount.api.problems import ProblemError
from headcount.api.render import iso, json_response
from headcount.api.schemas import Strict, problem_responses
from headcount.services.keys import Role
from headcount.services.verifications import VerificationError, VerificationService

router = APIRouter(tags=["verifications"])
VERIFICATION_ID = Path(pattern=r"^v_[A-Za-z0-9_-]{1,60}$", description="the id from POST /v1/verifications")


class VerificationIn(Strict):
    kind: Literal["email", "phone"]
    value: Annotated[str, StringConstraints(min_length=1, max_length=320)]


class VerificationCodeIn(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


def _problem(exc: VerificationError) -> ProblemError:
    status = 404 if exc.code == "unknown" else 409 if exc.code in ("expired", "spent") else 422
    return ProblemError(status, f"verification-{exc.code}", str(exc), field=exc.field)


@router.post("/v1/verifications", status_code=201, responses=problem_responses(400, 401, 403, 422))
async def issue_verification(body: VerificationIn, request: Request, principal: PrincipalDep) -> Response:
    """Issue a code for an e-mail address or phone number: 201 `{id, code, expires_at}`.

    Deliver `code` to the person through your own channel; it lives 15 minutes and
    takes five wrong guesses."""
    require(principal, Role.CLIENT)
    service: VerificationService = request.app.state.verifications
    try:
        v = await asyncio.to_thread(service.issue, body.kind, body.value)
    except VerificationError as exc:
        raise _problem(exc) from None
    return json_response({"id": v.id, "kind": body.kind, "code": v.code, "expires_at": iso(v.expires_at)}, 201)


@router.post("/v1/verifications/{verification_id}/confirm", responses=problem_responses(400, 401, 403, 404, 409, 422))
async def confirm_verification(body: VerificationCodeIn, request: Request, principal: PrincipalDep,
                               verification_id: str = VERIFICATION_ID) -> Response:
    """Confirm with the code the person typed: 200 `{verified: true}`; safe to repeat."""
    require(principal, Role.CLIENT)
    service: VerificationService = request.app.state.verifications
    try:
        v = await asyncio.to_thread(service.confirm, verification_id, body.code)
    except VerificationError as exc:
        raise _problem(exc) from None
    return json_response({"id": v.id, "verified": True, "verified_at": iso(v.confirmed_at or 0.0)})
