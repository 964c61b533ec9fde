"""The demo of `headcount serve --demo`: pools like the articles' cases, their past, and a live story.

`seed_demo` creates the pools and replays hours of past registrations into them
(real supporters and some fakes, so the rally's risk bands are not all empty),
five earlier rallies with check-ins (what the headcount estimate learns from) and
a follow ring for the detector, and a lottery pool (a town hall's free seats) with
registrations that closes about half a minute after the seeding: the service draws it
by itself during the live story.

`LiveDemo` then plays the launch against the running server over its own HTTP API,
as clients would, at a watchable pace (about a minute):
- real supporters register for the rally and real shoppers put items in carts, all along;
- from about 5 s, a **flood** of fake registrations (throwaway domains, invalid and
  virtual numbers, shared server networks, machine-made addresses, aliases of one
  mailbox) hits the rally for 25 s: the pool enters flood mode and the refusals pile up;
- for the first 20 s, real supporters and fakes register for the town hall's lottery,
  which the service draws at its `closes_at` (winners, waitlist, the estimate);
- from about 3 s, a **cart-hoarding group** of activists holds every product of the
  campaign shop; the detector flags them, and their second round (from 25 s) gets
  short holds with the reason `coordinated_group`.
After 40 s the story is over and the figures stand still (flood mode stays on: the
guard judges a pool by its last registrations).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headcount.services.holds import Ledger
from headcount.simulate.rally import TACTICS, rally_population
from headcount.store.base import ActionRequest
from headcount.types import ActorInfo, LightThresholds, PoolSpec

if TYPE_CHECKING:
    from headcount.services.lottery import LotteryService

log = logging.getLogger("headcount.demo")

SHOP_LIGHT = LightThresholds(0.25, 0.05)
#: the campaign shop's products: a hoarding group that empties carts across all of them
SHOP = [("caps", "caps", 500), ("shirts", "shirts", 1_200), ("mugs", "mugs", 300), ("posters", "posters", 800),
        ("hoodies", "hoodies", 250), ("badges", "badges", 2_000), ("totes", "tote bags", 400),
        ("stickers", "stickers", 3_000)]
RALLY = "rally-tulsa"
#: free seats by lottery: registrations first, the draw at `closes_at` (docs/lottery.md)
LOTTERY = "townhall-lottery"
LOTTERY_POOL = PoolSpec(LOTTERY, "Town hall, free seats by lottery", "event", 150, 2, 900)
#: seeded registrations (real, fakes of each tactic), and how long after its creation (the
#: seeding's last step, a few seconds) the window closes
LOTTERY_PAST, LOTTERY_PAST_FAKES, LOTTERY_CLOSES_IN_S = 240, 6, 35.0

DEMO_POOLS = [
    PoolSpec(RALLY, "Rally, 19,200-seat arena", "event", 19_200, 2, 900),
    *(PoolSpec(f"shop-{sku}", f"Campaign shop: {name}", "stock", stock, 3, 600, SHOP_LIGHT)
      for sku, name, stock in SHOP),
]

#: Earlier events whose doors scanned check-ins: what the headcount estimate learns show-up
#: rates from (an organiser's history; with one or two pools its interval is very wide).
#: (pool, registrations, share who came, days ago)
DEMO_PAST = [
    (PoolSpec("rally-okc", "Earlier rally, Oklahoma City", "event", 800, 2, 900), 600, 0.55, 14),
    (PoolSpec("rally-wichita", "Earlier rally, Wichita", "event", 600, 2, 900), 420, 0.62, 28),
    (PoolSpec("rally-dallas", "Earlier rally, Dallas", "event", 1_000, 2, 900), 700, 0.48, 42),
    (PoolSpec("rally-omaha", "Earlier rally, Omaha", "event", 500, 2, 900), 350, 0.58, 56),
    (PoolSpec("rally-denver", "Earlier rally, Denver", "event", 900, 2, 900), 640, 0.51, 70),
]

#: the rally's past hours: real supporters and a share of fakes; shop carts per product
RALLY_PAST, RALLY_PAST_FAKES, SHOP_PAST = 1_400, 0.12, 40


def _actor(r: object) -> ActorInfo:
    return ActorInfo(email=r.email, phone=r.phone, ip=r.ip, user_agent=r.user_agent,  # type: ignore[attr-defined]
                     device=r.device)  # type: ignore[attr-defined]


def seed_demo(ledger: Ledger, hours: float = 6.0, seed: int = 2020,
              on_decision: Callable[..., None] | None = None, lottery: LotteryService | None = None,
              lottery_closes_in_s: float = LOTTERY_CLOSES_IN_S) -> list[str]:
    """Create the demo pools that do not exist yet and replay past registrations into them.

    `on_decision`: told of each guard decision (the service's decisions log), so the
    past shows in the decision charts too. `lottery`: the service's lottery (`Headcount.lottery`);
    with it, the town hall's lottery pool, closing `lottery_closes_in_s` after the seeding."""
    created = []
    for spec in DEMO_POOLS:
        if ledger.create_pool(spec).ok:
            created.append(spec.id)
    rng = random.Random(seed)
    now = time.time()
    clock = ledger.clock
    told = ledger.on_decision
    ledger.on_decision = on_decision
    try:
        if RALLY in created:
            people = rally_population(real=RALLY_PAST, fakes_per_tactic=max(1, int(RALLY_PAST * RALLY_PAST_FAKES
                                                                                   / len(TACTICS))),
                                      seed=seed)
            # a quiet start, then a burst (a video went viral), then a tail
            times = sorted(now - hours * 3600 * rng.betavariate(2.5, 1.4) for _ in people)
            for person, t in zip(people, times, strict=True):
                ledger.clock = _at(t)
                outcome = ledger.hold(RALLY, rng.choice((1, 1, 2)), _actor(person))
                if outcome.ok and rng.random() < 0.8:
                    ledger.confirm(outcome.body["hold_id"])
        for sku, _, _ in SHOP:
            pool_id = f"shop-{sku}"
            if pool_id not in created:
                continue
            for _ in range(SHOP_PAST):
                t = now - hours * 3600 * rng.random()
                ledger.clock = _at(t)
                outcome = ledger.hold(pool_id, rng.choice((1, 1, 2)), ActorInfo(id=f"demo-shopper-{rng.randrange(400)}"))
                if outcome.ok and rng.random() < 0.7:
                    ledger.confirm(outcome.body["hold_id"])
        ledger.on_decision = None  # the earlier events are history, not today's decisions
        for spec, registrations, came, days_ago in DEMO_PAST:
            if ledger.create_pool(spec).ok:
                created.append(spec.id)
                _seed_past(ledger, rng, spec, registrations, came, now - days_ago * 86400)
        if "rally-okc" in created:
            _seed_follows(ledger, rng, now, hours)
        if lottery is not None:
            ledger.on_decision = on_decision
            if _seed_lottery(lottery, seed, lottery_closes_in_s):
                created.append(LOTTERY)
    finally:
        ledger.clock = clock
        ledger.on_decision = told
    return created


#: "#massfollowing": a ring following the same accounts within the hour, among ordinary follows
DEMO_FOLLOWERS, DEMO_ACCOUNTS, DEMO_RING, DEMO_RING_TARGETS = 400, 300, 40, 15


def _at(t: float) -> Callable[[], float]:
    """A clock stopped at `t` (each seeded event happens at its own past moment)."""
    return lambda: t


def _seed_follows(ledger: Ledger, rng: random.Random, now: float, hours: float) -> None:
    """Ordinary follows over the last hours and one follow ring, for the detector to find."""
    from headcount.services.actions import ActionService

    actions = ActionService(ledger.store, ledger.guard, getattr(ledger.guard, "ring", None))
    accounts = [f"@account{i}" for i in range(DEMO_ACCOUNTS)]
    weights = [1 / (i + 1) ** 0.8 for i in range(DEMO_ACCOUNTS)]  # some accounts are popular
    for i in range(DEMO_FOLLOWERS):
        for target in set(rng.choices(accounts, weights, k=rng.randint(2, 8))):
            actions.record("follow", ActorInfo(id=f"demo-fan-{i}"), target, now - hours * 3600 * rng.random())
    ring_targets = rng.sample(accounts[50:], DEMO_RING_TARGETS)
    burst = now - hours * 3600 * 0.4
    for i in range(DEMO_RING):
        for target in ring_targets:
            if rng.random() < 0.8:
                actions.record("follow", ActorInfo(id=f"demo-ring-{i}"), target, burst + rng.random() * 1800)


def _seed_past(ledger: Ledger, rng: random.Random, spec: PoolSpec, registrations: int, came: float,
               start: float) -> None:
    """An earlier event's registrations, confirmed, and the check-ins of those who came."""
    for i in range(registrations):
        t = start + i * 60.0
        ledger.clock = _at(t)
        outcome = ledger.hold(spec.id, rng.choice((1, 1, 2)), ActorInfo(id=f"demo-{spec.id}-{i}"))
        if not outcome.ok:
            continue
        ledger.confirm(outcome.body["hold_id"])
        hold = ledger.get_hold(outcome.body["hold_id"])
        if hold is not None and rng.random() < came:
            # the doors open over two hours a day later, not all in one minute
            ledger.store.record_action(ActionRequest(hold.actor_key, "checkin", spec.id,
                                                     start + 86400 + rng.random() * 7200, ((600, 3600),)))


def _seed_lottery(lottery: LotteryService, seed: int, closes_in_s: float) -> bool:
    """The town hall's lottery pool and its registrations so far; False when it exists already."""
    from headcount.services.lottery import LotteryConfig

    made = lottery.create_pool(LOTTERY_POOL, LotteryConfig(closes_at=time.time() + closes_in_s,
                                                           confirm_within_s=3600))
    if not made.ok:
        return False
    rng = random.Random(seed)
    for person in rally_population(real=LOTTERY_PAST, fakes_per_tactic=LOTTERY_PAST_FAKES, seed=seed + 1,
                                   start=time.time() - 3 * 3600):
        lottery.register(LOTTERY, 2 if person.label == "fake" else rng.choice((1, 1, 2)), _actor(person))
    return True


# the live story ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    at: float  # seconds after the server answered
    pool_id: str
    quantity: int
    actor: dict[str, str]
    confirm: bool
    who: str  # "real", "fake", "hoarder"


#: registrations for the town hall's lottery in the first seconds: real and fake ones per second
LOTTERY_LIVE = (20.0, 1.5, 2.5)
#: the flood: (start, end) in seconds, fakes per second; real people per second all along
FLOOD = (5.0, 30.0, 25.0)
REAL_PER_S = 3.0
SHOPPERS_PER_S = 1.0
HOARDERS = 30
HOARD_ROUNDS = ((3.0, 15.0), (25.0, 38.0))  # each hoarder holds every product once per round
LENGTH_S = 40.0


def story(seed: int = 1592, lottery: bool = False) -> list[Step]:
    """The live demo's requests in time order (deterministic for a seed); `lottery`: with
    registrations for the town hall's lottery pool."""
    rng = random.Random(seed)
    people = rally_population(real=400, fakes_per_tactic=110, seed=seed, start=time.time())
    real = [p for p in people if p.label == "real" and p.tactic == "real"]
    fakes = [p for p in people if p.label == "fake" and p.tactic != "own_identity"]
    rng.shuffle(real)
    rng.shuffle(fakes)
    steps: list[Step] = []

    def person(p: object) -> dict[str, str]:
        a = _actor(p)
        return {k: v for k, v in (("email", a.email), ("phone", a.phone), ("ip", a.ip),
                                  ("user_agent", a.user_agent), ("device", a.device)) if v}

    t = 0.0
    while t < LENGTH_S and real:  # real supporters all along
        t += rng.expovariate(REAL_PER_S)
        steps.append(Step(t, RALLY, rng.choice((1, 1, 2)), person(real.pop()), True, "real"))
    start, end, rate = FLOOD
    t = start
    while t < end and fakes:
        t += rng.expovariate(rate)
        steps.append(Step(t, RALLY, rng.choice((1, 2)), person(fakes.pop()), rng.random() < 0.5, "fake"))
    t = 0.0
    while t < LENGTH_S:  # real shoppers: one or two products each
        t += rng.expovariate(SHOPPERS_PER_S)
        who = rng.randrange(10_000)
        for sku, _, _ in rng.sample(SHOP, rng.choice((1, 1, 2))):
            actor = {"id": f"shopper-{who}", "user_agent": "Mozilla/5.0 (iPhone) Safari/604.1"}
            steps.append(Step(t, f"shop-{sku}", 1, actor, rng.random() < 0.6, "real"))
    # the activists look like any shopper (the shop's backend sends an account id and the browser,
    # no address); only what they do together (every product, within minutes, never paid)
    # gives them away
    for a, b in HOARD_ROUNDS:
        for i in range(HOARDERS):
            when = a + rng.random() * (b - a) * 0.5
            for sku, _, _ in SHOP:
                when += rng.random() * (b - a) / (2 * len(SHOP))
                steps.append(Step(when, f"shop-{sku}", rng.choice((2, 3)),
                                  {"id": f"cart-activist-{i}",
                                   "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"}, False, "hoarder"))
    if lottery:  # after the rest, from who is left, so the other steps stay as they were
        until, real_rate, fake_rate = LOTTERY_LIVE
        for rate, label, crowd in ((real_rate, "real", real), (fake_rate, "fake", fakes)):
            t = rng.expovariate(rate)
            while t < until and crowd:
                steps.append(Step(t, LOTTERY, rng.choice((1, 2)), person(crowd.pop()), False, label))
                t += rng.expovariate(rate)
    steps.sort(key=lambda s: s.at)
    return steps


class LiveDemo:
    """Plays `story()` against a running server over HTTP in a background thread."""

    def __init__(self, host: str, port: int, client_key: str, *, steps: list[Step] | None = None,
                 ready_timeout_s: float = 60.0, lottery: bool = False) -> None:
        self.host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.port = port
        self.key = client_key
        self.steps = story(lottery=lottery) if steps is None else steps
        self.ready_timeout_s = ready_timeout_s
        self.sent: dict[int, int] = {}  # status -> count
        self.started_at: float | None = None
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headcount-live-demo", daemon=True)

    def start(self) -> LiveDemo:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=10)

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.ready_timeout_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn = self._conn()
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def _post(self, conn: http.client.HTTPConnection, path: str, body: dict[str, object]) -> tuple[int, dict]:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data or b"{}")
        except ValueError:
            return response.status, {}

    def _run(self) -> None:
        try:
            if not self._wait_ready():
                log.warning("live demo: the server did not answer; nothing played")
                return
            self.started_at = time.monotonic()
            conn = self._conn()
            for step in self.steps:
                if self._stop.is_set():
                    return
                delay = self.started_at + step.at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                try:
                    kind = "registrations" if step.pool_id == LOTTERY else "holds"
                    status, body = self._post(conn, f"/v1/pools/{step.pool_id}/{kind}",
                                              {"quantity": step.quantity, "actor": step.actor})
                    self.sent[status] = self.sent.get(status, 0) + 1
                    if status == 201 and step.confirm:
                        self._post(conn, f"/v1/holds/{body['hold_id']}/confirm", {})
                except (OSError, http.client.HTTPException, KeyError):
                    conn.close()
                    conn = self._conn()
        finally:
            self.done.set()
