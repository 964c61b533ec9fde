"""The real headcount of a pool: how many real people will come, with an interval.

Model (details and maths in docs/estimate.md)
---------------------------------------------
1. *Band rates of each earlier pool, shrunk.* Per risk band b, pool j's
   show-up rate p_jb is beta-binomial around a band mean mu_b with a
   concentration kappa_b estimated by moments from the spread between pools
   (empirical Bayes). Small pools are pulled towards mu_b; a band a pool never
   saw gets mu_b.
2. *Rates depend on how flooded a pool is.* In a flooded pool even the
   low-risk bands hold clean-looking fakes. By Bayes' rule the odds that a
   seat of band b is fake are the band's likelihood ratio times the pool's
   fake odds, read from x_j = logit(flagged share of pool j). So each band
   rate is p_jb = A_b / (1 + exp(x_j - xbar + lam_b)): real people's rate
   times the band's real share, falling along a logistic curve (not a line)
   as the pool floods. lam_b (the band's log fake odds at the history's
   typical pool) is integrated over a grid with the prior
   N(logit(mid score), band_odds_sd^2); A_b is least squares given lam_b.
3. *The new pool.* Its band rates are the posterior-mean curves at its own
   x_0; expected_real = sum_b n_0b p_0b. For the interval, every earlier pool
   is re-read with the new pool's band mix, and the residuals of that total
   give the pool-to-pool variance (bands move together); add not knowing A_b
   (leverage), not knowing lam_b (its posterior spread) and Student-t tails;
   chance turnout (whole parties, sum q^2 p (1 - p)) is added in quadrature.
4. *No history.* The monotone prior of `prior.py`, by Monte-Carlo with a
   fixed seed.
5. *Flood read.* The covariate solves the flagged share for the fake share
   (real people's flagged share from the check-ins, a guessed share of
   clean-looking fakes), averaged over guesses 0-50%.
6. *Check-in history* (`BandCounts.returning`, when every pool has it): strata
   bands x (new, returning), and a second read no fake can move, the
   returners' turnout x (1 + newcomers/returners among earlier attendees),
   blended by precision with a random-effects inflation when the two disagree.
7. The predictive (interval and p_over_capacity) is Student t on the
   square-root scale.

Everything is vectorised over bands, pools and the grid: a call costs about a
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


_ODDS_GRID = np.linspace(-9.0, 9.0, 73)  # log odds that a band's seat is fake, at the history's typical pool


@dataclass(frozen=True)
class _RealShareFit:
    """Per band, rate_jb = A_b * h_b(x_j): real people's show-up rate times the band's real share.

    By Bayes' rule the odds that a seat of band b is fake are the band's
    likelihood ratio (fakes vs real people) times the pool's fake odds; the
    pool's fake odds are read from its flagged share, so
    h_b(x) = 1 / (1 + exp((x - xbar) + lam_b)) with lam_b the band's log fake
    odds at the history's typical pool. lam_b is integrated over a grid
    (prior N(logit(mid score), band_odds_sd^2), likelihood of the residuals
    with A_b profiled out under a scaled-inverse-chi^2 prior on their
    variance); A_b is least squares given lam_b, kept in [0, 1].
    """

    rates: np.ndarray  # b: predicted show-up rate per band of the new pool
    fitted: np.ndarray  # J x b: each earlier pool's fitted band rates
    residuals: np.ndarray  # J x b: shrunk rate - fitted
    band_s2: np.ndarray  # b: posterior scale of the pool-to-pool variance per band
    leverage: np.ndarray  # b: h0^2 / sum_j h_j^2 (not knowing A_b), posterior mean over lam_b
    odds_var: np.ndarray  # b: posterior variance of the predicted rate over lam_b
    dof: float
    prior_ss: float
    log_evidence: float = 0.0  # log marginal likelihood of the history under this flood read (up to a constant)

    @classmethod
    def fit(cls, shrunk: np.ndarray, x: np.ndarray, x0: float, lam0: np.ndarray, prior: Prior) -> _RealShareFit:
        xbar = float(x.mean())
        grid = _ODDS_GRID
        h = 1.0 / (1.0 + np.exp((x[None, :] - xbar) + grid[:, None]))  # G x J real share
        h0 = 1.0 / (1.0 + np.exp((x0 - xbar) + grid))  # G
        hh = (h**2).sum(axis=1)  # G
        amp = np.clip((h @ shrunk) / hh[:, None], 0.0, 1.0)  # G x b
        fit = h[:, :, None] * amp[:, None, :]  # G x J x b
        rss = ((shrunk[None] - fit) ** 2).sum(axis=1)  # G x b
        prior_ss = prior.pool_sd_weight * prior.pool_sd**2
        dof = prior.pool_sd_weight + max(len(x) - 2, 0)  # two parameters per band
        log_post = (-0.5 * ((grid[:, None] - lam0[None, :]) / prior.band_odds_sd) ** 2
                    - 0.5 * dof * np.log(prior_ss + rss))
        top = log_post.max(axis=0)
        wgt = np.exp(log_post - top)
        log_evidence = float((top + np.log(wgt.sum(axis=0))).sum())
        wgt /= wgt.sum(axis=0)  # G x b posterior over lam_b
        pred = amp * h0[:, None]  # G x b
        rates = (wgt * pred).sum(axis=0)
        fitted = np.einsum("gb,gjb->jb", wgt, fit)
        residuals = shrunk - fitted
        band_s2 = (prior_ss + (residuals**2).sum(axis=0)) / dof
        leverage = (wgt * (h0[:, None] ** 2 / hh[:, None])).sum(axis=0)
        odds_var = (wgt * (pred - rates[None]) ** 2).sum(axis=0)
        return cls(rates, fitted, residuals, band_s2, leverage, odds_var, dof, prior_ss, log_evidence)

    def residual_var(self, w0: np.ndarray) -> float:
        """Posterior scale of the pool-to-pool variance of a whole pool with band mix w0."""
        r = self.residuals @ w0
        return float((self.prior_ss + r @ r) / self.dof)


def _check_inputs(bands: Bands, current: BandCounts, history: Sequence[BandCounts],
                  capacity: int | None, level: float) -> None:
    if not isinstance(current, BandCounts):
        raise ValueError("current: must be BandCounts (see count_registrations)")
    if len(current.registered) != len(bands):
        raise ValueError(f"current.registered: need {len(bands)} bands, got {len(current.registered)}")
    for i, h in enumerate(history):
        if not isinstance(h, BandCounts):
            raise ValueError(f"history[{i}]: must be BandCounts")
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
    assert sq is not None  # BandCounts fills it
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

    if current.has_history_evidence and all(h.has_history_evidence for h in used):
        return _from_history(bands, current, used, capacity, level, prior, evidence=True)
    return _from_history(bands, current, used, capacity, level, prior, evidence=False)


# tuning knobs (fixed before the held-back runs; see docs/estimate.md)
RETURNING_ODDS_SHIFT = 4.0  # a returning seat's log fake odds sit this far below its band's
INTERVAL = "sqrt"
CLEAN_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)  # shares of fakes that look clean, averaged over
USE_EVIDENCE = False  # weight the clean-share guesses by the history (it cannot tell them apart: off)
CLEAN_GRID_EVIDENCE = (0.0,)  # with check-in history: the flagged share as it is


def _strata(bands: Bands, c: BandCounts, evidence: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Seats, check-ins and sums of squares per stratum: bands, or bands x (new, returning)."""
    if not evidence:
        return c.registered, c.checked_in, c.sum_sq  # type: ignore[return-value]
    ret = c.returning
    assert ret is not None
    n = np.concatenate([c.registered - ret, ret])
    frac = np.divide(ret, c.registered, out=np.zeros_like(ret), where=c.registered > 0)
    sq = np.concatenate([c.sum_sq * (1 - frac), c.sum_sq * frac])  # type: ignore[operator]
    y = None
    if c.checked_in is not None:
        rc = c.returning_checked_in
        assert rc is not None
        y = np.concatenate([c.checked_in - rc, rc])
    return np.maximum(n, 0.0), None if y is None else np.maximum(y, 0.0), np.maximum(sq, 0.0)


def _real_flagged(bands: Bands, used: list[BandCounts]) -> float:
    """Share of real people in flagged bands: read off the earlier pools' check-ins (all real)."""
    came = np.sum([h.checked_in for h in used], axis=0)  # type: ignore[arg-type]
    total = float(came.sum())
    return float(came[bands.flagged].sum() / total) if total > 0 else 0.0


def _flood_read(bands: Bands, c: BandCounts, phi: float, clean: float) -> float:
    """Log fake odds of a pool from its flagged share g, solving g = f (1 - clean) + (1 - f) phi for f.

    phi: real people's flagged share; clean: the share of fakes that look clean. With
    clean = phi = 0 this is logit(g), the read of the model before.
    """
    g = flagged_share(bands, c)
    if phi or clean:
        g = (g - phi) / max(1.0 - clean - phi, 1e-3)
    return float(_logit(g))


@dataclass(frozen=True)
class _Read:
    fit: _RealShareFit
    mean: float  # expected seats checked in
    var: float  # predictive variance of that, without chance turnout
    pool_var: float  # of which pool-to-pool at known rates


def _predictive_sqrt(mean: float, half: float, t_q: float) -> tuple[float, float]:
    """Location and scale on the square-root scale of a predictive with this mean and half-width."""
    root = math.sqrt(max(mean, 0.0))
    return root, (half / (2.0 * root) / t_q) if root > 0 else 0.0


def _from_history(bands: Bands, current: BandCounts, used: list[BandCounts], capacity: int | None,
                  level: float, prior: Prior, *, evidence: bool) -> HeadcountEstimate:
    k = len(bands)
    parts_ = [_strata(bands, h, evidence) for h in used]
    n = np.stack([p[0] for p in parts_])
    y = np.stack([p[1] for p in parts_])  # type: ignore[misc]
    band_prior = prior.mean_band_rates(bands.mid)
    lam_band = _logit(bands.mid)
    if evidence:
        prior_rates = np.concatenate([band_prior, np.full(k, prior.show_rate)])
        lam0 = np.concatenate([lam_band, lam_band - RETURNING_ODDS_SHIFT])
    else:
        prior_rates, lam0 = band_prior, lam_band
    _, _, shrunk = shrink_band_rates(n, y, prior_rates)
    n0, _, sq0 = _strata(bands, current, evidence)
    w0 = n0 / n0.sum()
    seats = float(n0.sum())

    # not knowing how many fakes look clean: one read of the pools' fake odds per guess,
    # averaged by how well each explains the history (Bayesian model averaging)
    phi = _real_flagged(bands, used)
    reads: list[_Read] = []
    for clean in (CLEAN_GRID_EVIDENCE if evidence else CLEAN_GRID):
        ph = phi if clean else 0.0
        x = np.array([_flood_read(bands, h, ph, clean) for h in used])
        fit = _RealShareFit.fit(shrunk, x, _flood_read(bands, current, ph, clean), lam0, prior)
        s2_total = fit.residual_var(w0)  # each earlier pool re-read with the new pool's mix
        lev = float(fit.leverage @ w0)
        var_odds = float((w0**2) @ fit.odds_var)  # not knowing how fake-laden each band is
        reads.append(_Read(fit, float(fit.rates @ n0), seats**2 * (s2_total * (1.0 + lev) + var_odds),
                           seats**2 * s2_total))
    log_ev = np.array([r.fit.log_evidence for r in reads]) * (1.0 if USE_EVIDENCE else 0.0)
    wts = np.exp(log_ev - log_ev.max())
    wts /= wts.sum()
    means = np.array([r.mean for r in reads])
    mean = float(wts @ means)
    var = float(wts @ (np.array([r.var for r in reads]) + (means - mean) ** 2))
    pool_var = float(wts @ np.array([r.pool_var for r in reads]))
    rates = np.einsum("c,cb->b", wts, np.array([r.fit.rates for r in reads]))
    band_var = np.einsum("c,cb->b", wts, np.array(
        [r.fit.band_s2 * (1.0 + r.fit.leverage) + r.fit.odds_var + (r.fit.rates - rates) ** 2 for r in reads]))
    dof = reads[0].fit.dof
    t_q = float(stats.t.ppf(0.5 + level / 2.0, dof))
    z_q = float(stats.norm.ppf(0.5 + level / 2.0))
    rate_half = t_q * np.sqrt(band_var)
    chance = float((rates * (1.0 - rates)) @ sq0)
    half = math.sqrt(t_q**2 * var + z_q**2 * chance)
    if evidence and COMBINE:
        best = reads[int(np.argmax(wts))].fit
        xs = np.array([_flood_read(bands, h, 0.0, 0.0) for h in used])
        mean, half = _combine_with_ratio(n, y, n0, rates, best, w0, mean, half, chance, t_q, z_q, k,
                                         xs, _flood_read(bands, current, 0.0, 0.0))
    if INTERVAL == "sqrt":  # symmetric on the square-root scale: turnout is a positive, skewed count
        root, scale = _predictive_sqrt(mean, half, t_q)
        lo, hi = max(root - t_q * scale, 0.0) ** 2, (root + t_q * scale) ** 2
    else:
        lo, hi = mean - half, mean + half
    p_over = None
    if capacity is not None:
        if half <= 0:
            p_over = float(mean > capacity)
        elif INTERVAL == "sqrt":
            p_over = float(stats.t.sf((math.sqrt(capacity + 0.5) - root) / scale, dof))
        else:
            p_over = float(stats.t.sf((capacity + 0.5 - mean) / (half / t_q), dof))
    parts = {
        "parameter": max((half / z_q) ** 2 - pool_var - chance, 0.0),
        "pool_to_pool": pool_var,
        "chance": chance,
        "calibration": 0.0,
    }
    r_lo, r_hi = np.clip(rates - rate_half, 0.0, 1.0), np.clip(rates + rate_half, 0.0, 1.0)
    if evidence:  # back to bands: seat-weighted over new and returning
        nb = current.registered
        safe = np.where(nb > 0, nb, 1.0)

        def fold(v: np.ndarray) -> np.ndarray:
            return np.where(nb > 0, (n0[:k] * v[:k] + n0[k:] * v[k:]) / safe, (v[:k] + v[k:]) / 2)

        rates, r_lo, r_hi = fold(rates), fold(r_lo), fold(r_hi)
    return _finish(bands, current, capacity, level, "history", len(used), mean, lo, hi, half / z_q,
                   p_over, rates, r_lo, r_hi, parts)


COMBINE = True
THETA_SLOPE = False  # regress log theta on the flood read (tried on the tune half: wider, leans more)
HETEROGENEITY = True


def _combine_with_ratio(n: np.ndarray, y: np.ndarray, n0: np.ndarray, rates: np.ndarray,
                        fit: _RealShareFit, w0: np.ndarray, mean: float, half: float, chance: float,
                        t_q: float, z_q: float, k: int, x: np.ndarray | None = None,
                        x0: float = 0.0) -> tuple[float, float]:
    """Blend the band-curve estimate with one no fake can move: returners' turnout x (1 + theta).

    theta_j = newcomers' check-ins / returners' check-ins of earlier pool j: fakes rarely
    come, so it is the organiser's ratio of real newcomers to real returners among
    attendees (what fakes add, the rare one who comes, grows with the flood: log theta is
    regressed on the pool's flood read and predicted at the new pool's). The new pool's
    returners are real; their turnout (the curve's returning strata) times (1 + theta) is a
    second estimate. Both share the pool's show-up shock (the returners' predictive
    variance); beyond it they are weighted by their own log variances.
    """
    y_new, y_ret = y[:, :k].sum(axis=1), y[:, k:].sum(axis=1)
    ok = (y_ret > 0) & (y_new > 0)
    if ok.sum() < 3 or n0[k:].sum() <= 0 or mean <= 0:
        return mean, half
    log_theta = np.log(y_new[ok] / y_ret[ok])
    j = len(log_theta)
    if THETA_SLOPE and x is not None and j >= 5 and np.ptp(x[ok]) > 0.2:
        xo = x[ok] - x[ok].mean()
        beta = float(xo @ (log_theta - log_theta.mean()) / (xo @ xo))
        res = log_theta - log_theta.mean() - beta * xo
        s2 = float(res @ res) / (j - 2)
        d = x0 - float(x[ok].mean())
        theta_log = float(log_theta.mean()) + beta * d
        v_theta = s2 * (1.0 + 1.0 / j + d * d / float(xo @ xo)) + 1e-4
    else:
        theta_log = float(log_theta.mean())
        v_theta = float(np.var(log_theta, ddof=1)) * (1.0 + 1.0 / j) + 1e-4
    t_ret = float(rates[k:] @ n0[k:])
    if t_ret <= 0:
        return mean, half
    w_ret = np.zeros_like(w0)
    w_ret[k:] = n0[k:] / n0[k:].sum()
    s2_ret = fit.residual_var(w_ret) * (1.0 + float(fit.leverage @ w_ret)) + float((w_ret**2) @ fit.odds_var)
    v_shock = s2_ret / max(float(rates @ w_ret), 1e-6) ** 2  # relative variance of the returners' rate
    ratio_mean = t_ret * (1.0 + math.exp(theta_log))
    v_curve = ((half**2 - z_q**2 * chance) / t_q**2) / mean**2  # relative variance of the curve
    v_curve_own = max(v_curve - v_shock, 1e-4)
    w = v_theta / (v_theta + v_curve_own)
    log_mean = w * math.log(mean) + (1 - w) * math.log(ratio_mean)
    v_own = v_curve_own * v_theta / (v_curve_own + v_theta)
    # two reads that disagree beyond their own variances: one of them is wrong (a newcomer wave,
    # a flood unlike the history), so the blend is no surer than their disagreement
    q = (math.log(mean) - math.log(ratio_mean)) ** 2 / (v_curve_own + v_theta)
    if HETEROGENEITY:
        v_own *= max(q, 1.0)
    v = v_shock + v_own
    m = math.exp(log_mean)
    half_new = math.sqrt((t_q * m) ** 2 * v + z_q**2 * chance)
    return m, half_new
