"""The real headcount of a pool: how many real people will come, with an interval.

Model (details and maths in docs/estimate.md)
---------------------------------------------
1. *Band rates of each earlier pool, shrunk.* Per risk band b, pool j's
   show-up rate p_jb is beta-binomial around a band mean mu_b with a
   concentration kappa_b estimated by moments from the spread between pools
   (empirical Bayes). Small pools are pulled towards mu_b; a band a pool never
   saw gets mu_b.
2. *Rates depend on how flooded a pool is.* In a flooded pool even the
   low-risk bands hold more clean-looking fakes, so band rates fall as the
   pool's flagged share rises. Each band rate is regressed on
   x_j = logit(flagged share of pool j) with a conjugate normal-inverse-chi^2
   Bayesian regression (the prior from `Prior`: intercept = prior band rate,
   slope 0); all bands share the design, so one matrix inverse serves all.
3. *The new pool.* Its band rates are the regression's prediction at its own
   x_0; expected_real = sum_b n_0b p_0b. For the interval, every earlier pool
   is re-read with the new pool's band mix, rho_j = sum_b w_0b p_jb, and the
   same regression on rho_j gives a Student-t predictive for the new pool's
   rate (residual sd = pool-to-pool variation with the correlation between
   bands included; leverage and the t tails = not knowing the parameters).
   Chance turnout (whole parties, sum q^2 p (1 - p)) is added in quadrature.
4. *No history.* The monotone prior of `prior.py`, by Monte-Carlo with a
   fixed seed.

Everything is vectorised over bands and pools: a call costs well under a
millisecond once the band counts are known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .bands import BandCounts, Bands
from .prior import Prior
from .result import BandEstimate, HeadcountEstimate

_FLAG_FLOOR = 0.005  # flagged shares are clipped to [floor, 1 - floor] before the logit


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(p, _FLAG_FLOOR, 1.0 - _FLAG_FLOOR)
    return np.log(p / (1.0 - p))


def flagged_share(bands: Bands, counts: BandCounts) -> float:
    """Share of the pool's seats in flagged bands (0 for an empty pool)."""
    total = counts.total
    return float(counts.registered[bands.flagged].sum() / total) if total > 0 else 0.0


def shrink_band_rates(n: np.ndarray, y: np.ndarray, prior_mean: np.ndarray,
                      prior_seats: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical-Bayes beta-binomial per band: (mu_b, kappa_b, shrunk rates p_jb).

    n, y: pools x bands seats registered / checked in. kappa_b comes from the
    between-pool spread of rates beyond what binomial chance explains (method
    of moments); a band without spread gets a large kappa (little shrinkage
    needed, pools agree), one with much spread a small kappa.
    """
    seats = n.sum(axis=0)
    mu = (y.sum(axis=0) + prior_seats * prior_mean) / (seats + prior_seats)
    seen = n > 0
    rate = np.where(seen, y / np.where(seen, n, 1.0), mu)
    w = n / np.where(seats > 0, seats, 1.0)
    spread = (w * (rate - mu) ** 2).sum(axis=0)
    chance = mu * (1.0 - mu) * seen.sum(axis=0) / np.where(seats > 0, seats, 1.0)
    between = np.maximum(spread - chance, 1e-6)
    kappa = np.clip(mu * (1.0 - mu) / between - 1.0, 1.0, 1e6)
    shrunk = (y + mu * kappa) / (n + kappa)
    return mu, kappa, shrunk


@dataclass(frozen=True)
class _Regression:
    """Conjugate Bayesian regression of rates on [1, x - xbar], several responses at once."""

    coef: np.ndarray  # 2 x k posterior mean
    cov: np.ndarray  # 2 x 2 posterior scale matrix V_n (times sigma^2)
    s2: np.ndarray  # k posterior scale of sigma^2
    dof: float

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, M0: np.ndarray, prior: Prior) -> _Regression:
        V0_inv = np.diag([prior.pseudo_pools, (prior.pool_sd / prior.slope_sd) ** 2])
        Vn = np.linalg.inv(V0_inv + X.T @ X)
        Mn = Vn @ (V0_inv @ M0 + X.T @ Y)
        resid = Y - X @ Mn
        d = Mn - M0
        nu0 = prior.pool_sd_weight
        ss = nu0 * prior.pool_sd**2 + (resid**2).sum(axis=0) + np.einsum("ik,ij,jk->k", d, V0_inv, d)
        dof = nu0 + X.shape[0]
        return cls(Mn, Vn, ss / dof, dof)

    def leverage(self, x0: np.ndarray) -> float:
        return float(x0 @ self.cov @ x0)


def _check_inputs(bands: Bands, current: BandCounts, history: Sequence[BandCounts],
                  capacity: int | None, level: float) -> None:
    if not isinstance(current, BandCounts):
        raise ValueError("current: must be BandCounts (see count_registrations)")  # noqa: TRY004 (422 naming the field)
    if len(current.registered) != len(bands):
        raise ValueError(f"current.registered: need {len(bands)} bands, got {len(current.registered)}")
    for i, h in enumerate(history):
        if not isinstance(h, BandCounts):
            raise ValueError(f"history[{i}]: must be BandCounts")  # noqa: TRY004
        if len(h.registered) != len(bands):
            raise ValueError(f"history[{i}].registered: need {len(bands)} bands, got {len(h.registered)}")
        if h.checked_in is None:
            raise ValueError(f"history[{i}].checked_in: earlier pools need their check-ins")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int | np.integer)
                                 or capacity < 0):
        raise ValueError("capacity: must be a whole number >= 0 or None")
    if not isinstance(level, float | int) or not 0.5 <= float(level) < 1.0:
        raise ValueError("level: must be in [0.5, 1)")


def _shares(parts: dict[str, float]) -> dict[str, float]:
    total = sum(parts.values())
    if total <= 0:
        return {k: 0.0 for k in parts}
    return {k: v / total for k, v in parts.items()}


def _finish(bands: Bands, current: BandCounts, capacity: int | None, level: float, method: str,
            history_pools: int, mean: float, lo: float, hi: float, sd: float,
            p_over: float | None, rates: np.ndarray, rate_lo: np.ndarray, rate_hi: np.ndarray,
            uncertainty: dict[str, float]) -> HeadcountEstimate:
    registered = round(current.total)
    expected = min(max(round(mean), 0), registered)
    if p_over is not None and capacity is not None and capacity >= current.total:
        p_over = 0.0  # check-ins cannot exceed registrations, which fit: the t tail would say otherwise
    lo_i = max(0, min(math.floor(lo), expected))
    hi_i = min(registered, max(math.ceil(hi), expected))
    band_rows = tuple(
        BandEstimate(name, round(n), float(r), (float(a), float(b)), float(n * r))
        for name, n, r, a, b in zip(bands.names, current.registered, rates, rate_lo, rate_hi)
    )
    return HeadcountEstimate(
        registered=registered, expected_real=expected, interval=(lo_i, hi_i), capacity=capacity,
        level=float(level), method=method, history_pools=history_pools,
        flagged_share=flagged_share(bands, current), sd=float(sd), p_over_capacity=p_over,
        bands=band_rows, uncertainty=_shares(uncertainty),
    )


def _from_prior(bands: Bands, current: BandCounts, capacity: int | None, level: float,
                prior: Prior) -> HeadcountEstimate:
    """No usable history: the monotone prior, by fixed-seed Monte-Carlo."""
    s, g = prior.draw()
    n0, sq = current.registered, current.sum_sq
    rates = prior.band_rates(bands.mid, s, g)  # draws x bands
    mean_t = rates @ n0
    chance = (rates * (1.0 - rates)) @ sq
    z = np.random.default_rng(prior.seed + 1).standard_normal(len(s))
    draws = mean_t + np.sqrt(chance) * z
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(draws, [tail, 1.0 - tail])
    var_s = float(np.var(prior.band_rates(bands.mid, s, 1.0) @ n0))
    var_g = float(np.var(prior.band_rates(bands.mid, prior.show_rate, g) @ n0))
    var_mean = float(np.var(mean_t))
    split = var_s + var_g
    parts = {
        "parameter": var_mean * var_s / split if split > 0 else 0.0,
        "pool_to_pool": 0.0,
        "chance": float(chance.mean()),
        "calibration": var_mean * var_g / split if split > 0 else 0.0,
    }
    p_over = None if capacity is None else float(np.mean(draws > capacity + 0.5))
    r_lo, r_hi = np.quantile(rates, [tail, 1.0 - tail], axis=0)
    return _finish(bands, current, capacity, level, "prior", 0, float(mean_t.mean()), float(lo),
                   float(hi), float(np.std(draws)), p_over, rates.mean(axis=0), r_lo, r_hi, parts)


def estimate_headcount(current: BandCounts, history: Sequence[BandCounts] = (), *,
                       bands: Bands | None = None, capacity: int | None = None,
                       level: float = 0.9, prior: Prior | None = None) -> HeadcountEstimate:
    """Expected real attendance of the pool `current`, with a `level` interval.

    `history`: earlier pools with their check-ins, counted with the same bands.
    Pools with no registrations are ignored; with none left, the prior alone
    answers (`method == "prior"`), with a wide interval.
    """
    bands = bands or Bands()
    prior = prior or Prior()
    history = list(history)
    _check_inputs(bands, current, history, capacity, level)
    used = [h for h in history if h.total > 0]
    if current.total <= 0:
        zeros = np.zeros(len(bands))
        return _finish(bands, current, capacity, level, "history" if used else "prior", len(used),
                       0.0, 0.0, 0.0, 0.0, None if capacity is None else 0.0,
                       zeros, zeros, zeros, {})
    if not used:
        return _from_prior(bands, current, capacity, level, prior)

    n = np.stack([h.registered for h in used])
    y = np.stack([h.checked_in for h in used])  # type: ignore[misc]
    prior_rates = prior.mean_band_rates(bands.mid)
    _, _, shrunk = shrink_band_rates(n, y, prior_rates)

    x = _logit(np.array([flagged_share(bands, h) for h in used]))
    xbar = float(x.mean())
    X = np.column_stack([np.ones(len(x)), x - xbar])
    x0 = np.array([1.0, float(_logit(flagged_share(bands, current))) - xbar])

    n0 = current.registered
    w0 = n0 / n0.sum()
    # one regression, B + 1 responses: every band's rate, and each pool re-read with the new mix
    responses = np.column_stack([shrunk, shrunk @ w0])
    M0 = np.vstack([np.append(prior_rates, prior_rates @ w0), np.zeros(len(bands) + 1)])
    reg = _Regression.fit(X, responses, M0, prior)
    lev = reg.leverage(x0)
    t_q = float(stats.t.ppf(0.5 + level / 2.0, reg.dof))
    z_q = float(stats.norm.ppf(0.5 + level / 2.0))

    pred = x0 @ reg.coef
    rates = np.clip(pred[:-1], 0.0, 1.0)
    rate_half = t_q * np.sqrt(reg.s2[:-1] * (1.0 + lev))
    mean = float(rates @ n0)
    chance = float((rates * (1.0 - rates)) @ current.sum_sq)
    pool_sd = float(n0.sum() * np.sqrt(reg.s2[-1]))
    pool_half = t_q * pool_sd * math.sqrt(1.0 + lev)
    half = math.sqrt(pool_half**2 + z_q**2 * chance)
    p_over = None
    if capacity is not None:
        p_over = float(stats.t.sf((capacity + 0.5 - mean) / (half / t_q), reg.dof)) if half > 0 else float(
            mean > capacity)
    parts = {
        "parameter": max((pool_half / z_q) ** 2 - pool_sd**2, 0.0),
        "pool_to_pool": pool_sd**2,
        "chance": chance,
        "calibration": 0.0,
    }
    return _finish(bands, current, capacity, level, "history", len(used), mean, mean - half,
                   mean + half, half / z_q, p_over, rates, np.clip(rates - rate_half, 0.0, 1.0),
                   np.clip(rates + rate_half, 0.0, 1.0), parts)
