"""The three scenario kinds of the grid, as worlds with known truth.

- **rally**: an event pool with capacity about twice the real demand; real people
  over a compressed week, the attacker's flood at its arrival (after a viral video
  by default), a few indistinguishable no-shows; everyone who gets a hold confirms
  it at once (the confirmation link; fakes can click it too, except a lockout
  attacker, whose link goes to its victim). Three earlier pools with check-ins of
  the real people who came give the headcount estimate its history.
- **carts**: a stock pool; a few dozen activists keep carts full with fresh
  identities, never pay and re-hold when holds expire; real buyers arrive
  throughout and confirm after a checkout delay.
- **merch**: only real buyers, thousands within two minutes over several products,
  10% behind carrier NAT.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

from headcount.simulate.redteam import identities as ids
from headcount.simulate.redteam.attackers import attackers, fakes_for_share, mimics
from headcount.simulate.redteam.model import Cell, Entrant, Strategy
from headcount.simulate.redteam.real import FLASH_MIX, Mailboxes, real_crowd

#: Wall seconds of each scenario's main window when replayed (time compressed as a load test does).
SECONDS = {"rally": 30.0, "carts": 45.0, "merch": 120.0}
PER_PERSON = 2
RALLY_TTL_S = 10  # the confirmation link's life, compressed
CART_TTL_S = 6  # a cart hold (ten minutes, compressed)
MERCH_TTL_S = 10
MIMIC_SHARE = 0.05  # indistinguishable no-shows, as a share of the real people
HISTORY_FLOODS = (0.15, 0.35, 0.6)  # the fake share of the three earlier pools


@dataclass(frozen=True)
class PoolDef:
    id: str
    kind: str  # "event" or "stock"
    capacity: int
    per_actor_limit: int
    hold_ttl_s: int

    def body(self) -> dict[str, object]:
        return {"id": self.id, "name": self.id, "kind": self.kind, "capacity": self.capacity,
                "per_actor_limit": self.per_actor_limit, "hold_ttl_s": self.hold_ttl_s}


@dataclass
class World:
    """A cell made concrete: pools, earlier pools with their crowds, and the main crowd."""

    cell: Cell
    pools: list[PoolDef]  # the main pools (one, or a merch drop's products)
    entrants: list[Entrant]
    seconds: float
    history: list[tuple[PoolDef, list[Entrant]]] = field(default_factory=list)

    @property
    def capacity(self) -> int:
        return sum(p.capacity for p in self.pools)

    def real(self) -> list[Entrant]:
        return [e for e in self.entrants if e.label == "real"]

    def fakes(self) -> list[Entrant]:
        return [e for e in self.entrants if e.label == "fake"]


def build(cell: Cell, *, seconds: float | None = None) -> World:
    """The world of a cell: the same for the same cell, whatever else was built before."""
    rng = random.Random(f"redteam:{cell.fingerprint()}:{cell.seed}")
    seconds = float(seconds or cell.param("seconds", SECONDS[cell.scenario]))  # type: ignore[arg-type]
    if cell.scenario == "rally":
        return _rally(cell, rng, seconds)
    if cell.scenario == "carts":
        return _carts(cell, rng, seconds)
    return _merch(cell, rng, seconds)


def _with_pool(entrants: list[Entrant], pool: str) -> list[Entrant]:
    return [replace(e, products=(pool,)) for e in entrants]


def _rally(cell: Cell, rng: random.Random, seconds: float) -> World:
    boxes = Mailboxes(rng)
    carrier = ids.public_net24(rng)
    nat = cell.variant or "cgnat_24"
    crowd = real_crowd(rng, cell.real, boxes, prefix="r", nat=nat, carrier=carrier)
    capacity = 2 * sum(e.quantity for e in crowd)
    fakes: list[Entrant] = []
    s = cell.strategy
    if s is not None and s.identity == "victims":
        crowd, fakes = _lockout(rng, s, crowd, boxes, seconds, carrier)
    elif s is not None:
        fakes = attackers(rng, s, boxes, prefix="f", quantity=PER_PERSON, seconds=seconds, carrier=carrier,
                          total=fakes_for_share(cell.real, s.share))
    fakes += mimics(rng, max(1, round(MIMIC_SHARE * cell.real)), boxes, prefix="m", quantity=PER_PERSON)
    main = PoolDef("main", "event", capacity, PER_PERSON, RALLY_TTL_S)
    history: list[tuple[PoolDef, list[Entrant]]] = []
    n_hist = max(60, cell.real // 4)
    for h, flood in enumerate(HISTORY_FLOODS):
        past = real_crowd(rng, n_hist, boxes, prefix=f"h{h}r", nat=nat, carrier=ids.public_net24(rng))
        past_strategy = s if s is not None and s.identity != "victims" else Strategy(
            "fresh_mailbox", 10, 50, devices="one", share=0.5)
        past_fakes = attackers(rng, past_strategy, boxes, prefix=f"h{h}f", quantity=PER_PERSON, seconds=seconds,
                               carrier=ids.public_net24(rng), total=fakes_for_share(n_hist, flood))
        past_fakes += mimics(rng, max(1, round(MIMIC_SHARE * n_hist)), boxes, prefix=f"h{h}m", quantity=PER_PERSON)
        pool = PoolDef(f"past{h}", "event", 2 * sum(e.quantity for e in past), PER_PERSON, RALLY_TTL_S)
        history.append((pool, _with_pool(sorted(past + past_fakes, key=lambda e: e.at), pool.id)))
    entrants = _with_pool(sorted(crowd + fakes, key=lambda e: e.at), "main")
    return World(cell, [main], entrants, seconds, history)


def _lockout(rng: random.Random, s: Strategy, crowd: list[Entrant], boxes: Mailboxes, seconds: float,
             carrier: str) -> tuple[list[Entrant], list[Entrant]]:
    """A lockout attacker registering early with real people's e-mails and numbers.

    Victims are ordinary real people; half arrive while the attacker's (unconfirmable)
    hold still lives, half after it lapsed.
    """
    n = s.identities_per_operator * s.operators
    ordinary = [e for e in crowd if e.kind == "ordinary"]
    victims = rng.sample(ordinary, min(n, len(ordinary)))
    start = 0.02
    lifetime = RALLY_TTL_S / seconds
    moved: dict[str, Entrant] = {}
    for k, v in enumerate(victims):
        at = start + 0.03 + (rng.random() * lifetime * 0.8 if k % 2 == 0 else lifetime * 1.2 + rng.random() * 0.4)
        moved[v.uid] = replace(v, at=min(0.99, at))
    crowd = [moved.get(e.uid, e) for e in crowd]
    victims = [moved[v.uid] for v in victims]
    fakes = attackers(rng, s, boxes, prefix="f", quantity=PER_PERSON, seconds=seconds, carrier=carrier,
                      victims=victims)
    fakes = [replace(f, at=start + (k / max(1, len(fakes))) * 0.02) for k, f in enumerate(fakes)]
    return crowd, fakes


def _carts(cell: Cell, rng: random.Random, seconds: float) -> World:
    boxes = Mailboxes(rng)
    carrier = ids.public_net24(rng)
    s = cell.strategy
    assert s is not None, "a cart-hoarding cell needs its activists' strategy"
    crowd = real_crowd(rng, cell.real, boxes, prefix="r", nat=cell.variant or "cgnat_24", carrier=carrier,
                       quantity=lambda r: 1, confirm_after=lambda r: round(1.0 + 2.0 * r.random(), 2))
    stock = math.ceil(cell.real / 0.75)  # the real demand takes three quarters of the stock
    activists = attackers(rng, s, boxes, prefix="f", quantity=PER_PERSON, seconds=seconds, carrier=carrier,
                          confirm_after=None)
    # activists re-hold with the next identity when a hold expires; adaptive ones also probe and back off
    activists = [replace(a, pacing="adaptive_rehold" if s.pacing == "adaptive" else "rehold",
                         at=min(a.at, 0.05) if s.arrival == "before" else a.at * 0.3) for a in activists]
    pool = PoolDef("stock", "stock", stock, PER_PERSON, CART_TTL_S)
    return World(cell, [pool], _with_pool(sorted(crowd + activists, key=lambda e: e.at), pool.id), seconds)


def _merch(cell: Cell, rng: random.Random, seconds: float) -> World:
    boxes = Mailboxes(rng)
    products = [f"item{k}" for k in range(4)]
    weights = [0.4, 0.3, 0.2, 0.1]

    def basket(r: random.Random) -> tuple[str, ...]:
        n = r.choice([1, 1, 2, 2, 3])
        chosen: list[str] = []
        while len(chosen) < n:
            p = r.choices(products, weights)[0]
            if p not in chosen:
                chosen.append(p)
        return tuple(chosen)

    crowd = real_crowd(rng, cell.real, boxes, prefix="r", mix=FLASH_MIX, nat=cell.variant or "cgnat_24",
                       quantity=lambda r: 1, products=basket,
                       confirm_after=lambda r: round(1.0 + 3.0 * r.random(), 2))
    demand = {p: sum(p in e.products for e in crowd) for p in products}
    pools = [PoolDef(p, "stock", math.ceil(1.3 * demand[p]) + 5, PER_PERSON, MERCH_TTL_S) for p in products]
    return World(cell, pools, sorted(crowd, key=lambda e: e.at), seconds)
