"""The Idempotency-Key header: scoped to the caller, bound to the request's content."""

from __future__ import annotations

import hashlib

import orjson
from fastapi import Request
from pydantic import BaseModel

from headcount.api.auth import Principal
from headcount.api.problems import ProblemError
from headcount.types import IdempotencyKey

MAX_KEY_LENGTH = 255


def idempotency_key(
    request: Request, principal: Principal, body: BaseModel | None = None
) -> IdempotencyKey | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ProblemError(
            400, "bad-idempotency-key",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            field="Idempotency-Key",
        )
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\x1f" + request.url.path.encode() + b"\x1f")
    if body is not None:
        digest.update(orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS))
    return IdempotencyKey(scope=principal.key_id or "anonymous", key=key, request_hash=digest.hexdigest())
