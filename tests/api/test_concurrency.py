"""No oversell under real concurrency: several server processes, 64 clients.

64 concurrent HTTP clients make 10,000 hold attempts on one pool of capacity
1,000 with a per-actor limit of 2, and confirm, release or abandon each hold at
random. Afterwards: confirmed <= capacity, no actor above its limit, every
acknowledged confirmation present; during the run every sample of the pool's
figures respects the capacity.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import pytest

from headcount.privacy.keyring import load_keyring
from headcount.services.keys import create_key
from headcount.store import open_store
from headcount.testing.servers import running_server

CAPACITY = 1_000
LIMIT = 2
ATTEMPTS = 10_000
CLIENTS = 64
ACTORS = 4_000
HOLD_TTL_S = 2


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    confirmed: dict[str, tuple[str, int]] = field(default_factory=dict)  # hold -> (actor, qty)
    samples: list[tuple[int, int]] = field(default_factory=list)


async def _client(session: aiohttp.ClientSession, url: str, pool: str, rng: random.Random,
                  jobs: asyncio.Queue[int], tally: Tally) -> None:
    while True:
        try:
            jobs.get_nowait()
        except asyncio.QueueEmpty:
            return
        actor = f"actor-{rng.randrange(ACTORS)}"
        qty = rng.choice((1, 1, 2))
        async with session.post(f"{url}/v1/pools/{pool}/holds",
                                json={"quantity": qty, "actor": {"id": actor}},
                                headers={"Idempotency-Key": uuid.uuid4().hex}) as r:
            tally.statuses[r.status] += 1
            body = await r.json(content_type=None)
        if r.status != 201:
            assert r.status in (409, 429), body
            continue
        hold_id = body["hold_id"]
        fate = rng.random()
        if fate < 0.45:
            async with session.post(f"{url}/v1/holds/{hold_id}/confirm") as c:
                if c.status == 200:
                    tally.confirmed[hold_id] = (actor, qty)
                else:  # it may have expired meanwhile; never a server error
                    assert c.status == 409, await c.text()
        elif fate < 0.65:
            async with session.delete(f"{url}/v1/holds/{hold_id}") as d:
                assert d.status == 200
        # else: abandoned, it expires after HOLD_TTL_S


async def _sampler(session: aiohttp.ClientSession, url: str, pool: str, staff: str,
                   stop: asyncio.Event, tally: Tally) -> None:
    while not stop.is_set():
        async with session.get(f"{url}/v1/pools/{pool}", headers={"Authorization": f"Bearer {staff}"}) as r:
            body = await r.json()
            tally.samples.append((body["held"], body["confirmed"]))
        await asyncio.sleep(0.05)


async def _load(url: str, client_key: str, staff_key: str, pool: str) -> Tally:
    tally = Tally()
    jobs: asyncio.Queue[int] = asyncio.Queue()
    for i in range(ATTEMPTS):
        jobs.put_nowait(i)
    headers = {"Authorization": f"Bearer {client_key}"}
    connector = aiohttp.TCPConnector(limit=CLIENTS + 2)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        async with session.post(f"{url}/v1/pools", headers={"Authorization": f"Bearer {staff_key}"},
                                json={"id": pool, "name": "contended", "kind": "stock", "capacity": CAPACITY,
                                      "per_actor_limit": LIMIT, "hold_ttl_s": HOLD_TTL_S}) as r:
            assert r.status == 201, await r.text()
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sampler(session, url, pool, staff_key, stop, tally))
        await asyncio.gather(*(_client(session, url, pool, random.Random(i), jobs, tally) for i in range(CLIENTS)))
        stop.set()
        await sampler
    return tally


@pytest.mark.slow
@pytest.mark.parametrize("workers", [pytest.param(2, id="sqlite-2-processes")])
def test_no_oversell_sqlite(tmp_path, workers: int) -> None:  # type: ignore[no-untyped-def]
    _run(f"sqlite:///{tmp_path / 'load.db'}", workers)


@pytest.mark.slow
@pytest.mark.postgres
def test_no_oversell_postgres(pg_url: str) -> None:
    _run(pg_url, 4)


def _run(store_url: str, workers: int) -> None:
    store = open_store(store_url)
    client_key, staff_key = create_key(store, "client"), create_key(store, "staff")
    pool = f"contended-{uuid.uuid4().hex[:6]}"
    try:
        with running_server(store_url, workers=workers) as server:
            tally = asyncio.run(_load(server.url, client_key, staff_key, pool))
        assert sum(tally.statuses.values()) == ATTEMPTS
        assert tally.statuses[201] > CAPACITY  # capacity was contended and recycled
        assert tally.statuses[409] > 0 and tally.statuses[429] > 0
        assert tally.samples and all(h + c <= CAPACITY for h, c in tally.samples)

        # after the run, straight from the store
        now = 4_000_000_000.0  # far future: every unconfirmed hold has expired
        figures = store.get_pool(pool, now)
        assert figures is not None
        assert figures.confirmed <= CAPACITY
        assert figures.confirmed == sum(q for _, q in tally.confirmed.values())
        for hold_id in tally.confirmed:
            hold = store.get_hold(hold_id)
            assert hold is not None and hold.status == "confirmed", hold_id
        per_actor = Counter[str]()
        for actor, qty in tally.confirmed.values():
            per_actor[actor] += qty
        assert max(per_actor.values()) <= LIMIT
        ring = load_keyring()  # the servers store keyed hashes of the actor ids
        for actor in per_actor:
            usage = store.actor_usage(pool, ring.pseudonym("id", actor), now)
            assert per_actor[actor] <= usage <= LIMIT
    finally:
        store.close()
