"""Pools: create one, read its traffic light (everyone) or exact figures (staff)."""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from headcount.api.auth import require
from headcount.api.deps import LedgerDep, PrincipalDep
from headcount.api.idempotency import idempotency_key
from headcount.api.problems import ProblemError
from headcount.api.render import iso, json_response, outcome_response
from headcount.api.schemas import (
    PoolCreatedOut,
    PoolIn,
    PoolPublicOut,
    PoolStaffOut,
    problem_responses,
)
from headcount.services.headcount import UnknownPool, pool_headcount
from headcount.services.keys import Role
from headcount.types import LightThresholds, Pool, PoolSpec

router = APIRouter(prefix="/v1/pools", tags=["pools"])
PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422)
POOL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
POOL_ID = Path(pattern=POOL_ID_PATTERN, max_length=64)


def _view(pool: Pool, staff: bool) -> dict[str, object]:
    return pool.staff_view() if staff else pool.public_view()


@router.post("", status_code=201, response_model=PoolCreatedOut, responses=PROBLEMS)
def create_pool(body: PoolIn, request: Request, ledger: LedgerDep, principal: PrincipalDep) -> Response:
    """Create a pool of capacity that holds draw from (staff)."""
    require(principal, Role.STAFF)
    light = LightThresholds(body.light.yellow_at, body.light.red_at) if body.light else LightThresholds()
    spec = PoolSpec(body.id, body.name, body.kind, body.capacity, body.per_actor_limit, body.hold_ttl_s, light,
                    phone_region=body.phone_region)
    if body.allocation is not None and body.allocation.mode == "lottery":
        from headcount.api.routes.lottery import create_lottery_pool

        return create_lottery_pool(request, spec, body, principal)
    return outcome_response(ledger.create_pool(spec, idempotency_key(request, principal, body)))


@router.get("", response_model=list[PoolStaffOut] | list[PoolPublicOut], responses=PROBLEMS)
def list_pools(ledger: LedgerDep, principal: PrincipalDep) -> Response:
    """All pools: lights for everyone, exact figures for staff."""
    staff = principal.can(Role.STAFF)
    return json_response([_view(p, staff) for p in ledger.pools()])


@router.get("/{pool_id}", response_model=PoolStaffOut | PoolPublicOut, responses=PROBLEMS)
async def get_pool(ledger: LedgerDep, principal: PrincipalDep, pool_id: str = POOL_ID) -> Response:
    """A pool's traffic light; staff also see capacity, held, confirmed and available."""
    pool = await ledger.store.aread(lambda: ledger.pool(pool_id))
    if pool is None:
        raise ProblemError(404, "not-found", f"no pool {pool_id!r}", field="pool_id")
    return json_response(_view(pool, principal.can(Role.STAFF)))


@router.get("/{pool_id}/timeline", responses=PROBLEMS)
async def pool_timeline(
    request: Request,
    ledger: LedgerDep,
    principal: PrincipalDep,
    pool_id: str = POOL_ID,
    bucket_s: int = Query(60, ge=10, le=86_400, description="width of a time bucket in seconds"),
    hours: float = Query(24, gt=0, le=24 * 90, description="how far back"),
) -> Response:
    """Seats of holds placed over time per risk band of the policy (staff); `lapsed`: expired or released."""
    require(principal, Role.STAFF)
    pool = await ledger.store.aread(lambda: ledger.pool(pool_id))
    if pool is None:
        raise ProblemError(404, "not-found", f"no pool {pool_id!r}", field="pool_id")
    names = list(request.app.state.headcount.bands.names)
    edges = request.app.state.headcount.bands.edges
    now = ledger.clock()
    rows = await ledger.store.aread(
        lambda: ledger.store.seat_timeline(edges, bucket_s, now - hours * 3600, now, [pool_id]))
    by_bucket: dict[float, dict[str, int]] = {}
    for r in rows:
        counts = by_bucket.setdefault(r.bucket, {})
        key = names[min(r.band, len(names) - 1)] if r.live else "lapsed"
        counts[key] = counts.get(key, 0) + r.seats
    points = []
    if by_bucket:  # dense: every bucket from the first with holds to now, empty ones included
        start = min(by_bucket)
        last = (now // bucket_s) * bucket_s
        while start <= last:
            counts = by_bucket.get(start, {})
            points.append({"t": iso(start), **{b: counts.get(b, 0) for b in (*names, "lapsed")}})
            start += bucket_s
    return json_response({"pool_id": pool_id, "bucket_s": bucket_s, "bands": names, "points": points})


@router.get("/{pool_id}/headcount", responses=PROBLEMS)
async def pool_headcount_view(
    request: Request,
    ledger: LedgerDep,
    principal: PrincipalDep,
    pool_id: str = POOL_ID,
    history: list[str] | None = Query(
        None, max_length=200, description="earlier pools to learn show-up rates from (repeat the"
        " parameter); default: every other pool of the same kind with check-ins"),
    level: float = Query(0.9, ge=0.5, le=0.99, description="probability of the interval"),
) -> Response:
    """How many real people will come (staff): expected, a `level` interval, the chance of
    more than capacity, per risk band, and where the uncertainty comes from."""
    require(principal, Role.STAFF)
    for h in history or ():
        if len(h) > 64 or not re.fullmatch(POOL_ID_PATTERN, h):
            raise ProblemError(422, "invalid", f"not a pool id: {h[:80]!r}", field="history")
    try:
        # in a worker thread: the estimate is numpy work (10-20 ms), never on the event loop
        result = await asyncio.to_thread(
            pool_headcount, ledger.store, pool_id, history=history, level=level, now=ledger.clock(),
            bands=request.app.state.headcount.bands)  # the policy's bands, as every view uses
    except UnknownPool as exc:
        raise ProblemError(404 if exc.field == "pool_id" else 422, "not-found", str(exc), field=exc.field) from exc
    return json_response(result.to_dict())
