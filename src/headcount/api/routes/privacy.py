"""Raw contact data, for the privacy role only, each read audited with its reason."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import PrincipalDep
from headcount.api.problems import ProblemError
from headcount.api.render import iso, json_response
from headcount.api.schemas import problem_responses
from headcount.privacy.vault import read_contacts
from headcount.services.keys import Role

router = APIRouter(prefix="/v1/contacts", tags=["privacy"])


@router.get("/{actor_key}", responses=problem_responses(400, 401, 403, 404, 422))
async def get_contacts(
    request: Request,
    principal: PrincipalDep,
    actor_key: str = Path(max_length=200),
    reason: str = Query(min_length=3, max_length=500, description="why this read is needed; audited"),
) -> Response:
    """Decrypt the contact data kept for an actor (privacy role); the read is audited first."""
    require(principal, Role.PRIVACY)
    app = request.app
    try:
        contacts = await asyncio.to_thread(
            read_contacts, app.state.store, app.state.keyring, actor_key,
            who=principal.key_id or "?", role=str(principal.role), reason=reason,
        )
    except ValueError as exc:  # a ciphertext that does not decrypt: damaged or moved
        raise ProblemError(409, "contact-data-damaged", str(exc), field="actor_key") from exc
    return json_response({
        "actor_key": actor_key,
        "contacts": [{"kind": c.kind, "value": c.value, "kept_since": iso(c.kept_since)} for c in contacts],
    })
