"""Holds belong to the client that made them, and their ids say nothing about volume (issue 13 H2, M8).

Runs against every backend.
"""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headcount.store.base import Store, format_hold_id, parse_hold_id
from headcount.types import HoldRequest, IdempotencyKey, PoolSpec, Result

T0 = 1_800_000_000.0
NEW_ID = re.compile(r"h_[0-9a-f]{11}[A-Za-z0-9_-]{22}")


def _pool(store: Store, uid: str, capacity: int = 10) -> None:
    assert store.create_pool(PoolSpec(uid, "Pool", "event", capacity, 4, 600), T0).result is Result.CREATED


def _hold(store: Store, uid: str, owner: str | None, actor: str = "a") -> str:
    out = store.place_hold(HoldRequest(uid, 1, actor, owner=owner), T0)
    assert out.result is Result.HELD
    return out.body["hold_id"]


def _unknown(hold_id: str) -> dict[str, object]:
    return {"hold_id": hold_id, "reasons": ["unknown_hold"]}


def test_another_client_gets_exactly_what_an_unknown_hold_gets(store: Store, uid: str) -> None:
    _pool(store, uid)
    mine = _hold(store, uid, "key-A")
    assert store.get_hold(mine, owner="key-A") is not None
    assert store.get_hold(mine, owner="key-A").owner == "key-A"  # type: ignore[union-attr]
    assert store.get_hold(mine, owner="key-B") is None
    for change in (store.confirm_hold, store.extend_hold, store.release_hold):
        out = change(mine, T0 + 1, None, "key-B")
        assert (out.result, out.body) == (Result.NOT_FOUND, _unknown(mine))
    assert asyncio.run(store.achange_hold(mine, "release", T0 + 1, None, "key-B")).result is Result.NOT_FOUND
    pool = store.get_pool(uid, T0 + 1)
    assert pool is not None and (pool.held, pool.confirmed) == (1, 0)  # B changed nothing
    # the owner itself, and a caller naming no owner (an operator), reach it
    assert store.confirm_hold(mine, T0 + 2, None, "key-A").result is Result.CONFIRMED
    assert asyncio.run(store.achange_hold(mine, "release", T0 + 3, None, None)).result is Result.RELEASED


def test_a_refusal_for_another_owner_is_replayed_like_any_answer(store: Store, uid: str) -> None:
    _pool(store, uid)
    mine = _hold(store, uid, "key-A")
    key = IdempotencyKey(f"{uid}-B", "k1", "h")
    first = store.confirm_hold(mine, T0 + 1, key, "key-B")
    again = store.confirm_hold(mine, T0 + 2, key, "key-B")
    assert first.result is again.result is Result.NOT_FOUND and again.replayed


def test_holds_without_owner_answer_only_to_callers_without_one(store: Store, uid: str) -> None:
    """Holds made before ownership (owner NULL after migration 0013) are no client's."""
    _pool(store, uid)
    legacy = _hold(store, uid, None)
    assert store.get_hold(legacy) is not None and store.get_hold(legacy).owner is None  # type: ignore[union-attr]
    assert store.get_hold(legacy, owner="key-A") is None
    assert store.confirm_hold(legacy, T0 + 1, None, "key-A").result is Result.NOT_FOUND
    assert store.confirm_hold(legacy, T0 + 1).result is Result.CONFIRMED


def test_ids_are_random_and_carry_no_counter(store: Store, uid: str) -> None:
    _pool(store, uid, capacity=50)
    ids = [_hold(store, uid, "k", actor=f"a{i}") for i in range(0, 40, 4) for _ in range(1)]
    assert all(NEW_ID.fullmatch(i) for i in ids), ids
    randoms = [i[13:] for i in ids]
    assert len(set(randoms)) == len(randoms)
    # no part of an id is a small number that grows with the holds placed
    for a, b in itertools.pairwise(ids):
        assert not re.search(r"h\d+_", a) and a[13:] != b[13:]


def test_old_ids_still_work(store: Store, uid: str) -> None:
    """A hold made before 0013 had the id h<seq>_<16 hex>: its holder can still use it."""
    _pool(store, uid)
    new_id = _hold(store, uid, None)
    m = store.sql.mark  # type: ignore[attr-defined]
    old_token = "0123456789abcdef"

    def rewrite(conn: object) -> int:
        conn.execute(f"UPDATE holds SET token = {m} WHERE token = {m}",  # type: ignore[attr-defined]
                     (old_token, new_id[2:]))
        return int(conn.execute(f"SELECT seq FROM holds WHERE token = {m}",  # type: ignore[attr-defined]
                                (old_token,)).fetchone()[0])

    seq = store._write(rewrite)  # type: ignore[attr-defined]
    old_id = f"h{seq}_{old_token}"
    assert store.get_hold(old_id) is not None
    assert store.get_hold(f"h{seq + 1}_{old_token}") is None  # the sequence must match too
    assert store.get_hold(format_hold_id(old_token)) is None
    assert store.confirm_hold(old_id, T0 + 1).result is Result.CONFIRMED


MALFORMED = ["", "h", "h_", "h_é" + "a" * 31, "h_" + "a" * 33 + "\u202e", "h1_0123456789abcdeé",
             "h\x00", "ħ_" + "0" * 33, "h_" + "0" * 200, "h-1_0123456789abcdef", "h0_0123456789abcdef",
             "h99999999999999999999_0123456789abcdef", "H_" + "0" * 33, "h_" + "0" * 32 + "+"]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_and_non_ascii_ids_are_not_found(store: Store, uid: str, bad: str) -> None:
    _pool(store, uid)
    _hold(store, uid, "k")
    assert store.get_hold(bad) is None and store.get_hold(bad, owner="k") is None
    for change in (store.confirm_hold, store.release_hold, store.extend_hold):
        assert change(bad, T0, None, None).result is Result.NOT_FOUND
    assert asyncio.run(store.achange_hold(bad, "confirm", T0, None, "k")).result is Result.NOT_FOUND


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
def test_parsing_any_text_never_raises(text: str) -> None:
    ref = parse_hold_id(text)
    assert ref is None or (text.isascii() and ref.token in text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=50))
def test_fuzzed_ids_are_not_found_in_the_store(store: Store, text: str) -> None:
    assert store.get_hold(text) is None
    assert store.release_hold(text, T0).result is Result.NOT_FOUND
