"""The draw as a pure function: deterministic, verifiable, fair per person whatever the arrival time."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from headcount.allocation import Entry, commitment, first_difference, new_seed, run_draw
from headcount.allocation.draw import Draw, allocate


def entries(n: int, quantity: int = 1) -> list[Entry]:
    return [Entry(f"r_{k:06d}", quantity, 1.0) for k in range(n)]


def test_same_seed_same_draw_and_the_order_of_arrival_plays_no_part() -> None:
    seed = new_seed()
    es = entries(200)
    a = run_draw("p", seed, es, 50)
    shuffled = es[:]
    random.Random(3).shuffle(shuffled)
    b = run_draw("p", seed, shuffled, 50)
    assert a == b
    assert len(a.winners) == 50 and len(a.waitlist) == 150
    assert run_draw("p", new_seed(), es, 50).winners != a.winners


def test_commitment_binds_the_seed() -> None:
    seed = new_seed()
    assert commitment(seed) == commitment(seed)
    assert commitment(seed) != commitment(new_seed())
    assert len(commitment(seed)) == 64


def test_an_honest_draw_verifies_and_survives_json() -> None:
    d = run_draw("p", new_seed(), [*entries(30), Entry("r_x", 2, 0.0, "coordinated_group")], 10)
    assert first_difference(d) is None
    assert first_difference(Draw.from_dict(d.to_dict()), list(d.entries)) is None


def test_verify_names_the_first_difference() -> None:
    d = run_draw("p", new_seed(), entries(30), 10)
    other = new_seed()
    assert "commitment" in (first_difference(Draw(**{**d.__dict__, "seed": other})) or "")
    # a registration changed in the store
    store = [Entry(e.registration_id, 2 if e.registration_id == "r_000007" else 1, 1.0) for e in d.entries]
    assert first_difference(d, store) == "registration r_000007: quantity 2 in the store, 1 in the published draw"
    # a registration added to the store after the draw
    assert "r_zzz is in the store but not in the published draw" in (
        first_difference(d, [*d.entries, Entry("r_zzz", 1, 1.0)]) or "")
    # an entry edited in the published record: the digest no longer matches
    edited = Draw(**{**d.__dict__, "entries": (Entry("r_000000", 3, 1.0), *d.entries[1:])})
    assert "digest" in (first_difference(edited) or "")
    # winners swapped by hand
    w = list(d.winners)
    loser = d.waitlist[0]
    swapped = Draw(**{**d.__dict__, "winners": (loser, *w[1:])})
    assert first_difference(swapped) == f"winners position 1: published {loser}, recomputed {w[0]}"


def test_parties_that_do_not_fit_wait_and_smaller_ones_fill_the_seats() -> None:
    winners, waitlist = allocate(["a", "b", "c", "d"], {"a": 2, "b": 3, "c": 1, "d": 1}, 4)
    assert winners == ["a", "c", "d"] and waitlist == ["b"]


def test_weights_are_respected() -> None:
    es = [Entry(f"r_{k:04d}", 1, 1.0 if k < 100 else 0.5) for k in range(200)]
    wins = np.zeros(200)
    for s in range(300):
        d = run_draw("p", f"{s:064x}", es, 40)
        for rid in d.winners:
            wins[int(rid[2:])] += 1
    ratio = wins[100:].mean() / wins[:100].mean()
    assert 0.4 < ratio < 0.62  # a weight of 0.5 about halves the chance (sampling without replacement)


def test_fairness_over_1000_seeded_draws_demand_three_times_capacity() -> None:
    """Every person's win frequency is within the binomial interval; late registrants win as often as early."""
    n, capacity, draws = 300, 100, 1000
    es = entries(n)
    wins = np.zeros(n)
    for s in range(draws):
        d = run_draw("fair", f"{s:064x}", es, capacity)
        for rid in d.winners:
            wins[int(rid[2:])] += 1
    p = capacity / n
    # a 99.99% interval per person (300 tests: a false alarm about 3% of the time at most)
    lo, hi = stats.binom.ppf([0.00005, 0.99995], draws, p)
    assert ((wins >= lo) & (wins <= hi)).all(), (wins.min(), wins.max(), lo, hi)
    # and the spread as a whole is binomial (not too tight either): chi-square over persons
    chi2 = float((((wins - draws * p) ** 2) / (draws * p * (1 - p))).sum())
    assert stats.chi2.sf(chi2, n - 1) > 0.001
    # registration order (ids are arrival order here) does not matter: early third vs late third
    early, late = wins[:100].mean() / draws, wins[-100:].mean() / draws
    se = math.sqrt(p * (1 - p) / (100 * draws))
    assert abs(early - late) < 5 * se


@pytest.mark.parametrize("tickets", [0, 1, 5, 50])
def test_every_eligible_entry_is_drawn_or_waits(tickets: int) -> None:
    es = [*entries(20), Entry("r_refused", 1, 0.0, "deny_band")]
    d = run_draw("p", new_seed(), es, tickets)
    assert sorted(d.winners + d.waitlist) == sorted(e.registration_id for e in es if e.eligible)
    assert "r_refused" not in d.order
