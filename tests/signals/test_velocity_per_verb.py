"""Velocity counts per verb: holds and `register` are registrations, other verbs
count in their own key space only when the policy says so. On every store."""

from __future__ import annotations

from importlib import resources

import pytest

from headcount.guard import SignalsGuard
from headcount.policy import Policy, PolicyError
from headcount.services.actions import ActionService
from headcount.store.base import Store
from headcount.types import ActorInfo

T0 = 1_800_000_000.0
DEFAULT_POLICY = (resources.files("headcount.policy") / "default.toml").read_text("utf-8")


def network(uid: str) -> str:
    """A public /24 of this test's own, so tests sharing a database never count together."""
    return f"81.{int(uid[:2], 16)}.{int(uid[2:4], 16)}"


def actor(i: int, net: str) -> ActorInfo:
    return ActorInfo(email=f"anna.meyer{i}@web.de", ip=f"{net}.{i + 1}")


def test_follows_do_not_count_as_registrations(store: Store, uid: str) -> None:
    net = network(uid)
    guard = SignalsGuard(store=store)
    actions = ActionService(store, guard)
    follows = [actions.record("follow", actor(i, net), f"acct-{i}", T0 + i) for i in range(30)]
    assert all("velocity_network" not in o.decision.reasons for o in follows)  # not counted at all
    holds = [guard.assess(actor(i, net), "p", T0 + 100 + 61 * i) for i in range(11)]  # one a minute
    assert [("velocity_network" in d.reasons) for d in holds] == [False] * 10 + [True]  # from zero


def test_register_and_holds_share_the_registration_count(store: Store, uid: str) -> None:
    net = network(uid)
    guard = SignalsGuard(store=store)
    actions = ActionService(store, guard)
    registered = [actions.record("register", actor(i, net), "newsletter", T0 + 61 * i) for i in range(6)]
    assert all(o.result.allowed for o in registered)
    holds = [guard.assess(actor(10 + i, net), "p", T0 + 61 * (6 + i)) for i in range(5)]  # one a minute
    assert [("velocity_network" in d.reasons) for d in holds] == [False] * 4 + [True]  # the 11th registration


def test_a_verb_with_its_own_limits_counts_in_its_own_space(store: Store, uid: str) -> None:
    net = network(uid)
    policy = Policy.from_toml(DEFAULT_POLICY + "\n[velocity.follow]\nnetwork_per_hour = 3\n")
    guard = SignalsGuard(store=store, policy=policy)
    actions = ActionService(store, guard)
    follows = [actions.record("follow", actor(i, net), f"acct-{i}", T0 + i) for i in range(5)]
    assert [("velocity_network" in o.decision.reasons) for o in follows] == [False] * 3 + [True] * 2
    unfollows = [actions.record("unfollow", actor(i, net), f"acct-{i}", T0 + 10 + i) for i in range(5)]
    assert all("velocity_network" not in o.decision.reasons for o in unfollows)  # no limits: not counted
    assert "velocity_network" not in guard.assess(actor(50, net), "p", T0 + 20).reasons  # registrations: 1


@pytest.mark.parametrize(("toml", "key"), [
    ("[velocity.register]\nnetwork_per_hour = 3", "velocity.register must be"),
    ("[velocity.hold]\nnetwork_per_hour = 3", "velocity.hold must be"),
    ("[velocity.follow]\nnetworks = 3", "velocity.follow.networks is unknown"),
    ("[velocity.follow]\nnetwork_per_hour = 0", "velocity.follow.network_per_hour must be"),
])
def test_per_verb_limits_are_validated(toml: str, key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        Policy.from_toml(toml + "\n[[bands]]\nname='a'")
