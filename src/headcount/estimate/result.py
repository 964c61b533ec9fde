"""What an estimate returns: plain dataclasses with `to_dict()` for JSON."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BandEstimate:
    """One risk band of the pool being estimated."""

    name: str
    registered: int  # seats held in this band
    show_rate: float  # posterior-predictive mean show-up rate for this pool
    show_rate_interval: tuple[float, float]  # same level as the headcount interval
    expected: float  # registered * show_rate: the band's share of expected_real

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "registered": self.registered,
            "show_rate": round(self.show_rate, 5),
            "show_rate_interval": [round(self.show_rate_interval[0], 5),
                                   round(self.show_rate_interval[1], 5)],
            "expected": round(self.expected, 2),
        }


@dataclass(frozen=True)
class HeadcountEstimate:
    """The real headcount of a pool, with an interval and where its width comes from.

    `uncertainty` holds variance shares that add up to 1:
    - `parameter`: not knowing the show-up rates (few earlier pools, extrapolating
      to a pool flagged more or less than any before),
    - `pool_to_pool`: pools differ even when the rates are known (the weather,
      the campaign, fakes that look clean),
    - `chance`: who of the registrants turns up (binomial, by party),
    - `calibration`: how far risk scores are from probabilities (prior only).
    """

    registered: int
    expected_real: int
    interval: tuple[int, int]
    capacity: int | None
    level: float
    method: str  # "history" or "prior"
    history_pools: int
    flagged_share: float
    sd: float  # predictive sd of the headcount (seats)
    p_over_capacity: float | None  # predictive chance that more come than fit
    bands: tuple[BandEstimate, ...]
    uncertainty: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "registered": self.registered,
            "expected_real": self.expected_real,
            "interval": [self.interval[0], self.interval[1]],
            "capacity": self.capacity,
            "level": self.level,
            "method": self.method,
            "history_pools": self.history_pools,
            "flagged_share": round(self.flagged_share, 5),
            "sd": round(self.sd, 2),
            "p_over_capacity": None if self.p_over_capacity is None else round(self.p_over_capacity, 5),
            "bands": [b.to_dict() for b in self.bands],
            "uncertainty": {k: round(v, 5) for k, v in self.uncertainty.items()},
        }
