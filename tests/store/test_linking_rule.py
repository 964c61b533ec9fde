"""The linking rule (headcount.store.linking): households stay apart, claims are not charged to owners."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from headcount.store.linking import assign_person


def test_a_new_mailbox_on_a_known_device_is_a_person_of_its_own() -> None:
    known = {"dev:tablet": "email:mum"}
    members = {"email:mum": ["email:mum", "dev:tablet"]}
    person, folded, new = assign_person(["email:kid", "dev:tablet"], known, members)
    assert person == "email:kid" and not folded and new == ["email:kid"]  # the tablet stays mum's


def test_a_number_without_a_mailbox_joins_the_person_of_the_device() -> None:
    known = {"dev:phone": "email:jo"}
    members = {"email:jo": ["email:jo", "dev:phone"]}
    assert assign_person(["tel:1", "dev:phone"], known, members) == ("email:jo", set(), ["tel:1"])


def test_persons_merge_when_their_mailboxes_do_not_clash() -> None:
    known = {"email:a": "email:a", "tel:b": "dev:c"}
    members = {"email:a": ["email:a"], "dev:c": ["dev:c"]}
    assert assign_person(["email:a", "tel:b"], known, members) == ("email:a", {"dev:c"}, [])


def test_a_claim_of_a_verified_mailbox_is_not_charged_to_its_owner() -> None:
    known = {"email:v": "email:v#1", "dev:attacker": "dev:attacker"}
    members = {"email:v#1": ["email:v", "dev:owner"], "dev:attacker": ["dev:attacker"]}
    person, folded, new = assign_person(["email:v", "dev:attacker"], known, members, verified={"email:v"})
    assert person == "dev:attacker" and not folded and new == []
    owner, _, _ = assign_person(["email:v", "dev:owner"], known, members, verified={"email:v"})
    assert owner == "email:v#1"


keys = st.lists(st.sampled_from(["email:a", "email:b", "id:x", "tel:1", "tel:2", "dev:d", "dev:e"]),
                min_size=1, max_size=5, unique=True)


@given(keys, st.dictionaries(st.sampled_from(["email:a", "email:b", "tel:1", "dev:d", "id:x"]),
                             st.sampled_from(["p1", "p2", "p3"])))
def test_the_chosen_person_never_holds_two_mailboxes(request_keys: list[str], known: dict[str, str]) -> None:
    if len({k.split(":")[0] for k in request_keys}) < len(request_keys):
        return  # one actor brings one value of each kind
    members: dict[str, list[str]] = {}
    for k, p in known.items():
        members.setdefault(p, []).append(k)
    if any(sum(m.startswith("email:") for m in ms) > 1 for ms in members.values()):
        return  # a store never holds such a person under this rule
    person, folded, new = assign_person(request_keys, known, members)
    after = {k for p in {person, *folded} for k in members.get(p, [])} | set(new)
    assert sum(k.startswith("email:") for k in after) <= 1
    assert set(new) <= set(request_keys) and not set(new) & set(known)
