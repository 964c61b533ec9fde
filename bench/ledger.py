"""Holds per second and latency of the ledger, against the raw store, in one run.

    python bench/ledger.py                 # SQLite; PostgreSQL too if it can start one
    python bench/ledger.py --quick         # shorter runs
    python bench/ledger.py --pg-url postgresql://...   # use a running server

(a) In-process: `Ledger.hold()` (idempotency key, expiry sweep, per-actor check,
    conditional capacity update, hold row, action-log row, one transaction) vs
    the baseline a hold cannot do without: the raw store doing the bare
    conditional single-row update `UPDATE pools SET held = held + 1 WHERE ... <=
    capacity`, one transaction each, on the same database with the same settings.
(b) Over HTTP: `wrk` with 64 connections placing holds (each with a new actor
    and Idempotency-Key) against `headcount serve` (SQLite: 2 processes,
    PostgreSQL: 4), and `/healthz` on the same server as the HTTP-stack ceiling.

Every figure is the median of --repeat runs. Results go to bench/results/ledger.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from headcount.services.holds import Ledger
from headcount.services.keys import create_key
from headcount.store import open_store
from headcount.store.sqlite import _connect
from headcount.testing.servers import running_server
from headcount.types import ActorInfo, IdempotencyKey, PoolSpec

ROOT = Path(__file__).resolve().parent.parent
BIG = 10**9


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_threads(threads: int, seconds: float, op: Callable[[int, int], None]) -> dict[str, float]:
    """Call op(thread, i) in `threads` threads for `seconds`; ops/s and latency."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    stop = time.perf_counter() + seconds

    def worker(t: int) -> None:
        i = 0
        lat = latencies[t]
        while True:
            start = time.perf_counter()
            if start >= stop:
                return
            op(t, i)
            lat.append(time.perf_counter() - start)
            i += 1

    began = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - began
    flat = [x for lat in latencies for x in lat]
    return {
        "ops_per_s": len(flat) / elapsed,
        "p50_ms": percentile(flat, 0.5) * 1e3,
        "p99_ms": percentile(flat, 0.99) * 1e3,
    }


# (a) in-process --------------------------------------------------------------


def run_async_tasks(tasks: int, seconds: float, ledger: Ledger, pool: str) -> dict[str, float]:
    """`tasks` concurrent coroutines calling `Ledger.ahold` (what the HTTP service does)."""
    import asyncio

    run = uuid.uuid4().hex[:6]
    latencies: list[float] = []

    async def worker(t: int, stop: float) -> None:
        i = 0
        while (start := time.perf_counter()) < stop:
            actor = f"{run}-{t}-{i}"
            out = await ledger.ahold(pool, 1, ActorInfo(id=actor), IdempotencyKey("bench", actor, "h"))
            assert out.ok, out
            latencies.append(time.perf_counter() - start)
            i += 1

    async def main() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(worker(t, began + seconds) for t in range(tasks)))
        return time.perf_counter() - began

    elapsed = asyncio.run(main())
    return {"ops_per_s": len(latencies) / elapsed, "p50_ms": percentile(latencies, 0.5) * 1e3,
            "p99_ms": percentile(latencies, 0.99) * 1e3}



def ledger_op(ledger: Ledger, pool: str) -> Callable[[int, int], None]:
    run = uuid.uuid4().hex[:6]

    def op(t: int, i: int) -> None:
        actor = f"{run}-{t}-{i}"
        out = ledger.hold(pool, 1, ActorInfo(id=actor), IdempotencyKey("bench", actor, "h"))
        assert out.ok, out

    return op


def sqlite_raw_op(path: str, pool: str) -> Callable[[int, int], None]:
    local = threading.local()

    def op(t: int, i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = _connect(path, "NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute(
            "UPDATE pools SET held = held + 1 WHERE id = ? AND held + confirmed + 1 <= capacity", (pool,)
        )
        conn.execute("COMMIT")
        assert cur.rowcount == 1

    return op


def pg_raw_op(url: str, pool: str, with_insert: bool, sync: bool = True) -> Callable[[int, int], None]:
    local = threading.local()

    def op(t: int, i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url, autocommit=True, prepare_threshold=0)
            conn.execute(f"SET synchronous_commit = {'on' if sync else 'off'}")
        if not with_insert:
            cur = conn.execute(
                "UPDATE pools SET held = held + 1 WHERE id = %s AND held + confirmed + 1 <= capacity",
                (pool,),
            )
            assert cur.rowcount == 1
            return
        with conn.transaction():
            conn.execute(
                "UPDATE pools SET held = held + 1 WHERE id = %s AND held + confirmed + 1 <= capacity",
                (pool,),
            )
            conn.execute(
                "INSERT INTO holds (token, pool_id, actor_key, quantity, status, created_at, ttl_s,"
                " expires_at, max_expires_at) VALUES ('raw', %s, %s, 1, 'held', 0, 1, 1e12, 1e12)",
                (pool, f"raw-{t}-{i}"),
            )

    return op


def in_process(store_url: str, raw: dict[str, Callable[[str], Callable[[int, int], None]]],
               threads: list[int], seconds: float, repeat: int, async_tasks: int = 64) -> list[dict[str, object]]:
    rows = []
    store = open_store(store_url)
    ledger = Ledger(store)
    try:
        for n in threads:
            results: dict[str, list[dict[str, float]]] = {name: [] for name in [*raw, "ledger"]}
            for _ in range(repeat):
                for name, make in raw.items():
                    pool = f"raw-{uuid.uuid4().hex[:8]}"
                    ledger.create_pool(PoolSpec(pool, "raw", "stock", BIG, BIG // 2, 600))
                    results[name].append(run_threads(n, seconds, make(pool)))
                pool = f"led-{uuid.uuid4().hex[:8]}"
                ledger.create_pool(PoolSpec(pool, "ledger", "stock", BIG, 2, 600))
                results["ledger"].append(run_threads(n, seconds, ledger_op(ledger, pool)))
            med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in results.items()}
            base = med[next(iter(raw))]["ops_per_s"]
            for name, figures in med.items():
                rows.append({"threads": n, "what": name, **figures,
                             "ratio_to_raw_update": figures["ops_per_s"] / base})
        # the async path: one event loop, many holds in flight (the service's way)
        async_runs = []
        for _ in range(repeat):
            pool = f"aio-{uuid.uuid4().hex[:8]}"
            ledger.create_pool(PoolSpec(pool, "ledger", "stock", BIG, 2, 600))
            async_runs.append(run_async_tasks(async_tasks, seconds, ledger, pool))
        figures = {m: statistics.median(r[m] for r in async_runs) for m in async_runs[0]}
        best_raw = max(r["ops_per_s"] for r in rows if r["what"] == next(iter(raw)))
        rows.append({"threads": f"{async_tasks} tasks", "what": "ledger (async, Ledger.ahold)", **figures,
                     "ratio_to_raw_update": figures["ops_per_s"] / best_raw})
    finally:
        store.close()
    return rows


# (b) HTTP --------------------------------------------------------------------


def wrk(url: str, seconds: float, script: Path | None, env: dict[str, str]) -> dict[str, float]:
    cmd = ["wrk", "-t1", "-c64", f"-d{max(1, int(seconds))}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
    if script:
        line = next(x for x in out.splitlines() if x.startswith("RESULT"))
        f = dict(kv.split("=") for kv in line.split()[1:])
        if int(f["errors"]):
            raise RuntimeError(f"wrk saw {f['errors']} errors/non-2xx answers:\n{out}")
        return {"ops_per_s": int(f["requests"]) / (int(f["duration_us"]) / 1e6),
                "p50_ms": int(f["p50_us"]) / 1e3, "p99_ms": int(f["p99_us"]) / 1e3}
    rps = next(x for x in out.splitlines() if x.startswith("Requests/sec"))
    return {"ops_per_s": float(rps.split()[1])}


def over_http(store_url: str, workers: int, seconds: float, repeat: int) -> list[dict[str, object]]:
    store = open_store(store_url)
    client, staff = create_key(store, "client"), create_key(store, "staff")
    store.close()
    holds, health = [], []
    # a PostgreSQL store keeps its key ring in the database, under an operator secret
    env = {} if store_url.startswith("sqlite") else {"HEADCOUNT_OPERATOR_SECRET": secrets.token_urlsafe(32)}
    with running_server(store_url, workers=workers, extra_env=env) as server:
        for _ in range(repeat):
            pool = f"http-{uuid.uuid4().hex[:8]}"
            r = httpx.post(f"{server.url}/v1/pools", headers={"Authorization": f"Bearer {staff}"},
                           json={"id": pool, "name": "bench", "kind": "stock", "capacity": BIG,
                                 "per_actor_limit": 2, "hold_ttl_s": 600})
            r.raise_for_status()
            holds.append(wrk(server.url, seconds, ROOT / "bench" / "holds.lua", {"HC_POOL": pool, "HC_KEY": client}))
            health.append(wrk(f"{server.url}/healthz", max(2, seconds / 2), None, {}))
    med = {m: statistics.median(h[m] for h in holds) for m in holds[0]}
    hz = statistics.median(h["ops_per_s"] for h in health)
    return [{"workers": workers, "what": "POST hold (64 connections)", **med, "ratio_to_healthz": med["ops_per_s"] / hz},
            {"workers": workers, "what": "GET /healthz (HTTP stack ceiling)", "ops_per_s": hz}]


def start_postgres() -> str | None:
    script = ROOT / "scripts" / "pg-server.sh"
    try:
        out = subprocess.run([str(script), "start", "54331"], capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"(no PostgreSQL: {exc})", file=sys.stderr)
        return None
    base = out.stdout.strip().splitlines()[-1]
    name = f"bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def table(rows: list[dict[str, object]], cols: list[str]) -> str:
    def fmt(v: object) -> str:
        return f"{v:,.2f}" if isinstance(v, float) and v < 100 else (f"{v:,.0f}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs (about a minute in all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg-url", help="a PostgreSQL database to use (default: start a throwaway one)")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-http", action="store_true")
    args = ap.parse_args()
    seconds = 2.0 if args.quick else 5.0
    repeat = 1 if args.quick else args.repeat
    if not args.no_http and shutil.which("wrk") is None:
        sys.exit("bench/ledger.py needs wrk for the HTTP part: apt-get install wrk (or pass --no-http)")
    results: dict[str, list[dict[str, object]]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="hc-bench-"))

    sqlite_path = str(tmp / "inproc.db")
    results["sqlite_in_process"] = in_process(
        f"sqlite:///{sqlite_path}", {"raw conditional update": lambda pool: sqlite_raw_op(sqlite_path, pool)},
        [1, 8], seconds, repeat)
    pg_url = None if args.no_pg else (args.pg_url or start_postgres())
    if pg_url:
        results["postgres_in_process"] = in_process(
            pg_url, {"raw conditional update": lambda pool: pg_raw_op(pg_url, pool, False),
                     "raw conditional update, async commit": lambda pool: pg_raw_op(pg_url, pool, False, False),
                     "raw update + hold row insert": lambda pool: pg_raw_op(pg_url, pool, True)},
            [4, 16], seconds, repeat)
    if not args.no_http:
        results["sqlite_http"] = over_http(f"sqlite:///{tmp / 'http.db'}", 2, seconds * 2, repeat)
        if pg_url:
            results["postgres_http"] = over_http(pg_url, 4, seconds * 2, repeat)

    cols_in = ["threads", "what", "ops_per_s", "p50_ms", "p99_ms", "ratio_to_raw_update"]
    cols_http = ["workers", "what", "ops_per_s", "p50_ms", "p99_ms", "ratio_to_healthz"]
    for name, rows in results.items():
        print(f"\n### {name} (median of {repeat}, ops/s)\n")
        print(table(rows, cols_http if "http" in name else cols_in))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ledger.json").write_text(json.dumps({"repeat": repeat, "seconds": seconds, **results}, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
