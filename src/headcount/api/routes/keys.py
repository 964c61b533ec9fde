"""API keys for administrators: list, create (optionally expiring), revoke; every change audited."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field, StringConstraints
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import PrincipalDep
from headcount.api.problems import ProblemError
from headcount.api.render import iso, json_response
from headcount.api.schemas import Strict, problem_responses
from headcount.services.keys import (
    MAX_EXPIRY_S,
    KeyRequestError,
    Role,
    create_key,
    list_keys,
    revoke_key,
)
from headcount.store.base import ApiKeyRecord

router = APIRouter(prefix="/v1/keys", tags=["keys"])
KEY_ID = Path(pattern=r"^[0-9a-f]{1,32}$", description="the id part of a key (`hc_<id>_<secret>`)")


class KeyIn(Strict):
    role: Literal["client", "staff", "privacy", "admin"]
    expires_in_s: int | None = Field(None, ge=1, le=MAX_EXPIRY_S, description="the key stops working after this")
    label: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] | None = (
        Field(None, description="whose key it is (shown in the list)"))


def key_view(record: ApiKeyRecord, now: float) -> dict[str, object]:
    state = "revoked" if record.revoked else ("expired" if not record.usable(now) else "active")
    return {
        "key_id": record.key_id, "role": record.role, "state": state, "label": record.label,
        "created_at": iso(record.created_at),
        "expires_at": None if record.expires_at is None else iso(record.expires_at),
        "revoked_at": None if record.revoked_at is None else iso(record.revoked_at),
    }


@router.get("", responses=problem_responses(401, 403))
async def get_keys(request: Request, principal: PrincipalDep) -> Response:
    """Every API key with its role and state (active, expired, revoked); never a secret."""
    require(principal, Role.ADMIN)
    records = await request.app.state.store.aread(lambda: list_keys(request.app.state.store))
    now = time.time()
    return json_response([key_view(r, now) for r in records])


@router.post("", status_code=201, responses=problem_responses(400, 401, 403, 422))
async def post_key(body: KeyIn, request: Request, principal: PrincipalDep) -> Response:
    """Create a key: 201 `{key, key_id, role, expires_at}`; the key is shown only in this answer."""
    require(principal, Role.ADMIN)
    app = request.app
    try:
        key = await asyncio.to_thread(create_key, app.state.store, body.role, expires_in_s=body.expires_in_s,
                                      label=body.label, ring=app.state.keyring, who=principal.key_id or "?")
    except KeyRequestError as exc:
        raise ProblemError(422, "invalid-field", str(exc), field=exc.field) from exc
    record = await app.state.store.aread(lambda: app.state.store.get_api_key(key.split("_")[1]))
    return json_response({**key_view(record, time.time()), "key": key}, status=201)


@router.delete("/{key_id}", responses=problem_responses(400, 401, 403, 404, 422))
async def delete_key(
    request: Request, principal: PrincipalDep, key_id: str = KEY_ID,
    reason: str = Query("", max_length=500, description="why; written to the audit log"),
) -> Response:
    """Revoke a key at once (in every server process within HEADCOUNT_KEY_CACHE_S); audited."""
    require(principal, Role.ADMIN)
    app = request.app
    done = await asyncio.to_thread(revoke_key, app.state.store, key_id, ring=app.state.keyring,
                                   who=principal.key_id or "?", reason=reason)
    app.state.verifier.forget(key_id)
    record = await app.state.store.aread(lambda: app.state.store.get_api_key(key_id))
    if record is None:
        raise ProblemError(404, "not-found", "no such key", field="key_id")
    return json_response({**key_view(record, time.time()), "revoked_now": done})
