"""Simulated events with a known true turnout, for backtesting the estimate.

The generator is written from how free events behave, not from the model in
`model.py`: the model never sees the labels, the show-up mechanism here is
per registration (a party comes together or not at all), real people's show-up
probability drifts with their own risk score, fake tactics and the share of
fakes that look clean change from pool to pool, and the pool being estimated
can be flooded far beyond anything in its history.

One *event* is an organiser's context (its typical real show-up rate and how
much that varies from pool to pool, its typical attack level) with earlier
pools (registrations and check-ins known) and one new pool whose check-ins are
the truth to predict.

`SimSettings` holds every range the generator draws from. Three are named:

- `TODAY`: the generator the estimate was first tuned on (kept draw for draw, so
  `bench/estimate.py --settings today` reproduces the old numbers);
- `SETTINGS_A` (tuning) and `SETTINGS_B` (held back): harder than `TODAY` in
  every direction the issue names (event size, fake share, show-up rates and
  their drift, families sharing a device, fakes that look exactly like real
  people, a real newcomer surge) and they also give each registration its
  check-in history (`returning`: the holder checked in at an earlier pool of the
  organiser; a fake carries it only when it typed a past attendee's identity).
  B differs from A in its ranges *and* in mechanisms A does not have (a trend
  in show-up over the organiser's pools, more look-alike fakes and hijacked
  identities, other party sizes): the model is never tuned on B.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

_PARTY_SIZES = np.array([1, 2, 3, 4])
_REAL_PARTY_P = np.array([0.62, 0.25, 0.09, 0.04])


@dataclass(frozen=True)
class SimSettings:
    """Ranges the generator draws an organiser and its pools from ((lo, hi) pairs: uniform)."""

    name: str = "today"
    history_pools: tuple[int, int] = (5, 30)
    history_size: tuple[float, float] = (200, 60_000)  # log-uniform
    size: tuple[float, float] = (300, 1_000_000)  # the new pool, log-uniform
    new_fake_share: tuple[float, float] = (0.0, 0.95)
    attack_levels: tuple[float, ...] = (0.02, 0.1, 0.3, 0.5)
    show_rate: tuple[float, float] = (0.2, 0.85)  # organiser's typical real show-up rate
    show_logit_sd: tuple[float, float] = (0.05, 0.6)  # pool-to-pool variation of it
    trend: tuple[float, float] = (0.0, 0.0)  # logit change of the show-up rate per pool (campaign fatigue)
    real_moderate: tuple[float, float] = (0.03, 0.25)
    fake_clean: tuple[float, float] = (0.02, 0.3)  # fakes made to look clean (a bit riskier than reals)
    fake_mimic: tuple[float, float] = (0.0, 0.0)  # fakes scored exactly like real people
    shared_device: tuple[float, float] = (0.0, 0.0)  # real parties on one device: their score rises
    fake_show: tuple[float, float] = (0.0, 0.03)
    score_drift: tuple[float, float] = (0.0, 1.5)
    party_p: tuple[float, ...] = tuple(_REAL_PARTY_P)
    # check-in history; None: the generator of TODAY, which has none
    returning: tuple[float, float] | None = None  # organiser's share of real people seen at a check-in
    returning_sd: float = 0.3  # pool-to-pool logit sd of that share
    surge: tuple[float, float] = (1.0, 1.0)  # the new pool's returning share x this (a real newcomer wave)
    surge_p: float = 0.0  # chance that the new pool has such a wave
    returning_boost: tuple[float, float] = (0.0, 0.0)  # logit: past attendees come more
    hijack: tuple[float, float] = (0.0, 0.0)  # share of fakes that typed a past attendee's identity


TODAY = SimSettings()

SETTINGS_A = replace(
    TODAY, name="A", history_pools=(3, 30), size=(300, 1_000_000), new_fake_share=(0.0, 0.95),
    show_rate=(0.15, 0.9), show_logit_sd=(0.05, 0.6), real_moderate=(0.03, 0.3),
    fake_clean=(0.02, 0.35), fake_mimic=(0.0, 0.15), shared_device=(0.0, 0.3),
    returning=(0.1, 0.7), returning_sd=0.3, surge=(0.4, 1.0), surge_p=0.3,
    returning_boost=(0.0, 1.5), hijack=(0.0, 0.02),
)

SETTINGS_B = replace(
    TODAY, name="B", history_pools=(4, 24), history_size=(100, 100_000), size=(150, 2_000_000),
    new_fake_share=(0.0, 0.97), attack_levels=(0.0, 0.05, 0.2, 0.4, 0.7),
    show_rate=(0.1, 0.9), show_logit_sd=(0.05, 0.7), trend=(-0.05, 0.03), real_moderate=(0.02, 0.35),
    fake_clean=(0.0, 0.4), fake_mimic=(0.0, 0.3), shared_device=(0.05, 0.5), fake_show=(0.0, 0.05),
    score_drift=(0.0, 2.0), party_p=(0.5, 0.3, 0.12, 0.08),
    returning=(0.05, 0.8), returning_sd=0.45, surge=(0.25, 1.0), surge_p=0.4,
    returning_boost=(-0.3, 2.0), hijack=(0.0, 0.05),
)

SETTINGS = {s.name: s for s in (TODAY, SETTINGS_A, SETTINGS_B)}


@dataclass(frozen=True)
class SimPool:
    """One pool: per registration its risk score, quantity, label and whether it came."""

    scores: np.ndarray  # float in [0, 1]
    quantities: np.ndarray  # int >= 1 (seats held by the registration)
    is_fake: np.ndarray  # bool
    came: np.ndarray  # int: seats that checked in (0 .. quantity)
    fake_share: float  # share of registrations that are fake
    real_show_rate: float  # the pool's real show-up rate (before score drift)
    returning: np.ndarray | None = None  # bool: the holder checked in at an earlier pool

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


def _u(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(rng.uniform(r[0], r[1])) if r[1] > r[0] else float(r[0])


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


@dataclass(frozen=True)
class _Context:
    show_logit_mean: float  # organiser's typical real show-up rate (logit)
    show_logit_sd: float  # pool-to-pool variation of it
    attack_mean: float  # typical fake share of this organiser's pools
    real_moderate: float  # share of real people whose signals look a bit odd
    fake_clean_mean: float  # typical share of fakes made to look clean
    fake_show: float  # the rare fake who turns up (a real person behind it)
    score_drift: float  # how much lower real people with high scores show up (logit per unit score)
    trend: float = 0.0
    fake_mimic: float = 0.0
    shared_device: float = 0.0
    returning_logit: float | None = None
    returning_boost: float = 0.0
    hijack: float = 0.0


def _context(rng: np.random.Generator, s: SimSettings) -> _Context:
    if s.returning is None:  # TODAY's draws, in TODAY's order
        return _Context(
            show_logit_mean=_logit(rng.uniform(*s.show_rate)),
            show_logit_sd=float(rng.uniform(*s.show_logit_sd)),
            attack_mean=float(rng.choice(list(s.attack_levels))),
            real_moderate=float(rng.uniform(*s.real_moderate)),
            fake_clean_mean=float(rng.uniform(*s.fake_clean)),
            fake_show=float(rng.uniform(*s.fake_show)),
            score_drift=float(rng.uniform(*s.score_drift)),
        )
    return _Context(
        show_logit_mean=_logit(rng.uniform(*s.show_rate)),
        show_logit_sd=_u(rng, s.show_logit_sd),
        attack_mean=float(rng.choice(list(s.attack_levels))),
        real_moderate=_u(rng, s.real_moderate),
        fake_clean_mean=_u(rng, s.fake_clean),
        fake_show=_u(rng, s.fake_show),
        score_drift=_u(rng, s.score_drift),
        trend=_u(rng, s.trend),
        fake_mimic=_u(rng, s.fake_mimic),
        shared_device=_u(rng, s.shared_device),
        returning_logit=_logit(rng.uniform(*s.returning)),
        returning_boost=_u(rng, s.returning_boost),
        hijack=_u(rng, s.hijack),
    )


def _pool(rng: np.random.Generator, ctx: _Context, s: SimSettings, size: int, fake_share: float,
          index: int = 0, newcomer_wave: float = 1.0) -> SimPool:
    """One pool of `size` registrations, `fake_share` of them fake; `index`: its place in time."""
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
    party_p = np.asarray(s.party_p)
    if abs(party_p.sum() - 1.0) > 1e-9:
        party_p = party_p / party_p.sum()
    real_q = rng.choice(_PARTY_SIZES, n_real, p=party_p)
    fake_q = np.where(rng.random(n_fake) < 0.75, 1, rng.choice(_PARTY_SIZES, n_fake))
    returning = None
    if s.returning is not None:
        # fakes that copy real people's signals exactly: no score can tell them
        mimic = rng.random(n_fake) < float(np.clip(ctx.fake_mimic * rng.uniform(0.3, 2.0), 0.0, 0.8))
        fake_scores = np.where(mimic, rng.beta(1.0, 14.0, n_fake), fake_scores)
        # a family sharing one tablet: linked identities raise the party's score
        shared = (real_q > 1) & (rng.random(n_real) < ctx.shared_device)
        real_scores = np.where(shared, real_scores + rng.uniform(0.1, 0.45, n_real), real_scores)
    # show-up: the pool's rate, lower for real people whose own signals look odd
    show_logit = ctx.show_logit_mean + ctx.trend * index + ctx.show_logit_sd * rng.standard_normal()
    real_rate = 1.0 / (1.0 + np.exp(-show_logit))
    lin = show_logit - ctx.score_drift * np.clip(real_scores, 0.0, 1.0)
    if ctx.returning_logit is not None:
        share = 1.0 / (1.0 + np.exp(-(ctx.returning_logit + s.returning_sd * rng.standard_normal())))
        ret_real = rng.random(n_real) < share * newcomer_wave
        lin = lin + ctx.returning_boost * (ret_real - share * newcomer_wave)
        ret_fake = rng.random(n_fake) < ctx.hijack * rng.uniform(0.0, 2.0)
        returning = np.concatenate([ret_real, ret_fake])
    p_real = 1.0 / (1.0 + np.exp(-lin))
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
        returning=None if returning is None else returning[order],
    )


def simulate_event(rng: np.random.Generator, *, max_size: int | None = None,
                   max_history_size: int | None = None, settings: SimSettings = TODAY) -> SimEvent:
    """One organiser: earlier pools and a new pool with any fake share in the settings' range.

    `max_size` / `max_history_size` cap the settings' size ranges (small, fast backtests).
    """
    s = settings
    size_r = (min(s.size[0], max_size), min(s.size[1], max_size)) if max_size else s.size
    hist_r = (min(s.history_size[0], max_history_size),
              min(s.history_size[1], max_history_size)) if max_history_size else s.history_size
    ctx = _context(rng, s)
    n_hist = int(rng.integers(s.history_pools[0], s.history_pools[1] + 1))
    a = max(ctx.attack_mean * 4.0, 0.05)
    b = max((1.0 - ctx.attack_mean) * 4.0, 0.05)
    history = tuple(
        _pool(rng, ctx, s, _log_uniform(rng, *hist_r), float(min(rng.beta(a, b), 0.95)), index=i)
        for i in range(n_hist)
    )
    wave = 1.0
    if s.returning is not None and rng.random() < s.surge_p:
        wave = _u(rng, s.surge)
    current = _pool(rng, ctx, s, _log_uniform(rng, *size_r), _u(rng, s.new_fake_share),
                    index=n_hist, newcomer_wave=wave)
    return SimEvent(history, current)


def simulate_events(n: int, seed: int, *, settings: SimSettings = TODAY,
                    max_size: int | None = None, max_history_size: int | None = None) -> list[SimEvent]:
    """`n` independent events from one seed."""
    if n < 0:
        raise ValueError("n: must be >= 0")
    rng = np.random.default_rng(seed)
    return [simulate_event(rng, max_size=max_size, max_history_size=max_history_size, settings=settings)
            for _ in range(n)]
