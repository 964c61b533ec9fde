"""Attackers as parameters: a `Strategy` becomes labelled identities with their arrival.

The strategy says what an operator's identities look like (identity kind, network
spread, device reuse) and how it sends them (pacing, arrival, share). "steady"
attackers read the deployed velocity limits (as anyone can, from the README) and
stay one under each per network and number block; "adaptive" ones are replayed
as programs (switch identity or back off when refused, probe quantities), so
here they only get their identities in the order they will use them.
"""

from __future__ import annotations

import math
import random

from headcount.simulate.redteam import identities as ids
from headcount.simulate.redteam.model import Entrant, Strategy
from headcount.simulate.redteam.real import Mailboxes, carrier_address

#: The default policy's registration velocity limits (src/headcount/policy/default.toml).
DEFAULT_VELOCITY = {"network_per_minute": 5, "network_per_hour": 10, "network_per_day": 20,
                    "phone_block_per_minute": 3, "phone_block_per_hour": 5, "phone_block_per_day": 15}
ARRIVAL_WINDOWS = {"before": (0.0, 0.25), "during": (0.0, 1.0), "after": (0.6, 0.8)}


def velocity_limits() -> dict[str, int]:
    """The limits a steady attacker stays under: the deployed policy's, else the defaults."""
    try:
        from headcount.policy import Policy

        return {**DEFAULT_VELOCITY, **(Policy.load().velocity or {})}
    except Exception:
        return dict(DEFAULT_VELOCITY)


def _per_key_budget(limits: dict[str, int], what: str, seconds: float) -> int:
    """How many registrations one key can take in `seconds` staying under every limit."""
    minutes = max(1.0, seconds / 60)
    return max(1, min(limits[f"{what}_per_day"] - 1, limits[f"{what}_per_hour"] - 1,
                      int((limits[f"{what}_per_minute"] - 1) * minutes)))


def attackers(rng: random.Random, strategy: Strategy, boxes: Mailboxes, *, prefix: str, quantity: int,
              seconds: float, carrier: str, confirm_after: float | None = 0.0,
              victims: list[Entrant] | None = None, limits: dict[str, int] | None = None,
              total: int | None = None) -> list[Entrant]:
    """Every identity of every operator of `strategy`, labelled fake with its operator and tell.

    `quantity`: what each identity asks for (adaptive ones start at twice it and probe down).
    `seconds`: the wall time of the window (steady pacing keeps per-minute limits in it).
    `victims`: real people whose identifiers a lockout (`identity="victims"`) types.
    `total`: at most this many identities (the cell's share sets it); operators are
    dropped first, so each keeps the strategy's identities per operator.
    """
    s = strategy
    n_ops, per_op = s.operators, s.identities_per_operator
    if total is not None:
        n_ops = max(1, min(n_ops, math.ceil(total / per_op)))
        per_op = max(1, min(per_op, math.ceil(total / n_ops)))
    limits = limits or velocity_limits()
    tell = s.has_tell()
    lo, hi = ARRIVAL_WINDOWS[s.arrival]
    farm = ids.public_net24(rng)
    sixteens = ids.proxy_sixteens(rng, 200)
    steady_net = _per_key_budget(limits, "network", seconds * (hi - lo))
    steady_block = _per_key_budget(limits, "phone_block", seconds * (hi - lo))
    farm_used = 0
    out: list[Entrant] = []
    victim_iter = iter(victims or [])
    for op in range(n_ops):
        operator = f"{prefix}op{op}"
        n = per_op if total is None else min(per_op, total - len(out))
        if n <= 0:
            break
        box = boxes.fresh(ids.person_local(rng).replace(".", "").replace("_", "") + str(rng.randint(10, 99)),
                          "gmail.com").partition("@")[0]
        own_devices = [ids.device(rng) for _ in range({"one": 1, "few": min(3, n), "fresh": 0}[s.devices])]
        block: list[str] = []
        start = lo + rng.random() * (hi - lo)
        ua_one = rng.choice(ids.SCRIPTED_UAS) if s.scripted else None
        for k in range(n):
            if s.pacing == "burst":
                at = min(hi, start + rng.random() * 0.01)
            elif s.pacing == "steady":  # evenly over the window, operators interleaved
                at = lo + (hi - lo) * ((k * n_ops + op + 0.5) / (per_op * n_ops))
            else:  # adaptive: the replay paces it; this is when it starts
                at = start
            email: str | None = boxes.fresh(ids.person_local(rng), rng.choice(ids.PROVIDERS))
            phone: str | None = None
            victim: str | None = None
            if s.identity == "disposable":
                email = boxes.fresh(ids.random_local(rng), rng.choice(ids.DISPOSABLE))
            elif s.identity == "alias":
                for _ in range(100):
                    alias = (f"{box}+{rng.randint(1, 10**6)}@gmail.com" if rng.random() < 0.7
                             else f"{ids.dotted(box, rng)}@gmail.com")
                    if alias not in boxes.addresses:
                        break
                email = boxes.claim(alias)
            elif s.identity == "bought_mobile":
                if not block:  # a new batch of consecutive SIMs; steady buys batches small enough
                    block = ids.mobile_block(rng, steady_block if s.pacing == "steady" else min(50, max(n, 10)))
                phone = block.pop(0)
            elif s.identity == "virtual_number":
                phone = ids.virtual_number(rng)
            elif s.identity == "victims":
                v = next(victim_iter, None)
                if v is None:
                    break
                victim = v.uid
                how = rng.random()
                email = v.email if how < 0.7 else None
                phone = v.phone if (how >= 0.4 or email is None) else None
                if email is None and phone is None:
                    email = v.email
            if s.network == "one_24":
                if s.pacing == "steady" and farm_used >= steady_net:
                    break  # the farm's /24 is used up under the limits: this operator stops
                farm_used += 1
                ip = f"{farm}.{rng.randint(1, 254)}"
            elif s.network == "cgnat":
                ip = carrier_address(carrier) if rng.random() < 0.3 else f"{carrier}.{rng.randint(1, 254)}"
            else:
                ip = ids.residential_proxy_ip(rng, sixteens)
            dev = own_devices[k % len(own_devices)] if own_devices else ids.device(rng)
            if s.identity == "victims":  # the attacker's own browser, whatever it types
                dev = own_devices[0] if own_devices else dev
            ua = ua_one or ids.user_agent(rng)
            if s.identity == "victims" and k % 3 == 2:  # a third sent by a script: denied, yet typed
                ua = rng.choice(ids.SCRIPTED_UAS)
            out.append(Entrant(f"{operator}i{k}", "fake", s.name, operator, tell, at, email=email, phone=phone,
                               ip=ip, device=dev, user_agent=ua,
                               quantity=quantity * 2 if s.pacing == "adaptive" else quantity,
                               confirm_after=None if s.identity == "victims" else confirm_after,
                               victim=victim, pacing=s.pacing))
    return out


def mimics(rng: random.Random, n: int, boxes: Mailboxes, *, prefix: str, quantity: int,
           window: tuple[float, float] = (0.0, 1.0)) -> list[Entrant]:
    """Fakes indistinguishable by construction: their own real-looking identity in every
    field, nothing shared, arriving like real people; they hold and never come."""
    lo, hi = window
    return [Entrant(f"{prefix}{k}", "fake", "mimic", f"{prefix}{k}", False, lo + rng.random() * (hi - lo),
                    email=boxes.fresh(ids.person_local(rng), rng.choice(ids.PROVIDERS)),
                    phone=ids.mobile(rng) if rng.random() < 0.8 else None, ip=ids.public_ip(rng),
                    device=ids.device(rng), user_agent=ids.user_agent(rng), quantity=quantity, pacing="burst")
            for k in range(n)]


def fakes_for_share(real: int, share: float) -> int:
    """How many fake registrations make `share` of all registrations with `real` real ones."""
    return max(1, math.ceil(real * share / (1 - share)))
