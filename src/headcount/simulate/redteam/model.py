"""What a red-team world is made of: entrants with their truth, attacker strategies, cells.

An `Entrant` is one identity that asks for something, labelled with the truth a
defence never sees: real or fake, who is behind it (`operator`), what kind of
population or strategy it belongs to, and whether its identity carries any tell.
Times are fractions of the scenario's window (0 = it opens, 1 = it closes), so a
replay can compress a week into seconds the way a load test does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

IdentityKind = Literal["disposable", "alias", "fresh_mailbox", "bought_mobile", "virtual_number", "victims"]
NetworkSpread = Literal["one_24", "residential", "cgnat"]
DeviceReuse = Literal["one", "few", "fresh"]
Pacing = Literal["burst", "steady", "adaptive"]
Arrival = Literal["before", "during", "after"]
ScenarioKind = Literal["rally", "carts", "merch"]
Half = Literal["tune", "held_back"]


@dataclass(frozen=True)
class Entrant:
    """One identity in a world, with the truth about it."""

    uid: str
    label: Literal["real", "fake"]
    kind: str  # a real population ("ordinary", "cgnat", ...), a strategy's name, or "mimic"
    operator: str  # who is behind it: a person's own id, a family, or the attacker
    tell: bool  # fakes: does the identity carry anything a defence could see? (real: False)
    at: float  # arrival, as a fraction of the scenario's window
    email: str | None = None
    phone: str | None = None
    ip: str | None = None
    device: str | None = None
    user_agent: str | None = None
    quantity: int = 1
    products: tuple[str, ...] = ()  # the pools it asks in (empty: the scenario's main pool)
    confirm_after: float | None = 0.0  # seconds after the hold it confirms; None: never
    shows: bool = False  # a real person who will come (checks in at an event)
    corrected: tuple[tuple[str, str], ...] = ()  # typos: (field, the right value) a person would fix
    victim: str | None = None  # lockout: the uid of the real person whose identifiers it types
    pacing: str = "burst"  # fakes: how its operator sends (burst, steady, adaptive, rehold)

    def actor(self) -> dict[str, str]:
        """The `actor` object a front end sends for this identity."""
        return {k: v for k, v in (("email", self.email), ("phone", self.phone), ("ip", self.ip),
                                  ("device", self.device), ("user_agent", self.user_agent)) if v}

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["products"] = list(self.products)
        d["corrected"] = dict(self.corrected)
        return d


@dataclass(frozen=True)
class Strategy:
    """An attacker, as parameters: what its identities look like and how it sends them."""

    identity: IdentityKind
    identities_per_operator: int  # 1..200
    operators: int  # 1..2,000
    network: NetworkSpread = "residential"
    devices: DeviceReuse = "fresh"
    pacing: Pacing = "burst"
    share: float = 0.5  # the fakes' share of all registrations in the main pool
    arrival: Arrival = "after"  # relative to real people: before, during, or after (a viral video)
    scripted: bool = False  # sends an automation user agent

    def __post_init__(self) -> None:
        if not 1 <= self.identities_per_operator <= 200:
            raise ValueError("identities_per_operator must be within 1..200")
        if not 1 <= self.operators <= 2000:
            raise ValueError("operators must be within 1..2000")
        if not 0.0 < self.share < 1.0:
            raise ValueError("share must be within (0, 1)")

    @property
    def name(self) -> str:
        return (f"{self.identity}-x{self.identities_per_operator}-ops{self.operators}-{self.network}"
                f"-dev_{self.devices}-{self.pacing}-s{round(self.share * 100)}-{self.arrival}"
                + ("-scripted" if self.scripted else ""))

    def has_tell(self) -> bool:
        """Whether its identities carry anything a defence could see, by construction.

        Tells: a throwaway domain, aliases of one mailbox, a virtual number, a bought
        block of consecutive numbers, someone else's identifiers typed with the
        attacker's own device, an automation user agent, one device or a few behind
        several identities, or many identities from one /24. Fresh name-like mailboxes
        with fresh devices through residential proxies or a carrier NAT carry none:
        those fakes are reported apart, as indistinguishable.
        """
        many = self.identities_per_operator > 1
        return (self.identity in ("disposable", "alias", "virtual_number", "bought_mobile", "victims")
                or self.scripted or (many and self.devices != "fresh")
                or (self.network == "one_24" and self.identities_per_operator * self.operators > 4))


@dataclass(frozen=True)
class Cell:
    """One point of the red-team grid: a scenario, an attacker (or none), a size and a seed."""

    scenario: ScenarioKind
    strategy: Strategy | None
    real: int  # real people (rally, carts: before the share sets the fakes; merch: buyers)
    seed: int
    variant: str = ""  # the real crowd's variant (e.g. "cgnat_one_address"), part of the name
    extra: tuple[tuple[str, object], ...] = field(default_factory=tuple)

    @property
    def design(self) -> str:
        """The cell's parameters without its seed: what the split hashes."""
        return f"{self.scenario}:{self.strategy.name if self.strategy else 'no_attacker'}:{self.variant}"

    @property
    def name(self) -> str:
        return f"{self.design}:seed{self.seed}"

    def param(self, key: str, default: object) -> object:
        return dict(self.extra).get(key, default)

    def fingerprint(self) -> str:
        blob = json.dumps({"design": self.design, "real": self.real, "extra": list(self.extra)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()
