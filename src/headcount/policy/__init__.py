"""The risk policy: weights per reason, and what each band of the score gets.

Loaded from TOML (`tomllib`); a bad file is an error that names the key.

A band may ask for a challenge (`challenge = true`): the request is refused with
a challenge the client puts to the person (a CAPTCHA, an SMS code: the client's
choice); once the client's backend marks it passed, the retried request gets the
band named by `on_pass`, once. `[challenge]` sets how long a person has to pass
(`ttl_s`) and how long the token then stays good (`token_ttl_s`).
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from headcount.policy.budgets import DEFAULT_BUDGETS, Budget
from headcount.policy.graph import GraphRule, GraphRuleError


class PolicyError(ValueError):
    """The policy file is unusable; the message names the key."""


@dataclass(frozen=True)
class Band:
    name: str
    below: float | None  # None: no upper bound (the last band)
    ttl_factor: float = 1.0
    actor_cap: int | None = None
    deny: bool = False
    challenge: bool = False  # refused until the person passes a challenge
    on_pass: str | None = None  # the band a passed challenge gets (challenge bands only)


@dataclass(frozen=True)
class FloodRule:
    """`[flood]`: when a pool counts as flooded (see headcount.guard.flood)."""

    window: int = 1_000  # the last registrations of a pool that are looked at
    share: float = 0.5  # flooded while more than this share of them was risky
    min_seen: int = 100  # judged only once this many are in the window


#: Every reason the guard and the service give; a weight for anything else is a typo.
REASONS = frozenset({
    "email_invalid", "email_disposable", "email_machine_made", "email_alias",
    "phone_unparsable", "phone_impossible", "phone_invalid", "phone_voip", "phone_toll_free",
    "phone_premium", "phone_shared_cost", "phone_pager", "phone_uan", "phone_unknown_type",
    "phone_fictional", "ip_invalid", "ip_not_public", "ua_automation", "ua_missing", "no_contact",
    "velocity_network", "velocity_phone_block", "pool_flooded", "coordinated_group",
    "identity_fanout_device", "identity_fanout_aliases", "identity_fanout_block", "identity_fanout_mailbox", "identity_fanout_number",
    "abandoned_holds", "abandoned_repeatedly", "claims_verified", "trusted",
})
TABLES = frozenset({"weights", "bands", "velocity", "challenge", "flood", "budgets", "graph"})
BAND_KEYS = frozenset({"name", "below", "ttl_factor", "actor_cap", "deny", "challenge", "on_pass"})
WINDOWS_S = {"minute": 60, "hour": 3600, "day": 86400}

#: Verbs that count as registrations for velocity: a hold, and `register` through /v1/actions.
REGISTRATION_VERBS = frozenset({"hold", "register"})
CHALLENGE_TTL_RANGE = (10, 86400)
TOKEN_TTL_RANGE = (10, 3600)

VELOCITY_KEYS = tuple(f"{kind}_per_{window}" for kind in ("network", "phone_block")
                      for window in ("minute", "hour", "day"))


@dataclass(frozen=True)
class Policy:
    weights: dict[str, float]
    bands: tuple[Band, ...]
    velocity: dict[str, int] | None = None  # registrations: limits per key and window; None: no velocity
    #: other verbs counted in their own key space (`[velocity.<verb>]`); a verb not here is not counted
    verb_velocity: dict[str, dict[str, int]] = field(default_factory=dict)
    challenge_ttl_s: int = 600  # how long a person has to pass a challenge
    token_ttl_s: int = 300  # how long the token a pass yields stays good (once)
    flood: FloodRule | None = None  # `[flood]`: flood mode (headcount.guard.flood); None: off
    #: `[budgets]`: per person and verb, (limit, window) pairs; "*" for any other verb
    budgets: dict[str, tuple[Budget, ...]] = field(default_factory=lambda: dict(DEFAULT_BUDGETS))
    #: `[graph]`: fan-out limits, network diversity, behaviour memory (headcount.policy.graph)
    graph: GraphRule = field(default_factory=GraphRule)

    def weight(self, reasons: tuple[str, ...] | list[str]) -> float:
        """The reasons' summed weight (the score before it is squashed into [0, 1])."""
        return sum(self.weights.get(r, 0.0) for r in reasons)

    @staticmethod
    def score_of(weight: float) -> float:
        return round(1.0 - math.exp(-weight), 4)

    def score(self, reasons: tuple[str, ...] | list[str]) -> float:
        return self.score_of(self.weight(reasons))

    def band(self, score: float) -> Band:
        for band in self.bands:
            if band.below is None or score < band.below:
                return band
        return self.bands[-1]

    def band_named(self, name: str) -> Band:
        for band in self.bands:
            if band.name == name:
                return band
        raise KeyError(name)

    def velocity_for(self, verb: str) -> dict[str, int] | None:
        """The velocity limits a verb counts under: registrations' for holds and `register`."""
        return self.velocity if verb in REGISTRATION_VERBS else self.verb_velocity.get(verb)

    @classmethod
    def from_toml(cls, text: str, source: str = "policy") -> Policy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
        unknown_tables = set(data) - TABLES
        if unknown_tables:
            raise PolicyError(f"{source}: [{sorted(unknown_tables)[0]}] is unknown; the tables are "
                              f"{', '.join(sorted(TABLES))}")
        weights = data.get("weights", {})
        if not isinstance(weights, dict):
            raise PolicyError(f"{source}: [weights] must be a table")
        for key in weights:
            if key not in REASONS:
                close = difflib.get_close_matches(key, sorted(REASONS), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise PolicyError(f"{source}: weights.{key} is not a reason headcount gives{hint}")
        for key, value in weights.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise PolicyError(f"{source}: weights.{key} must be a number >= 0")
        raw_bands = data.get("bands")
        if not isinstance(raw_bands, list) or not raw_bands:
            raise PolicyError(f"{source}: at least one [[bands]] entry is needed")
        bands = []
        last_bound = -1.0
        for i, b in enumerate(raw_bands):
            where = f"{source}: bands[{i}]"
            if not isinstance(b, dict) or not isinstance(b.get("name"), str):
                raise PolicyError(f"{where}.name must be a string")
            unknown_keys = set(b) - BAND_KEYS
            if unknown_keys:
                raise PolicyError(f"{where}.{sorted(unknown_keys)[0]} is unknown; use {', '.join(sorted(BAND_KEYS))}")
            below = b.get("below")
            if below is not None:
                if not isinstance(below, int | float) or not 0 < below <= 1 or below <= last_bound:
                    raise PolicyError(f"{where}.below must be in (0, 1] and above the band before")
                last_bound = float(below)
            elif i != len(raw_bands) - 1:
                raise PolicyError(f"{where}.below is missing; only the last band may go without one")
            ttl = b.get("ttl_factor", 1.0)
            if not isinstance(ttl, int | float) or not 0 < ttl <= 1:
                raise PolicyError(f"{where}.ttl_factor must be in (0, 1]")
            cap = b.get("actor_cap")
            if cap is not None and (not isinstance(cap, int) or cap < 1):
                raise PolicyError(f"{where}.actor_cap must be a whole number >= 1")
            deny, challenge, on_pass = b.get("deny", False), b.get("challenge", False), b.get("on_pass")
            if not isinstance(deny, bool) or not isinstance(challenge, bool):
                raise PolicyError(f"{where}.{'deny' if not isinstance(deny, bool) else 'challenge'} must be true or false")
            if deny and challenge:
                raise PolicyError(f"{where}.challenge cannot go with deny")
            if challenge != (on_pass is not None):
                raise PolicyError(f"{where}.on_pass names the band a passed challenge gets; "
                                  "it goes with challenge = true, and only with it")
            bands.append(Band(b["name"], None if below is None else float(below), float(ttl), cap,
                              deny, challenge, on_pass))
        by_name = {band.name: band for band in bands}
        for i, band in enumerate(bands):
            if band.on_pass is None:
                continue
            target = by_name.get(band.on_pass) if isinstance(band.on_pass, str) else None
            if target is None or target.deny or target.challenge:
                raise PolicyError(f"{source}: bands[{i}].on_pass must name a band that neither denies "
                                  "nor challenges")
        velocity = data.get("velocity")
        verb_velocity: dict[str, dict[str, int]] = {}
        if velocity is not None:
            if not isinstance(velocity, dict):
                raise PolicyError(f"{source}: [velocity] must be a table")
            verb_velocity = {k: v for k, v in velocity.items() if isinstance(v, dict)}
            velocity = {k: v for k, v in velocity.items() if not isinstance(v, dict)}
            for verb, limits in verb_velocity.items():
                if verb in REGISTRATION_VERBS or not verb.isidentifier() or not verb.islower():
                    raise PolicyError(f"{source}: velocity.{verb} must be a lower-case verb other than "
                                      f"{' and '.join(sorted(REGISTRATION_VERBS))} (they count as registrations)")
                _velocity_limits(limits, f"{source}: velocity.{verb}")
            _velocity_limits(velocity, f"{source}: velocity")
        challenge = data.get("challenge", {})
        if not isinstance(challenge, dict):
            raise PolicyError(f"{source}: [challenge] must be a table")
        ttls = {}
        for key, (lo, hi), default in (("ttl_s", CHALLENGE_TTL_RANGE, 600), ("token_ttl_s", TOKEN_TTL_RANGE, 300)):
            value = challenge.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise PolicyError(f"{source}: challenge.{key} must be a whole number of seconds in [{lo}, {hi}]")
            ttls[key] = value
        unknown = set(challenge) - set(ttls)
        if unknown:
            raise PolicyError(f"{source}: challenge.{sorted(unknown)[0]} is unknown; use ttl_s, token_ttl_s")
        flood = _flood_rule(data.get("flood"), weights, bands, source)
        budgets = _budgets(data.get("budgets"), source)
        try:
            graph = GraphRule.from_table(data.get("graph"), source)
        except GraphRuleError as exc:
            raise PolicyError(str(exc)) from exc
        return cls({k: float(v) for k, v in weights.items()}, tuple(bands), velocity, verb_velocity,
                   ttls["ttl_s"], ttls["token_ttl_s"], flood, budgets, graph)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Policy:
        """The policy at `path`, $HEADCOUNT_POLICY, or the shipped default."""
        path = path or os.environ.get("HEADCOUNT_POLICY")
        if path:
            try:
                return cls.from_toml(Path(path).read_text("utf-8"), str(path))
            except OSError as exc:
                raise PolicyError(f"cannot read the policy {path}: {exc}") from exc
        text = (resources.files("headcount.policy") / "default.toml").read_text("utf-8")
        return cls.from_toml(text, "default policy")


def _velocity_limits(limits: Mapping[str, object], where: str) -> None:
    for key, value in limits.items():
        if key not in VELOCITY_KEYS:
            raise PolicyError(f"{where}.{key} is unknown; use {', '.join(VELOCITY_KEYS)}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise PolicyError(f"{where}.{key} must be a whole number >= 1")


def _flood_rule(table: object, weights: dict[str, object], bands: list[Band], source: str) -> FloodRule | None:
    """`[flood]`, checked: whole numbers for the window, a share in (0, 1), and a
    `pool_flooded` weight that alone leaves a person in the first band."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: [flood] must be a table")
    unknown = set(table) - {"window", "share", "min_seen"}
    if unknown:
        raise PolicyError(f"{source}: flood.{sorted(unknown)[0]} is unknown; use window, share, min_seen")
    default = FloodRule()
    window, share = table.get("window", default.window), table.get("share", default.share)
    min_seen = table.get("min_seen", min(default.min_seen, window) if isinstance(window, int) else 0)
    for key, value in (("window", window), ("min_seen", min_seen)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
            raise PolicyError(f"{source}: flood.{key} must be a whole number in [1, 1000000]")
    if min_seen > window:
        raise PolicyError(f"{source}: flood.min_seen must not exceed flood.window")
    if not isinstance(share, int | float) or isinstance(share, bool) or not 0 < share < 1:
        raise PolicyError(f"{source}: flood.share must be a number in (0, 1)")
    weight = weights.get("pool_flooded")
    if not isinstance(weight, int | float) or weight <= 0:
        raise PolicyError(f"{source}: weights.pool_flooded (> 0) is needed with [flood]")
    first = bands[0]
    if first.below is not None and 1.0 - math.exp(-float(weight)) >= first.below:
        raise PolicyError(f"{source}: weights.pool_flooded alone must score under bands[0].below "
                          f"({first.below}), or flood mode would move people with no reason out of it")
    return FloodRule(window, float(share), min_seen)


def _budgets(table: object, source: str) -> dict[str, tuple[Budget, ...]]:
    """`[budgets]`: `follow = {per_hour = 60, per_day = 400}`; verbs not named keep the defaults."""
    budgets = dict(DEFAULT_BUDGETS)
    if table is None:
        return budgets
    if not isinstance(table, dict):
        raise PolicyError(f"{source}: [budgets] must be a table")
    for verb, limits in table.items():
        where = f"{source}: budgets.{verb}"
        if not isinstance(limits, dict) or not limits:
            raise PolicyError(f"{where} must be a table such as {{per_hour = 60, per_day = 400}}")
        parsed = []
        for key, value in limits.items():
            window = WINDOWS_S.get(key.removeprefix("per_")) if key.startswith("per_") else None
            if window is None:
                raise PolicyError(f"{where}.{key} is unknown; use per_minute, per_hour, per_day")
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PolicyError(f"{where}.{key} must be a whole number >= 1")
            parsed.append(Budget(value, window))
        budgets[verb] = tuple(sorted(parsed, key=lambda b: b.window_s))
    return budgets
