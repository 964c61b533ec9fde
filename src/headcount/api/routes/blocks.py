"""Coordinated groups the detection job found, with their evidence (staff)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import LedgerDep, PrincipalDep
from headcount.api.render import iso, json_response
from headcount.api.schemas import problem_responses
from headcount.services.keys import Role

router = APIRouter(prefix="/v1/blocks", tags=["blocks"])


@router.get("", responses=problem_responses(401, 403, 422))
async def list_blocks(ledger: LedgerDep, principal: PrincipalDep,
                      limit: int = Query(20, ge=1, le=500)) -> Response:
    """Detected groups, newest first: members (person keys), targets, window, density, score."""
    require(principal, Role.STAFF)
    blocks = await ledger.store.aread(lambda: ledger.store.list_blocks(limit))
    out = []
    for b in blocks:
        item = b.to_json()
        item.update(detected_at=iso(b.detected_at), updated_at=iso(b.updated_at),
                    start=iso(b.start), end=iso(b.end), size=len(b.actors))
        out.append(item)
    return json_response({"blocks": out})
