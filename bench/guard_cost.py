"""What the guard costs a hold, in process: holds/s against the raw store in the same run.

    python bench/guard_cost.py                 # 3 rounds of 3,000 distinct actors, about a minute
    python bench/guard_cost.py --actors 10000 --rounds 5

Every round makes a fresh SQLite store and a fresh pool and places one hold for each of
`--actors` distinct people (the actors of bench/signals.py: mixed providers, numbers,
networks and browsers; a flood's share of them is risky, so many are refused, as in a
flood), three ways:

- raw store: `store.place_hold` with a ready request (no guard, no identity keys): the baseline;
- identities: `headcount.open(..., guard=IdentityGuard)`: keyed pseudonyms and person linking;
- signals guard: `headcount.open(...)` as the service wires it: signals, the identity graph
  (one store write that reads the graph, counts velocity and judges in it), flood mode.

Medians over the rounds; each figure also as a ratio to the raw store of the same round.
The same script runs on the tree before the foundations work, for the side by side:

    git worktree add /tmp/old967 967f68d
    cd /tmp/old967 && HEADCOUNT_DATA_DIR=$(mktemp -d) PYTHONPATH=$PWD/src python /work/main/bench/guard_cost.py --out /tmp/old.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from headcount.store import open_store  # noqa: E402

try:
    from headcount.types import HoldRequest, PoolSpec
except ImportError:  # the tree before the foundations work (967f68d), for the side-by-side figure
    from headcount.ledger.models import HoldRequest, PoolSpec  # type: ignore[no-redef]

POOL = PoolSpec("p", "bench", "event", capacity=10**9, per_actor_limit=2, hold_ttl_s=600)


def actors(n: int, seed: int) -> list[Any]:
    """bench/signals.py's actors (mixed providers, numbers, networks, browsers), from the tree whose
    headcount runs (both trees' generators are the same function)."""
    import headcount

    sys.path.insert(0, str(Path(headcount.__file__).resolve().parents[2] / "bench"))
    from signals import actors as made

    return made(n, seed)  # type: ignore[no-any-return]


def open_guarded(url: str, guard: str) -> Any:
    """The service's wiring over `url` with its guard of that name (the old tree: its own wiring)."""
    try:
        import headcount
        from headcount.settings import load_settings
    except ImportError:
        from headcount.ledger.service import IdentityGuard, Ledger  # type: ignore[import-not-found]

        from headcount.guard import SignalsGuard
        from headcount.privacy.keyring import load_keyring  # type: ignore[attr-defined]

        store = open_store(url)
        ring = load_keyring()
        ledger = Ledger(store, SignalsGuard(ring, store) if guard == "signals" else IdentityGuard(ring, store))
        ledger.close = store.close
        return ledger
    return headcount.open(url, settings=load_settings(guard=guard))


def raw_store(n: int, folder: Path) -> float:
    store = open_store(f"sqlite:///{folder / 'raw.db'}")
    try:
        store.create_pool(POOL, time.time())
        requests = [HoldRequest("p", 1, f"a{i}") for i in range(n)]
        began = time.perf_counter()
        for request in requests:
            store.place_hold(request, time.time())
        return n / (time.perf_counter() - began)
    finally:
        store.close()


def through_headcount(n: int, folder: Path, seed: int, guard: str) -> float:
    """Holds through the composition root, with the service's guard of that name."""
    hc = open_guarded(f"sqlite:///{folder / (guard + '.db')}", guard)
    try:
        hc.create_pool(POOL)
        batch = actors(n, seed)
        began = time.perf_counter()
        for actor in batch:
            hc.hold("p", 1, actor)
        return n / (time.perf_counter() - began)
    finally:
        hc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "guard_cost.json"))
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"raw store": [], "identities": [], "signals guard": []}
    ratios: dict[str, list[float]] = {"identities": [], "signals guard": []}
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            raw = raw_store(args.actors, folder)
            ident = through_headcount(args.actors, folder, r, "identity")
            full = through_headcount(args.actors, folder, r, "signals")
        for name, value in (("raw store", raw), ("identities", ident), ("signals guard", full)):
            rows[name].append(value)
        ratios["identities"].append(ident / raw)
        ratios["signals guard"].append(full / raw)
        print(f"round {r + 1}/{args.rounds}: raw {raw:,.0f}/s, identities {ident:,.0f}/s, signals {full:,.0f}/s",
              flush=True)
    out: dict[str, Any] = {"actors": args.actors, "rounds": args.rounds, "rows": [
        {"what": name, "holds_per_s": statistics.median(values), "us_per_hold": 1e6 / statistics.median(values),
         "ratio_to_raw": statistics.median(ratios[name]) if name in ratios else 1.0}
        for name, values in rows.items()]}
    print(f"\n| what | holds/s (median of {args.rounds}) | µs a hold | / raw store |\n|---|---|---|---|")
    for row in out["rows"]:
        print(f"| {row['what']} | {row['holds_per_s']:,.0f} | {row['us_per_hold']:,.0f} | {row['ratio_to_raw']:.3f} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
