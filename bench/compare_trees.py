"""Run one benchmark against two source trees in alternation and compare their medians.

    python bench/compare_trees.py --old /work/wt/old967 --new . --rounds 3 \\
        --pg-url postgresql://headcount@127.0.0.1:55445/postgres -- ledger --quick --pg-url {pg}

Why alternate: the machine is shared, so its load drifts over minutes; running
old, new, old, new ... lets the drift hit both trees alike, and the median of
the rounds for each tree is compared, not one lucky run. Each tree runs its own
copy of the script with PYTHONPATH=<tree>/src (a bench at an old commit has no
switch to point it at another tree). `{pg}` in the bench's arguments becomes a
fresh PostgreSQL database for every run, so that the two trees' schemas never
meet and no run inherits another's rows. The bench's own results JSON is read
back after each run; every numeric figure of every row is kept, and the output
holds, for each figure, the rounds of both trees, their medians and new/old.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

ROW_KEYS = ("threads", "workers", "what")


def fresh_database(admin_url: str) -> str:
    """A new empty database on the server of `admin_url`; its URL."""
    name = f"cmp_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def flatten(result: dict[str, Any]) -> dict[str, float]:
    """`section / row / figure` -> value for every numeric figure of a bench's JSON."""
    out: dict[str, float] = {}
    for section, rows in result.items():
        if not isinstance(rows, list):
            continue
        for row in rows:
            label = " · ".join(str(row[k]) for k in ROW_KEYS if k in row)
            for key, value in row.items():
                if key not in ROW_KEYS and isinstance(value, (int, float)):
                    out[f"{section} / {label} / {key}"] = float(value)
    return out


def run_once(tree: Path, bench: str, args: list[str], admin_url: str | None, nice: int) -> dict[str, float] | str:
    """One run's figures, or why it failed (the end of its stderr): a failed run is reported, not fatal."""
    pg = fresh_database(admin_url) if admin_url and any("{pg}" in a for a in args) else None
    argv = [a.replace("{pg}", pg or "") for a in args]
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    results = tree / "bench" / "results" / f"{bench}.json"
    results.unlink(missing_ok=True)
    try:
        began = time.monotonic()
        done = subprocess.run(["nice", "-n", str(nice), sys.executable, f"bench/{bench}.py", *argv],
                              cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        print(f"  {tree}: {time.monotonic() - began:.0f} s, exit {done.returncode}", file=sys.stderr)
        if done.returncode != 0:
            return done.stderr[-1500:]
        return flatten(json.loads(results.read_text()))
    finally:
        results.unlink(missing_ok=True)
        if pg and admin_url:
            drop_database(admin_url, pg)


def compare(old: list[dict[str, float]], new: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    if not old:
        return figures
    for key in old[0]:
        olds = [r[key] for r in old if key in r]
        news = [r[key] for r in new if key in r]
        if not news:
            figures[key] = {"old": olds, "new": [], "old_median": statistics.median(olds), "new_median": None}
            continue
        om, nm = statistics.median(olds), statistics.median(news)
        figures[key] = {"old": olds, "new": news, "old_median": om, "new_median": nm,
                        "ratio_new_old": nm / om if om else None}
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nice", type=int, default=5)
    ap.add_argument("--pg-url", help="a PostgreSQL server's admin URL; {pg} in the bench arguments gets a fresh database")
    ap.add_argument("--out", type=Path, help="write the comparison here (JSON)")
    ap.add_argument("bench", help="ledger, signals, ... (bench/<name>.py in each tree)")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    old_tree, new_tree = a.old.resolve(), a.new.resolve()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    failures: dict[str, list[str]] = {"old": [], "new": []}
    for i in range(a.rounds):
        print(f"round {i + 1}/{a.rounds}", file=sys.stderr)
        for side, tree in (("old", old_tree), ("new", new_tree)):
            got = run_once(tree, a.bench, args, a.pg_url, a.nice)
            if isinstance(got, str):
                failures[side].append(got)
            else:
                runs[side].append(got)
    out = {"bench": a.bench, "args": args, "rounds": a.rounds, "order": "old, new alternating",
           "old_tree": str(old_tree), "new_tree": str(new_tree),
           "completed": {k: len(v) for k, v in runs.items()}, "failures": failures,
           "figures": compare(runs["old"], runs["new"])}
    text = json.dumps(out, indent=2)
    if a.out:
        a.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
