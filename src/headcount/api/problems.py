"""Errors as `application/problem+json` (RFC 9457), naming the field at fault.

Every error the API returns goes through here, so that no input ever yields a
traceback or a bare 500.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from headcount.store.base import StoreUnavailable

log = logging.getLogger("headcount.api")

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        reasons: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.reasons = reasons
        self.extra = extra or {}
        self.headers = headers


TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}

#: members of every problem document that `extra` cannot overwrite (RFC 9457's own)
RESERVED = frozenset({"type", "title", "status", "detail"})


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    reasons: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:headcount:problem:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if reasons is not None:
        body["reasons"] = reasons
    for key, value in (extra or {}).items():
        # a resource's own `status` (a hold's state) must not replace the HTTP status
        body[f"{key}_" if key in RESERVED else key] = value
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) if parts else "body"


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status, exc.code, exc.detail, field=exc.field, reasons=exc.reasons,
            extra=exc.extra, headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            if err.get("type") == "json_invalid":
                return problem_response(
                    400, "malformed-json", f"request body is not valid JSON: {err.get('msg')}",
                    field="body",
                )
            errors.append({"field": _field_name(loc), "message": str(err.get("msg", "invalid"))})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return problem_response(
            422, "invalid-field", f"{first['field']}: {first['message']}",
            field=first["field"], extra={"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(exc.status_code, code, str(exc.detail), headers=headers or None)

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_: Request, exc: StoreUnavailable) -> Response:
        log.warning("store unavailable: %s", exc)
        return problem_response(
            503, "store-unavailable",
            "the database is unavailable (failover or restart); retry with the same Idempotency-Key",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return problem_response(500, "internal", "internal error; it has been logged")
