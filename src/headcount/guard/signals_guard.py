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

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from headcount.guard.flood import FloodWatch
from headcount.guard.graph_risk import GraphJudgement, diverse_network, judge
from headcount.guard.identity import IdentityGuard
from headcount.guard.numbering import area_of, block_of, unusual_block
from headcount.policy import REGISTRATION_VERBS, Policy
from headcount.privacy.keyring import KeyRing
from headcount.signals import analyze_email, analyze_network, analyze_phone
from headcount.signals.typos import Typo, email_typo, phone_typo
from headcount.store.base import Store
from headcount.store.graph import Guard, KeyView
from headcount.types import ActorInfo, Decision, Pool

#: velocity windows: the policy's `<kind>_per_<name>` limits, counted over the last `seconds`
WINDOWS = {"minute": 60, "hour": 3600, "day": 86400}
_SECONDS = tuple(WINDOWS.values())
_REMEMBERED_POOLS = 100_000  # pools whose phone region a process remembers


@dataclass
class Analysis:
    """What one actor's fields say, before the store is asked."""

    keys: list[str] = field(default_factory=list)  # identity keys (linked into persons)
    aux: list[str] = field(default_factory=list)  # graph-only keys: a mailbox's spelling, network, agent
    reasons: list[str] = field(default_factory=list)
    rate_keys: dict[str, str] = field(default_factory=dict)  # velocity keys by kind
    rate_guards: dict[str, Guard] = field(default_factory=dict)  # kind -> what must be new for a hit to count
    typo: Typo | None = None


class _InWrite:
    """The judgement made inside the store's write, so that the velocity hits of a request
    refused on its own merits are taken back in the same transaction
    (`headcount.store.graph.Refused`): refused fakes behind a carrier NAT do not use up
    its real people's budget. A request refused only because of its network's or block's
    volume keeps its hits: a farm that keeps trying stays over its limit."""

    def __init__(self, judge: Callable[[dict[str, KeyView], dict[str, tuple[int, ...]]], Decision],
                 policy: Policy) -> None:
        self._judge = judge
        self._policy = policy
        self.decision: Decision | None = None

    def __call__(self, views: dict[str, KeyView], counts: dict[str, tuple[int, ...]]) -> bool:
        self.decision = d = self._judge(views, counts)
        return not (d.allow or d.challenge) and self._refused_without_velocity(d)

    def _refused_without_velocity(self, d: Decision) -> bool:
        velocity = sum(self._policy.weights.get(r, 0.0) for r in d.reasons if r.startswith("velocity_"))
        if not velocity:
            return True
        weight = -math.log(1.0 - d.score) if d.score < 1.0 else math.inf  # the score is 1 - exp(-weight)
        return self._policy.band(self._policy.score_of(max(0.0, weight - velocity))).deny

    def result(self, views: dict[str, KeyView], counts: dict[str, tuple[int, ...]]) -> Decision:
        """The decision made in the write (or now, when the request had no velocity hit to judge)."""
        return self.decision if self.decision is not None else self._judge(views, counts)


class SignalsGuard(IdentityGuard):
    def __init__(
        self,
        ring: KeyRing | None = None,
        store: Store | None = None,
        policy: Policy | None = None,
        default_region: str | None = None,
    ) -> None:
        super().__init__(ring, store)
        self.policy = policy or Policy.load()
        #: where national-format numbers are read when the pool names no region; None: nowhere
        #: (only international numbers parse), never a guessed country
        self.default_region = default_region
        self._regions: dict[str, str | None] = {}  # pool -> its phone region (fixed when it is made)
        #: persons in a detected coordinated group (set by the service's `GroupWatch`)
        self.flagged: Callable[[], frozenset[str]] = frozenset
        #: persons in a group found only in some clients' actions, with those clients: the reason
        #: applies to those clients' requests (and the operator's), not to another client's customers
        self.flagged_for: Callable[[], Mapping[str, frozenset[str]]] = dict
        #: a flagged person's block confidence in [0, 1]: scales `coordinated_group`'s weight
        self.group_confidence: Callable[[str], float] = lambda person: 1.0
        #: recent risky shares per pool, when the policy has `[flood]`
        self.floods = FloodWatch(self.policy.flood) if self.policy.flood else None

    def _group_reasons(self, actor_key: str, client: str | None) -> list[str]:
        if actor_key in self.flagged():
            return ["coordinated_group"]
        clients = self.flagged_for().get(actor_key)
        return ["coordinated_group"] if clients and (client is None or client in clients) else []

    def _conclude(self, person: str, reasons: list[str], pool_id: str, verb: str,
                  judged: GraphJudgement | None = None, client: str | None = None) -> Decision:
        """The decision once the person is known: group membership, then flood mode.

        A registration joins its pool's flood window as risky if its other reasons
        alone take it out of the first band; while the pool is flooded it gets
        `pool_flooded`. The weight is summed once for both scores."""
        grouped = self._group_reasons(person, client)
        reasons += grouped
        weight = self.policy.weight(reasons) + (judged.extra_weight if judged else 0.0)
        trusted = judged is not None and judged.trusted
        if grouped:  # the block's confidence, not a flat weight, says how much membership counts
            weight -= self.policy.weights.get("coordinated_group", 0.0) * (1.0 - self.group_confidence(person))
        if self.floods is not None and verb in REGISTRATION_VERBS:
            flooded = self.floods.flooded(pool_id)
            bound = self.policy.bands[0].below
            self.floods.observe(pool_id, bound is not None and self.policy.score_of(weight) >= bound)
            if flooded and not trusted:  # a person with confirmed holds and no lapses stays normal
                reasons.append("pool_flooded")
                weight += self.policy.weights.get("pool_flooded", 0.0)
        decision = self._decision(person, reasons, self.policy.score_of(weight))
        if judged is not None and judged.details:
            decision.extra["details"] = dict(judged.details)
        if judged is not None and judged.revoke:
            decision.extra["revoke_keys"] = tuple(judged.revoke)
        return decision

    def _signals(self, actor: ActorInfo) -> tuple[list[str], list[str]]:
        """(identity keys, reasons) for an actor."""
        a = self._analyze(actor)
        return a.keys, a.reasons

    def region_for(self, pool_id: str, now: float = 0.0) -> str | None:
        """The region national-format numbers are read in for this pool: the pool's own, else
        the configured default. Read once per pool and process (a pool's region never changes)."""
        if pool_id in self._regions:
            return self._regions[pool_id]
        pool = self.store.get_pool(pool_id, now) if self.store is not None and pool_id else None
        return self._remember_region(pool_id, pool)

    async def aregion_for(self, pool_id: str, now: float = 0.0) -> str | None:
        if pool_id in self._regions or self.store is None or not pool_id:
            return self.region_for(pool_id, now)
        store = self.store
        pool = await store.aread(lambda: store.get_pool(pool_id, now))
        return self._remember_region(pool_id, pool)

    def _remember_region(self, pool_id: str, pool: Pool | None) -> str | None:
        if pool is None:  # not made yet (or not a pool: an action's verb): not remembered
            return self.default_region
        if len(self._regions) >= _REMEMBERED_POOLS:
            self._regions.clear()
        self._regions[pool_id] = region = pool.phone_region or self.default_region
        return region

    def _analyze(self, actor: ActorInfo, region: str | None = None) -> Analysis:
        """Identity keys, reasons, velocity keys and graph keys of an actor, or the typo to ask about.

        `region`: where national-format numbers are read (the pool's; default: the guard's)."""
        region = region or self.default_region
        a = Analysis()
        if actor.id:
            a.keys.append(self._key("id", actor.id))
        if actor.email:
            e = analyze_email(actor.email)
            a.reasons.extend(e.reasons)
            a.typo = email_typo(actor.email)  # before disposable: typo domains are often listed as such
            a.keys.append(self._key("email", e.canonical or actor.email.strip().lower()))
            if e.normalized:
                a.aux.append(self._key("addr", e.normalized.lower()))
        if actor.phone:
            p = analyze_phone(actor.phone, region)
            a.reasons.extend(p.reasons)
            tel = self._key("tel", p.e164 or actor.phone.strip())
            a.keys.append(tel)
            if p.valid and p.e164:
                a.rate_keys["phone_block"] = blk = self._key("blk", block_of(p.e164))
                a.rate_keys["phone_area"] = area = self._key("area", area_of(p.e164))
                a.aux += [blk, area]
                # a block counts new numbers, not a family's one; its area, to judge it by
                a.rate_guards["phone_block"] = a.rate_guards["phone_area"] = tel
            elif a.typo is None:
                a.typo = phone_typo(actor.phone, region)
        if actor.device:
            a.keys.append(self._key("dev", actor.device))
        n = analyze_network(actor.ip, actor.user_agent)
        a.reasons.extend(n.reasons)
        if n.network:
            net = self._key("net", n.network)
            a.rate_keys["network"] = net
            a.aux.append(net)
            if a.keys:  # a network counts people new to it, not one buyer's several products
                a.rate_guards["network"] = (next((k for k in a.keys if k.startswith("dev:")), a.keys[0]), net)
        if actor.user_agent:
            a.aux.append(self._key("ua", actor.user_agent.strip()[:512]))
        if not (actor.id or actor.email or actor.phone):
            a.reasons.append("no_contact")
        return a

    def _velocity_reasons(
        self, rate_keys: dict[str, str], counts: dict[str, tuple[int, ...]], limits: dict[str, int],
        views: dict[str, KeyView] | None = None,
    ) -> list[str]:
        reasons = []
        zero = (0,) * len(WINDOWS)
        for kind, key in rate_keys.items():
            seen = counts.get(key, zero)
            over = [i for i, (window, n) in enumerate(zip(WINDOWS, seen, strict=True))
                    if n > limits.get(f"{kind}_per_{window}", 1 << 62)]
            if not over:
                continue
            if kind == "network" and views is not None and diverse_network(
                    self.policy.graph, views.get(key), max(seen)):
                continue  # many different people behind one network: a carrier NAT, not a farm
            if kind == "phone_block" and "phone_area" in rate_keys:
                area = counts.get(rate_keys["phone_area"], zero)
                alpha = self.policy.graph.block_alpha
                if not any(unusual_block(seen[i], area[i], alpha) for i in over):
                    continue  # as many new numbers as the area's own traffic puts in one block
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

    def _plan(self, a: Analysis, verb: str) -> tuple[dict[str, str], dict[str, int], dict[str, Guard]]:
        """(velocity keys by kind, their limits, velocity key -> identity that must be new)."""
        plan = self._velocity_plan(verb, a.rate_keys)
        if plan is None:
            return {}, {}, {}
        keys, limits = plan
        return keys, limits, {key: a.rate_guards.get(kind) for kind, key in keys.items()}

    def _judge(self, a: Analysis, pool_id: str, verb: str, views: dict[str, KeyView],
               counts: dict[str, tuple[int, ...]], keys: dict[str, str], limits: dict[str, int],
               client: str | None = None) -> Decision:
        """The decision from what the store said; its person is a guess until linking."""
        reasons = list(a.reasons)
        reasons += self._velocity_reasons(keys, counts, limits, views)
        judged = judge(self.policy.graph, self.policy.weights, a.keys + a.aux, views)
        reasons += judged.reasons
        guess = next((views[k].person for k in a.keys if k in views and views[k].person), None)
        person = guess or (min(a.keys) if a.keys else self.person([], ActorInfo(), 0.0))
        return self._conclude(person, reasons, pool_id, verb, judged, client)

    def _in_write(self, a: Analysis, pool_id: str, verb: str, keys: dict[str, str],
                  limits: dict[str, int], client: str | None = None) -> _InWrite:
        """`_judge` for the store to call inside its write: in-memory work only (the flood
        window, the flagged set), so the write stays short."""
        return _InWrite(lambda views, counts: self._judge(a, pool_id, verb, views, counts, keys, limits, client),
                        self.policy)

    def _typo_decision(self, a: Analysis) -> Decision:
        typo = a.typo
        assert typo is not None
        return Decision(actor_key="anonymous", score=0.0, reasons=(typo.reason,), allow=False,
                        extra={"band": "typo", "typo": typo})

    @staticmethod
    def _known_person(a: Analysis, views: dict[str, KeyView]) -> str | None:
        """The person when every key is already linked to one and the same: nothing to link."""
        known = {views[k].person for k in a.keys if k in views}
        return known.pop() if a.keys and len(known) == 1 and None not in known else None

    def _linked(self, decision: Decision, person: str, a: Analysis) -> Decision:
        passed = dataclasses.replace(decision.passed, actor_key=person) if decision.passed else None
        return dataclasses.replace(decision, actor_key=person, passed=passed,
                                   extra={**decision.extra, "graph_keys": tuple(a.keys + a.aux)})

    def assess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold",
               client: str | None = None) -> Decision:
        pooled = actor.phone and verb in REGISTRATION_VERBS  # an action's "pool" is its verb, not a pool
        a = self._analyze(actor, self.region_for(pool_id, now) if pooled else None)
        if a.typo is not None:
            return self._typo_decision(a)
        if self.store is None:
            return self._conclude(self.person(a.keys, actor, now), a.reasons, pool_id, verb, client=client)
        keys, limits, guards = self._plan(a, verb)
        judged = self._in_write(a, pool_id, verb, keys, limits, client)
        views, counts = self.store.view_and_hit(a.keys + a.aux, now, guards, _SECONDS, judged)
        decision = judged.result(views, counts)
        if not (decision.allow or decision.challenge):
            return decision  # refused: the graph is left as it was
        person = self._known_person(a, views)
        if person is None:
            person = self.store.link_identities(a.keys, now) if a.keys else self.person([], actor, now)
        return self._linked(decision, person, a)

    async def aassess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold",
                      client: str | None = None) -> Decision:
        pooled = actor.phone and verb in REGISTRATION_VERBS
        a = self._analyze(actor, await self.aregion_for(pool_id, now) if pooled else None)
        if a.typo is not None:
            return self._typo_decision(a)
        if self.store is None:
            return self._conclude(self.person(a.keys, actor, now), a.reasons, pool_id, verb, client=client)
        keys, limits, guards = self._plan(a, verb)
        judged = self._in_write(a, pool_id, verb, keys, limits, client)
        views, counts = await self.store.aview_and_hit(a.keys + a.aux, now, guards, _SECONDS, judged)
        decision = judged.result(views, counts)
        if not (decision.allow or decision.challenge):
            return decision  # refused: the graph is left as it was
        person = self._known_person(a, views)
        if person is None:
            person = await self.store.alink_identities(a.keys, now) if a.keys else self.person([], actor, now)
        return self._linked(decision, person, a)
