"""SIGKILL during a load: after a restart the ledger is intact.

Every server process is killed mid-load. After a restart: the pool's counters
equal what its hold rows say, capacity holds, and every confirmation that was
acknowledged to a client is there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
import uuid

import aiohttp
import psycopg
import pytest

from headcount.services.keys import create_key
from headcount.store import open_store
from headcount.testing.servers import running_server

CAPACITY = 300


async def _load_until_killed(url: str, key: str, pool: str, kill_after: float, pgid: int) -> set[str]:
    confirmed: set[str] = set()
    stop = time.monotonic() + kill_after

    async def client(n: int) -> None:
        i = 0
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as s:
            while True:
                i += 1
                try:
                    async with s.post(f"{url}/v1/pools/{pool}/holds",
                                      json={"actor": {"id": f"c{n}-{i % 40}"}}) as r:
                        body = await r.json(content_type=None)
                        if r.status != 201:
                            continue
                    async with s.post(f"{url}/v1/holds/{body['hold_id']}/confirm") as c:
                        if c.status == 200:
                            confirmed.add(body["hold_id"])
                    if i % 4 == 0:
                        # before the request: a kill after the release but before the answer
                        # would otherwise leave a released hold among the confirmed ones
                        confirmed.discard(body["hold_id"])  # may or may not happen
                        await s.delete(f"{url}/v1/holds/{body['hold_id']}")
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    return  # the server is gone

    async def killer() -> None:
        await asyncio.sleep(max(0.0, stop - time.monotonic()))
        os.killpg(pgid, signal.SIGKILL)

    await asyncio.gather(killer(), *(client(n) for n in range(16)))
    return confirmed


def _ledger_rows(store_url: str, pool: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(counters, sums over hold rows) straight from the database."""
    counters = "SELECT held, confirmed FROM pools WHERE id = {p}"
    sums = ("SELECT coalesce(sum(CASE WHEN status='held' THEN quantity END), 0),"
            " coalesce(sum(CASE WHEN status='confirmed' THEN quantity END), 0) FROM holds WHERE pool_id = {p}")
    if store_url.startswith("sqlite"):
        conn = sqlite3.connect(store_url[len("sqlite:///"):])
        try:
            return (conn.execute(counters.format(p="?"), (pool,)).fetchone(),
                    conn.execute(sums.format(p="?"), (pool,)).fetchone())
        finally:
            conn.close()
    with psycopg.connect(store_url) as conn:
        a = conn.execute(counters.format(p="%s"), (pool,)).fetchone()
        b = conn.execute(sums.format(p="%s"), (pool,)).fetchone()
        return (int(a[0]), int(a[1])), (int(b[0]), int(b[1]))  # type: ignore[index]


def _crash_and_check(store_url: str, workers: int) -> None:
    store = open_store(store_url)
    client, staff = create_key(store, "client"), create_key(store, "staff")
    store.close()
    pool = f"crash-{uuid.uuid4().hex[:6]}"
    with running_server(store_url, workers=workers) as server:
        import httpx

        httpx.post(f"{server.url}/v1/pools", headers={"Authorization": f"Bearer {staff}"},
                   json={"id": pool, "name": "crash", "kind": "event", "capacity": CAPACITY,
                         "per_actor_limit": 2, "hold_ttl_s": 60}).raise_for_status()
        confirmed = asyncio.run(_load_until_killed(server.url, client, pool, 3.0, server.process.pid))
        server.process.wait(timeout=10)
    assert confirmed, "the load should have confirmed something before the kill"

    with running_server(store_url, workers=workers):  # restart on the same store
        store = open_store(store_url)
        try:
            for hold_id in confirmed:
                hold = store.get_hold(hold_id)
                assert hold is not None and hold.status == "confirmed", hold_id
            (held, conf), (held_rows, conf_rows) = _ledger_rows(store_url, pool)
            assert (held, conf) == (held_rows, conf_rows)
            assert held + conf <= CAPACITY
            assert conf >= len(confirmed)
        finally:
            store.close()


@pytest.mark.slow
def test_sigkill_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _crash_and_check(f"sqlite:///{tmp_path / 'crash.db'}", 2)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_postgres(pg_url: str) -> None:
    _crash_and_check(pg_url, 4)
