"""Lottery pools: registrations until `closes_at`, one draw, wins as holds, the waitlist passing down.

    service = LotteryService(store, ledger, policy=policy, bands=bands)
    service.create_pool(spec, LotteryConfig(closes_at=..., confirm_within_s=600))
    answer = service.register("rally", 2, ActorInfo(email="ann@example.org"))
    service.allocate("rally")          # at closes_at the service's loop does this by itself

A registration is decided by the guard exactly as a hold is (`Ledger`'s decision:
risk, linking, deny band, challenge), then stored once per person. The draw
(`headcount.allocation`) vets the whole registration set, asks the estimate how
many tickets the venue can stand, orders the entries with the committed seed and
writes the result once (`Store.save_draw`): a second call, or another process,
answers with the same draw.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from headcount.allocation.draw import Draw, Entry, commitment, first_difference, new_seed, run_draw
from headcount.allocation.overbook import DEFAULT_RISK, tickets
from headcount.allocation.vetting import person_of, vet
from headcount.estimate import Bands, count_registrations, estimate_headcount
from headcount.policy import Policy
from headcount.services.headcount import learned_from
from headcount.services.holds import Ledger
from headcount.services.twins import Step, Steps, run_async, run_sync
from headcount.signals import analyze_phone
from headcount.signals.typos import Typo
from headcount.store.base import Store
from headcount.store.blocks import StoredBlock, scoped_to
from headcount.store.lottery import AllocationRecord, RegistrationRecord, Win, new_registration_id
from headcount.types import ActorInfo, Decision, IdempotencyKey, Outcome, PoolSpec, Result

T = TypeVar("T")

log = logging.getLogger("headcount.services.lottery")

LEAD_NAME = "lottery"
#: reasons that depend on who came before: a registration is not refused for them (the draw
#: judges networks, devices and number blocks over the whole registration set instead)
ORDER_REASONS = frozenset({"velocity_network", "velocity_phone_block", "pool_flooded"})
#: reasons of one field that a mistyped value gives (gmial.com is on disposable lists, a digit
#: missing makes a number impossible): when they alone refuse, the answer is 422 naming the field,
#: so a person can correct it; the corrected request is judged afresh
FIXABLE = {"email": frozenset({"email_disposable", "email_invalid"}),
           "phone": frozenset({"phone_invalid", "phone_impossible", "phone_unparsable"})}
MAX_CONFIRM_WITHIN_S = 30 * 86400


class LotteryError(ValueError):
    """Bad lottery input; `field` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LotteryConfig:
    closes_at: float
    confirm_within_s: int = 3600
    overbook_risk: float = DEFAULT_RISK


@dataclass(frozen=True)
class Answer:
    """A lottery answer: `status` is one of created, existing, ok, closed, not_found, denied,
    challenge, actor_limit, not_lottery, invalid."""

    status: str
    body: dict[str, Any]


def registration_view(r: RegistrationRecord, now: float, staff: bool = False) -> dict[str, Any]:
    """A registration as its holder sees it; a win whose hold lapsed shows as lapsed at once."""
    status = r.status
    if status in ("won", "confirmed"):
        if r.hold_status == "confirmed":
            status = "confirmed"
        elif r.hold_status in ("released", "expired") or (
                r.hold_status == "held" and r.hold_expires_at is not None and r.hold_expires_at <= now):
            status = "lapsed"
    body: dict[str, Any] = {"registration_id": r.id, "pool_id": r.pool_id, "status": status,
                            "quantity": r.quantity, "risk": {"score": r.risk_score, "reasons": list(r.risk_reasons)}}
    if r.hold_id and status in ("won", "confirmed"):
        body["hold_id"] = r.hold_id
        if status == "won" and r.hold_expires_at is not None:
            body["confirm_by"] = r.hold_expires_at
    if r.position is not None and status == "waitlisted":
        body["position"] = r.position
    if status == "refused" and r.note:
        body["reason"] = r.note
    if staff:
        body["actor_key"] = r.actor_key
    return body


def flagged_for_draw(blocks: Sequence[StoredBlock], regs: Sequence[RegistrationRecord],
                     persons: dict[str, str]) -> set[str]:
    """The stored blocks' members the draw refuses: all of a block that shows in the operator's
    own record; of one resting only on some clients' actions, those who registered through them."""
    owners: dict[str, set[str | None]] = {}
    for r in regs:
        for who in (person_of(r, persons), r.actor_key):
            owners.setdefault(who, set()).add(r.owner)
    out: set[str] = set()
    for b in blocks:
        clients = scoped_to(b)
        out.update(p for p in b.actors if clients is None or owners.get(p, set()) & clients)
    return out


class LotteryService:
    def __init__(self, store: Store, ledger: Ledger, *, policy: Policy, bands: Bands | None = None,
                 flagged: Callable[[], frozenset[str]] | None = None, clock: Callable[[], float] = time.time,
                 detect: bool = True) -> None:
        self.store, self.ledger, self.policy = store, ledger, policy
        self.bands = bands or Bands.from_policy(policy)
        #: persons the service's detection job flagged (besides the stored blocks)
        self.flagged = flagged or frozenset
        self.clock = clock
        self.detect = detect
        #: pool id -> (registrations counted, when, the forecast): the dashboard asks every 2 s
        self._forecasts: dict[str, tuple[int, float, dict[str, Any]]] = {}

    # pools ------------------------------------------------------------------------------------
    def create_pool(self, spec: PoolSpec, config: LotteryConfig, idem: IdempotencyKey | None = None) -> Outcome:
        """A lottery pool: the ledger's pool (capacity 0 until the draw issues tickets) and its allocation."""
        now = self.clock()
        if not config.closes_at > now:
            raise LotteryError("allocation.closes_at", "closes_at must be in the future")
        if not 1 <= config.confirm_within_s <= MAX_CONFIRM_WITHIN_S:
            raise LotteryError("allocation.confirm_within_s", f"confirm_within_s must be 1..{MAX_CONFIRM_WITHIN_S}")
        if not 0 <= config.overbook_risk < 1:
            raise LotteryError("allocation.overbook_risk", "overbook_risk must be within [0, 1)")
        outcome = self.ledger.create_pool(dataclasses.replace(spec, capacity=0), idem)
        if outcome.result is not Result.CREATED:
            return outcome
        seed = new_seed()
        alloc = self.store.create_allocation(AllocationRecord(
            spec.id, "lottery", config.closes_at, config.confirm_within_s, config.overbook_risk, spec.capacity,
            seed, commitment(seed), now))
        return Outcome(outcome.result, {**outcome.body, "allocation": self.public(alloc)}, outcome.replayed)

    @staticmethod
    def public(a: AllocationRecord) -> dict[str, Any]:
        """What anyone may see: the commitment before the draw, the seed and digest after it."""
        body: dict[str, Any] = {"mode": a.mode, "closes_at": a.closes_at, "confirm_within_s": a.confirm_within_s,
                                "overbook_risk": a.overbook_risk, "commitment": a.commitment,
                                "state": "drawn" if a.draw else ("closed" if a.closed else "open")}
        if a.draw:
            body.update(seed=a.draw["seed"], digest=a.draw["digest"], tickets=a.draw["tickets"],
                        drawn_at=a.drawn_at)
        return body

    def view(self, pool_id: str, staff: bool) -> dict[str, Any] | None:
        a = self.store.get_allocation(pool_id)
        if a is None:
            return None
        body = {"pool_id": pool_id, **self.public(a)}
        if staff:
            counts = self.store.registration_counts(pool_id)
            body["capacity"] = a.capacity
            body["registrations"] = {s: {"registrations": n, "seats": q} for s, (n, q) in sorted(counts.items())}
            if a.draw:
                body["overbooking"] = a.draw.get("overbooking")
                body["refused"] = a.draw.get("refused")
        return body

    # registrations ------------------------------------------------------------------------------
    def _identity_facts(self, actor: ActorInfo, pool_id: str, now: float) -> tuple[list[str], dict[str, str]]:
        """The person's identity keys, and the keyed network, device and number block."""
        guard = self.ledger.guard
        analyze = getattr(guard, "_analyze", None)
        region_for = getattr(guard, "region_for", None)
        region = region_for(pool_id, now) if region_for is not None else None
        if analyze is not None:
            analysis = analyze(actor, region)
            keys, facts = list(analysis.keys), dict(analysis.rate_keys)
        else:
            ident = getattr(guard, "identities", None)
            keys, facts = (list(ident(actor)) if ident else []), {}
        device = next((k for k in keys if k.startswith("dev:")), None)
        if device:
            facts["device"] = device
        key = getattr(guard, "_key", None)
        if actor.phone and key is not None:
            parsed = analyze_phone(actor.phone, region)
            if parsed.valid and parsed.e164 and parsed.e164[1:].isdigit():
                # two overlapping windows of ten numbers: any two numbers at most 5 apart share one
                n = int(parsed.e164[1:])
                facts["phone_run"] = " ".join(key("run", f"{w}:{(n + w) // 10}") for w in (0, 5))
        return keys, facts

    def _judge(self, pool_id: str, quantity: int, actor: ActorInfo, decision: Decision, owner: str | None,
               now: float) -> Answer | RegistrationRecord:
        """The guard's decision, read as a registration: signals that depend on arrival order
        (velocity, flood mode) are left to the draw, which judges them over the whole set."""
        typo = decision.extra.get("typo")
        if isinstance(typo, Typo):  # a likely typo: the person is asked to correct the field
            asked: dict[str, object] = {"pool_id": pool_id, "field": typo.field, "reasons": [typo.reason]}
            if typo.suggestion:
                asked["suggestion"] = typo.suggestion
            return Answer("invalid", asked)
        static = [r for r in decision.reasons if r not in ORDER_REASONS]
        score = self.policy.score_of(self.policy.weight(static))
        band = self.policy.band(score)
        risk = {"score": round(score, 4), "reasons": static}
        if self.ledger.on_decision is not None:  # the dashboard counts registrations' decisions as judged here
            self.ledger.on_decision(pool_id, "register", Decision(
                decision.actor_key, score, tuple(static), allow=not (band.deny or band.challenge),
                actor_cap=band.actor_cap, extra={"band": band.name}, challenge=band.challenge), now)
        if band.deny or band.challenge:
            for name, fixable in FIXABLE.items():  # refused only for what may be a typo: say which field
                hit = [r for r in static if r in fixable]
                rest = self.policy.band(self.policy.score_of(self.policy.weight([r for r in static if r not in fixable])))
                if hit and not (rest.deny or rest.challenge):
                    return Answer("invalid", {"pool_id": pool_id, "risk": risk, "field": f"actor.{name}",
                                              "reasons": hit})
            return Answer("denied", {"pool_id": pool_id, "risk": risk, "reasons": [*static, "denied"]})
        pool = self.store.get_pool(pool_id, now)
        if pool is None:
            return Answer("not_found", {"pool_id": pool_id, "field": "pool_id"})
        cap = min(pool.per_actor_limit, band.actor_cap or pool.per_actor_limit)
        if quantity > cap:
            return Answer("actor_limit", {"pool_id": pool_id, "limit": cap, "field": "quantity", "risk": risk,
                                          "reasons": ["actor_limit"]})
        keys, facts = self._identity_facts(actor, pool_id, now)
        return RegistrationRecord(new_registration_id(), pool_id, decision.actor_key, quantity, round(score, 4),
                                  tuple(static), tuple(keys), facts.get("network"), facts.get("device"), owner, now,
                                  phone_block=facts.get("phone_block"), phone_run=facts.get("phone_run"))

    def _stored(self, what: str, reg: RegistrationRecord | None, pool_id: str, now: float) -> Answer:
        if what == "closed":
            return Answer("closed", {"pool_id": pool_id, "reasons": ["registration_closed"]})
        if what == "no_lottery" or reg is None:
            return Answer("not_lottery", {"pool_id": pool_id, "field": "pool_id", "reasons": ["not_a_lottery_pool"]})
        return Answer(what, registration_view(reg, now))

    def _precheck(self, pool_id: str, now: float) -> Answer | None:
        a = self.store.get_allocation(pool_id)
        if a is None:
            if self.store.get_pool(pool_id, now) is None:
                return Answer("not_found", {"pool_id": pool_id, "field": "pool_id"})
            return Answer("not_lottery", {"pool_id": pool_id, "field": "pool_id", "reasons": ["not_a_lottery_pool"]})
        if a.closed or a.draw or now >= a.closes_at:
            return Answer("closed", {"pool_id": pool_id, "reasons": ["registration_closed"]})
        return None

    def _read(self, call: Callable[[], T]) -> Step[T]:
        """A read of the store: on the event loop, the store's reader runs it."""
        return Step(call, functools.partial(self.store.aread, call))

    def _register(self, pool_id: str, quantity: int, actor: ActorInfo, owner: str | None) -> Steps[Answer]:
        """The steps of a registration, for `register` and `aregister` alike."""
        now = self.clock()
        early = yield self._read(functools.partial(self._precheck, pool_id, now))
        if early is not None:
            return early
        decision = yield self.ledger.assess_step(actor, pool_id, now, owner)
        rec = yield self._read(functools.partial(self._judge, pool_id, quantity, actor, decision, owner, now))
        if isinstance(rec, Answer):
            return rec
        what, reg = yield Step(functools.partial(self.store.register, rec, now), blocking=True)
        return self._stored(what, reg, pool_id, now)

    def register(self, pool_id: str, quantity: int, actor: ActorInfo, *, owner: str | None = None,
                 idem: IdempotencyKey | None = None, challenge_token: str | None = None) -> Answer:
        return run_sync(self._register(pool_id, quantity, actor, owner))

    async def aregister(self, pool_id: str, quantity: int, actor: ActorInfo, *, owner: str | None = None,
                        idem: IdempotencyKey | None = None, challenge_token: str | None = None) -> Answer:
        return await run_async(self._register(pool_id, quantity, actor, owner))

    def registration(self, registration_id: str, owner: str | None = None, staff: bool = False) -> dict[str, Any] | None:
        r = self.store.get_registration(registration_id)
        if r is None or (owner is not None and r.owner != owner):
            return None
        return registration_view(r, self.clock(), staff)

    # the draw --------------------------------------------------------------------------------------
    def compute_draw(self, pool_id: str, now: float) -> tuple[dict[str, Any], dict[str, tuple[str, int | None, str | None]],
                                                              list[Win]] | None:
        """The draw for a closed pool, computed (not written)."""
        a = self.store.get_allocation(pool_id)
        pool = self.store.get_pool(pool_id, now)
        if a is None or pool is None:
            return None
        regs = self.store.registrations(pool_id)
        persons = self.store.persons_of([i for r in regs for i in r.identities])
        flagged = flagged_for_draw(self.store.list_blocks(100_000), regs, persons) | set(self.flagged())
        vetted = vet(regs, persons, flagged, self.policy, detect=self.detect)
        preliminary = run_draw(pool_id, a.seed, vetted.entries, 0)
        by_id = {r.id: r for r in regs}
        # the show-up rates come from earlier pools' check-ins, as in the pool's headcount view
        learned, history = learned_from(self.store, pool, self.bands, now)
        ob = tickets(a.capacity, [by_id[i].quantity for i in preliminary.order],
                     [by_id[i].risk_score for i in preliminary.order], history,
                     bands=self.bands, risk=a.overbook_risk,
                     pool=count_registrations(self.bands, [r.risk_score for r in regs], [r.quantity for r in regs]))
        draw = run_draw(pool_id, a.seed, vetted.entries, ob.tickets)
        position = {rid: k + 1 for k, rid in enumerate(draw.order)}
        winners = set(draw.winners)
        statuses: dict[str, tuple[str, int | None, str | None]] = {}
        refused: dict[str, int] = {}
        for e in draw.entries:
            if e.refused:
                statuses[e.registration_id] = ("refused", None, e.refused)
                refused[e.refused] = refused.get(e.refused, 0) + 1
            elif e.registration_id not in winners:
                statuses[e.registration_id] = ("waitlisted", position[e.registration_id], None)
        wins = [Win(rid, by_id[rid].quantity, by_id[rid].actor_key, by_id[rid].risk_score, by_id[rid].owner)
                for rid in draw.winners]
        record = {**draw.to_dict(), "capacity": a.capacity, "overbooking": {**ob.to_dict(), "history": list(learned)},
                  "refused": refused,
                  "detected_persons": vetted.detected, "registrations": len(regs),
                  "seats_won": sum(w.quantity for w in wins)}
        return record, statuses, wins

    def allocate(self, pool_id: str) -> Answer:
        """Close the window and draw, once. A second call (or another process) gets the same draw."""
        a = self.store.get_allocation(pool_id)
        if a is None:
            if self.store.get_pool(pool_id, self.clock()) is None:
                return Answer("not_found", {"pool_id": pool_id, "field": "pool_id"})
            return Answer("not_lottery", {"pool_id": pool_id, "field": "pool_id", "reasons": ["not_a_lottery_pool"]})
        if a.draw is None:
            self.store.close_allocation(pool_id)
            now = self.clock()
            computed = self.compute_draw(pool_id, now)
            if computed is not None:
                record, statuses, wins = computed
                record["drawn_at"] = now
                if self.store.save_draw(pool_id, record, statuses, wins, now, a.confirm_within_s):
                    log.info("lottery %s drawn: %d won, %d waitlisted, %d refused", pool_id, len(wins),
                             sum(1 for s in statuses.values() if s[0] == "waitlisted"),
                             sum(1 for s in statuses.values() if s[0] == "refused"))
            a = self.store.get_allocation(pool_id)
            assert a is not None and a.draw is not None
        return Answer("ok", self.summary(a))

    def summary(self, a: AllocationRecord) -> dict[str, Any]:
        d = a.draw or {}
        entries = {e["id"]: e for e in d.get("entries", [])}
        seats = lambda ids: sum(int(entries[i]["quantity"]) for i in ids)  # noqa: E731
        won, wait = d.get("winners", []), d.get("waitlist", [])
        return {"pool_id": a.pool_id, "won": len(won), "won_seats": seats(won), "waitlisted": len(wait),
                "waitlisted_seats": seats(wait), "refused": sum((d.get("refused") or {}).values()),
                "refused_by_reason": d.get("refused") or {}, "registrations": d.get("registrations"),
                "capacity": a.capacity, "tickets": d.get("tickets"), "seed": d.get("seed"),
                "commitment": a.commitment, "digest": d.get("digest"), "drawn_at": a.drawn_at,
                "overbooking": d.get("overbooking")}

    def published(self, pool_id: str) -> dict[str, Any] | None:
        """The draw as published (entries, order, seed): what `headcount lottery verify` recomputes."""
        a = self.store.get_allocation(pool_id)
        return None if a is None or a.draw is None else a.draw

    def verify(self, pool_id: str, commitment_seen: str | None = None) -> str | None:
        """None when the stored draw recomputes and matches the store; else the first difference."""
        return verify_store(self.store, pool_id, commitment_seen)

    # the dashboard ------------------------------------------------------------------------------
    def dashboard(self, pool_id: str, now: float) -> dict[str, Any] | None:
        """A lottery pool for staff at a glance: registrations, wins, waitlist and the estimate the
        draw issues tickets on (before the draw, the same estimate over the registrations so far)."""
        a = self.store.get_allocation(pool_id)
        if a is None:
            return None
        counts = self.store.registration_counts(pool_id)

        def part(*statuses: str) -> dict[str, int]:
            return {"registrations": sum(counts.get(s, (0, 0))[0] for s in statuses),
                    "seats": sum(counts.get(s, (0, 0))[1] for s in statuses)}

        everyone = part(*counts)
        body: dict[str, Any] = {
            "state": "drawn" if a.draw else ("closed" if a.closed or now >= a.closes_at else "open"),
            "closes_at": a.closes_at, "drawn_at": a.drawn_at, "capacity": a.capacity,
            "overbook_risk": a.overbook_risk, "registered": everyone, "won": part("won", "confirmed"),
            "waitlisted": part("waitlisted"), "refused": part("refused"), "lapsed": part("lapsed")}
        if a.draw:
            ob = a.draw.get("overbooking") or {}
            body["estimate"] = {"when": "draw", "tickets": a.draw.get("tickets"),
                                **{k: ob.get(k) for k in ("expected_attendance", "interval", "p_over_capacity",
                                                          "method", "history_pools", "reason")}}
            body["refused_by_reason"] = a.draw.get("refused") or {}
        else:
            body["estimate"] = self._forecast(pool_id, a, everyone["registrations"], now)
        return body

    def _forecast(self, pool_id: str, a: AllocationRecord, n: int, now: float) -> dict[str, Any]:
        """Expected real attendance if every registration so far won (recomputed at most every 10 s)."""
        cached = self._forecasts.get(pool_id)
        if cached is not None and (cached[0] == n or now - cached[1] < 10):
            return cached[2]
        pool = self.store.get_pool(pool_id, now)
        regs = self.store.registrations(pool_id)
        learned, history = learned_from(self.store, pool, self.bands, now) if pool else ((), [])
        est = estimate_headcount(count_registrations(self.bands, [r.risk_score for r in regs],
                                                     [r.quantity for r in regs]),
                                 history, bands=self.bands, capacity=a.capacity)
        source = (f"show-up rates learned from {est.history_pools} earlier pool(s) with check-ins"
                  if est.method == "history" else "no earlier check-ins: the model's prior (wide on purpose)")
        out = {"when": "forecast", "tickets": None, "expected_attendance": est.expected_real,
               "interval": list(est.interval), "p_over_capacity": est.p_over_capacity, "method": est.method,
               "history_pools": est.history_pools,
               "reason": (f"if all {sum(r.quantity for r in regs)} registered seats won, about {est.expected_real}"
                          f" real people would come ({est.interval[0]}–{est.interval[1]}); {source}. The draw"
                          f" issues as many tickets as keep P(attendance > {a.capacity}) <= {a.overbook_risk:.0%}")}
        self._forecasts[pool_id] = (n, now, out)
        return out

    # the loop's work ----------------------------------------------------------------------------
    def run_due(self) -> int:
        """Draw every pool whose window has closed; pass lapsed wins down. Returns draws made."""
        now = self.clock()
        made = 0
        for pool_id in self.store.due_allocations(now):
            try:
                self.allocate(pool_id)
                made += 1
            except Exception:
                log.exception("lottery draw of %s failed", pool_id)
        self.pass_down_all()
        return made

    def pass_down_all(self) -> int:
        moved = 0
        now = self.clock()
        for pool_id in self.store.drawn_allocations():
            a = self.store.get_allocation(pool_id)
            if a is None:
                continue
            done = self.store.pass_down(pool_id, now, a.confirm_within_s)
            moved += len(done.promoted)
        return moved


def verify_store(store: Store, pool_id: str, commitment_seen: str | None = None) -> str | None:
    """Recompute a pool's draw from its published record and check the store against it."""
    a = store.get_allocation(pool_id)
    if a is None:
        return f"pool {pool_id!r} has no lottery"
    if a.draw is None:
        return f"pool {pool_id!r} is not drawn yet"
    try:
        published = Draw.from_dict(a.draw)
    except (KeyError, TypeError, ValueError) as exc:
        return f"the published draw is not readable: {exc}"
    if commitment_seen is not None and commitment_seen != a.commitment:
        return f"the commitment is {a.commitment}, not the {commitment_seen} published before the close"
    if published.commitment != a.commitment:
        return "the draw's commitment is not the one the pool published before the close"
    regs = store.registrations(pool_id)
    diff = first_difference(published, [Entry(r.id, r.quantity, 1.0) for r in regs])
    if diff is not None:
        return diff
    winners = set(published.winners)
    refused = {e.registration_id: e.refused for e in published.entries if e.refused}
    for r in sorted(regs, key=lambda r: r.id):
        drawn_win = r.note == "drawn"
        if (r.id in winners) != drawn_win:
            return (f"registration {r.id}: {'a win' if drawn_win else 'no win'} in the store,"
                    f" {'a win' if r.id in winners else 'no win'} in the draw")
        if (r.status == "refused") != (r.id in refused):
            return f"registration {r.id}: {r.status} in the store, {'refused' if r.id in refused else 'not refused'} in the draw"
    return None


async def lottery_loop(service: LotteryService, interval: float) -> None:
    """Draw due pools and pass lapsed wins down, in one process per store (the `lottery` leader lock)."""
    store = service.store
    try:
        while True:
            try:
                if await asyncio.to_thread(store.try_lead, LEAD_NAME):
                    await asyncio.to_thread(service.run_due)
            except Exception:  # a failed round is retried next time; serving goes on
                log.exception("lottery round failed")
            await asyncio.sleep(interval)
    finally:
        try:
            store.release_lead(LEAD_NAME)
        except Exception:
            pass
