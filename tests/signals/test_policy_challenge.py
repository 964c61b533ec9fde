"""Challenge bands in the policy file: validated, and what the guard makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from headcount.guard import SignalsGuard
from headcount.policy import Policy, PolicyError
from headcount.services.holds import Ledger
from headcount.types import ActorInfo, PoolSpec, Result

BANDS = "[[bands]]\nname='normal'\nbelow=0.35\n[[bands]]\nname='short'\nbelow=0.4\nttl_factor=0.5\n"
POLICY = ("[weights]\nemail_machine_made = 0.7\n" + BANDS
          + "[[bands]]\nname='check'\nbelow=0.65\nchallenge=true\non_pass='short'\n[[bands]]\nname='deny'\ndeny=true\n")


@pytest.mark.parametrize(("text", "key"), [
    (BANDS + "[[bands]]\nname='c'\nchallenge=true", "bands[2].on_pass"),
    (BANDS + "[[bands]]\nname='c'\non_pass='short'", "bands[2].on_pass"),
    (BANDS + "[[bands]]\nname='c'\nchallenge=true\non_pass='nope'", "bands[2].on_pass must name"),
    (BANDS + "[[bands]]\nname='c'\nbelow=0.7\nchallenge=true\non_pass='d'\n[[bands]]\nname='d'\ndeny=true",
     "bands[2].on_pass must name"),
    (BANDS + "[[bands]]\nname='c'\nchallenge=true\ndeny=true\non_pass='short'", "bands[2].challenge cannot"),
    (BANDS + "[[bands]]\nname='c'\nchallenge='yes'\non_pass='short'", "bands[2].challenge must be"),
    (BANDS + "[[bands]]\nname='c'\n[challenge]\nttl_s = 1", "challenge.ttl_s"),
    (BANDS + "[[bands]]\nname='c'\n[challenge]\ntoken_ttl_s = 'long'", "challenge.token_ttl_s"),
    (BANDS + "[[bands]]\nname='c'\n[challenge]\nttl = 60", "challenge.ttl is unknown"),
])
def test_a_bad_challenge_band_names_the_key(text: str, key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        Policy.from_toml(text)


def test_the_guard_asks_for_a_challenge_and_says_what_a_pass_gets(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    guard = SignalsGuard(policy=Policy.load(path))
    d = guard.assess(ActorInfo(email="user83749201@outlook.com"), "p", 0)
    assert d.challenge and not d.allow and d.extra["band"] == "check"
    assert d.passed is not None and d.passed.allow and d.passed.ttl_factor == 0.5
    assert d.passed.extra["band"] == "short"
    clean = guard.assess(ActorInfo(email="jane.doe@gmail.com"), "p", 0)
    assert not clean.challenge and clean.allow


def test_a_ledger_without_a_challenge_service_denies_a_challenge_band(tmp_path: Path) -> None:
    from headcount.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    ledger = Ledger(store, SignalsGuard(policy=Policy.from_toml(POLICY)))
    ledger.create_pool(PoolSpec("p", "P", "event", 10, 2, 600))
    assert ledger.hold("p", 1, ActorInfo(email="user83749201@outlook.com")).result is Result.DENIED  # fails closed
    store.close()
