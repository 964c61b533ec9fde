"""Real crowds: ordinary people, and the real people a naive defence mistakes for fakes.

Carrier-grade NAT puts hundreds of diverse people behind one /24 or one address;
a campus or an office does the same with fewer; Apple's private relay and
Hide-My-Email give real people random-looking addresses behind shared egress
networks; people mistype a number or a provider and would correct it if asked;
families share one tablet or one phone number. Every one of them is labelled real.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from headcount.signals.email import canonical_mailbox
from headcount.simulate.redteam import identities as ids
from headcount.simulate.redteam.model import Entrant

#: The default real crowd of rally and cart cells: shares of each population.
DEFAULT_MIX: dict[str, float] = {"ordinary": 0.55, "cgnat": 0.15, "campus": 0.08, "relay": 0.07,
                                 "typo": 0.06, "family": 0.09}
#: A flash crowd at a merch drop: ordinary buyers, 10% behind carrier NAT.
FLASH_MIX: dict[str, float] = {"ordinary": 0.90, "cgnat": 0.10}
SHOW_RATE = 0.85  # real people who registered and come


class Mailboxes:
    """Hands out addresses nobody else in the world uses (by canonical mailbox)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.boxes: set[str] = set()
        self.addresses: set[str] = set()

    def fresh(self, local: str, domain: str) -> str:
        while canonical_mailbox(local, domain) in self.boxes or f"{local}@{domain}" in self.addresses:
            local = f"{local}{self.rng.randint(0, 9)}"
        return self.claim(f"{local}@{domain}")

    def claim(self, email: str) -> str:
        local, _, domain = email.partition("@")
        self.boxes.add(canonical_mailbox(local, domain))
        self.addresses.add(email)
        return email


def _counts(n: int, mix: dict[str, float]) -> dict[str, int]:
    kinds = list(mix)
    out = {k: int(n * mix[k]) for k in kinds}
    out[kinds[0]] += n - sum(out.values())
    return out


def carrier_address(carrier: str) -> str:
    """The one public address of a carrier NAT that puts everyone behind one address."""
    return f"{carrier}.17"


def real_crowd(rng: random.Random, n: int, boxes: Mailboxes, *, prefix: str = "r",
               mix: dict[str, float] | None = None, window: tuple[float, float] = (0.0, 1.0),
               nat: str = "cgnat_24", carrier: str | None = None, quantity: Callable[[random.Random], int] | None = None,
               products: Callable[[random.Random], tuple[str, ...]] | None = None,
               confirm_after: Callable[[random.Random], float] | None = None) -> list[Entrant]:
    """`n` real people of the mix, arriving uniformly within `window`.

    `nat`: "cgnat_24" puts the carrier NAT and the campus behind one /24 each,
    "cgnat_one_address" behind one address each; a "+local" suffix gives the crowd
    the numbers of one town (three areas of a hundred blocks) instead of numbers
    spread over the plans. `carrier`: the carrier NAT's /24 (an attacker may hide
    behind it too); `carrier_address(carrier)` its one address.
    """
    nat, _, numbering = nat.partition("+")
    areas = [ids.mobile(rng, "DE")[:-5] for _ in range(3)] if numbering == "local" else []

    def phone() -> str:
        return ids.local_mobile(rng, rng.choice(areas)) if areas else ids.mobile(rng)

    mix = mix or DEFAULT_MIX
    quantity = quantity or (lambda r: 1 if r.random() < 0.7 else 2)
    products = products or (lambda r: ())
    confirm_after = confirm_after or (lambda r: 0.0)
    lo, hi = window
    one_address = nat == "cgnat_one_address"
    carrier = carrier or ids.public_net24(rng)
    campus = ids.public_net24(rng)
    carrier_ip, campus_ip = carrier_address(carrier), f"{campus}.{rng.randint(1, 254)}"
    campus_domain = rng.choice(ids.CAMPUS_DOMAINS + ids.OFFICE_DOMAINS)
    out: list[Entrant] = []

    def person(kind: str, operator: str, **fields: object) -> Entrant:
        base: dict[str, object] = {
            "email": boxes.fresh(ids.person_local(rng), rng.choice(ids.PROVIDERS)),
            "phone": phone() if rng.random() < 0.8 else None,
            "ip": ids.public_ip(rng), "device": ids.device(rng), "user_agent": ids.user_agent(rng),
        }
        base.update(fields)
        return Entrant(f"{prefix}{len(out)}", "real", kind, operator, False, lo + rng.random() * (hi - lo),
                       quantity=quantity(rng), products=products(rng), confirm_after=confirm_after(rng),
                       shows=rng.random() < SHOW_RATE, **base)  # type: ignore[arg-type]

    counts = _counts(n, mix)
    for kind in mix:
        k = 0
        while k < counts[kind]:
            uid = f"{prefix}{len(out)}"
            if kind == "ordinary":
                out.append(person(kind, uid))
            elif kind == "cgnat":
                out.append(person(kind, uid, ip=carrier_ip if one_address else f"{carrier}.{rng.randint(1, 254)}"))
            elif kind == "campus":
                email = boxes.fresh(ids.person_local(rng), campus_domain) if rng.random() < 0.7 else None
                fields: dict[str, object] = {"ip": campus_ip if one_address else f"{campus}.{rng.randint(1, 254)}"}
                if email:
                    fields["email"] = email
                out.append(person(kind, uid, **fields))
            elif kind == "relay":
                out.append(person(kind, uid, email=boxes.claim(ids.relay_address(rng)),
                                  ip=f"{rng.choice(ids.RELAY_EGRESS)}.{rng.randint(1, 254)}"))
            elif kind == "typo":
                right = person(kind, uid)
                if rng.random() < 0.5 or right.phone is None:
                    local, _, domain = str(right.email).partition("@")
                    typo_domain = rng.choice([t for t, good in ids.PROVIDER_TYPOS.items() if good == domain]
                                             or list(ids.PROVIDER_TYPOS))
                    right = replace(right, email=f"{local}@{typo_domain}", corrected=(("email", str(right.email)),))
                else:
                    right = replace(right, phone=ids.phone_one_digit_short(right.phone, rng),
                                    corrected=(("phone", right.phone),))
                out.append(right)
            elif kind == "family":
                size = min(rng.randint(2, 5), counts[kind] - k)
                home = ids.public_net24(rng)
                ip, tablet, number = f"{home}.{rng.randint(1, 254)}", ids.device(rng), phone()
                share_device = rng.random() < 0.5
                family = f"family-{prefix}{len(out)}"
                for _ in range(size):
                    fields = {"ip": ip}
                    fields["device" if share_device else "phone"] = tablet if share_device else number
                    out.append(person(kind, family, **fields))
                k += size
                continue
            k += 1
    return out
