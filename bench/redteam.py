"""The red-team grid replayed over HTTP against `headcount serve`; worst cell per metric, per half.

    python bench/redteam.py --quick                       # 4 small cells, a couple of minutes
    python bench/redteam.py --half both --out bench/results/redteam
    python bench/redteam.py --half held_back --store postgres   # 4 processes on a PostgreSQL of its own
    python bench/redteam.py --cells 'carts:*'

Each cell gets a fresh store and a fresh server (2 processes on SQLite; with
`--store postgres`, 4 processes against a database of its own on a PostgreSQL
this script starts on loopback via scripts/pg-server.sh), keys made with
`headcount keys create`, its pools made with POST /v1/pools. Time is compressed
as a load test does (seconds-long holds, a week in half a minute). The split into
`tune` and `held_back` is fixed in headcount.simulate.redteam.grid. Writes
cells.json (every cell's figures) and summary.md (the worst cell per metric for
each half, and every cell's bars marked pass/miss).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from headcount.simulate.redteam import build, grid, quick_grid
from headcount.simulate.redteam.metrics import BARS, cell_metrics, worst_cells
from headcount.simulate.redteam.replay import replay
from headcount.testing.servers import free_port, running_server

ROOT = Path(__file__).resolve().parent.parent


def make_key(store_url: str, role: str) -> str:
    """A new API key through the CLI (its last line)."""
    out = subprocess.run([sys.executable, "-m", "headcount.cli.main", "keys", "create", "--role", role,
                          "--store", store_url], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1].strip()


class Postgres:
    """A throwaway PostgreSQL on loopback; one database per cell."""

    def __init__(self) -> None:
        self.port = 55_000 + os.getpid() % 900
        self.dir = tempfile.mkdtemp(prefix="redteam-pg-")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        out = subprocess.run([str(ROOT / "scripts" / "pg-server.sh"), "start", str(self.port), self.dir],
                             check=True, capture_output=True, text=True)
        self.url = out.stdout.strip().splitlines()[-1]
        self.n = 0

    def database(self) -> str:
        import psycopg

        self.n += 1
        name = f"redteam_{self.n}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "pg-server.sh"), "stop", str(self.port), self.dir],
                       capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


#: a loaded machine can take a while to start the server's processes; a start that fails
#: (a port taken meanwhile, a slow start) is tried once more before the cell is an error
START_TIMEOUT_S = 180.0


def start_server(stack: ExitStack, store_url: str, workers: int) -> Any:
    for attempt in (1, 2):
        try:
            return stack.enter_context(running_server(store_url, workers=workers, port=free_port(),
                                                      timeout=START_TIMEOUT_S))
        except (TimeoutError, RuntimeError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def run_cell(cell: Any, store_url: str, workers: int, verify_share: float) -> dict[str, Any]:
    world = build(cell)
    staff, client = make_key(store_url, "staff"), make_key(store_url, "client")
    with ExitStack() as stack:
        server = start_server(stack, store_url, workers)
        result = replay(server.url, client, staff, world, verify_share=verify_share)
    return cell_metrics(world, result)


def fmt(metric: str, value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1%}" if metric != "victims_lost" else f"{value:g}"
    return str(value)


def summary(rows: list[dict[str, Any]], store: str, took: float) -> str:
    lines = [f"# red-team grid ({store}), {len(rows)} cells, {took / 60:.1f} min\n"]
    for half in ("tune", "held_back"):
        mine = [r for r in rows if r["half"] == half]
        if not mine:
            continue
        lines += [f"\n## {half}: worst cell per metric ({len(mine)} cells)\n",
                  "| metric | bar | worst | pass | cells missing the bar | worst cell |", "|---|---|---|---|---|---|"]
        for metric, w in worst_cells(mine).items():
            bar = BARS.get(metric)
            bar_s = "" if bar is None else f"{'≥' if bar[0] == 'min' else '≤'} {fmt(metric, bar[1])}"
            ok = "" if w["pass"] is None else ("pass" if w["pass"] else "**miss**")
            lines.append(f"| {metric} | {bar_s} | {fmt(metric, w['value'])} | {ok} | {w['misses']}/{w['cells']} "
                         f"| `{w['cell']}` |")
    lines += ["\n## every cell\n", ("| half | cell | real served | fakes w/ tell | indist. (as real) | cart avg/peak "
                                    "| flash refused | estimate err | victims lost | bars missed | top refusal |"),
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["metrics"]
        missed = [k for k, b in m.get("bars", {}).items() if not b["pass"]]
        cart = (f"{m['cart_time_avg_share']:.1%}/{m['cart_peak_share']:.1%}" if "cart_time_avg_share" in m else "")
        indist = (f"{m['indistinguishable_share']:.1%} ({m['indistinguishable_share_as_real']:.1%})"
                  if "indistinguishable_share" in m else "")
        top = next(iter(m.get("real_refused_by_reason", {}).items()), ("", ""))
        lines.append(
            f"| {r['half']} | `{r['cell']}` | {fmt('', m.get('real_served', ''))} | "
            f"{fmt('', m.get('fake_tell_share', ''))} | {indist} | {cart} | {fmt('', m.get('flash_refused', ''))} | "
            f"{fmt('', m.get('estimate_rel_error', ''))} | "
            f"{'' if 'victims' not in m else str(m['victims_lost']) + '/' + str(m['victims'])} | "
            f"{', '.join(missed) or '-'} | {top[0]} {top[1]} |")
    verification = sorted({r["metrics"].get("verification", "") for r in rows})
    lines.append(f"\nverification: {'; '.join(verification)}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half", choices=["tune", "held_back", "both"], default="both")
    ap.add_argument("--quick", action="store_true", help="a few small cells (tune seeds), a couple of minutes")
    ap.add_argument("--cells", metavar="PATTERN", help="only cells whose name matches (shell pattern or substring)")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--workers", type=int, help="server processes (default 2 on SQLite, 4 on PostgreSQL)")
    ap.add_argument("--verify-share", type=float, default=0.3,
                    help="share of real people who verify their e-mail/number first, if the server can")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "redteam")
    args = ap.parse_args()
    if not 0 <= args.verify_share <= 1:
        ap.error("--verify-share must be within 0..1")
    cells = quick_grid() if args.quick else grid(args.half, args.cells)
    if args.quick and args.cells:
        cells = [(h, c) for h, c in cells if args.cells in c.name]
    if not cells:
        ap.error(f"no cell matches {args.cells!r}")
    workers = args.workers or (4 if args.store == "postgres" else 2)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    began = time.time()
    with ExitStack() as stack:
        pg = None
        if args.store == "postgres":
            pg = Postgres()
            stack.callback(pg.stop)
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn()) as progress:
            task = progress.add_task("red team", total=len(cells))
            for half, cell in cells:
                progress.update(task, description=f"{half} {cell.name[:70]}")
                store_url = pg.database() if pg else f"sqlite:///{tempfile.mkdtemp(prefix='redteam-')}/cell.db"
                try:
                    m = run_cell(cell, store_url, workers, args.verify_share)
                except Exception as exc:
                    m = {"error": f"{type(exc).__name__}: {exc}"[:500], "bars": {}}
                rows.append({"half": half, "cell": cell.name, "scenario": cell.scenario, "metrics": m})
                (args.out / "cells.json").write_text(json.dumps(rows, indent=2, default=str))
                progress.advance(task)
    took = time.time() - began
    text = summary(rows, f"{args.store}, {workers} processes", took)
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
