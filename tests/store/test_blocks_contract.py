"""Stored blocks on every store: replaced as a set, members readable as one set."""

from __future__ import annotations

from headcount.store.base import Store
from headcount.store.blocks import StoredBlock, block_id


def _block(actors: tuple[str, ...], at: float, score: float = 10.0) -> StoredBlock:
    return StoredBlock(block_id(actors), at, at, "burst", score, at - 3600, at, 0.8, 40, actors,
                       ("@a", "@b"), {"detectors": ["burst", "fraudar"], "ip": [{"value": "x", "share": 1.0}]})


def test_replace_list_and_members(store: Store, uid: str) -> None:
    ring = tuple(f"{uid}-r{i}" for i in range(5))
    other = tuple(f"{uid}-o{i}" for i in range(3))
    store.replace_blocks([_block(ring, 1000.0), _block(other, 2000.0, 50.0)])
    listed = store.list_blocks()
    assert [b.actors for b in listed] == [other, ring]  # newest first
    assert listed[1].evidence["detectors"] == ["burst", "fraudar"] and listed[1].targets == ("@a", "@b")
    assert store.block_members() >= set(ring) | set(other)
    # the next run sees the ring again and not the other group: the ring keeps its first time
    store.replace_blocks([_block(ring, 5000.0)])
    listed = store.list_blocks()
    assert len(listed) == 1 and listed[0].detected_at == 1000.0 and listed[0].updated_at == 5000.0
    assert not set(other) & store.block_members()
    store.replace_blocks([])
    assert store.list_blocks() == [] and not set(ring) & store.block_members()


def test_block_id_is_independent_of_order() -> None:
    assert block_id(["b", "a"]) == block_id(("a", "b")) != block_id(("a", "c"))
