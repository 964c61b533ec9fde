"""A bounded soak: a steady request rate for a few minutes; latency stays put, memory stays flat.

    python bench/soak.py                       # 3 minutes at 400 requests/s, SQLite, 2 processes
    python bench/soak.py --minutes 1 --rate 200
    python bench/soak.py --store postgresql://...

Open loop (requests start on schedule, whether or not earlier ones finished, so
a slow server shows as latency, not as a lower rate), loopback only, bounded in
time and count. Mix: 60% holds for new people, 20% confirmations, 10% releases,
10% pool reads; holds last 30 s, so expiry and the sweeper run all the time.
Reports per 30-second window the achieved rate, p50/p95/p99/max and errors, and
the resident memory of the server processes; writes bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import httpx

from headcount.services.keys import create_key
from headcount.store import open_store
from headcount.testing.servers import running_server

ROOT = Path(__file__).resolve().parent.parent
WINDOW_S = 30.0


def process_tree_rss_mib(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total_kib = 0
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


async def soak(url: str, client_key: str, staff_key: str, pool: str, rate: float, seconds: float,
               server_pid: int) -> dict[str, object]:
    rng = random.Random(7)
    results: list[tuple[float, float, int]] = []  # (start offset, latency, status)
    live: list[str] = []
    memory: list[tuple[float, float]] = []
    in_flight = asyncio.Semaphore(256)
    began = time.monotonic()
    total = int(rate * seconds)

    async def one(session: aiohttp.ClientSession, n: int) -> None:
        async with in_flight:
            start = time.monotonic()
            kind = rng.random()
            try:
                if kind < 0.6 or not live:
                    async with session.post(f"{url}/v1/pools/{pool}/holds",
                                            json={"actor": {"id": f"p{n}"}},
                                            headers={"Idempotency-Key": f"soak-{n}"}) as r:
                        body = await r.json(content_type=None)
                        status = r.status
                        if status == 201:
                            live.append(body["hold_id"])
                elif kind < 0.8:
                    hold = live.pop(rng.randrange(len(live)))
                    async with session.post(f"{url}/v1/holds/{hold}/confirm") as r:
                        await r.read()
                        status = 200 if r.status in (200, 409) else r.status  # 409: it expired
                elif kind < 0.9:
                    hold = live.pop(rng.randrange(len(live)))
                    async with session.delete(f"{url}/v1/holds/{hold}") as r:
                        await r.read()
                        status = r.status
                else:
                    async with session.get(f"{url}/v1/pools/{pool}") as r:
                        await r.read()
                        status = r.status
            except (TimeoutError, aiohttp.ClientError):
                status = 0
            results.append((start - began, time.monotonic() - start, status))

    async def sample_memory() -> None:
        while time.monotonic() - began < seconds + 1:
            memory.append((time.monotonic() - began, process_tree_rss_mib(server_pid)))
            await asyncio.sleep(5)

    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {client_key}"},
                                     timeout=timeout, connector=connector) as session:
        sampler = asyncio.create_task(sample_memory())
        tasks = []
        for n in range(total):
            due = began + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, n)))
        await asyncio.gather(*tasks)
        await sampler

    windows = []
    for w in range(int(seconds // WINDOW_S) or 1):
        lat = sorted(x[1] for x in results if w * WINDOW_S <= x[0] < (w + 1) * WINDOW_S)
        errs = sum(1 for x in results if w * WINDOW_S <= x[0] < (w + 1) * WINDOW_S and x[2] not in (200, 201))
        if not lat:
            continue
        def q(p: float, lat: list[float] = lat) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1e3
        windows.append({"window_s": f"{int(w * WINDOW_S)}-{int((w + 1) * WINDOW_S)}",
                        "rate": len(lat) / WINDOW_S, "p50_ms": q(0.5), "p95_ms": q(0.95),
                        "p99_ms": q(0.99), "max_ms": lat[-1] * 1e3, "errors": errs})
    warm = [m for t, m in memory if WINDOW_S <= t < 2 * WINDOW_S] or [memory[0][1]]
    last = [m for t, m in memory if t >= seconds - WINDOW_S] or [memory[-1][1]]
    return {"requests": len(results), "windows": windows, "memory_mib": memory,
            "memory_after_warmup_mib": statistics.median(warm), "memory_at_end_mib": statistics.median(last),
            "memory_growth": statistics.median(last) / statistics.median(warm) - 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--rate", type=float, default=400.0, help="requests per second")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--store", help="default: a fresh SQLite file")
    args = ap.parse_args()
    if not (0 < args.minutes <= 30 and 0 < args.rate <= 5000):
        raise SystemExit("--minutes must be in (0, 30] and --rate in (0, 5000]: the soak stays bounded")
    url = args.store or f"sqlite:///{tempfile.mkdtemp(prefix='hc-soak-')}/soak.db"
    store = open_store(url)
    client, staff = create_key(store, "client"), create_key(store, "staff")
    store.close()
    pool = f"soak-{uuid.uuid4().hex[:6]}"
    with running_server(url, workers=args.workers) as server:
        httpx.post(f"{server.url}/v1/pools", headers={"Authorization": f"Bearer {staff}"},
                   json={"id": pool, "name": "soak", "kind": "event", "capacity": 10**9,
                         "per_actor_limit": 2, "hold_ttl_s": 30}).raise_for_status()
        report = asyncio.run(soak(server.url, client, staff, pool, args.rate, args.minutes * 60,
                                  server.process.pid))
    print(f"\n### soak: {args.rate:g} requests/s for {args.minutes:g} min, {args.workers} processes, {url.split(':')[0]}\n")
    print("| window (s) | rate/s | p50 ms | p95 ms | p99 ms | max ms | errors |\n|---|---|---|---|---|---|---|")
    for w in report["windows"]:  # type: ignore[union-attr]
        print(f"| {w['window_s']} | {w['rate']:.0f} | {w['p50_ms']:.1f} | {w['p95_ms']:.1f} | "
              f"{w['p99_ms']:.1f} | {w['max_ms']:.0f} | {w['errors']} |")
    print(f"\nserver memory (all processes): {report['memory_after_warmup_mib']:.0f} MiB after warm-up, "
          f"{report['memory_at_end_mib']:.0f} MiB at the end ({report['memory_growth']:+.1%})")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps({"rate": args.rate, "minutes": args.minutes, **report}, indent=2))


if __name__ == "__main__":
    main()
