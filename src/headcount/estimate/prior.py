"""The weakly-informative prior: what we believe before any pool has history.

Read a band's mid risk score m as the chance that a registration in it is fake,
softened by a calibration exponent: the real share of the band is
q(m) = (1 - m)^g with log g ~ N(0, calibration_sd^2). Real people show up at an
unknown rate s ~ Beta with mean `show_rate` and sd `show_rate_sd` (free events
typically see 40-60% of real registrants); fakes almost never come
(`fake_show_rate`). A band's show-up rate is s q + f (1 - q): for any g > 0
and s > f it falls as risk rises, so the prior is monotone in risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prior:
    """Prior beliefs; the defaults are deliberately wide."""

    show_rate: float = 0.5  # real people's show-up rate, prior mean
    show_rate_sd: float = 0.2  # ... and its prior sd
    fake_show_rate: float = 0.01  # the rare fake that comes (a real person behind it)
    calibration_sd: float = 0.5  # log-sd of the calibration exponent g
    pool_sd: float = 0.1  # prior guess of the pool-to-pool sd of a turnout rate
    pool_sd_weight: float = 1.0  # that guess counts as this many pools (degrees of freedom)
    pseudo_pools: float = 0.5  # unused since the real-share model (kept so old callers still work)
    slope_sd: float = 0.2  # unused since the real-share model (kept so old callers still work)
    band_odds_sd: float = 2.0  # prior sd of a band's log fake odds around logit(its mid score)
    draws: int = 4000  # Monte-Carlo draws for the no-history case (fixed seed)
    seed: int = 20200620

    def __post_init__(self) -> None:
        checks = {
            "show_rate": 0.0 < self.show_rate < 1.0,
            "show_rate_sd": 0.0 < self.show_rate_sd**2 < self.show_rate * (1 - self.show_rate),
            "fake_show_rate": 0.0 <= self.fake_show_rate < self.show_rate,
            "calibration_sd": 0.0 <= self.calibration_sd <= 3.0,
            "pool_sd": 0.0 < self.pool_sd < 1.0,
            "pool_sd_weight": self.pool_sd_weight > 0.0,
            "pseudo_pools": self.pseudo_pools > 0.0,
            "slope_sd": self.slope_sd > 0.0,
            "band_odds_sd": 0.0 < self.band_odds_sd <= 10.0,
            "draws": 100 <= self.draws <= 1_000_000,
        }
        for field, ok in checks.items():
            if not ok:
                raise ValueError(f"prior.{field}: out of range ({getattr(self, field)!r})")

    def beta_params(self) -> tuple[float, float]:
        """Beta(a, b) with the prior's mean and sd for the real show-up rate."""
        m, sd = self.show_rate, self.show_rate_sd
        k = m * (1 - m) / sd**2 - 1.0
        return m * k, (1 - m) * k

    def band_rates(self, mid: np.ndarray, show: np.ndarray | float | None = None,
                   g: np.ndarray | float = 1.0) -> np.ndarray:
        """Show-up rate per band for real rate(s) `show` and exponent(s) `g` (broadcasts)."""
        s = self.show_rate if show is None else show
        q = np.power(1.0 - np.clip(mid, 0.0, 1.0), np.asarray(g)[..., None] if np.ndim(g) else g)
        s_arr = np.asarray(s)[..., None] if np.ndim(s) else s
        return s_arr * q + self.fake_show_rate * (1.0 - q)

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-seed draws of (real show-up rate, calibration exponent)."""
        rng = np.random.default_rng(self.seed)
        a, b = self.beta_params()
        return rng.beta(a, b, self.draws), np.exp(self.calibration_sd * rng.standard_normal(self.draws))

    def mean_band_rates(self, mid: np.ndarray) -> np.ndarray:
        s, g = self.draw()
        return self.band_rates(mid, s, g).mean(axis=0)
