"""The lottery's bars: red-team floods as registrations over HTTP, the overbooking backtest, fairness.

    python bench/lottery.py redteam --half held_back              # 2 server processes on SQLite
    python bench/lottery.py redteam --half held_back --store postgres
    python bench/lottery.py overbook --events 200 --seeds 1 2 3   # simulated events, risk 5% and 10%
    python bench/lottery.py overbook --events 200 --half held_back  # the estimate's held-back generators
    python bench/lottery.py fairness --draws 1000

**redteam**: each rally cell of the grid (headcount.simulate.redteam) gets a fresh store
and `headcount serve --workers 2`; its earlier pools are replayed as holds with check-ins
(the estimate's history), then the main pool is made a lottery (capacity twice the real
seats: real demand is below capacity) closing after the compressed window. Every entrant
is sent as a registration at its arrival time, real people correcting a mistyped field
named by a 422 as they would; the service draws by itself at `closes_at`; every winner
confirms its hold. Measured: the share of real people who win, the seats fakes with a
tell won over capacity, and the win rate of the later half of real registrants against
the earlier half.

**overbook**: `headcount.estimate.simulate` events (5-30 earlier pools with check-ins,
a new pool of 300-200k registrations with 0-95% fakes, show-up rates 0.2-0.85); the new
pool is a lottery with a capacity well below its eligible demand; vetting as the
service does (deny band out, other bands at half weight); tickets from
`headcount.allocation.tickets`; attendance is the simulated truth of the winners.

**fairness**: 1,000 seeded draws with demand three times capacity and no fakes.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


# --- red team ---------------------------------------------------------------------------------------
async def _registrations(rep: Any, world: Any, closes_at: float, t0: float) -> dict[str, dict[str, Any]]:
    """Send every entrant as a registration at its time; returns uid -> outcome."""
    out: dict[str, dict[str, Any]] = {}

    async def one(e: Any) -> None:
        delay = t0 + e.at * world.seconds - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        actor, fixes, token = e.actor(), dict(e.corrected), None
        rec: dict[str, Any] = {"label": e.label, "tell": e.tell, "kind": e.kind, "at": e.at, "q": e.quantity}
        for _ in range(4):
            body: dict[str, Any] = {"quantity": e.quantity, "actor": actor}
            if token:
                body["challenge_token"] = token
            status, answer = await rep._call("POST", "/v1/pools/main/registrations", json=body, idem=True)
            rec["status"] = status
            if status in (200, 201):
                rec["registration_id"] = answer["registration_id"]
                break
            rec["reason"] = f"{status}:" + "+".join(sorted(str(r) for r in answer.get("reasons") or []))
            fixable = [f for f in fixes if status == 422 and f in str(answer.get("field", ""))]
            if e.label == "real" and fixable:
                actor = {**actor, fixable[0]: fixes.pop(fixable[0])}
            elif e.label == "real" and status == 429 and body["quantity"] > 1:
                e = dataclasses.replace(e, quantity=1)
            elif status == 428 and (token := await rep.pass_challenge(answer)):
                pass
            else:
                break
        out[e.uid] = rec

    await asyncio.gather(*(one(e) for e in world.entrants))
    return out


async def _run_cell(url: str, client: str, staff: str, world: Any) -> dict[str, Any]:
    import aiohttp

    from headcount.simulate.redteam.replay import Replayer

    rep = Replayer(url, client, staff, world)
    connector = aiohttp.TCPConnector(limit=128)
    async with aiohttp.ClientSession(connector=connector, timeout=rep.timeout) as session:
        rep.session = session
        await rep._history()
        pool = world.pools[0]
        t0 = time.time() + 0.5
        closes_at = t0 + world.seconds + 1.0
        status, body = await rep._call("POST", "/v1/pools", staff=True, idem=True, json={
            **pool.body(), "allocation": {"mode": "lottery", "closes_at": closes_at, "confirm_within_s": 600,
                                          "overbook_risk": 0.05}})
        if status != 201:
            raise RuntimeError(f"creating the lottery pool: {status} {body}")
        commitment = body["allocation"]["commitment"]
        regs = await _registrations(rep, world, closes_at, t0)
        # the service draws by itself at closes_at (one process of the two: the lottery leader lock)
        deadline = time.time() + 120
        while time.time() < deadline:
            status, view = await rep._call("GET", "/v1/pools/main/lottery", staff=True)
            if view.get("state") == "drawn":
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError("the pool was not drawn within 2 minutes of closes_at")
        drawn_after = time.time() - closes_at
        # every winner confirms (fakes can click a confirmation link too)
        states: dict[str, dict[str, Any]] = {}

        async def state(uid: str, rid: str) -> None:
            s, b = await rep._call("GET", f"/v1/registrations/{rid}")
            if s == 200 and b.get("status") == "won":
                c, _ = await rep._call("POST", f"/v1/holds/{b['hold_id']}/confirm", idem=True)
                if c == 200:
                    b["status"] = "confirmed"
            states[uid] = b

        await asyncio.gather(*(state(uid, r["registration_id"]) for uid, r in regs.items() if "registration_id" in r))
        s, summary = await rep._call("POST", "/v1/pools/main/allocate", staff=True)
        s2, again = await rep._call("POST", "/v1/pools/main/allocate", staff=True)
        s3, published = await rep._call("GET", "/v1/pools/main/draw")
    return {"regs": regs, "states": states, "summary": summary, "same_draw": again.get("drawn_at") == summary.get(
        "drawn_at") and again.get("seed") == summary.get("seed"), "commitment": commitment,
        "drawn_after_close_s": round(drawn_after, 2), "published": published, "errors": rep.out.errors[:5]}


def _cell_metrics(world: Any, run: dict[str, Any]) -> dict[str, Any]:
    regs, states = run["regs"], run["states"]
    capacity = world.capacity
    real = [e for e in world.entrants if e.label == "real"]
    won_status = ("won", "confirmed")
    # a real person wins if the registration they were answered with won (a lockout victim is
    # answered with the attacker's registration when the attacker linked their identifiers first)
    def wins(e: Any) -> bool:
        return states.get(e.uid, {}).get("status") in won_status

    real_won = [e for e in real if wins(e)]
    seen: set[str] = set()
    fake_tell_seats = fake_plain_seats = 0
    for e in world.entrants:
        if e.label != "fake":
            continue
        st = states.get(e.uid, {})
        rid = st.get("registration_id")
        if st.get("status") in won_status and rid not in seen:
            seen.add(rid)
            if e.tell:
                fake_tell_seats += int(st.get("quantity", 0))
            else:
                fake_plain_seats += int(st.get("quantity", 0))
    order = sorted(real, key=lambda e: e.at)
    half = len(order) // 2
    early, late = order[:half], order[half:]
    rate = lambda xs: sum(wins(e) for e in xs) / max(1, len(xs))  # noqa: E731
    refused_real: dict[str, int] = {}
    for e in real:
        if not wins(e):
            r = regs.get(e.uid, {})
            why = r.get("reason") or states.get(e.uid, {}).get("reason") or states.get(e.uid, {}).get("status", "?")
            refused_real[why] = refused_real.get(why, 0) + 1
    from headcount.allocation.draw import Draw, first_difference

    verified = first_difference(Draw.from_dict(run["published"])) is None and run["published"].get(
        "commitment") == run["commitment"]
    return {"capacity": capacity, "real": len(real), "fakes": sum(e.label == "fake" for e in world.entrants),
            "real_win": len(real_won) / max(1, len(real)), "fake_tell_share": fake_tell_seats / capacity,
            "fake_no_tell_share": fake_plain_seats / capacity, "early_win": rate(early), "late_win": rate(late),
            "tickets": run["summary"].get("tickets"), "won": run["summary"].get("won"),
            "refused_by_reason": run["summary"].get("refused_by_reason"), "real_not_won": refused_real,
            "one_draw": run["same_draw"], "verified": verified, "drawn_after_close_s": run["drawn_after_close_s"],
            "overbooking": (run["summary"].get("overbooking") or {}).get("reason"), "errors": run["errors"]}


def redteam(args: argparse.Namespace) -> None:
    from redteam import Postgres, make_key

    from headcount.simulate.redteam import build, grid
    from headcount.testing.servers import free_port, running_server

    cells = [(h, c) for h, c in grid(args.half, args.cells) if c.scenario == "rally"]
    if args.limit:
        cells = cells[:args.limit]
    pg = Postgres() if args.store == "postgres" else None
    rows = []
    try:
        for half, cell in cells:
            world = build(cell)
            store_url = pg.database() if pg else f"sqlite:///{tempfile.mkdtemp(prefix='lottery-')}/cell.db"
            staff, client = make_key(store_url, "staff"), make_key(store_url, "client")
            began = time.time()
            try:
                with running_server(store_url, workers=args.workers, port=free_port(), timeout=240) as server:
                    run = asyncio.run(_run_cell(server.url, client, staff, world))
                m = _cell_metrics(world, run)
            except Exception as exc:  # a broken cell is reported, the grid goes on
                m = {"error": f"{type(exc).__name__}: {exc}"[:400]}
            m["seconds"] = round(time.time() - began, 1)
            rows.append({"half": half, "cell": cell.name, "tell": bool(cell.strategy and cell.strategy.has_tell()),
                         **m})
            print(json.dumps(rows[-1], default=str), flush=True)
    finally:
        if pg:
            pg.stop()
    ok = [r for r in rows if "error" not in r]
    print("\n| cell | real win | fakes w/ tell seats | fakes w/o tell | early / late real win | tickets / cap | refused | verify | one draw |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| `{r['cell']}` | error: {r['error'][:80]} |")
            continue
        print(f"| `{r['cell']}` | {r['real_win']:.1%} | {r['fake_tell_share']:.2%} | {r['fake_no_tell_share']:.2%} | "
              f"{r['early_win']:.1%} / {r['late_win']:.1%} | {r['tickets']} / {r['capacity']} | "
              f"{r['refused_by_reason']} | {r['verified']} | {r['one_draw']} |")
    if ok:
        print(f"\nworst real win {min(r['real_win'] for r in ok):.2%} (bar >= 99%); worst fake-with-tell seat share "
              f"{max(r['fake_tell_share'] for r in ok):.2%} (bar <= 2%); largest |early - late| "
              f"{max(abs(r['early_win'] - r['late_win']) for r in ok):.2%}; cells {len(ok)}/{len(rows)}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2, default=str))


# --- overbooking backtest ------------------------------------------------------------------------------
def overbook(args: argparse.Namespace) -> None:
    from headcount.allocation import tickets
    from headcount.estimate import Bands, count_registrations
    from headcount.estimate.backtest import HELD_BACK, TODAY_HALVES, TUNE, Half
    from headcount.estimate.simulate import TODAY, simulate_events
    from headcount.policy import Policy

    policy = Policy.load(None)
    bands = Bands.from_policy(policy)
    first_below = policy.bands[0].below or 1.0
    deny_from = next(b for b in reversed(policy.bands[:-1]) if b.below is not None).below  # the deny band's floor
    halves: tuple[Half, ...] = {"seeds": (Half("today", TODAY, tuple(args.seeds)),), "tune": TUNE,
                                "held_back": HELD_BACK, "today": TODAY_HALVES}[args.half]
    runs = [(h.name, h.settings, seed) for h in halves for seed in h.seeds]
    for name, settings, seed in runs:
        events = simulate_events(args.events, seed, settings=settings, max_size=args.max_size)
        rng = np.random.default_rng(10_000 + seed)
        per_risk: dict[float, dict[str, list[float]]] = {r: {"over": [], "empty": [], "empty_exact": [], "over_exact": [],
                                                             "ratio": [], "binding": []} for r in args.risks}
        for ev in events:
            hist = [count_registrations(bands, p.scores, p.quantities, p.came) for p in ev.history]
            cur = ev.current
            eligible = cur.scores < deny_from
            w = np.where(cur.scores < first_below, 1.0, 0.5)
            keys = np.log(rng.random(cur.scores.size)) / w
            keys[~eligible] = -np.inf
            order = np.argsort(-keys, kind="stable")[: int(eligible.sum())]
            q, came, sc = cur.quantities[order], cur.came[order], cur.scores[order]
            demand = int(q.sum())
            capacity = max(20, int(demand * float(rng.uniform(0.1, 0.5))))
            cum = np.cumsum(q)

            def attendance(seats: int, cum: np.ndarray = cum, came: np.ndarray = came) -> int:
                k = int(np.searchsorted(cum, seats, side="right"))
                return int(came[:k].sum())

            exact = attendance(capacity)
            whole = count_registrations(bands, cur.scores, cur.quantities)
            for risk in args.risks:
                ob = tickets(capacity, q, sc, hist, bands=bands, risk=risk, pool=whole)
                att = attendance(ob.tickets)
                d = per_risk[risk]
                d["over"].append(float(att > capacity))
                d["empty"].append(max(0, capacity - att))
                d["empty_exact"].append(max(0, capacity - exact))
                d["over_exact"].append(float(exact > capacity))
                d["ratio"].append(ob.tickets / capacity)
                d["binding"].append(float(ob.tickets < demand))
        for risk, d in per_risk.items():
            over, binding = np.array(d["over"]), np.array(d["binding"], bool)
            n = over.size
            se = math.sqrt(risk * (1 - risk) / n)
            print(f"{name} seed {seed} risk {risk:.0%}: events {n}, over capacity {over.mean():.3f} "
                  f"(binomial sd at this n {se:.3f}; bar {risk - 0.02:.2f}-{risk + 0.02:.2f}: "
                  f"{'pass' if abs(over.mean() - risk) <= 0.02 else 'MISS'}), binding {binding.mean():.2f} "
                  f"(over among binding {over[binding].mean() if binding.any() else float('nan'):.3f}); "
                  f"mean empty seats {np.mean(d['empty']):.1f} vs {np.mean(d['empty_exact']):.1f} issuing exactly "
                  f"capacity; mean tickets/capacity {np.mean(d['ratio']):.2f}", flush=True)


# --- fairness ------------------------------------------------------------------------------------------
def fairness(args: argparse.Namespace) -> None:
    from scipy import stats

    from headcount.allocation import Entry, run_draw

    n = args.people
    capacity = n // 3
    rng = random.Random(7)
    es = [Entry(f"r_{k:06d}", 1, 1.0) for k in range(n)]  # ids in arrival order
    wins = np.zeros(n)
    for _ in range(args.draws):
        d = run_draw("fair", f"{rng.getrandbits(256):064x}", es, capacity)
        for rid in d.winners:
            wins[int(rid[2:])] += 1
    p = capacity / n
    lo95, hi95 = stats.binom.ppf([0.025, 0.975], args.draws, p)
    lo, hi = stats.binom.ppf([0.00005, 0.99995], args.draws, p)
    inside95 = float(((wins >= lo95) & (wins <= hi95)).mean())
    chi2 = float((((wins - args.draws * p) ** 2) / (args.draws * p * (1 - p))).sum())
    third = n // 3
    print(f"{n} people, capacity {capacity}, {args.draws} draws: win frequency {wins.min() / args.draws:.3f}-"
          f"{wins.max() / args.draws:.3f} (p = {p:.3f}); inside the 95% binomial interval: {inside95:.1%} "
          f"(expected ~95%); all inside 99.99%: {bool(((wins >= lo) & (wins <= hi)).all())}; chi-square p "
          f"{stats.chi2.sf(chi2, n - 1):.3f}; earliest third {wins[:third].mean() / args.draws:.4f} vs latest third "
          f"{wins[-third:].mean() / args.draws:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("redteam")
    r.add_argument("--half", choices=["tune", "held_back", "both"], default="held_back")
    r.add_argument("--cells", metavar="PATTERN")
    r.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--out")
    o = sub.add_parser("overbook")
    o.add_argument("--events", type=int, default=200)
    o.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds of today's generator")
    o.add_argument("--half", choices=["seeds", "tune", "held_back", "today"], default="seeds",
                   help="the estimate's fixed split (headcount.estimate.backtest) instead of --seeds")
    o.add_argument("--risks", type=float, nargs="+", default=[0.05, 0.10])
    o.add_argument("--max-size", type=int, default=200_000)
    f = sub.add_parser("fairness")
    f.add_argument("--draws", type=int, default=1000)
    f.add_argument("--people", type=int, default=300)
    args = ap.parse_args()
    {"redteam": redteam, "overbook": overbook, "fairness": fairness}[args.what](args)


if __name__ == "__main__":
    main()
