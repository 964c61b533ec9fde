"""Streaming detection in the running service: a ring posted through `POST /v1/actions` is
listed by the stream thread within seconds (long before the next full pass), agrees with the
batch detection of the same window, and bad input to the stream neither crashes nor stalls it."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headcount.api.app import create_app
from headcount.services.keys import create_key
from headcount.store import open_store
from headcount.types import ActorInfo
from tests.api.conftest import Service

RING = 30


@pytest.fixture
def service(store_url: str) -> Iterator[Service]:
    """The service with detection on (the suite turns it off): the full pass once an hour, so
    what is listed within seconds is the stream's; the stream at its default interval."""
    if not store_url.startswith("sqlite"):
        # the suite's PostgreSQL is one database for every test: the stream's window would
        # hold other tests' actions, and the batch it is compared with finds them too
        pytest.skip("needs a store of its own (the suite's PostgreSQL database is shared)")
    store = open_store(store_url)
    keys = {role: create_key(store, role) for role in ("client", "staff")}
    app = create_app(store, sweep_interval=None, detect_interval=3600, close_store=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(client, keys)


def follow(service: Service, who: str, target: str, when: datetime) -> int:
    answer = service.client.post("/v1/actions", headers=service.auth("staff"), json={
        "verb": "follow", "actor": {"id": who}, "target": target, "ts": when.isoformat()})
    return answer.status_code


def background(service: Service, uid: str, rng: random.Random, fans: int = 400) -> list[str]:
    """Ordinary people each following four accounts (popular ones more) over the past day."""
    accounts = [f"@{uid}-acc{i}" for i in range(300)]
    weights = [1.0 / (i + 1) for i in range(len(accounts))]
    now = datetime.now(UTC)
    for i in range(fans):
        for target in set(rng.choices(accounts, weights, k=4)):
            assert follow(service, f"{uid}-fan{i}", target, now - timedelta(hours=24 * rng.random())) == 200
    return accounts


def ring_follows(uid: str, rng: random.Random) -> list[tuple[str, str, datetime]]:
    """Thirty accounts following each other within the last few minutes, in random order."""
    now = datetime.now(UTC)
    pairs = [(a, b) for a in range(RING) for b in range(RING) if a != b]
    rng.shuffle(pairs)
    return [(f"{uid}-ring{a}", f"@{uid}-ring{b}", now - timedelta(seconds=240 * rng.random())) for a, b in pairs]


def persons(service: Service, uid: str) -> set[str]:
    hc = service.client.app.state.headcount
    out = {hc.store.resolve_person(hc.guard.identities(ActorInfo(id=f"{uid}-ring{i}"))) for i in range(RING)}
    return out - {None}


def wait_for_ring(service: Service, ring: set[str], timeout: float = 30.0, share: float = 0.9) -> dict[str, Any]:
    """The first listed block holding `share` of the ring (polling, as a client would)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for block in service.client.get("/v1/blocks", headers=service.auth("staff")).json()["blocks"]:
            if len(set(block["actors"]) & ring) >= share * len(ring):
                return block
        time.sleep(0.2)
    listed = service.client.get("/v1/blocks", headers=service.auth("staff")).json()
    raise AssertionError(f"no block of the ring listed within {timeout} s: {listed['stream']}, "
                         f"{[(b['detector'], len(set(b['actors']) & ring)) for b in listed['blocks']]}")


def stream_alive(service: Service) -> None:
    """The stream thread is running, has not failed, and still completes rounds."""
    stream = service.client.app.state.stream
    assert stream is not None and stream._thread.is_alive() and stream.failures == 0
    watch = service.client.app.state.groups
    before = dict(watch.stream_stats)
    deadline = time.monotonic() + 10
    while watch.stream_stats == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert watch.stream_stats != before, "the stream stalled"
    assert watch.stream_stats["seconds"] < 5


def test_the_stream_lists_a_forming_ring_as_the_batch_finds_it(service: Service, uid: str) -> None:
    rng = random.Random(11)
    background(service, uid, rng)
    for who, target, when in ring_follows(uid, rng):
        assert follow(service, who, target, when) == 200
    ring = persons(service, uid)
    assert len(ring) == RING
    block = wait_for_ring(service, ring)  # the full pass runs once a minute: this is the stream's
    assert block["detector"] == "stream" and block["evidence"]["confidence"] >= 0.99
    batch = service.client.app.state.groups.findings()  # `headcount detect` over the same window
    vocab = service.client.app.state.groups.vocab["actor"]
    found = [set(vocab.decode(b.actors)) for b in batch.blocks if set(vocab.decode(b.actors)) & ring]
    assert len(found) == 1
    streamed = set(block["actors"])
    assert len(streamed & found[0]) >= 0.9 * max(len(streamed), len(found[0]))
    member = f"{uid}-ring0"  # the next request of a member carries the reason
    answer = service.client.post("/v1/actions", headers=service.auth("client"), json={
        "verb": "follow", "actor": {"id": member}, "target": f"@{uid}-acc1"})
    assert "coordinated_group" in answer.json()["risk"]["reasons"]
    stream_alive(service)


def test_out_of_order_timestamps_neither_crash_nor_stall_the_stream(service: Service, uid: str) -> None:
    rng = random.Random(12)
    background(service, uid, rng)
    follows = ring_follows(uid, rng)
    now = datetime.now(UTC)
    # far apart in time and sent newest first, oldest first, mixed: arrival order says nothing
    spread = [(w, t, now - timedelta(minutes=50 * rng.random())) for w, t, _ in follows]
    spread.sort(key=lambda f: f[2], reverse=True)
    half = len(spread) // 2
    for who, target, when in spread[:half] + sorted(spread[half:], key=lambda f: f[2]):
        assert follow(service, who, target, when) == 200
    assert follow(service, f"{uid}-late", f"@{uid}-acc0", now - timedelta(days=30)) == 200  # past the window
    block = wait_for_ring(service, persons(service, uid))
    assert block["detector"] == "stream"
    stream_alive(service)
    assert service.client.app.state.groups.graph.dropped_late >= 1


def test_replays_of_past_events_neither_crash_nor_stall_the_stream(service: Service, uid: str) -> None:
    rng = random.Random(13)
    background(service, uid, rng)
    follows = ring_follows(uid, rng)
    for who, target, when in follows:
        assert follow(service, who, target, when) == 200
    ring = persons(service, uid)
    first = wait_for_ring(service, ring, share=1.0)  # the whole ring read
    time.sleep(2)
    first = wait_for_ring(service, ring, share=1.0)
    for who, target, when in follows[:300]:  # the same events again, with their own times
        assert follow(service, who, target, when) == 200
    time.sleep(2)  # a few rounds read the replays
    stream_alive(service)
    again = wait_for_ring(service, ring)
    assert again["id"] == first["id"] and set(again["actors"]) == set(first["actors"])


def test_a_single_actor_flooding_neither_crashes_nor_stalls_the_stream(service: Service, uid: str) -> None:
    rng = random.Random(14)
    accounts = background(service, uid, rng)
    now = datetime.now(UTC)
    statuses = set()
    for i in range(1500):  # one actor follows everyone, far past its budget (refusals are logged too)
        statuses.add(follow(service, f"{uid}-flood", f"@{uid}-x{i}" if i % 3 else accounts[i % 300],
                            now - timedelta(seconds=i % 600)))
    assert 429 in statuses
    for who, target, when in ring_follows(uid, rng):
        assert follow(service, who, target, when) == 200
    block = wait_for_ring(service, persons(service, uid))
    assert block["detector"] == "stream"
    stream_alive(service)
