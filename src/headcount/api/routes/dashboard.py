"""The dashboard's data in one call, and one pool's decisions (staff).

`GET /v1/dashboard` answers everything the page shows in one request, whatever the
number of pools: every pool with its headcount, decisions by outcome, band and
reason, flood state and timeline, and the coordinated groups tied to the pools they
touched. Without the staff role it answers names and lights only. The figures come
from `headcount.services.views`, which `headcount report` renders too.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import LedgerDep, PrincipalDep
from headcount.api.problems import ProblemError
from headcount.api.render import json_response
from headcount.api.schemas import problem_responses
from headcount.services.keys import Role
from headcount.services.views import Views

router = APIRouter(prefix="/v1", tags=["dashboard"])
POOL_ID = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", max_length=64)
GROUPS = 500


@router.get("/dashboard", responses=problem_responses(401, 429))
async def dashboard(request: Request, ledger: LedgerDep, principal: PrincipalDep) -> Response:
    """Every pool at a glance. Staff: headcount, decisions (allowed, shortened, challenged,
    denied) by band and reason over time, flood mode and since when, groups per pool.
    Anyone else: names and traffic lights."""
    views: Views = request.app.state.views
    now = ledger.clock()
    if not principal.can(Role.STAFF):
        pools = await ledger.store.aread(lambda: ledger.pools())
        return json_response({"role": str(principal.role.value) if principal.role else None,
                              **views.public(pools)})

    def build() -> dict[str, object]:
        return views.dashboard(ledger.pools(), ledger.store.list_blocks(GROUPS), now)

    body = await asyncio.to_thread(build)  # the estimates are numpy work: off the event loop
    return json_response({"role": str(principal.role.value) if principal.role else None, **body})


@router.get("/pools/{pool_id}/decisions", responses=problem_responses(401, 403, 404, 422))
async def pool_decisions(request: Request, ledger: LedgerDep, principal: PrincipalDep,
                         pool_id: str = POOL_ID) -> Response:
    """One pool's decisions by outcome, band and reason, its flood state and its timeline (staff)."""
    require(principal, Role.STAFF)
    views: Views = request.app.state.views
    pool = await ledger.store.aread(lambda: ledger.pool(pool_id))
    if pool is None:
        raise ProblemError(404, "not-found", f"no pool {pool_id!r}", field="pool_id")
    now = ledger.clock()

    def build() -> dict[str, object]:
        counts, seats = views._read_counts([pool_id])
        return {"pool_id": pool_id, "decisions": views.decisions(counts, pool_id),
                "flood": views.flood(pool_id, counts).to_dict(),
                "timeline": views.timeline(counts, seats, pool_id, now)}

    return json_response(await asyncio.to_thread(build))
