"""Challenges: the client's backend reports that a person passed one, and gets a token.

The client app, not headcount, tests the person (a CAPTCHA, an SMS code, ...);
this is the one call that vouches for the result, so it takes a client key and
is made server to server, never from the browser.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import PrincipalDep
from headcount.api.problems import ProblemError
from headcount.api.render import iso, json_response
from headcount.api.schemas import ChallengePassOut, problem_responses
from headcount.services.challenges import ChallengeService, PassError
from headcount.services.keys import Role

router = APIRouter(tags=["challenges"])
CHALLENGE_ID = Path(pattern=r"^ch_[A-Za-z0-9_-]{1,60}$", description="the id from a 428 answer's `challenge`")


@router.post("/v1/challenges/{challenge_id}/pass", response_model=ChallengePassOut,
             responses=problem_responses(401, 403, 404, 409, 422))
async def pass_challenge(request: Request, principal: PrincipalDep, challenge_id: str = CHALLENGE_ID) -> Response:
    """Mark a challenge passed: 200 `{token, expires_at, ...}`, a single-use token for the retried request.

    Passing again before the token is spent gives the same token (safe to retry);
    409 when the challenge expired unpassed, its token ran out, or it was spent.
    """
    require(principal, Role.CLIENT)
    service: ChallengeService = request.app.state.challenges
    result = await asyncio.to_thread(service.pass_challenge, challenge_id)  # a write
    if result is PassError.NOT_FOUND:
        raise ProblemError(404, "not-found", "no such challenge", field="challenge_id")
    if result is PassError.EXPIRED:
        raise ProblemError(409, "challenge-expired", "the challenge or its token expired; repeat the request "
                           "without a token for a new challenge", field="challenge_id")
    if result is PassError.USED:
        raise ProblemError(409, "challenge-used", "this challenge's token was spent", field="challenge_id")
    assert not isinstance(result, PassError)
    return json_response({"challenge_id": challenge_id, "token": result.token,
                          "expires_at": iso(result.expires_at), "scope": result.scope})
