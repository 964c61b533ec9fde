"""The guard the service runs: signals -> reasons -> score -> band, and who the person is.

Linking uses the canonical mailbox and the E.164 number, not the raw strings,
so aliases of one mailbox and spellings of one number are one person.

Velocity counts per verb. Holds and `register` actions are registrations: they
share one count per network and phone-number block, limited by the policy's
`[velocity]`. Any other verb (follow, unfollow, checkin, ...) is not counted at
all unless the policy has a `[velocity.<verb>]` table, and then it counts in a
key space of its own: a household that follows a hundred accounts does not look
like a registration farm, and a farm's registrations are not diluted by follows.
"""

from __future__ import annotations

from collections.abc import Callable

from headcount.guard.flood import FloodWatch
from headcount.guard.identity import IdentityGuard
from headcount.policy import REGISTRATION_VERBS, Policy
from headcount.privacy.keyring import KeyRing
from headcount.signals import analyze_email, analyze_network, analyze_phone
from headcount.store.base import Store
from headcount.types import ActorInfo, Decision

#: velocity windows: the policy's `<kind>_per_<name>` limits, counted over the last `seconds`
WINDOWS = {"minute": 60, "hour": 3600, "day": 86400}
_SECONDS = tuple(WINDOWS.values())


class SignalsGuard(IdentityGuard):
    def __init__(
        self,
        ring: KeyRing | None = None,
        store: Store | None = None,
        policy: Policy | None = None,
        default_region: str = "DE",
    ) -> None:
        super().__init__(ring, store)
        self.policy = policy or Policy.load()
        self.default_region = default_region
        #: persons in a detected coordinated group (set by the service's `GroupWatch`)
        self.flagged: Callable[[], frozenset[str]] = frozenset
        #: a flagged person's block confidence in [0, 1]: scales `coordinated_group`'s weight
        self.group_confidence: Callable[[str], float] = lambda person: 1.0
        #: recent risky shares per pool, when the policy has `[flood]`
        self.floods = FloodWatch(self.policy.flood) if self.policy.flood else None

    def _group_reasons(self, actor_key: str) -> list[str]:
        return ["coordinated_group"] if actor_key in self.flagged() else []

    def _conclude(self, person: str, reasons: list[str], pool_id: str, verb: str) -> Decision:
        """The decision once the person is known: group membership, then flood mode.

        A registration joins its pool's flood window as risky if its other reasons
        alone take it out of the first band; while the pool is flooded it gets
        `pool_flooded`. The weight is summed once for both scores."""
        grouped = self._group_reasons(person)
        reasons += grouped
        weight = self.policy.weight(reasons)
        if grouped:  # the block's confidence, not a flat weight, says how much membership counts
            weight -= self.policy.weights.get("coordinated_group", 0.0) * (1.0 - self.group_confidence(person))
        if self.floods is not None and verb in REGISTRATION_VERBS:
            flooded = self.floods.flooded(pool_id)
            bound = self.policy.bands[0].below
            self.floods.observe(pool_id, bound is not None and self.policy.score_of(weight) >= bound)
            if flooded:
                reasons.append("pool_flooded")
                weight += self.policy.weights.get("pool_flooded", 0.0)
        return self._decision(person, reasons, self.policy.score_of(weight))

    def _signals(self, actor: ActorInfo) -> tuple[list[str], list[str]]:
        """(identity keys, reasons) for an actor."""
        keys, reasons, _ = self._analyze(actor)
        return keys, reasons

    def _analyze(self, actor: ActorInfo) -> tuple[list[str], list[str], dict[str, str]]:
        """(identity keys, reasons, velocity keys by kind) for an actor."""
        keys: list[str] = []
        reasons: list[str] = []
        rate_keys: dict[str, str] = {}
        if actor.id:
            keys.append(self._key("id", actor.id))
        if actor.email:
            e = analyze_email(actor.email)
            reasons.extend(e.reasons)
            keys.append(self._key("email", e.canonical or actor.email.strip().lower()))
        if actor.phone:
            p = analyze_phone(actor.phone, self.default_region)
            reasons.extend(p.reasons)
            keys.append(self._key("tel", p.e164 or actor.phone.strip()))
            if p.valid and p.e164:
                rate_keys["phone_block"] = self._key("blk", p.e164[:-3])
        if actor.device:
            keys.append(self._key("dev", actor.device))
        n = analyze_network(actor.ip, actor.user_agent)
        reasons.extend(n.reasons)
        if n.network:
            rate_keys["network"] = self._key("net", n.network)
        if not (actor.id or actor.email or actor.phone):
            reasons.append("no_contact")
        return keys, reasons, rate_keys

    def _velocity_reasons(
        self, rate_keys: dict[str, str], counts: dict[str, tuple[int, ...]], limits: dict[str, int]
    ) -> list[str]:
        reasons = []
        for kind, key in rate_keys.items():
            seen = counts.get(key, (0,) * len(WINDOWS))
            if any(n > limits.get(f"{kind}_per_{window}", 1 << 62) for window, n in zip(WINDOWS, seen, strict=True)):
                reasons.append(f"velocity_{kind}")
        return reasons

    def _velocity_plan(self, verb: str, rate_keys: dict[str, str]) -> tuple[dict[str, str], dict[str, int]] | None:
        """(the keys to count, by kind; their limits) for a verb, or None when it is not counted."""
        limits = self.policy.velocity_for(verb)
        if self.store is None or not limits or not rate_keys:
            return None
        if verb in REGISTRATION_VERBS:
            return rate_keys, limits
        return {kind: f"{verb}/{key}" for kind, key in rate_keys.items()}, limits  # the verb's own space

    def identities(self, actor: ActorInfo) -> list[str]:
        return self._signals(actor)[0]

    def _decision(self, actor_key: str, reasons: list[str], score: float) -> Decision:
        band = self.policy.band(score)
        unique = tuple(dict.fromkeys(reasons))
        passed = None
        if band.challenge and band.on_pass:
            after = self.policy.band_named(band.on_pass)
            passed = Decision(actor_key=actor_key, score=score, reasons=unique, ttl_factor=after.ttl_factor,
                              actor_cap=after.actor_cap, extra={"band": after.name})
        return Decision(
            actor_key=actor_key, score=score, reasons=unique, allow=not (band.deny or band.challenge),
            ttl_factor=band.ttl_factor, actor_cap=band.actor_cap, extra={"band": band.name},
            challenge=passed is not None, passed=passed,
        )

    def assess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold") -> Decision:
        keys, reasons, rate_keys = self._analyze(actor)
        plan = self._velocity_plan(verb, rate_keys)
        if plan is None:
            return self._conclude(self.person(keys, actor, now), reasons, pool_id, verb)
        rate_keys, limits = list(plan[0].values()), plan[1]
        if keys:  # one write for both (the store is there: a plan needs it)
            person, counts = self.store.link_and_hit(keys, now, rate_keys, _SECONDS)  # type: ignore[union-attr]
        else:
            counts = self.store.hit_velocity(rate_keys, now, _SECONDS)  # type: ignore[union-attr]
            person = self.person(keys, actor, now)
        reasons += self._velocity_reasons(plan[0], counts, limits)
        return self._conclude(person, reasons, pool_id, verb)

    async def aassess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold") -> Decision:
        keys, reasons, rate_keys = self._analyze(actor)
        plan = self._velocity_plan(verb, rate_keys)
        if plan is None:
            return self._conclude(await self.aperson(keys, actor, now), reasons, pool_id, verb)
        rate_keys, limits = list(plan[0].values()), plan[1]
        if keys:  # one write for both (the store is there: a plan needs it)
            person, counts = await self.store.alink_and_hit(keys, now, rate_keys, _SECONDS)  # type: ignore[union-attr]
        else:
            counts = await self.store.ahit_velocity(rate_keys, now, _SECONDS)  # type: ignore[union-attr]
            person = await self.aperson(keys, actor, now)
        reasons += self._velocity_reasons(plan[0], counts, limits)
        return self._conclude(person, reasons, pool_id, verb)
