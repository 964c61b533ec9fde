"""What the risk decision costs: in-process actors/s and the latency it adds over HTTP.

    python bench/signals.py            # about 2 minutes
    python bench/signals.py --quick

(a) In-process: the guard's whole decision (e-mail, phone, network and client
    signals, policy score and band) for distinct actors, against the baseline of
    the bare library calls on the same inputs (`email_validator.validate_email`
    and `phonenumbers.parse` + `is_valid_number`), with the cost of each signal.
    Caches are cleared before each timed run so that every actor is new, as in a
    flood; the signals' per-domain and per-user-agent caches start empty too, and
    fill as domains and browsers repeat within the run. (Importing the signals
    turns on phonenumbers' pattern cache for the whole process, so the baseline's
    phonenumbers calls get it as well.)
(b) Over HTTP: the same open-loop hold load (300 requests/s) against a server
    with the signals guard and one with identities only; the difference of the
    p50 and p99 latencies is what the signals add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import httpx
import phonenumbers
from email_validator import validate_email

from headcount.guard import SignalsGuard
from headcount.services.keys import create_key
from headcount.signals import analyze_email, analyze_network, analyze_phone
from headcount.signals import clear_caches as clear_signal_caches
from headcount.store import open_store
from headcount.testing.servers import running_server
from headcount.types import ActorInfo

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ["gmail.com", "web.de", "outlook.com", "yahoo.com", "mailinator.com", "example.org", "gmx.net"]


def actors(n: int, seed: int) -> list[ActorInfo]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        local = rng.choice([f"anna.meyer{i}", f"user{rng.randint(10**6, 10**9)}", f"j.doe+{i}", f"ben_{i}x"])
        phone = rng.choice([f"+49151{rng.randint(10**7, 10**8 - 1)}", f"+1202555{rng.randint(1000, 9999)}",
                            f"0800{rng.randint(10**6, 10**7 - 1)}", f"+4930{rng.randint(10**6, 10**7 - 1)}"])
        ua = rng.choice(["Mozilla/5.0 (Windows NT 10.0) Firefox/130.0", "python-requests/2.32",
                         "Mozilla/5.0 (iPhone) Safari/604.1"])
        out.append(ActorInfo(id=None, email=f"{local}@{rng.choice(DOMAINS)}", phone=phone,
                             ip=f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                             user_agent=ua))
    return out


def clear_caches() -> None:
    """Every actor is new (their addresses are distinct); domains repeat, as in a real flood.

    All the signals' caches start empty, the per-domain and per-user-agent ones too:
    each run pays for its own first sight of every domain and user agent."""
    clear_signal_caches()


def rate(fn, items) -> float:  # type: ignore[no-untyped-def]
    clear_caches()
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def in_process(n: int, repeat: int) -> list[dict[str, object]]:
    guard = SignalsGuard()  # no store: the decision alone, without person linking
    rows: dict[str, list[float]] = {}
    for r in range(repeat):
        batch = actors(n, r)

        def bare(a: ActorInfo) -> None:
            try:
                validate_email(a.email, check_deliverability=False)  # type: ignore[arg-type]
            except Exception:
                pass
            try:
                phonenumbers.is_valid_number(phonenumbers.parse(a.phone, "DE"))  # type: ignore[arg-type]
            except Exception:
                pass

        for name, fn in {
            "baseline: bare validate_email + phonenumbers.parse/is_valid": bare,
            "whole decision (SignalsGuard.assess)": lambda a: guard.assess(a, "p", 0.0),
            "e-mail signals": lambda a: analyze_email(a.email),
            "phone signals": lambda a: analyze_phone(a.phone, "DE"),
            "network and client signals": lambda a: analyze_network(a.ip, a.user_agent),
        }.items():
            rows.setdefault(name, []).append(rate(fn, batch))
    base = statistics.median(rows["baseline: bare validate_email + phonenumbers.parse/is_valid"])
    return [{"what": k, "actors_per_s": statistics.median(v), "us_per_actor": 1e6 / statistics.median(v),
             "ratio_to_baseline": statistics.median(v) / base} for k, v in rows.items()]


async def open_loop(url: str, key: str, pool: str, rate_per_s: float, seconds: float, seed: int) -> list[float]:
    batch = actors(int(rate_per_s * seconds), seed)
    latencies: list[float] = []
    began = time.monotonic()

    async def one(session: aiohttp.ClientSession, a: ActorInfo) -> None:
        start = time.monotonic()
        body = {"actor": {"email": a.email, "phone": a.phone, "ip": a.ip, "user_agent": a.user_agent}}
        async with session.post(f"{url}/v1/pools/{pool}/holds", json=body) as r:
            await r.read()
            assert r.status in (201, 403, 429), r.status
        latencies.append(time.monotonic() - start)

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        tasks = []
        for i, a in enumerate(batch):
            delay = began + i / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, a)))
        await asyncio.gather(*tasks)
    return latencies[len(latencies) // 10:]  # drop the warm-up


def over_http(seconds: float, repeat: int) -> list[dict[str, object]]:
    results: dict[str, list[tuple[float, float]]] = {"identities only": [], "signals guard": []}
    for r in range(repeat):
        for name, guard in (("identities only", "identity"), ("signals guard", "signals")):
            url = f"sqlite:///{tempfile.mkdtemp()}/s.db"
            store = open_store(url)
            client, staff = create_key(store, "client"), create_key(store, "staff")
            store.close()
            with running_server(url, workers=2, extra_env={"HEADCOUNT_GUARD": guard}) as server:
                pool = f"sig-{uuid.uuid4().hex[:6]}"
                httpx.post(f"{server.url}/v1/pools", headers={"Authorization": f"Bearer {staff}"},
                           json={"id": pool, "name": "s", "kind": "event", "capacity": 10**9,
                                 "per_actor_limit": 2, "hold_ttl_s": 600}).raise_for_status()
                lat = sorted(asyncio.run(open_loop(server.url, client, pool, 300, seconds, r)))
            results[name].append((lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3))
    rows = []
    for name, runs in results.items():
        rows.append({"what": name, "p50_ms": statistics.median(x[0] for x in runs),
                     "p99_ms": statistics.median(x[1] for x in runs)})
    rows.append({"what": "added by the signals", "p50_ms": rows[1]["p50_ms"] - rows[0]["p50_ms"],  # type: ignore[operator]
                 "p99_ms": rows[1]["p99_ms"] - rows[0]["p99_ms"]})  # type: ignore[operator]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, repeat, seconds = (5_000, 1, 10.0) if args.quick else (20_000, 3, 20.0)
    inproc = in_process(n, repeat)
    print(f"\n### in-process, {n:,} distinct actors, median of {repeat}\n")
    print("| what | actors/s | µs per actor | ratio to baseline |\n|---|---|---|---|")
    for row in inproc:
        print(f"| {row['what']} | {row['actors_per_s']:,.0f} | {row['us_per_actor']:.1f} | {row['ratio_to_baseline']:.2f} |")
    http = over_http(seconds, repeat)
    print(f"\n### over HTTP, holds at 300/s open loop, SQLite, 2 processes, median of {repeat}\n")
    print("| what | p50 ms | p99 ms |\n|---|---|---|")
    for row in http:
        print(f"| {row['what']} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "signals.json").write_text(json.dumps({"in_process": inproc, "http": http}, indent=2))


if __name__ == "__main__":
    main()
