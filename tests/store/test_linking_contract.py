"""Person linking, on every store: identities seen together are one person."""

from __future__ import annotations

import threading

from headcount.store.base import Store

T0 = 1_800_000_000.0


def test_identities_seen_together_join_one_person(store: Store, uid: str) -> None:
    mail, phone, dev = f"email:{uid}", f"tel:{uid}", f"dev:{uid}"
    assert store.resolve_person([mail]) is None
    p1 = store.link_identities([mail], T0)
    assert store.resolve_person([mail]) == p1
    assert store.link_identities([mail, phone], T0) == p1  # a new identity joins the known person
    assert store.resolve_person([phone]) == p1
    assert store.resolve_person([mail, phone]) == p1
    assert store.resolve_person([mail, dev]) is None  # dev is not linked yet


def test_linking_two_persons_merges_them(store: Store, uid: str) -> None:
    a, b, c = f"email:a-{uid}", f"tel:b-{uid}", f"dev:c-{uid}"
    pa, pb = store.link_identities([a], T0), store.link_identities([b, c], T0)
    assert pa != pb
    merged = store.link_identities([a, b], T0)
    assert merged == pa  # the mailbox's person: it is found first, so every process agrees
    assert {store.resolve_person([x]) for x in (a, b, c)} == {merged}


def test_concurrent_links_agree(store: Store, uid: str) -> None:
    phone = f"tel:shared-{uid}"
    persons: list[str] = []

    def register(i: int) -> None:  # one number from twenty devices: one person, whoever links first
        persons.append(store.link_identities([f"dev:{i}-{uid}", phone], T0))

    threads = [threading.Thread(target=register, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = store.resolve_person([phone])
    assert final is not None
    assert {store.resolve_person([f"dev:{i}-{uid}"]) for i in range(20)} == {final}
