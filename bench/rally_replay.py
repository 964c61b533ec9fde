"""The rally flood replayed through the HTTP API against a 19,200-seat pool.

    python bench/rally_replay.py                  # 6,200 real, 5,000 fakes per tactic (40,000)
    python bench/rally_replay.py --fakes-per-tactic 1000 --own-identity 0

Every registrant asks for one ticket, in arrival order, through `headcount serve`
(SQLite, 2 processes) with the default policy; 32 requests in flight; the client
sends e-mail, phone, IP, user agent and device id, and confirms each hold it gets
at once (the link in the confirmation e-mail; fakes can click it too), so short
holds do not lapse and hand an identity a second chance. Prints the share of real people
who got a ticket and the share of capacity the fakes of the issue's tactics hold,
by tactic (issue targets: at least 99% and at most 5%), and the same run against a
server without risk signals (identities only) as the baseline.

`own_identity` registrants (people who reserve with their own identity in every
field and never come; see headcount.simulate.rally) are counted apart: no
registration-time signal can tell them from supporters, and what they hold is
printed as its own column.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import httpx

from headcount.services.keys import create_key
from headcount.simulate.rally import OWN_IDENTITY, TACTICS, Registrant, rally_population
from headcount.store import open_store
from headcount.testing.servers import running_server

ROOT = Path(__file__).resolve().parent.parent
CAPACITY = 19_200


async def replay(url: str, key: str, population: list[Registrant]) -> Counter[tuple[str, int]]:
    outcomes: Counter[tuple[str, object]] = Counter()
    queue: asyncio.Queue[Registrant] = asyncio.Queue()
    for r in population:
        queue.put_nowait(r)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            r = queue.get_nowait()
            actor = {k: v for k, v in (("email", r.email), ("phone", r.phone), ("ip", r.ip),
                                       ("user_agent", r.user_agent), ("device", r.device)) if v}
            async with session.post(f"{url}/v1/pools/tulsa/holds", json={"quantity": 1, "actor": actor}) as resp:
                body = await resp.json()
                outcomes[(r.tactic, resp.status)] += 1
            if resp.status == 201:  # a free registration is confirmed at once (the link in the e-mail)
                async with session.post(f"{url}/v1/holds/{body['hold_id']}/confirm") as confirmed:
                    await confirmed.read()
                    if confirmed.status != 200:
                        outcomes[(r.tactic, f"confirm {confirmed.status}")] += 1

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        await asyncio.gather(*(worker(session) for _ in range(32)))
    return outcomes


def summary(guard: str, outcomes: Counter[tuple[str, object]], seconds: float) -> dict[str, object]:
    """The issue's two figures, the own-identity no-shows apart, and the tickets by tactic."""
    real = sum(n for (t, _), n in outcomes.items() if t == "real")
    fake_tickets = {t: outcomes[(t, 201)] for t in TACTICS}
    return {"guard": guard, "requests": sum(outcomes.values()), "seconds": seconds,
            "real_with_ticket": outcomes[("real", 201)] / real if real else 0.0,
            "fake_share_of_capacity": sum(fake_tickets.values()) / CAPACITY,
            "own_identity_share_of_capacity": outcomes[(OWN_IDENTITY, 201)] / CAPACITY,
            "fake_tickets_by_tactic": fake_tickets,
            "answers": {f"{t}:{s}": n for (t, s), n in sorted(outcomes.items(), key=str)}}


def run(population: list[Registrant], guard: str) -> dict[str, object]:
    url = f"sqlite:///{tempfile.mkdtemp()}/rally.db"
    store = open_store(url)
    client, staff = create_key(store, "client"), create_key(store, "staff")
    store.close()
    with running_server(url, workers=2, extra_env={"HEADCOUNT_GUARD": guard}) as server:
        httpx.post(f"{server.url}/v1/pools", headers={"Authorization": f"Bearer {staff}"},
                   json={"id": "tulsa", "name": "Tulsa", "kind": "event", "capacity": CAPACITY,
                         "per_actor_limit": 2, "hold_ttl_s": 7 * 86400}).raise_for_status()
        began = time.perf_counter()
        outcomes = asyncio.run(replay(server.url, client, population))
        seconds = time.perf_counter() - began
    return summary(guard, outcomes, seconds)


def run_in_process(population: list[Registrant]) -> dict[str, object]:
    """The same flood with the ledger's clock at each registrant's arrival time.

    The HTTP replay squeezes a week into the seconds it takes, so per-hour and
    per-day velocity see everyone at once; here they see the week as it was.
    """
    from headcount.guard import SignalsGuard
    from headcount.privacy.keyring import load_keyring
    from headcount.services.holds import Ledger
    from headcount.types import ActorInfo, PoolSpec

    store = open_store(f"sqlite:///{tempfile.mkdtemp()}/rally-inproc.db")
    clock = {"now": population[0].ts}
    ledger = Ledger(store, SignalsGuard(load_keyring(), store), clock=lambda: clock["now"])
    ledger.create_pool(PoolSpec("tulsa", "Tulsa", "event", CAPACITY, 2, 7 * 86400))
    outcomes: Counter[tuple[str, object]] = Counter()
    began = time.perf_counter()
    for r in population:
        clock["now"] = r.ts
        outcome = ledger.hold("tulsa", 1, ActorInfo(email=r.email, phone=r.phone, ip=r.ip, user_agent=r.user_agent,
                                                    device=r.device))
        outcomes[(r.tactic, 201 if outcome.ok else str(outcome.result.value))] += 1
        if outcome.ok:  # a free registration is confirmed at once (the link in the e-mail)
            ledger.confirm(str(outcome.body["hold_id"]))
    seconds = time.perf_counter() - began
    store.close()
    return summary("signals, in-process, arrival clock", outcomes, seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=int, default=6_200)
    ap.add_argument("--fakes-per-tactic", type=int, default=5_000)
    ap.add_argument("--own-identity", type=int, default=1_000, help="no-shows with their own identity, counted apart")
    ap.add_argument("--in-process-only", action="store_true", help="skip the HTTP runs (a quick look)")
    args = ap.parse_args()
    population = rally_population(args.real, args.fakes_per_tactic, own_identity=args.own_identity)
    results = [run_in_process(population)]
    if not args.in_process_only:
        results = [run(population, "signals"), run(population, "identity"), *results]
    print(f"\n### rally replay: {args.real:,} real, {args.fakes_per_tactic * len(TACTICS):,} fakes, "
          f"{args.own_identity:,} own-identity no-shows, capacity {CAPACITY:,}\n")
    print("| server | real people with a ticket | capacity held by fakes | held by own-identity no-shows "
          "| requests/s |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['guard']} | {r['real_with_ticket']:.1%} | {r['fake_share_of_capacity']:.1%} | "
              f"{r['own_identity_share_of_capacity']:.1%} | {r['requests'] / r['seconds']:,.0f} |")  # type: ignore[operator]
    for r in results:
        print(f"\nfake tickets by tactic ({r['guard']}):", json.dumps(r["fake_tickets_by_tactic"]))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "rally_replay.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
