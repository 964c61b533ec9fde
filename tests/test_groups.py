"""The service's detection job: the window it keeps, and blocks in the store's terms."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from headcount.services.detection import LEADER_LOCK, GroupWatch, Leadership
from headcount.store import open_store
from headcount.store.base import ActionRequest

NOW = 1_900_000_000.0


def _follow(store, who: str, target: str, ts: float, ip: str) -> None:  # type: ignore[no-untyped-def]
    store.record_action(ActionRequest(who, "follow", target, ts, ((10**6, 3600),), attrs={"ip": ip}))


def test_window_blocks_and_evidence_in_the_stores_terms(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/g.db")
    rng = random.Random(1)
    for i in range(300):
        for t in rng.sample(range(200), 3):
            _follow(store, f"fan{i}", f"@a{t}", NOW - 86400 * rng.random(), f"net{i % 50}")
    for i in range(30):
        for t in range(10):
            _follow(store, f"ring{i}", f"@r{t}", NOW - 7200 + rng.random() * 1200, "farm")
    _follow(store, "old", "@a1", NOW - 30 * 86400, "net1")  # imported late, long past the window
    watch = GroupWatch(store, clock=lambda: NOW)
    assert watch.collect() == 1201 and len(watch) == 1200
    assert watch.collect() == 0 and len(watch) == 1200  # nothing new is read twice
    blocks = watch.detect()
    assert len(blocks) == 1
    block = blocks[0]
    assert set(block.actors) == {f"ring{i}" for i in range(30)}
    assert set(block.targets) == {f"@r{t}" for t in range(10)}
    assert block.evidence["ip"] == [{"value": "farm", "share": 1.0}]
    assert watch.refresh() == frozenset(block.actors) and store.list_blocks()[0].id == block.id
    assert watch.confidence == {a: block.evidence["confidence"] for a in block.actors}
    assert block.evidence["confidence"] > 0.99 and block.evidence["tests"]["together"] == "pass"
    store.close()


@pytest.fixture
def own_store_url(store_url: str) -> Iterator[str]:
    """The store, in a database of its own on PostgreSQL: the leader lock is per database,
    and the suite's shared one has other tests' sessions in it."""
    if not store_url.startswith("postgresql"):
        yield store_url
        return
    name = f"hc_leader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(store_url)._replace(path=f"/{name}"))
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _holders(store) -> str:  # type: ignore[no-untyped-def]
    """Who holds the leader lock (PostgreSQL), for a failure message."""
    pool = getattr(store, "_pool", None)
    if pool is None:
        return "(SQLite)"
    with pool.connection() as conn:
        return str(conn.execute(
            "SELECT l.pid, a.application_name, a.state, a.query FROM pg_locks l JOIN pg_stat_activity a"
            " USING (pid) WHERE l.locktype = 'advisory' AND l.objid = %s", (LEADER_LOCK,)).fetchall())


def test_one_leader_per_store(own_store_url: str) -> None:
    first, second = open_store(own_store_url), open_store(own_store_url)
    a, b = Leadership(first), Leadership(second)
    assert a.acquire() and a.acquire() and not b.acquire()
    a.release()
    assert b.acquire(), _holders(second)
    b.release()
    first.close()
    second.close()


def test_a_row_that_commits_late_is_still_read(tmp_path: Path) -> None:
    """On PostgreSQL a lower sequence number can commit after a higher one: simulated here
    by inserting a row below the cursor behind the job's back."""
    import sqlite3

    store = open_store(f"sqlite:///{tmp_path}/late.db")
    for i in range(5):
        _follow(store, f"a{i}", "@t", NOW - 60 * i, "net")
    with sqlite3.connect(f"{tmp_path}/late.db") as conn:
        conn.execute("DELETE FROM actions WHERE seq = 3")
    watch = GroupWatch(store, clock=lambda: NOW)
    assert watch.collect() == 4
    with sqlite3.connect(f"{tmp_path}/late.db") as conn:
        conn.execute("INSERT INTO actions (seq, ts, verb, actor_key, target, decision)"
                     " VALUES (3, ?, 'follow', 'late', '@t', 'allowed')", (NOW - 5,))
    assert watch.collect() == 1 and len(watch) == 5
    assert watch.collect() == 0
    store.close()
