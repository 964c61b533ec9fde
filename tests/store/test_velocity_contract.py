"""Velocity counters, on every store: per key, per window, shared by all processes."""

from __future__ import annotations

from headcount.store.base import Store

T0 = 1_800_000_000.0
WINDOWS = (3600, 86400)


def test_counts_per_key_and_window(store: Store, uid: str) -> None:
    net, blk = f"net:{uid}", f"blk:{uid}"
    for i in range(3):
        counts = store.hit_velocity([net], T0 + i * 60, WINDOWS)
    assert counts == {net: (3, 3)}
    assert store.hit_velocity([net, blk], T0 + 7200, WINDOWS) == {net: (1, 4), blk: (1, 1)}  # the hour slid
    assert store.hit_velocity([net], T0 + 2 * 86400, WINDOWS) == {net: (1, 1)}  # and the day
    assert store.hit_velocity([], T0, WINDOWS) == {}


def test_old_buckets_are_swept(store: Store, uid: str) -> None:
    key = f"net:old-{uid}"
    store.hit_velocity([key], T0, WINDOWS)
    store.sweep(T0 + 3 * 86400)
    assert store.hit_velocity([key], T0 + 1, WINDOWS) == {key: (1, 1)}  # the earlier hit is gone


def test_the_minute_window_counts_its_own_bucket_only(store: Store, uid: str) -> None:
    key, windows = f"net:min-{uid}", (60, 3600, 86400)
    assert store.hit_velocity([key], T0, windows) == {key: (1, 1, 1)}
    assert store.hit_velocity([key], T0 + 30, windows) == {key: (2, 2, 2)}  # the same minute
    assert store.hit_velocity([key], T0 + 90, windows) == {key: (1, 3, 3)}  # the next one
    assert store.hit_velocity([key], T0 + 3630, windows) == {key: (1, 2, 4)}  # the hour slid past the first two


def test_link_and_hit_is_linking_then_counting(store: Store, uid: str) -> None:
    mail, tel, net = f"email:{uid}", f"tel:{uid}", f"net:lh-{uid}"
    person, counts = store.link_and_hit([mail], T0, [net], WINDOWS)
    assert person == store.resolve_person([mail]) and counts == {net: (1, 1)}
    again, counts = store.link_and_hit([mail, tel], T0 + 60, [net], WINDOWS)  # a new number joins the person
    assert again == person == store.resolve_person([tel]) and counts == {net: (2, 2)}
    assert store.link_and_hit([tel], T0 + 120, [], WINDOWS) == (person, {})
