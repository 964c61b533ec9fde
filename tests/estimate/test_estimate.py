"""The estimate: invariants, the no-history prior, bad inputs, speed, and a small backtest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headcount.estimate import (
    BandCounts,
    Bands,
    Prior,
    count_registrations,
    estimate_headcount,
    flagged_share,
)
from headcount.estimate.backtest import run_backtest

BANDS = Bands()
B = len(BANDS)


def _pool(rng: np.random.Generator, size: int, fake: float, show: float) -> BandCounts:
    """A simple pool: reals score low, fakes high; reals come at `show`, fakes never."""
    real = rng.random(size) >= fake
    scores = np.where(real, rng.beta(1, 12, size), rng.beta(6, 2, size))
    came = (real & (rng.random(size) < show)).astype(int)
    return count_registrations(BANDS, scores, None, came)


def _check_invariants(res, registered: int) -> None:
    lo, hi = res.interval
    assert 0 <= lo <= res.expected_real <= hi <= registered
    assert res.registered == registered
    if res.uncertainty and registered:
        assert abs(sum(res.uncertainty.values()) - 1.0) < 1e-9
        assert all(v >= 0 for v in res.uncertainty.values())
    assert abs(sum(b.expected for b in res.bands) - res.expected_real) <= 1.0 + 1e-6 * registered
    for b in res.bands:
        assert 0.0 <= b.show_rate_interval[0] <= b.show_rate <= b.show_rate_interval[1] <= 1.0
    json.dumps(res.to_dict())


# --- the no-history prior ------------------------------------------------------------------

def test_prior_is_monotone_in_risk_for_any_calibration() -> None:
    prior = Prior()
    for g in (0.3, 1.0, 3.0):
        for s in (0.1, 0.5, 0.9):
            rates = prior.band_rates(BANDS.mid, s, g)
            assert np.all(np.diff(rates) < 0), (g, s, rates)
    assert np.all(np.diff(prior.mean_band_rates(BANDS.mid)) < 0)


def test_no_history_uses_the_prior_with_a_wide_interval() -> None:
    cur = BandCounts(np.array([5000, 0, 0, 0, 0, 0, 0, 5000.0]))
    res = estimate_headcount(cur, [], bands=BANDS, capacity=19_200)
    assert res.method == "prior" and res.history_pools == 0
    rates = [b.show_rate for b in res.bands]
    assert rates[0] > rates[-1]
    lo, hi = res.interval
    # clean half comes at roughly the prior's 50% (+-), the flagged half barely
    assert lo < 0.3 * 5000 and hi > 0.6 * 5000 and hi < 10_000
    assert res.uncertainty["calibration"] > 0 and res.uncertainty["parameter"] > 0
    _check_invariants(res, 10_000)


def test_riskier_pool_expects_fewer_without_history() -> None:
    clean = estimate_headcount(BandCounts(np.array([1000.0] + [0] * (B - 1))), bands=BANDS)
    risky = estimate_headcount(BandCounts(np.array([0] * (B - 1) + [1000.0])), bands=BANDS)
    assert risky.expected_real < clean.expected_real / 3


# --- with history --------------------------------------------------------------------------

def test_learns_the_rate_from_history_and_covers_the_truth() -> None:
    rng = np.random.default_rng(7)
    history = [_pool(rng, 20_000, 0.2, 0.6 + 0.03 * rng.standard_normal()) for _ in range(15)]
    hits = 0
    for _ in range(20):
        cur = _pool(rng, 50_000, 0.2, 0.6 + 0.03 * rng.standard_normal())
        truth = int(cur.checked_in.sum())  # type: ignore[union-attr]
        res = estimate_headcount(BandCounts(cur.registered), history, bands=BANDS)
        assert res.method == "history"
        assert abs(res.expected_real - truth) < 0.2 * truth  # rate sd 0.03 of 0.6: 4 sd
        hits += res.interval[0] <= truth <= res.interval[1]
        _check_invariants(res, int(cur.total))
    assert hits >= 16
    assert res.uncertainty["pool_to_pool"] > res.uncertainty["chance"]


def test_flood_lowers_the_estimate_when_history_saw_floods() -> None:
    rng = np.random.default_rng(3)
    history = [_pool(rng, 5_000, f, 0.5) for f in np.linspace(0.0, 0.9, 12)]
    calm = estimate_headcount(BandCounts(_pool(rng, 100_000, 0.1, 0.5).registered), history, bands=BANDS)
    flood = estimate_headcount(BandCounts(_pool(rng, 100_000, 0.9, 0.5).registered), history, bands=BANDS)
    assert flood.flagged_share > calm.flagged_share
    assert flood.expected_real < calm.expected_real / 4


def _pool_with_clean_fakes(rng: np.random.Generator, size: int, fake: float, show: float,
                           clean: float) -> BandCounts:
    """Like `_pool`, but a share `clean` of the fakes scores as low as real people."""
    real = rng.random(size) >= fake
    looks_clean = rng.random(size) < clean
    scores = np.where(real | looks_clean, rng.beta(1, 12, size), rng.beta(6, 2, size))
    came = (real & (rng.random(size) < show)).astype(int)
    return count_registrations(BANDS, scores, None, came)


def test_clean_looking_fakes_in_a_flood_beyond_the_history() -> None:
    # history: mild attacks only (5-30% fakes, a third of them look clean); the new pool is 85% fake.
    # Bayes' rule says the clean bands' real share falls with the pool's fake odds, so the estimate
    # must come down below what the history's own clean-band rates suggest. From band counts alone it
    # still over-estimates (11.3k for 7.4k; the interval, 3.3k-24.3k, now holds it): a flood unlike any
    # before cannot be read off band counts. With check-in history it can (tests/estimate/test_evidence.py).
    rng = np.random.default_rng(13)
    history = [_pool_with_clean_fakes(rng, 8_000, float(f), 0.5, 1 / 3) for f in rng.uniform(0.05, 0.3, 12)]
    cur = _pool_with_clean_fakes(rng, 100_000, 0.85, 0.5, 1 / 3)
    truth = int(cur.checked_in.sum())  # type: ignore[union-attr]
    res = estimate_headcount(BandCounts(cur.registered), history, bands=BANDS)
    history_rate = sum(float(h.checked_in[:3].sum()) for h in history) / sum(  # type: ignore[index]
        float(h.registered[:3].sum()) for h in history)
    assert truth < res.expected_real < 0.9 * history_rate * cur.registered[:3].sum()
    _check_invariants(res, int(cur.total))


def test_few_pools_give_wider_intervals_than_many() -> None:
    rng = np.random.default_rng(11)
    history = [_pool(rng, 5_000, 0.3, float(np.clip(0.5 + 0.08 * rng.standard_normal(), 0, 1)))
               for _ in range(30)]
    cur = BandCounts(_pool(rng, 20_000, 0.3, 0.5).registered)
    few = estimate_headcount(cur, history[:3], bands=BANDS)
    many = estimate_headcount(cur, history, bands=BANDS)
    assert few.interval[1] - few.interval[0] > many.interval[1] - many.interval[0]
    assert few.uncertainty["parameter"] > many.uncertainty["parameter"]


def test_small_pools_carry_chance_and_party_sizes_widen_it() -> None:
    rng = np.random.default_rng(5)
    history = [_pool(rng, 50_000, 0.1, 0.5) for _ in range(25)]
    reg = _pool(rng, 200, 0.1, 0.5).registered  # same mix as history: no extrapolation
    single = estimate_headcount(BandCounts(reg), history, bands=BANDS)
    parties = estimate_headcount(BandCounts(reg, sum_sq=reg * 3), history, bands=BANDS)
    assert single.uncertainty["chance"] > 0.2
    assert parties.sd > single.sd


def test_empty_pool_and_empty_history() -> None:
    zero = BandCounts(np.zeros(B), np.zeros(B))
    res = estimate_headcount(zero, [zero], bands=BANDS, capacity=10)
    assert res.expected_real == 0 and res.interval == (0, 0) and res.p_over_capacity == 0.0
    res = estimate_headcount(BandCounts(np.ones(B)), [zero], bands=BANDS)
    assert res.method == "prior"


def test_capacity_probability() -> None:
    rng = np.random.default_rng(2)
    history = [_pool(rng, 20_000, 0.1, 0.3) for _ in range(10)]
    cur = BandCounts(_pool(rng, 100_000, 0.1, 0.3).registered)
    big = estimate_headcount(cur, history, bands=BANDS, capacity=200_000)
    small = estimate_headcount(cur, history, bands=BANDS, capacity=1_000)
    assert big.p_over_capacity is not None and big.p_over_capacity < 0.01
    assert small.p_over_capacity is not None and small.p_over_capacity > 0.99


counts = st.lists(st.integers(0, 10**6), min_size=B, max_size=B)


@st.composite
def pools(draw: st.DrawFn) -> BandCounts:
    reg = np.array(draw(counts), dtype=float)
    frac = np.array(draw(st.lists(st.floats(0, 1), min_size=B, max_size=B)))
    return BandCounts(reg, np.floor(reg * frac))


@settings(max_examples=150, deadline=None)
@given(cur=counts, history=st.lists(pools(), max_size=8),
       capacity=st.one_of(st.none(), st.integers(0, 10**7)), level=st.floats(0.5, 0.99))
def test_invariants_hold_for_any_input(cur: list[int], history: list[BandCounts],
                                       capacity: int | None, level: float) -> None:
    reg = np.array(cur, dtype=float)
    res = estimate_headcount(BandCounts(reg), history, bands=BANDS, capacity=capacity, level=level)
    _check_invariants(res, int(reg.sum()))
    if capacity is not None and reg.sum() > 0:
        assert 0.0 <= res.p_over_capacity <= 1.0  # type: ignore[operator]


@settings(max_examples=40, deadline=None)
@given(level=st.sampled_from([0.5, 0.8, 0.9, 0.95]))
def test_higher_level_never_narrows(level: float) -> None:
    rng = np.random.default_rng(1)
    history = [_pool(rng, 3_000, 0.4, 0.5) for _ in range(6)]
    cur = BandCounts(_pool(rng, 30_000, 0.4, 0.5).registered)
    a = estimate_headcount(cur, history, bands=BANDS, level=level)
    b = estimate_headcount(cur, history, bands=BANDS, level=min(level + 0.04, 0.99))
    assert b.interval[0] <= a.interval[0] and b.interval[1] >= a.interval[1]


# --- inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call, field", [
    (lambda: count_registrations(BANDS, [0.2, 1.5]), "scores"),
    (lambda: count_registrations(BANDS, [0.2, float("nan")]), "scores"),
    (lambda: count_registrations(BANDS, [0.2], [0]), "quantities"),
    (lambda: count_registrations(BANDS, [0.2], [1, 2]), "quantities"),
    (lambda: count_registrations(BANDS, [0.2], [1], [2]), "checked_in"),
    (lambda: BandCounts(np.array([1.0, -1.0])), "registered"),
    (lambda: BandCounts(np.array([1.0, 2.0]), np.array([2.0, 0.0])), "checked_in"),
    (lambda: BandCounts(np.array([4.0]), sum_sq=np.array([3.0])), "sum_sq"),
    (lambda: estimate_headcount(BandCounts(np.ones(3)), bands=BANDS), "current.registered"),
    (lambda: estimate_headcount(BandCounts(np.ones(B)), [BandCounts(np.ones(B))], bands=BANDS),
     "history[0].checked_in"),
    (lambda: estimate_headcount(BandCounts(np.ones(B)), bands=BANDS, capacity=-1), "capacity"),
    (lambda: estimate_headcount(BandCounts(np.ones(B)), bands=BANDS, level=1.0), "level"),
    (lambda: Bands(edges=(0.5, 0.2)), "edges"),
    (lambda: Bands(edges=(0.5,), names=("a",)), "names"),
    (lambda: BandCounts.from_mapping(BANDS, {"nope": 3}), "band"),
    (lambda: Prior(show_rate=1.2), "prior.show_rate"),
])
def test_bad_inputs_name_the_field(call, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_counting_and_mappings_agree() -> None:
    scores = [0.0, 0.04, 0.05, 0.5, 0.99, 1.0]
    c = count_registrations(BANDS, scores, [1, 2, 1, 3, 1, 1], [1, 0, 1, 2, 0, 0])
    assert c.registered.tolist() == [3, 1, 0, 0, 0, 3, 0, 2]
    assert c.checked_in.tolist() == [1, 1, 0, 0, 0, 2, 0, 0]  # type: ignore[union-attr]
    assert c.sum_sq.tolist() == [5, 1, 0, 0, 0, 9, 0, 2]  # type: ignore[union-attr]
    m = BandCounts.from_mapping(BANDS, {"0-0.05": 3, "0.05-0.1": 1, "0.5-0.65": 3, "0.8-1": 2})
    assert m.registered.tolist() == c.registered.tolist()
    assert flagged_share(BANDS, c) == pytest.approx(5 / 9)


def test_policy_bands() -> None:
    from headcount.policy import Policy

    bands = Bands.from_policy(Policy.load())
    assert bands.names == ("normal", "short_hold", "deny")
    cur = BandCounts.from_mapping(bands, {"normal": 800, "short_hold": 200})
    res = estimate_headcount(cur, bands=bands)
    assert [b.name for b in res.bands] == ["normal", "short_hold", "deny"]
    assert res.bands[0].show_rate > res.bands[1].show_rate > res.bands[2].show_rate


# --- a small backtest on the realistic simulator -----------------------------------------------

def test_small_backtest_covers_and_beats_naive() -> None:
    res = run_backtest(80, seed=2024, max_size=20_000, max_history_size=5_000)
    assert 0.78 <= res.coverage <= 0.98, res
    assert res.mae_ratio <= 0.6, res
    assert res.miss_low + res.miss_high == round(res.events * (1 - res.coverage))
