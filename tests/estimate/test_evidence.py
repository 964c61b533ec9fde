"""Check-in history as evidence, known answers, the predictive's consistency and the fixed split."""

from __future__ import annotations

import numpy as np
import pytest

from headcount.estimate import BandCounts, Bands, count_registrations, estimate_headcount
from headcount.estimate.backtest import HELD_BACK, TUNE, run_backtest
from headcount.estimate.simulate import SETTINGS_A, SETTINGS_B, TODAY, simulate_events

BANDS = Bands()
B = len(BANDS)


def _band0(seats: float) -> np.ndarray:
    out = np.zeros(B)
    out[0] = seats
    return out


# --- known answers ------------------------------------------------------------------------

def test_known_answer_without_fakes() -> None:
    # ten earlier pools of 10,000 clean seats; half came, give or take 1%: 20,000 seats -> 10,000.
    # The prior's guess of the pool-to-pool sd (0.1, worth one pool) keeps the interval at about
    # +-12% with ten pools that agree; thirty agreeing pools narrow it to about +-6%.
    ds = (-50, 40, -30, 20, 0, 10, -20, 30, -40, 50)
    history = [BandCounts(_band0(10_000), _band0(5_000 + d)) for d in ds]
    res = estimate_headcount(BandCounts(_band0(20_000)), history, bands=BANDS)
    assert abs(res.expected_real - 10_000) <= 100
    lo, hi = res.interval
    assert 8_500 < lo < 10_000 < hi < 11_500
    more = estimate_headcount(BandCounts(_band0(20_000)), history * 3, bands=BANDS)
    assert 9_200 < more.interval[0] < 10_000 < more.interval[1] < 10_800


def test_known_answer_with_check_in_history() -> None:
    # returners come at 60%, newcomers at 2,600 / 6,000: a new pool of 8,000 returners and
    # 12,000 newcomers expects 4,800 + 5,200 = 10,000
    history = []
    for d in (-30, 20, 0, 10, -20, 30, -10, 0):
        history.append(BandCounts(_band0(10_000), _band0(5_000 + d), returning=_band0(4_000),
                                  returning_checked_in=_band0(2_400 + d / 2)))
    cur = BandCounts(_band0(20_000), returning=_band0(8_000))
    res = estimate_headcount(cur, history, bands=BANDS)
    assert abs(res.expected_real - 10_000) <= 150
    assert res.interval[0] < 10_000 < res.interval[1]


def _pool(rng: np.random.Generator, size: int, fake: float, show: float, clean: float,
          returning: float | None) -> BandCounts:
    """Reals score low; a share `clean` of the fakes scores as low; only reals have check-in history."""
    real = rng.random(size) >= fake
    looks_clean = rng.random(size) < clean
    scores = np.where(real | looks_clean, rng.beta(1, 12, size), rng.beta(6, 2, size))
    came = (real & (rng.random(size) < show)).astype(int)
    ret = None if returning is None else real & (rng.random(size) < returning)
    return count_registrations(BANDS, scores, None, came, ret)


def test_check_in_history_sees_through_clean_looking_fakes() -> None:
    # history: mild attacks (5-30% fakes, a third look clean); the new pool is 85% fake. From band
    # counts alone the flood is half hidden (the estimate runs high); fakes carry no check-in
    # history, so with it the estimate lands on the truth.
    rng = np.random.default_rng(13)
    shares = rng.uniform(0.05, 0.3, 12)
    history = [_pool(rng, 8_000, float(f), 0.5, 1 / 3, 0.4) for f in shares]
    cur = _pool(rng, 100_000, 0.85, 0.5, 1 / 3, 0.4)
    truth = float(cur.checked_in.sum())  # type: ignore[union-attr]
    with_history = estimate_headcount(BandCounts(cur.registered, sum_sq=cur.sum_sq, returning=cur.returning),
                                      history, bands=BANDS)
    blind = estimate_headcount(BandCounts(cur.registered, sum_sq=cur.sum_sq),
                               [BandCounts(h.registered, h.checked_in, h.sum_sq) for h in history], bands=BANDS)
    assert abs(with_history.expected_real - truth) < 0.15 * truth
    assert with_history.interval[0] <= truth <= with_history.interval[1]
    assert blind.expected_real > 1.3 * truth  # the band counts alone cannot see the clean fakes
    w = with_history.interval[1] - with_history.interval[0]
    assert w < 0.5 * (blind.interval[1] - blind.interval[0])


def test_a_wave_of_real_newcomers_is_not_read_as_fakes() -> None:
    # no fakes at all, but the new pool brings three times the usual newcomers: the returners'
    # ratio says "fewer", the bands say "as usual"; the interval must still hold the truth
    rng = np.random.default_rng(21)
    history = [_pool(rng, 10_000, 0.05, 0.5, 0.2, 0.45) for _ in range(10)]
    cur = _pool(rng, 40_000, 0.05, 0.5, 0.2, 0.15)
    truth = float(cur.checked_in.sum())  # type: ignore[union-attr]
    res = estimate_headcount(BandCounts(cur.registered, sum_sq=cur.sum_sq, returning=cur.returning),
                             history, bands=BANDS)
    assert res.interval[0] <= truth <= res.interval[1]


def test_history_evidence_is_used_only_when_every_pool_has_it() -> None:
    rng = np.random.default_rng(4)
    history = [_pool(rng, 5_000, 0.2, 0.5, 0.2, 0.4) for _ in range(6)]
    cur = _pool(rng, 20_000, 0.2, 0.5, 0.2, 0.4)
    mixed = [*history[:-1], BandCounts(history[-1].registered, history[-1].checked_in, history[-1].sum_sq)]
    blind = [BandCounts(h.registered, h.checked_in, h.sum_sq) for h in history]
    cur_c = BandCounts(cur.registered, sum_sq=cur.sum_sq, returning=cur.returning)
    a = estimate_headcount(cur_c, mixed, bands=BANDS)
    b = estimate_headcount(BandCounts(cur.registered, sum_sq=cur.sum_sq), blind, bands=BANDS)
    assert a.to_dict() == b.to_dict()


# --- the predictive ------------------------------------------------------------------------

@pytest.mark.parametrize("evidence", [False, True])
def test_p_over_capacity_agrees_with_the_interval(evidence: bool) -> None:
    # the lottery's overbooking reads p_over_capacity: at the interval's ends it must be the tails
    rng = np.random.default_rng(8)
    ret = 0.4 if evidence else None
    history = [_pool(rng, 5_000, 0.3, float(np.clip(0.5 + 0.08 * rng.standard_normal(), 0.1, 0.9)), 0.2, ret)
               for _ in range(12)]
    c = _pool(rng, 50_000, 0.3, 0.5, 0.2, ret)
    cur = BandCounts(c.registered, sum_sq=c.sum_sq, returning=c.returning)
    res = estimate_headcount(cur, history, bands=BANDS)
    lo, hi = res.interval
    at_hi = estimate_headcount(cur, history, bands=BANDS, capacity=hi).p_over_capacity
    at_lo = estimate_headcount(cur, history, bands=BANDS, capacity=lo).p_over_capacity
    mid = estimate_headcount(cur, history, bands=BANDS, capacity=res.expected_real).p_over_capacity
    assert at_hi is not None and at_lo is not None and mid is not None
    assert 0.03 <= at_hi <= 0.07 and 0.93 <= at_lo <= 0.97
    assert 0.35 <= mid <= 0.65


# --- a small backtest per generator -------------------------------------------------------------

@pytest.mark.parametrize("evidence", [True, False])
def test_small_backtest_on_the_harder_generator(evidence: bool) -> None:
    res = run_backtest(100, seed=2024, settings="A", max_size=20_000, max_history_size=5_000,
                       evidence=evidence)
    assert res.evidence is evidence
    assert 0.8 <= res.coverage <= 0.98, res
    assert res.miss_low + res.miss_high == round(res.events * (1 - res.coverage))
    if evidence:
        assert max(res.miss_low, 1) <= 3 * max(res.miss_high, 1) and max(res.miss_high, 1) <= 3 * max(res.miss_low, 1)
        assert res.median_rel_width < 1.0, res


# --- the split and the generators ---------------------------------------------------------------

def test_the_split_is_fixed_and_disjoint() -> None:
    tuned = {(h.settings.name, s) for h in TUNE for s in h.seeds}
    held = {(h.settings.name, s) for h in HELD_BACK for s in h.seeds}
    assert tuned and held and not tuned & held
    assert {h.settings.name for h in HELD_BACK} == {"A", "B"} and {h.settings.name for h in TUNE} == {"A"}


def test_generators_give_check_in_history_and_today_stays_as_it_was() -> None:
    ev = simulate_events(1, 5, settings=SETTINGS_B, max_size=3_000, max_history_size=2_000)[0]
    assert ev.current.returning is not None and all(p.returning is not None for p in ev.history)
    real_ret = ev.current.returning[~ev.current.is_fake].mean()
    fake_ret = ev.current.returning[ev.current.is_fake].mean() if ev.current.is_fake.any() else 0.0
    assert real_ret > fake_ret
    old = simulate_events(2, 1, settings=TODAY)
    assert old[0].current.returning is None
    assert SETTINGS_A != SETTINGS_B


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, field", [
    (lambda: BandCounts(np.ones(B), returning=np.full(B, 2.0)), "returning"),
    (lambda: BandCounts(np.ones(B), returning_checked_in=np.ones(B)), "returning_checked_in"),
    (lambda: BandCounts(np.ones(B), np.zeros(B), returning=np.ones(B), returning_checked_in=np.ones(B)),
     "returning_checked_in"),
    (lambda: BandCounts(np.ones(B), returning=np.ones(B - 1)), "returning"),
    (lambda: count_registrations(BANDS, [0.1, 0.2], None, None, [True]), "returning"),
    (lambda: count_registrations(BANDS, [0.1, 0.2], None, None, [0.5, 1]), "returning"),
    (lambda: simulate_events(-1, 1), "n"),
    (lambda: run_backtest(2, settings="C"), "settings"),
])
def test_bad_evidence_inputs_name_the_field(call, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call()
