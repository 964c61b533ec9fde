"""The policy file and the guard's decisions."""

from __future__ import annotations

import pytest

from headcount.guard import SignalsGuard
from headcount.policy import Policy, PolicyError
from headcount.types import ActorInfo


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
    german = SignalsGuard(default_region="DE")  # national numbers are read where configured, never guessed
    phones = {german.assess(ActorInfo(phone=p), "p", 0).actor_key for p in ("+49 151 12345678", "0151/12345678")}
    assert len(phones) == 1
    assert "phone_unparsable" in guard.assess(ActorInfo(phone="0151/12345678"), "p", 0).reasons


def test_velocity_limits_are_validated() -> None:
    with pytest.raises(PolicyError, match=r"velocity\.networks_per_hour is unknown"):
        Policy.from_toml("[velocity]\nnetworks_per_hour = 3\n[[bands]]\nname='a'")
    with pytest.raises(PolicyError, match=r"velocity\.network_per_hour must be"):
        Policy.from_toml("[velocity]\nnetwork_per_hour = 0\n[[bands]]\nname='a'")
    assert Policy.load().velocity == {"network_per_minute": 5, "network_per_hour": 10, "network_per_day": 20,
                                      "phone_block_per_minute": 3, "phone_block_per_hour": 5,
                                      "phone_block_per_day": 15}


def test_a_registration_farm_on_one_network_trips_velocity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from headcount.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    guard = SignalsGuard(store=store)
    t0 = 1_800_000_000.0
    farm = [guard.assess(ActorInfo(email=f"anna.meyer{i}@web.de", ip=f"198.51.100.{i + 1}"), "p", t0 + 61 * i)
            for i in range(12)]  # one a minute: the hour's limit (10) trips
    assert [("velocity_network" in d.reasons) for d in farm] == [False] * 10 + [True] * 2
    assert not farm[-1].allow
    homes = [guard.assess(ActorInfo(email=f"ben.koch{i}@web.de", ip=f"{20 + i}.1.2.3"), "p", t0 + i)
             for i in range(12)]  # twelve households: no velocity
    assert all(d.allow and not d.reasons for d in homes)
    store.close()


def test_a_burst_from_one_number_block_trips_the_minute_window(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from headcount.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    guard = SignalsGuard(store=store)
    t0 = 1_800_000_000.0
    burst = [guard.assess(ActorInfo(email=f"carla.weber{i}@web.de", phone=f"+4915112345{i:03d}"), "p", t0 + i)
             for i in range(4)]  # four consecutive numbers within four seconds
    assert [("velocity_phone_block" in d.reasons) for d in burst] == [False] * 3 + [True]
    later = guard.assess(ActorInfo(email="carla.weber9@web.de", phone="+4915112345999"), "p", t0 + 120)
    assert "velocity_phone_block" not in later.reasons  # the minute has passed; 5 in the hour is the limit
    store.close()
