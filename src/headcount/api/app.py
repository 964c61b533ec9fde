"""The FastAPI application over a `Headcount`: routes, middleware, background loops.

`headcount.open(url).asgi()` builds it; server processes started by `headcount
serve --workers N` each call `app_from_env()`, which opens headcount from the
environment (`HEADCOUNT_STORE`, ...), so all of them share the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from headcount import __version__
from headcount.api.auth import KeyVerifier
from headcount.api.docs import mount_docs
from headcount.api.middleware import SecurityHeaders
from headcount.api.problems import install_handlers
from headcount.api.routes import actions, blocks, challenges, holds, lottery, pools, privacy
from headcount.core import Headcount
from headcount.core import open as headcount_open
from headcount.guard.identity import Guard
from headcount.privacy.keyring import KeyRing
from headcount.services.background import detector as _detector
from headcount.services.background import sweeper as _sweeper
from headcount.services.detection import Leadership
from headcount.services.lottery import lottery_loop
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

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if sweep_interval:
            tasks.append(asyncio.create_task(
                _sweeper(ledger, sweep_interval, settings.contact_retention_days * 86400)))
        if detect_interval:
            tasks.append(asyncio.create_task(_detector(watch, Leadership(store), detect_interval)))
        if sweep_interval:  # lottery draws at closes_at and the waitlist's pass-down, in one process
            tasks.append(asyncio.create_task(lottery_loop(lottery.lottery_of_app(app), sweep_interval)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if close_store:
                hc.close()

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
    app.state.keyring = hc.keyring
    app.state.settings = settings
    app.state.verifier = KeyVerifier(store, settings.auth_failures_per_minute)
    install_handlers(app)
    app.include_router(pools.router)
    app.include_router(holds.router)
    app.include_router(actions.router)
    app.include_router(challenges.router)
    app.include_router(privacy.router)
    app.include_router(blocks.router)
    app.include_router(lottery.router)
    mount_dashboard(app)
    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:  # off unless configured
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key"])

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: each builds `headcount.open()` from the environment."""
    return create_app(None)
