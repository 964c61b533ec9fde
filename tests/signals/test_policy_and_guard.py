"""The policy file and the guard's decisions."""

from __future__ import annotations

import pytest

from headcount.guard import SignalsGuard
from headcount.ledger import ActorInfo
from headcount.policy import Policy, PolicyError


def test_the_default_policy_loads_and_bands_are_ordered() -> None:
    policy = Policy.load()
    assert [b.name for b in policy.bands] == ["normal", "short_hold", "deny"]
    assert policy.score([]) == 0.0
    assert policy.score(["email_disposable"]) > policy.score(["email_alias"]) > 0
    assert policy.score(["email_disposable"] * 50) <= 1.0
    assert policy.band(0.0).name == "normal" and policy.band(0.99).deny


@pytest.mark.parametrize(("text", "key"), [
    ("[weights]\nemail_invalid = 'high'\n[[bands]]\nname='x'", "weights.email_invalid"),
    ("[weights]\nemail_invalid = -1\n[[bands]]\nname='x'", "weights.email_invalid"),
    ("[weights]\n", "[[bands]]"),
    ("[[bands]]\nname='a'\n[[bands]]\nname='b'", "bands[0].below"),
    ("[[bands]]\nname='a'\nbelow=0.5\n[[bands]]\nname='b'\nbelow=0.4\n[[bands]]\nname='c'", "bands[1].below"),
    ("[[bands]]\nname='a'\nbelow=0.5\nttl_factor=2\n[[bands]]\nname='b'", "bands[0].ttl_factor"),
    ("[[bands]]\nname='a'\nbelow=0.5\nactor_cap=0\n[[bands]]\nname='b'", "bands[0].actor_cap"),
    ("this is = = not toml", "not valid TOML"),
])
def test_a_bad_policy_names_the_key(text: str, key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace("[", r"\[").replace("]", r"\]")):
        Policy.from_toml(text)


def test_the_guard_bands() -> None:
    guard = SignalsGuard()
    clean = guard.assess(ActorInfo(email="jane.doe@gmail.com", phone="+4915112345678"), "p", 0)
    assert clean.allow and clean.score == 0 and clean.ttl_factor == 1 and clean.actor_cap is None
    machine = guard.assess(ActorInfo(email="user83749201@outlook.com"), "p", 0)
    assert machine.allow and machine.extra["band"] == "short_hold" and machine.actor_cap == 1 and machine.ttl_factor < 1
    for actor in (ActorInfo(email="x@mailinator.com"), ActorInfo(phone="+1 202 555 0142"),
                  ActorInfo(email="a@example.org", user_agent="python-requests/2.32")):
        decision = guard.assess(actor, "p", 0)
        assert not decision.allow and decision.reasons, actor


def test_aliases_and_spellings_are_one_person() -> None:
    guard = SignalsGuard()
    keys = {guard.assess(ActorInfo(email=e), "p", 0).actor_key
            for e in ("Jane.Doe+a@gmail.com", "janedoe+b@googlemail.com", "j.a.n.e.d.o.e@gmail.com")}
    assert len(keys) == 1
    phones = {guard.assess(ActorInfo(phone=p), "p", 0).actor_key for p in ("+49 151 12345678", "0151/12345678")}
    assert len(phones) == 1
