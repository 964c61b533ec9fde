"""The FastAPI application over a `Headcount`: routes, middleware, background loops.

`headcount.open(url).asgi()` builds it; server processes started by `headcount
serve --workers N` each call `app_from_env()`, which opens headcount from the
environment (`HEADCOUNT_STORE`, ...), so all of them share the store.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import Response

from headcount import __version__
from headcount.api.auth import KeyVerifier
from headcount.api.docs import mount_docs
from headcount.api.health import HealthMonitor
from headcount.api.middleware import Admission, AuthFirst, ClientAddress, SecurityHeaders
from headcount.api.problems import install_handlers, problem_response
from headcount.api.routes import (
    actions,
    blocks,
    challenges,
    dashboard,
    holds,
    keys,
    lottery,
    pools,
    privacy,
    verifications,
)
from headcount.core import Headcount
from headcount.core import open as headcount_open
from headcount.guard.identity import Guard
from headcount.privacy.keyring import KeyRing
from headcount.services.background import StreamThread
from headcount.services.background import detector as _detector
from headcount.services.background import sweeper as _sweeper
from headcount.services.decisions import DecisionLog, flusher
from headcount.services.detection import Leadership
from headcount.services.lottery import lottery_loop
from headcount.services.views import Views
from headcount.settings import Settings
from headcount.store.base import Store
from headcount.web import mount_dashboard

SWEEP_INTERVAL_S = 1.0


def create_app(
    source: Headcount | Store | None = None,
    *,
    settings: Settings | None = None,
    guard: Guard | None = None,
    keyring: KeyRing | None = None,
    sweep_interval: float | None = SWEEP_INTERVAL_S,
    detect_interval: float | None = None,
    close_store: bool = False,
) -> FastAPI:
    """The HTTP service over a `Headcount` (or, for tests and embedding, over an open store)."""
    if isinstance(source, Headcount):
        hc = source
    elif source is None:
        hc = headcount_open(settings=settings, guard=guard)
        close_store = True
    else:
        hc = Headcount.over(source, settings=settings, keyring=keyring, guard=guard, owns_store=close_store)
    settings = hc.settings
    store = hc.store
    if detect_interval is None:
        detect_interval = settings.detect_interval_s
    ledger = hc.ledger
    watch = hc.groups
    decision_log = DecisionLog(store, hc.policy, clock=hc.clock)  # every guard decision, for the views
    ledger.on_decision = hc.actions.on_decision = decision_log.note
    health = HealthMonitor(store, settings.health_interval_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        # one thread for every request admitted at once (PostgreSQL calls and key checks run on
        # threads): an admitted request never queues for a thread behind ones stuck on a dead store
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=settings.max_inflight + 8,
                                                         thread_name_prefix="headcount-io")
        asyncio.get_running_loop().set_default_executor(executor)
        health.start()
        if sweep_interval:
            tasks.append(asyncio.create_task(
                _sweeper(ledger, sweep_interval, settings.contact_retention_days * 86400)))
        stream = None
        if detect_interval:
            leadership = Leadership(store)
            tasks.append(asyncio.create_task(_detector(watch, leadership, detect_interval)))
            if settings.stream_interval_s:  # new actions into candidate blocks within seconds
                stream = StreamThread(watch, leadership, settings.stream_interval_s)
                stream.start()
        app.state.stream = stream
        tasks.append(asyncio.create_task(flusher(decision_log)))
        if sweep_interval:  # lottery draws at closes_at and the waitlist's pass-down, in one process
            tasks.append(asyncio.create_task(lottery_loop(hc.lottery, sweep_interval)))
        try:
            yield
        finally:
            if stream is not None:
                await asyncio.to_thread(stream.stop)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(health.stop)
            if close_store:
                hc.close()
            executor.shutdown(wait=False)  # its threads end once idle (a lifespan can start again)

    app = FastAPI(
        title="headcount",
        version=__version__,
        summary="Tell real people from fake crowds: holds ledger, risk and headcount.",
        lifespan=lifespan,
        docs_url=None,  # served from local assets by mount_docs (FastAPI's page loads a CDN)
        redoc_url=None,
    )
    mount_docs(app)
    app.state.headcount = hc
    app.state.ledger = ledger
    app.state.store = store
    app.state.groups = watch
    app.state.actions = hc.actions
    app.state.challenges = hc.challenges
    app.state.verifications = hc.verifications
    app.state.keyring = hc.keyring
    app.state.settings = settings
    app.state.views = Views(store, hc.policy, floods=getattr(hc.guard, "floods", None),
                            pending=decision_log.flush, clock=hc.clock, lottery=hc.lottery)
    app.state.verifier = verifier = KeyVerifier(store, settings.auth_failures_per_minute, settings.key_cache_s,
                                                store_ok=health.ok)
    app.state.health = health
    install_handlers(app)
    app.include_router(pools.router)
    app.include_router(holds.router)
    app.include_router(actions.router)
    app.include_router(challenges.router)
    app.include_router(verifications.router)
    app.include_router(privacy.router)
    app.include_router(blocks.router)
    app.include_router(dashboard.router)
    app.include_router(keys.router)
    app.include_router(lottery.router)
    mount_dashboard(app)
    # added innermost first: SecurityHeaders > ClientAddress > Admission > AuthFirst > routes
    app.add_middleware(AuthFirst, authenticate=verifier.authenticate, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s)
    app.add_middleware(Admission, max_inflight=settings.max_inflight, store_ok=health.ok,
                       target_s=None if settings.shed_latency_ms is None else settings.shed_latency_ms / 1000)
    app.add_middleware(ClientAddress, trusted=settings.trusted_proxies)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:  # off unless configured
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key"])

    @app.get("/healthz", include_in_schema=False)
    @app.get("/v1/health", include_in_schema=False)
    async def healthz() -> Response:
        """200 while the store's last health check wrote; 503 with the reason and Retry-After else."""
        state = health.state()
        if state.ok:
            return Response(b'{"status":"ok","store":"ok"}', media_type="application/json")
        return problem_response(503, "store-unavailable", f"the store is unavailable: {state.detail}",
                                extra={"store": "unavailable", "checked_s_ago": round(state.checked_s_ago, 2)},
                                headers={"Retry-After": "1"})

    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: each builds `headcount.open()` from the environment."""
    return create_app(None)
