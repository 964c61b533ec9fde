"""Action budgets, on every store: a sliding window, exact under concurrency."""

from __future__ import annotations

import threading

from headcount.store.base import ActionRequest, Store

T0 = 1_800_000_000.0
HOURLY = ((3, 3600),)


def act(store: Store, actor: str, ts: float, budgets=HOURLY, verb: str = "follow", denied: bool = False):  # type: ignore[no-untyped-def]
    return store.record_action(ActionRequest(actor, verb, "target", ts, budgets, denied=denied))


def test_budget_is_a_sliding_window(store: Store, uid: str) -> None:
    me = f"{uid}-me"
    results = [act(store, me, T0 + i) for i in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0]
    assert results[3].exceeded == (3, 3600)
    assert not act(store, me, T0 + 3599).allowed  # the first one is still inside the hour
    assert act(store, me, T0 + 3600).allowed  # now it has slid out
    assert act(store, f"{uid}-other", T0 + 5).allowed  # budgets are per person
    assert act(store, me, T0 + 3601, verb="register").allowed  # and per verb


def test_the_tightest_budget_wins_and_refusals_do_not_count(store: Store, uid: str) -> None:
    me = f"{uid}-me"
    both = ((5, 3600), (2, 60))
    assert [act(store, me, T0 + i, both).allowed for i in range(3)] == [True, True, False]
    assert act(store, me, T0 + 61, both).remaining == 1  # 3 of 5 per hour, 1 of 2 per minute
    assert not act(store, f"{uid}-bad", T0, denied=True).allowed
    assert act(store, f"{uid}-bad", T0 + 1).remaining == 2  # the denied attempt did not use the budget
    rows = [r for r in store.read_actions(0, 1_000_000) if r.actor_key.startswith(uid)]
    assert {r.decision for r in rows} == {"allowed", "limited", "denied"}


def test_budgets_hold_under_concurrency(store: Store, uid: str) -> None:
    me = f"{uid}-racer"
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            ok = act(store, me, T0 + 10, ((7, 3600),)).allowed
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 7 and len(allowed) == 60
