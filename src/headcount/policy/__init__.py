"""The risk policy: weights per reason, and what each band of the score gets.

Loaded from TOML (`tomllib`); a bad file is an error that names the key.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


class PolicyError(ValueError):
    """The policy file is unusable; the message names the key."""


@dataclass(frozen=True)
class Band:
    name: str
    below: float | None  # None: no upper bound (the last band)
    ttl_factor: float = 1.0
    actor_cap: int | None = None
    deny: bool = False


VELOCITY_KEYS = ("network_per_hour", "network_per_day", "phone_block_per_hour", "phone_block_per_day")


@dataclass(frozen=True)
class Policy:
    weights: dict[str, float]
    bands: tuple[Band, ...]
    velocity: dict[str, int] | None = None  # limits per key and window; None: no velocity

    def score(self, reasons: tuple[str, ...] | list[str]) -> float:
        total = sum(self.weights.get(r, 0.0) for r in reasons)
        return round(1.0 - math.exp(-total), 4)

    def band(self, score: float) -> Band:
        for band in self.bands:
            if band.below is None or score < band.below:
                return band
        return self.bands[-1]

    @classmethod
    def from_toml(cls, text: str, source: str = "policy") -> Policy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
        weights = data.get("weights", {})
        if not isinstance(weights, dict):
            raise PolicyError(f"{source}: [weights] must be a table")
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
            bands.append(Band(b["name"], None if below is None else float(below), float(ttl), cap,
                              bool(b.get("deny", False))))
        velocity = data.get("velocity")
        if velocity is not None:
            if not isinstance(velocity, dict):
                raise PolicyError(f"{source}: [velocity] must be a table")
            for key, value in velocity.items():
                if key not in VELOCITY_KEYS:
                    raise PolicyError(f"{source}: velocity.{key} is unknown; use {', '.join(VELOCITY_KEYS)}")
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise PolicyError(f"{source}: velocity.{key} must be a whole number >= 1")
        return cls({k: float(v) for k, v in weights.items()}, tuple(bands), velocity)

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
