"""The composition root: `headcount.open(url)` wires everything once.

Store, the store's key ring, policy, guard, challenges, holds, lottery pools,
actions and the detection job are built here and nowhere else, so a library user gets exactly
what `headcount serve` runs: keyed hashes instead of raw identities, person
linking, risk, per-person limits. The HTTP app (`Headcount.asgi()`) and the CLI
are thin layers over this object.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from headcount.estimate import Bands
from headcount.guard import SignalsGuard
from headcount.guard.identity import Guard, IdentityGuard
from headcount.policy import Policy
from headcount.privacy.keyring import KeyRing, keyring_for_store
from headcount.privacy.vault import keep_contacts
from headcount.services.actions import ActionOutcome, ActionService
from headcount.services.challenges import ChallengeService
from headcount.services.detection import GroupWatch
from headcount.services.headcount import PoolHeadcount, pool_headcount
from headcount.services.holds import Ledger
from headcount.services.lottery import Answer, LotteryConfig, LotteryService
from headcount.services.verifications import VerificationService
from headcount.settings import Settings, load_settings
from headcount.store import open_store
from headcount.store.base import Store
from headcount.store.blocks import StoredBlock
from headcount.types import ActorInfo, Hold, IdempotencyKey, Outcome, Pool, PoolSpec

if TYPE_CHECKING:
    from fastapi import FastAPI


class Headcount:
    """One headcount instance over one store: the library API and what the service serves."""

    def __init__(
        self,
        store: Store,
        *,
        keyring: KeyRing,
        policy: Policy,
        settings: Settings,
        guard: Guard | None = None,
        clock: Callable[[], float] = time.time,
        owns_store: bool = True,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.policy = policy
        self.settings = settings
        self.clock = clock
        self._owns_store = owns_store
        if guard is None:
            # no hard-coded country (issue 13 L): national-format numbers need
            # HEADCOUNT_DEFAULT_REGION; without it they are unparsable, not guessed German
            region: Any = settings.default_region
            guard = (IdentityGuard(keyring, store) if settings.guard == "identity"
                     else SignalsGuard(keyring, store, policy, default_region=region))
        self.guard = guard
        self.challenges = ChallengeService(store, keyring, policy.challenge_ttl_s, policy.token_ttl_s)
        key = (guard if isinstance(guard, IdentityGuard) else IdentityGuard(keyring)).key
        self.verifications = VerificationService(store, key, settings.default_region, clock)
        keeper = self._keep_contacts if settings.keep_contacts else None
        self.ledger = Ledger(store, guard, clock=clock, keep_contacts=keeper, challenges=self.challenges,
                             confirm_requires_verified=policy.graph.confirm_requires_verified)
        self.actions = ActionService(store, guard, keyring, budgets=policy.budgets, clock=clock,
                                     challenges=self.challenges)
        self.groups = GroupWatch(store)
        #: the risk bands every view (API, dashboard, report, estimate) uses: the policy's
        self.bands = Bands.from_policy(policy)
        #: lottery pools (registrations, the draw, the waitlist); the service's routes and its
        #: draw loop use this one, so a library user gets the draws `headcount serve` makes
        self.lottery = LotteryService(store, self.ledger, policy=policy, bands=self.bands,
                                      flagged=lambda: self.groups.members, clock=clock)
        if isinstance(guard, SignalsGuard):
            guard.flagged = lambda: self.groups.members
            guard.flagged_for = lambda: self.groups.members_for
            guard.group_confidence = lambda person: self.groups.confidence.get(person, 1.0)

    @classmethod
    def over(cls, store: Store, *, settings: Settings | None = None, policy: Policy | None = None,
             keyring: KeyRing | None = None, guard: Guard | None = None, owns_store: bool = False,
             clock: Callable[[], float] = time.time) -> Headcount:
        """Wire headcount over a store that is already open (tests, embedding)."""
        settings = settings or load_settings()
        return cls(store, keyring=keyring or keyring_for_store(store, settings),
                   policy=policy or Policy.load(settings.policy), settings=settings, guard=guard,
                   clock=clock, owns_store=owns_store)

    def _keep_contacts(self, actor_key: str, actor: ActorInfo) -> None:
        keep_contacts(self.store, self.keyring, actor_key, {
            "email": actor.email, "phone": actor.phone, "ip": actor.ip, "device": actor.device, "id": actor.id,
        })

    # pools and holds -------------------------------------------------------------
    def create_pool(self, spec: PoolSpec, idem: IdempotencyKey | None = None, *,
                    lottery: LotteryConfig | None = None) -> Outcome:
        """A pool; with `lottery`, one allocated by a draw after `closes_at` (registrations
        first, see `register`). Bad lottery settings raise `LotteryError` naming the field."""
        if lottery is not None:
            return self.lottery.create_pool(spec, lottery, idem)
        return self.ledger.create_pool(spec, idem)

    def pool(self, pool_id: str) -> Pool | None:
        return self.ledger.pool(pool_id)

    def pools(self) -> list[Pool]:
        return self.ledger.pools()

    def hold(self, pool_id: str, quantity: int, actor: ActorInfo, *, idem: IdempotencyKey | None = None,
             challenge_token: str | None = None) -> Outcome:
        """Hold `quantity` of a pool for the person behind `actor` (decided by the guard)."""
        return self.ledger.hold(pool_id, quantity, actor, idem, challenge_token)

    def confirm(self, hold_id: str, idem: IdempotencyKey | None = None) -> Outcome:
        return self.ledger.confirm(hold_id, idem)

    def release(self, hold_id: str, idem: IdempotencyKey | None = None) -> Outcome:
        return self.ledger.release(hold_id, idem)

    def extend(self, hold_id: str, idem: IdempotencyKey | None = None) -> Outcome:
        return self.ledger.extend(hold_id, idem)

    def get_hold(self, hold_id: str) -> Hold | None:
        return self.ledger.get_hold(hold_id)

    def sweep(self) -> int:
        """Make expiry permanent (availability never waits for it: expired holds never count)."""
        return self.ledger.sweep()

    # lottery pools ----------------------------------------------------------------
    def register(self, pool_id: str, quantity: int, actor: ActorInfo, *, owner: str | None = None,
                 challenge_token: str | None = None) -> Answer:
        """Register the person behind `actor` for a lottery pool (decided by the guard, once per person).

        `Answer.status`: created, existing (the person's first registration), denied, closed,
        actor_limit, invalid (a field to correct, named in `body["field"]`), not_found, not_lottery."""
        return self.lottery.register(pool_id, quantity, actor, owner=owner, challenge_token=challenge_token)

    def allocate(self, pool_id: str) -> Answer:
        """Close the window and draw, once (the service does it by itself at `closes_at`)."""
        return self.lottery.allocate(pool_id)

    def registration(self, registration_id: str) -> dict[str, Any] | None:
        """A registration's state: registered, won (with `hold_id`), waitlisted, refused, confirmed, lapsed."""
        return self.lottery.registration(registration_id, staff=True)

    def lottery_state(self, pool_id: str) -> dict[str, Any] | None:
        """The pool's commitment or seed and digest, counts per status and the overbooking's reasoning."""
        return self.lottery.view(pool_id, staff=True)

    def published_draw(self, pool_id: str) -> dict[str, Any] | None:
        """The draw as published (entries, order, seed, digest); None before the draw."""
        return self.lottery.published(pool_id)

    def verify_draw(self, pool_id: str, commitment: str | None = None) -> str | None:
        """None when the draw recomputes from its digest and seed and matches the store; else the first difference."""
        return self.lottery.verify(pool_id, commitment)

    def run_lottery(self) -> int:
        """Draw every pool whose window has closed and pass lapsed wins down the waitlist (what
        the service's loop does each second); returns the draws made. For library users without the service."""
        return self.lottery.run_due()

    # actions, estimates, groups ---------------------------------------------------
    def record(self, verb: str, actor: ActorInfo, target: str, ts: float | None = None,
               challenge_token: str | None = None) -> ActionOutcome:
        """A free action (follow, register, checkin, ...), with the person's budgets."""
        return self.actions.record(verb, actor, target, ts, challenge_token)

    def headcount(self, pool_id: str, history: Sequence[str] | None = None, level: float = 0.9) -> PoolHeadcount:
        """The real headcount of a pool: expected real attendance with an interval."""
        return pool_headcount(self.store, pool_id, history=history, level=level, bands=self.bands, now=self.clock())

    def blocks(self, limit: int = 100) -> list[StoredBlock]:
        """Coordinated groups the detection job found, newest first."""
        return self.store.list_blocks(limit)

    # the service ----------------------------------------------------------------
    def asgi(self, **options: Any) -> FastAPI:
        """The HTTP service and dashboard over this instance (what `headcount serve` runs)."""
        from headcount.api.app import create_app

        return create_app(self, **options)

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Headcount:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(
    url: str | None = None,
    *,
    policy: Policy | None = None,
    settings: Settings | None = None,
    guard: Guard | None = None,
    clock: Callable[[], float] = time.time,
) -> Headcount:
    """Open (and migrate) the store at `url` and wire headcount over it, as the service does.

    `url` defaults to `settings.store_url()` (HEADCOUNT_STORE, else the embedded
    SQLite file under HEADCOUNT_DATA_DIR). The key ring is the store's own (see
    `headcount.privacy.keyring.keyring_for_store`)."""
    settings = settings or load_settings()
    store = open_store(url or settings.store_url())
    try:
        ring = keyring_for_store(store, settings)
        policy = policy or Policy.load(settings.policy)
        return Headcount(store, keyring=ring, policy=policy, settings=settings, guard=guard, clock=clock)
    except BaseException:
        store.close()
        raise
