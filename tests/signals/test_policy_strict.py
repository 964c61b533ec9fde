"""The policy file refuses what it does not know, naming the key, and carries the budgets."""

from __future__ import annotations

from importlib import resources

import pytest

from headcount.policy import Policy, PolicyError
from headcount.policy.budgets import Budget

DEFAULT = (resources.files("headcount.policy") / "default.toml").read_text("utf-8")


@pytest.mark.parametrize(("change", "named"), [
    (("email_disposable =", "email_disposible ="), "weights.email_disposible"),
    (("ttl_factor = 0.25", "ttl_factr = 0.25"), "bands[1].ttl_factr"),
    (("[budgets]", "[budgetz]"), "[budgetz]"),
    (("follow = {per_hour = 60", "follow = {per_hr = 60"), "budgets.follow.per_hr"),
    (("follow = {per_hour = 60", "follow = {per_hour = 0"), "budgets.follow.per_hour"),
])
def test_a_typo_is_an_error_that_names_the_key(change: tuple[str, str], named: str) -> None:
    old, new = change
    assert old in DEFAULT
    with pytest.raises(PolicyError, match=named.replace("[", r"\[").replace("]", r"\]")):
        Policy.from_toml(DEFAULT.replace(old, new, 1))


def test_budgets_come_from_the_policy() -> None:
    policy = Policy.from_toml(DEFAULT + "\n" if "[budgets]" not in DEFAULT else
                              DEFAULT.replace("follow = {per_hour = 60, per_day = 400}", "follow = {per_minute = 5}", 1))
    assert policy.budgets["follow"] == (Budget(5, 60),)
    assert policy.budgets["register"] == Policy.load().budgets["register"]  # unnamed verbs keep defaults
