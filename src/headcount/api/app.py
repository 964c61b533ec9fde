"""The FastAPI application: `create_app()` for one process, `app_from_env()` for workers.

Server processes started by `headcount serve --workers N` each build the app
from environment variables (`HEADCOUNT_STORE`, ...) and share the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headcount import __version__
from headcount.actions import ActionService
from headcount.api.auth import KeyVerifier
from headcount.api.problems import install_handlers
from headcount.api.routes import actions, blocks, challenges, holds, pools, privacy
from headcount.challenges import ChallengeService
from headcount.config import Settings
from headcount.groups import GroupWatch, Leadership, watch_interval
from headcount.guard import SignalsGuard
from headcount.ledger.service import ActorInfo, Guard, IdentityGuard, Ledger
from headcount.policy import Policy
from headcount.privacy.keyring import KeyRing, load_keyring
from headcount.privacy.vault import keep_contacts
from headcount.store import open_store
from headcount.store.base import Store
from headcount.web import mount_dashboard

log = logging.getLogger("headcount.api")

SWEEP_INTERVAL_S = 1.0
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware halved throughput here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _sweeper(ledger: Ledger, interval: float, retention_s: float) -> None:
    """Make expiry permanent and purge old contact data in the background.

    Availability never waits for the sweep: expired holds never count anyway.
    """
    rounds = 0
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(ledger.sweep)
            if rounds % 60 == 0:
                await asyncio.to_thread(ledger.store.purge_contacts, ledger.clock() - retention_s)
        except Exception:  # keep sweeping; a failed round is retried next time
            log.exception("sweep failed")
        rounds += 1


async def _detector(watch: GroupWatch, leadership: Leadership, interval: float) -> None:
    """Run detection on a schedule in the leading process; reload flagged persons in all.

    Detection runs in a thread (numpy and numba release the GIL), so requests go on.
    """
    while True:
        try:
            if leadership.acquire():
                await asyncio.to_thread(watch.run_once)
            else:
                await asyncio.to_thread(watch.refresh)
        except Exception:  # a failed round is retried next time; serving goes on
            log.exception("detection failed")
        try:
            await asyncio.sleep(interval)
        except asyncio.CancelledError:
            leadership.release()
            raise


def create_app(
    store: Store | None = None,
    *,
    guard: Guard | None = None,
    settings: Settings | None = None,
    keyring: KeyRing | None = None,
    sweep_interval: float | None = SWEEP_INTERVAL_S,
    detect_interval: float | None = None,
    close_store: bool = False,
) -> FastAPI:
    """Build the service over a store (the default store when none is given)."""
    if store is None:
        store = open_store()
        close_store = True
    settings = settings or Settings.from_env()
    if detect_interval is None:
        detect_interval = watch_interval()
    ring = keyring or load_keyring()
    keeper = None
    if settings.keep_contacts:
        def keeper(actor_key: str, actor: ActorInfo) -> None:
            keep_contacts(store, ring, actor_key, {
                "email": actor.email, "phone": actor.phone, "ip": actor.ip,
                "device": actor.device, "id": actor.id,
            })
    if guard is None:  # HEADCOUNT_GUARD=identity: persons without risk (for comparisons)
        guard = (IdentityGuard(ring, store) if os.environ.get("HEADCOUNT_GUARD") == "identity"
                 else SignalsGuard(ring, store, Policy.load()))
    policy: Policy | None = getattr(guard, "policy", None)
    challenger = (ChallengeService(store, ring, policy.challenge_ttl_s, policy.token_ttl_s) if policy
                  else ChallengeService(store, ring))
    ledger = Ledger(store, guard, keep_contacts=keeper, challenges=challenger)
    watch = GroupWatch(store)
    if isinstance(guard, SignalsGuard):
        guard.flagged = lambda: watch.members
        guard.group_confidence = lambda person: watch.confidence.get(person, 1.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if sweep_interval:
            tasks.append(asyncio.create_task(
                _sweeper(ledger, sweep_interval, settings.contact_retention_days * 86400)))
        if detect_interval:
            tasks.append(asyncio.create_task(_detector(watch, Leadership(store), detect_interval)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if close_store:
                store.close()

    app = FastAPI(
        title="headcount",
        version=__version__,
        summary="Tell real people from fake crowds: holds ledger, risk and headcount.",
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    app.state.store = store
    app.state.groups = watch
    app.state.actions = ActionService(store, ledger.guard, ring, challenges=challenger)
    app.state.challenges = challenger
    app.state.keyring = ring
    app.state.settings = settings
    app.state.verifier = KeyVerifier(store, settings.auth_failures_per_minute)
    install_handlers(app)
    app.include_router(pools.router)
    app.include_router(holds.router)
    app.include_router(actions.router)
    app.include_router(challenges.router)
    app.include_router(privacy.router)
    app.include_router(blocks.router)
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
    """Factory for uvicorn workers: the store URL comes from HEADCOUNT_STORE."""
    return create_app(open_store(os.environ.get("HEADCOUNT_STORE")), close_store=True)
