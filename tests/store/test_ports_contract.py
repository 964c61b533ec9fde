"""Every backend implements every port; `Store` is their union; the leader lock; ping."""

from __future__ import annotations

import inspect
import uuid

import pytest

from headcount.store import open_store, ports
from headcount.store.base import Store

#: the 41 methods `Store` had before the ports (issue 11): callers must not change
OLD_METHODS = {
    "close", "create_pool", "get_pool", "list_pools", "place_hold", "confirm_hold", "release_hold", "extend_hold",
    "get_hold", "sweep", "actor_usage", "aplace_hold", "achange_hold", "aread", "hold_timeline", "replace_blocks",
    "list_blocks", "block_members", "pool_turnout", "add_api_key", "get_api_key", "read_actions", "record_action",
    "arecord_action", "hit_velocity", "ahit_velocity", "link_and_hit", "alink_and_hit", "resolve_person",
    "link_identities", "alink_identities", "create_challenge", "get_challenge", "pass_challenge",
    "redeem_challenge", "put_contacts", "get_contacts", "all_contacts", "purge_contacts", "append_audit",
    "read_audit",
}


def _methods(proto: type) -> set[str]:
    return {n for n, v in vars(proto).items() if callable(v) and not n.startswith("_")}


def test_store_is_the_union_of_the_ports() -> None:
    union: set[str] = set()
    for port in ports.PORTS:
        assert port in Store.__mro__
        assert not (_methods(port) & union), f"{port.__name__} repeats a method of another port"
        union |= _methods(port)
    assert union >= OLD_METHODS
    assert {"ping", "health", "try_lead", "release_lead", "get_meta", "put_meta_if_absent", "meta_keys"} <= union


def test_every_backend_implements_every_port(store: Store) -> None:
    for port in ports.PORTS:
        assert isinstance(store, port), port.__name__
        for name in _methods(port):
            want = inspect.signature(getattr(port, name))
            got = inspect.signature(getattr(store, name))
            # same parameters in the same order (self aside); implementations may add none
            assert list(got.parameters) == [p for p in want.parameters if p != "self"], (port.__name__, name)
    assert isinstance(store, Store)


def test_ping_says_the_store_can_write(store: Store) -> None:
    assert store.ping() is True
    health = store.health()
    assert health.ok and health.detail == ""


def test_one_leader_per_store_and_name(store_url: str, store: Store) -> None:
    name = f"job-{uuid.uuid4().hex[:8]}"
    other = open_store(store_url)
    assert store.try_lead(name)
    assert store.try_lead(name)  # still leading: asking again is harmless
    assert not other.try_lead(name)
    assert other.try_lead(name + "-b")  # another name is another lock
    store.release_lead(name)
    assert other.try_lead(name)
    assert not store.try_lead(name)
    other.close()  # closing lets go of every lock it held
    assert store.try_lead(name)
    store.release_lead(name)
    store.release_lead(name)  # releasing twice is harmless


@pytest.mark.parametrize("bad", ["", "UPPER", "../etc", "a" * 41, "with space", "é"])
def test_leader_lock_names_are_checked(store: Store, bad: str) -> None:
    with pytest.raises(ValueError, match="leader lock name"):
        store.try_lead(bad)
