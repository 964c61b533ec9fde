"""The Spark engine on big logs: wall time and peak memory, against the local engine where it fits (issue 18).

    nice python bench/detect_spark.py --events 10000000                 # one size
    nice python bench/detect_spark.py --events 10000000 30000000 100000000 --local-max 30000000

Per size: a log of Parquet parts written by bench/spark_log.py (never held whole),
then `headcount detect DIR --engine spark --master local[2]` in a fresh process, its
memory sampled every second from /proc: the Python driver and the JVM (in local
mode the Spark driver and its executors are one JVM, so "executor" memory is that
JVM's). The local engine runs on the same log as one file (streamed together) when
the size is at most --local-max. Both report the best block's actor F1 against the
injected ring. Results go to --out (default bench/results/detect_spark.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from spark_log import single_file, truth, write_parts


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _rss(pid: int) -> tuple[int, str]:
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:")), 0)
        with open(f"/proc/{pid}/comm") as f:
            return rss, f.read().strip()
    except OSError:
        return 0, ""


def run(cmd: list[str], log: Path) -> dict[str, object]:
    """Run a command; wall seconds and the peak RSS of its Python and Java processes."""
    began = time.perf_counter()
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "HEADCOUNT_PROGRESS_LINES": "1"})
        peak = {"python": 0, "java": 0}
        while proc.poll() is None:
            now = {"python": 0, "java": 0}
            for p in _tree(proc.pid):
                rss, name = _rss(p)
                now["java" if name == "java" else "python"] += rss
            peak = {k: max(peak[k], now[k]) for k in peak}
            time.sleep(1.0)
    return {"seconds": round(time.perf_counter() - began, 1), "exit": proc.returncode,
            "peak_python_gb": round(peak["python"] / 2**30, 2), "peak_jvm_gb": round(peak["java"] / 2**30, 2)}


def best_f1(path: Path, ring: set[int]) -> float:
    try:
        blocks = json.loads(path.read_text())["blocks"]
    except (OSError, ValueError, KeyError):
        return 0.0
    best = 0.0
    for b in blocks:
        found = {int(a) for a in b["actors"]}
        tp = len(found & ring)
        best = max(best, 2 * tp / (len(found) + len(ring)) if tp else 0.0)
    return round(best, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--events", type=int, nargs="+", default=[10_000_000])
    ap.add_argument("--data", type=Path, default=Path("/tmp/headcount-spark-bench"))
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="8g", help="the local-mode JVM's heap (driver and executors)")
    ap.add_argument("--conf", nargs="*", default=["spark.sql.shuffle.partitions=16"])
    ap.add_argument("--local-max", type=int, default=30_000_000, help="run the local engine up to this size")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "detect_spark.json")
    args = ap.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "master": args.master}
    headcount = [sys.executable, "-m", "headcount.cli.main", "detect"]
    for n in args.events:
        name = f"{n // 1_000_000}M"
        parts = args.data / f"log-{name}"
        if not truth(parts).exists():
            t = time.perf_counter()
            write_parts(parts, n)
            print(f"{name}: wrote parts in {time.perf_counter() - t:.0f} s", flush=True)
        ring = set(json.loads(truth(parts).read_text())["ring_actors"])
        row: dict[str, object] = {"events": n}
        out = args.data / f"spark-{name}.json"
        cmd = [*headcount, str(parts), "--engine", "spark", "--master", args.master, "--out", str(out),
               "--conf", f"spark.driver.memory={args.driver_memory}"]
        for c in args.conf:
            cmd += ["--conf", c]
        row["spark"] = {**run(cmd, args.data / f"spark-{name}.log"), "f1": best_f1(out, ring)}
        print(f"{name} spark: {row['spark']}", flush=True)
        if n <= args.local_max:
            single = args.data / f"log-{name}.parquet"
            if not single.exists():
                single_file(parts, single)
            out = args.data / f"local-{name}.json"
            row["local"] = {**run([*headcount, str(single), "--out", str(out)], args.data / f"local-{name}.log"),
                            "f1": best_f1(out, ring)}
            print(f"{name} local: {row['local']}", flush=True)
        results[name] = row
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
