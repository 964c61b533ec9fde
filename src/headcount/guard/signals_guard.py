"""The guard the service runs: signals -> reasons -> score -> band, and who the person is.

Linking uses the canonical mailbox and the E.164 number, not the raw strings,
so aliases of one mailbox and spellings of one number are one person.
"""

from __future__ import annotations

from headcount.ledger.service import ActorInfo, Decision, IdentityGuard
from headcount.policy import Policy
from headcount.privacy.keyring import KeyRing
from headcount.signals import analyze_email, analyze_network, analyze_phone
from headcount.store.base import Store

WINDOWS = (3600, 86400)  # velocity per hour and per day


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

    def _velocity_reasons(self, rate_keys: dict[str, str], counts: dict[str, tuple[int, ...]]) -> list[str]:
        limits = self.policy.velocity or {}
        reasons = []
        for kind, key in rate_keys.items():
            hour, day = counts.get(key, (0, 0))
            if hour > limits.get(f"{kind}_per_hour", 1 << 62) or day > limits.get(f"{kind}_per_day", 1 << 62):
                reasons.append(f"velocity_{kind}")
        return reasons

    def _counted(self) -> bool:
        return self.store is not None and bool(self.policy.velocity)

    def identities(self, actor: ActorInfo) -> list[str]:
        return self._signals(actor)[0]

    def _decision(self, actor_key: str, reasons: list[str]) -> Decision:
        score = self.policy.score(reasons)
        band = self.policy.band(score)
        return Decision(
            actor_key=actor_key, score=score, reasons=tuple(dict.fromkeys(reasons)), allow=not band.deny,
            ttl_factor=band.ttl_factor, actor_cap=band.actor_cap, extra={"band": band.name},
        )

    def assess(self, actor: ActorInfo, pool_id: str, now: float) -> Decision:
        keys, reasons, rate_keys = self._analyze(actor)
        if self._counted() and rate_keys:
            counts = self.store.hit_velocity(list(rate_keys.values()), now, WINDOWS)  # type: ignore[union-attr]
            reasons += self._velocity_reasons(rate_keys, counts)
        return self._decision(self.person(keys, actor, now), reasons)

    async def aassess(self, actor: ActorInfo, pool_id: str, now: float) -> Decision:
        keys, reasons, rate_keys = self._analyze(actor)
        if self._counted() and rate_keys:
            counts = await self.store.ahit_velocity(list(rate_keys.values()), now, WINDOWS)  # type: ignore[union-attr]
            reasons += self._velocity_reasons(rate_keys, counts)
        return self._decision(await self.aperson(keys, actor, now), reasons)
