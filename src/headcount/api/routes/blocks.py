"""Coordinated groups the detection job found, with their evidence (staff)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import LedgerDep, PrincipalDep
from headcount.api.problems import ProblemError
from headcount.api.render import iso, json_response
from headcount.api.schemas import problem_responses
from headcount.privacy.audit import record_read
from headcount.services.keys import Role

router = APIRouter(prefix="/v1/blocks", tags=["blocks"])


@router.get("", responses=problem_responses(401, 403, 422))
async def list_blocks(request: Request, ledger: LedgerDep, principal: PrincipalDep,
                      limit: int = Query(20, ge=1, le=500)) -> Response:
    """Detected groups, newest first: members (person keys), targets, window, density, score.

    `stream`: what this process's last streaming round did (empty unless it leads detection)."""
    require(principal, Role.STAFF)
    blocks = await ledger.store.aread(lambda: ledger.store.list_blocks(limit))
    out = []
    for b in blocks:
        item = b.to_json()
        item.update(detected_at=iso(b.detected_at), updated_at=iso(b.updated_at),
                    start=iso(b.start), end=iso(b.end), size=len(b.actors))
        out.append(item)
    return json_response({"blocks": out, "stream": request.app.state.groups.stream_stats})


class Dismiss(BaseModel):
    reason: str = Field(min_length=3, max_length=500, description="why staff cleared the block; audited")


@router.post("/{block_id}/dismiss", responses=problem_responses(400, 401, 403, 404, 422))
async def dismiss_block(request: Request, principal: PrincipalDep, body: Dismiss,
                        block_id: str = PathParam(max_length=100)) -> Response:
    """Clear a block after review: its members lose `coordinated_group`, and the job does not
    flag the same members for the same pattern again. Audited in the HMAC chain first."""
    require(principal, Role.STAFF)
    app = request.app
    store = app.state.store

    def op() -> object:
        if not any(b.id == block_id for b in store.list_blocks(100_000)):
            return None
        record_read(store, app.state.keyring, who=principal.key_id or "?", role=str(principal.role),
                    action="block.dismiss", subject=block_id, reason=body.reason)
        block = store.dismiss_block(block_id, principal.key_id or "?", body.reason, time.time())
        app.state.groups.refresh()  # this process at once; the others at their next refresh
        return block

    block = await asyncio.to_thread(op)
    if block is None:
        raise ProblemError(404, "block-not-found", f"no current block {block_id!r}", field="block_id")
    return json_response({"id": block_id, "dismissed": True, "reason": body.reason,
                          "members": len(block.actors)})  # type: ignore[attr-defined]
