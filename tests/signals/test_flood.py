"""Flood mode: a pool whose recent registrations are mostly risky asks for less evidence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headcount.guard import SignalsGuard
from headcount.guard.flood import FloodWatch
from headcount.policy import FloodRule, Policy, PolicyError
from headcount.types import ActorInfo

MACHINE_MADE = "xk3q9zt7w2qp@gmail.com"  # email_machine_made alone: a short hold in a calm pool


def test_watch_judges_only_after_min_seen_and_follows_the_window() -> None:
    watch = FloodWatch(FloodRule(window=10, share=0.5, min_seen=4))
    for _ in range(3):
        watch.observe("p", True)
    assert not watch.flooded("p")  # three seen, four needed
    watch.observe("p", True)
    assert watch.flooded("p") and watch.share("p") == 1.0
    assert not watch.flooded("other")
    for _ in range(10):  # the risky ones slide out of the window
        watch.observe("p", False)
    assert not watch.flooded("p") and watch.share("p") == 0.0
    for _ in range(5):
        watch.observe("p", True)
    assert not watch.flooded("p")  # exactly half is not more than half
    watch.observe("p", True)
    assert watch.flooded("p") and watch.share("p") == 0.6


def _flood(guard: SignalsGuard, pool: str, n: int = 120) -> None:
    for i in range(n):
        guard.assess(ActorInfo(email=f"x{i}@mailinator.com"), pool, 0.0)


def test_a_flooded_pool_refuses_weak_evidence_and_keeps_clean_people_in_the_first_band() -> None:
    guard = SignalsGuard()
    calm = guard.assess(ActorInfo(email=MACHINE_MADE), "calm", 0.0)
    assert calm.extra["band"] == "short_hold" and "pool_flooded" not in calm.reasons
    _flood(guard, "tulsa")
    weak = guard.assess(ActorInfo(email=MACHINE_MADE), "tulsa", 0.0)
    assert weak.extra["band"] == "deny" and weak.reasons == ("email_machine_made", "pool_flooded")
    clean = guard.assess(ActorInfo(email="anna.meyer@gmail.com", phone="+4915112345678"), "tulsa", 0.0)
    assert clean.allow and clean.extra["band"] == "normal" and clean.reasons == ("pool_flooded",)
    other = guard.assess(ActorInfo(email=MACHINE_MADE), "calm", 0.0)
    assert other.extra["band"] == "short_hold"  # one pool's flood is not another's


def test_only_registrations_count_and_get_the_reason() -> None:
    guard = SignalsGuard()
    for i in range(150):
        guard.assess(ActorInfo(email=f"x{i}@mailinator.com"), "feed", 0.0, verb="follow")
    assert guard.floods is not None and not guard.floods.flooded("feed")
    _flood(guard, "feed")
    follow = guard.assess(ActorInfo(email=MACHINE_MADE), "feed", 0.0, verb="follow")
    assert "pool_flooded" not in follow.reasons


def test_without_a_flood_table_there_is_no_flood_mode() -> None:
    text = '[weights]\nemail_disposable = 2.0\n[[bands]]\nname = "normal"\nbelow = 0.5\n[[bands]]\nname = "deny"\ndeny = true\n'
    guard = SignalsGuard(policy=Policy.from_toml(text))
    _flood(guard, "p")
    assert guard.floods is None
    assert "pool_flooded" not in guard.assess(ActorInfo(email="a@mailinator.com"), "p", 0.0).reasons


BANDS = '[[bands]]\nname = "normal"\nbelow = 0.35\n[[bands]]\nname = "deny"\ndeny = true\n'


@pytest.mark.parametrize(("weights", "flood", "names"), [
    ("", "window = 100", "weights.pool_flooded"),
    ("pool_flooded = 0.5", "window = 100", "weights.pool_flooded alone must score under bands[0].below"),
    ("pool_flooded = 0.3", "share = 1.5", "flood.share"),
    ("pool_flooded = 0.3", "share = true", "flood.share"),
    ("pool_flooded = 0.3", "window = 0", "flood.window"),
    ("pool_flooded = 0.3", 'window = "many"', "flood.window"),
    ("pool_flooded = 0.3", "window = 10\nmin_seen = 20", "flood.min_seen must not exceed"),
    ("pool_flooded = 0.3", "windows = 10", "flood.windows is unknown"),
])
def test_a_bad_flood_table_is_an_error_that_names_the_key(weights: str, flood: str, names: str) -> None:
    text = f"[weights]\n{weights}\n[flood]\n{flood}\n{BANDS}"
    with pytest.raises(PolicyError, match=names.replace("[", r"\[").replace("]", r"\]")):
        Policy.from_toml(text, "p.toml")


def test_the_default_policy_has_flood_mode_that_spares_people_without_reasons() -> None:
    policy = Policy.load()
    assert policy.flood is not None
    assert policy.band(policy.score(["pool_flooded"])).name == "normal"
    assert policy.band(policy.score(["pool_flooded", "email_machine_made"])).deny
    assert policy.band(policy.score(["pool_flooded", "phone_voip"])).deny
    assert not policy.band(policy.score(["pool_flooded", "email_alias"])).deny


def test_operators_are_told_when_a_pool_enters_and_leaves_flood_mode(caplog: pytest.LogCaptureFixture) -> None:
    watch = FloodWatch(FloodRule(window=4, share=0.5, min_seen=2))
    with caplog.at_level("WARNING", logger="headcount.guard.flood"):
        for risky in (True, True, True, False, False, False, False):
            watch.observe("tulsa", risky)
    turns = [r.getMessage() for r in caplog.records]
    assert turns == ["pool tulsa enters flood mode: 100% of its last 2 registrations were risky",
                     "pool tulsa leaves flood mode: 50% of its last 4 registrations were risky"]


@given(st.lists(st.booleans(), max_size=300), st.integers(1, 50), st.floats(0.01, 0.99), st.integers(1, 50))
def test_the_running_count_matches_counting_the_window(seq: list[bool], window: int, share: float,
                                                        min_seen: int) -> None:
    rule = FloodRule(window=window, share=share, min_seen=min(min_seen, window))
    watch = FloodWatch(rule)
    for i, risky in enumerate(seq):
        watch.observe("p", risky)
        recent = seq[max(0, i + 1 - window): i + 1]
        assert watch.share("p") == pytest.approx(sum(recent) / len(recent))
        assert watch.flooded("p") == (len(recent) >= rule.min_seen and sum(recent) > share * len(recent))
