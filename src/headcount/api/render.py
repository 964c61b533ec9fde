"""Turn ledger outcomes into HTTP answers: status codes, times as ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

from headcount.api.problems import problem_response
from headcount.types import Outcome, Result

STATUS = {
    Result.CREATED: 201,
    Result.HELD: 201,
    Result.CONFIRMED: 200,
    Result.RELEASED: 200,
    Result.EXTENDED: 200,
    Result.SOLD_OUT: 409,
    Result.EXISTS: 409,
    Result.BAD_STATE: 409,
    Result.LOTTERY_POOL: 409,
    Result.ACTOR_LIMIT: 429,
    Result.DENIED: 403,
    Result.CHALLENGE: 428,
    Result.NOT_FOUND: 404,
    Result.IDEMPOTENCY_MISMATCH: 422,
    Result.INVALID: 422,
}

DETAIL = {
    Result.SOLD_OUT: "not enough left in this pool",
    Result.EXISTS: "a pool with this id exists",
    Result.BAD_STATE: "the hold is not in a state that allows this",
    Result.ACTOR_LIMIT: "this person's limit for the pool is reached",
    Result.DENIED: "the request was refused on risk",
    Result.CHALLENGE: "pass the challenge, then repeat the request with its challenge_token",
    Result.NOT_FOUND: "no such resource",
    Result.IDEMPOTENCY_MISMATCH: "this Idempotency-Key was used with a different request",
    Result.INVALID: "this looks mistyped: ask the person to correct it, then repeat the request",
    Result.LOTTERY_POOL: "this pool is allocated by lottery: register; winners get their holds from the draw",
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _public_body(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    if isinstance(out.get("expires_at"), int | float):
        out["expires_at"] = iso(out["expires_at"])
    challenge = out.get("challenge")
    if isinstance(challenge, dict) and isinstance(challenge.get("expires_at"), int | float):
        out["challenge"] = {**challenge, "expires_at": iso(challenge["expires_at"])}
    risk = out.get("risk")
    if isinstance(risk, dict):
        out["risk"] = {"score": float(risk.get("score", 0.0)), "reasons": list(risk.get("reasons", []))}
        if isinstance(risk.get("details"), dict):  # the fan-out and memory reasons, in words
            out["risk"]["details"] = {str(k): str(v) for k, v in risk["details"].items()}
    return out


def outcome_response(outcome: Outcome) -> Response:
    status = STATUS[outcome.result]
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    body = _public_body(outcome.body)
    if outcome.ok:
        return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                        headers=headers)
    reasons = [str(r) for r in body.pop("reasons", [])]
    field = "Idempotency-Key" if outcome.result is Result.IDEMPOTENCY_MISMATCH else body.pop("field", None)
    code = outcome.result.value.replace("_", "-")
    if "status" in body:  # the hold's state: the problem's `status` is the HTTP status (RFC 9457)
        body["hold_status"] = body.pop("status")
    detail = body.pop("detail", None)  # an outcome may say why in its own words (a lottery pool's hold)
    return problem_response(status, code, detail if isinstance(detail, str) else DETAIL[outcome.result],
                            reasons=reasons, field=field, extra=body, headers=headers)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
