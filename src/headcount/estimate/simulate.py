"""Simulated events with a known true turnout, for backtesting the estimate.

The generator is written from how free events behave, not from the model in
`model.py`: the model never sees the labels, the show-up mechanism here is
per registration (a party comes together or not at all), real people's show-up
probability drifts with their own risk score, fake tactics and the share of
fakes that look clean change from pool to pool, and the pool being estimated
can be flooded far beyond anything in its history.

One *event* is an organiser's context (its typical real show-up rate and how
much that varies from pool to pool, its typical attack level) with 5-30
earlier pools (registrations and check-ins known) and one new pool whose
check-ins are the truth to predict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_PARTY_SIZES = np.array([1, 2, 3, 4])
_REAL_PARTY_P = np.array([0.62, 0.25, 0.09, 0.04])


@dataclass(frozen=True)
class SimPool:
    """One pool: per registration its risk score, quantity, label and whether it came."""

    scores: np.ndarray  # float in [0, 1]
    quantities: np.ndarray  # int >= 1 (seats held by the registration)
    is_fake: np.ndarray  # bool
    came: np.ndarray  # int: seats that checked in (0 .. quantity)
    fake_share: float  # share of registrations that are fake
    real_show_rate: float  # the pool's real show-up rate (before score drift)

    @property
    def registered(self) -> int:
        return int(self.quantities.sum())

    @property
    def turnout(self) -> int:
        return int(self.came.sum())


@dataclass(frozen=True)
class SimEvent:
    """Earlier pools of one organiser and the new pool to estimate."""

    history: tuple[SimPool, ...]
    current: SimPool

    @property
    def naive(self) -> float:
        """Registrations x the historical overall show-up rate (what planners do)."""
        reg = sum(p.registered for p in self.history)
        came = sum(p.turnout for p in self.history)
        return self.current.registered * (came / reg if reg else 0.5)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> int:
    return round(float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


@dataclass(frozen=True)
class _Context:
    show_logit_mean: float  # organiser's typical real show-up rate (logit)
    show_logit_sd: float  # pool-to-pool variation of it
    attack_mean: float  # typical fake share of this organiser's pools
    real_moderate: float  # share of real people whose signals look a bit odd
    fake_clean_mean: float  # typical share of fakes made to look clean
    fake_show: float  # the rare fake who turns up (a real person behind it)
    score_drift: float  # how much lower real people with high scores show up (logit per unit score)


def _context(rng: np.random.Generator) -> _Context:
    return _Context(
        show_logit_mean=float(np.log(m := rng.uniform(0.2, 0.85)) - np.log1p(-m)),
        show_logit_sd=float(rng.uniform(0.05, 0.6)),
        attack_mean=float(rng.choice([0.02, 0.1, 0.3, 0.5])),
        real_moderate=float(rng.uniform(0.03, 0.25)),
        fake_clean_mean=float(rng.uniform(0.02, 0.3)),
        fake_show=float(rng.uniform(0.0, 0.03)),
        score_drift=float(rng.uniform(0.0, 1.5)),
    )


def _pool(rng: np.random.Generator, ctx: _Context, size: int, fake_share: float) -> SimPool:
    """One pool of `size` registrations, `fake_share` of them fake."""
    n_fake = int(rng.binomial(size, fake_share))
    n_real = size - n_fake
    # real people: most look clean, some score moderately (VoIP phone, alias, shared network)
    moderate = rng.random(n_real) < ctx.real_moderate * rng.uniform(0.6, 1.4)
    real_scores = np.where(moderate, rng.beta(2.5, 3.5, n_real), rng.beta(1.0, 14.0, n_real))
    # fakes: this pool's tactics decide how high they score and how many look clean
    clean_share = float(np.clip(ctx.fake_clean_mean * rng.uniform(0.3, 2.0), 0.0, 0.6))
    clean = rng.random(n_fake) < clean_share
    high_a = rng.uniform(3.0, 12.0)
    fake_scores = np.where(clean, rng.beta(1.2, 9.0, n_fake), rng.beta(high_a, 2.0, n_fake))
    real_q = rng.choice(_PARTY_SIZES, n_real, p=_REAL_PARTY_P)
    fake_q = np.where(rng.random(n_fake) < 0.75, 1, rng.choice(_PARTY_SIZES, n_fake))
    # show-up: the pool's rate, lower for real people whose own signals look odd
    show_logit = ctx.show_logit_mean + ctx.show_logit_sd * rng.standard_normal()
    real_rate = 1.0 / (1.0 + np.exp(-show_logit))
    p_real = 1.0 / (1.0 + np.exp(-(show_logit - ctx.score_drift * real_scores)))
    real_came_party = rng.random(n_real) < p_real
    # a party that comes is mostly complete; sometimes one of them stays home
    real_came = np.where(real_came_party, real_q - (rng.random(n_real) < 0.08) * (real_q > 1), 0)
    fake_came = (rng.random(n_fake) < ctx.fake_show).astype(np.int64)  # one person, if anyone
    scores = np.concatenate([real_scores, fake_scores])
    order = rng.permutation(size)
    return SimPool(
        scores=np.clip(scores, 0.0, 1.0)[order],
        quantities=np.concatenate([real_q, fake_q]).astype(np.int64)[order],
        is_fake=np.concatenate([np.zeros(n_real, bool), np.ones(n_fake, bool)])[order],
        came=np.concatenate([real_came, fake_came]).astype(np.int64)[order],
        fake_share=n_fake / size if size else 0.0,
        real_show_rate=float(real_rate),
    )


def simulate_event(rng: np.random.Generator, *, max_size: int = 1_000_000,
                   max_history_size: int = 60_000) -> SimEvent:
    """One organiser: 5-30 earlier pools and a new pool with any fake share up to 95%."""
    ctx = _context(rng)
    n_hist = int(rng.integers(5, 31))
    a = max(ctx.attack_mean * 4.0, 0.05)
    b = max((1.0 - ctx.attack_mean) * 4.0, 0.05)
    history = tuple(
        _pool(rng, ctx, _log_uniform(rng, 200, max_history_size), float(min(rng.beta(a, b), 0.95)))
        for _ in range(n_hist)
    )
    current = _pool(rng, ctx, _log_uniform(rng, 300, max_size), float(rng.uniform(0.0, 0.95)))
    return SimEvent(history, current)


def simulate_events(n: int, seed: int, **kwargs: int) -> list[SimEvent]:
    """`n` independent events from one seed."""
    rng = np.random.default_rng(seed)
    return [simulate_event(rng, **kwargs) for _ in range(n)]
