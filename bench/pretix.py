"""pretix's cart add with and without the headcount plugin, side by side in one run, one database.

Run it in the pretix virtualenv that scripts/test-pretix.sh makes (pretix from PyPI, headcount
and the plugin installed there; $PRETIX_VENV, default integrations/pretix/.venv):

    $PRETIX_VENV/bin/python bench/pretix.py [--adds 400] [--workers 1]

One pretix database (pretix's test settings: SQLite, celery eager, schema made without
migrations, as pretix's own tests do), two events on it that differ only in the plugin
being enabled and configured; a real `headcount serve` (SQLite store) on loopback. Each
add is a new visitor (own cookie jar, own /24 network, a browser user agent) POSTing one
ticket to /ORG/EVENT/cart/add through pretix's whole middleware and view stack. Adds go
to the two events alternately, so both see the same machine at the same moments. Prints
p50/p90 per side and the difference at p50; the bar is +5 ms at p50. pretix's test settings
run the add inside the request, so the plugin's hold runs concurrently with it (see the
plugin's README); "headcount's hold alone" is the plugin's client making one hold from here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

# this file is called pretix.py: keep its folder off the import path, or it would shadow pretix
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--adds", type=int, default=400, help="timed adds per side (default 400)")
    ap.add_argument("--warmup", type=int, default=30, help="untimed adds per side first")
    ap.add_argument("--workers", type=int, default=1, help="headcount serve processes")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pretix.testutils.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils.timezone import now
    from django_scopes import scopes_disabled

    from headcount.testing.servers import running_server

    setup_test_environment()
    settings.DEBUG = False  # no query log on either side
    settings.ALLOW_HTTP_TO_PRIVATE_NETWORKS = True  # headcount on loopback
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)

    from pretix.base.models import CartPosition, Event, Item, Organizer, Quota

    with TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/hc.db"
        key = subprocess.run([sys.executable, "-m", "headcount.cli.main", "keys", "create", "--role", "staff",
                              "--store", store], check=True, capture_output=True, text=True).stdout.split()[-1]
        with running_server(store, workers=args.workers,
                            extra_env={"HEADCOUNT_DETECT_INTERVAL_S": "0"}) as server, scopes_disabled():
            org = Organizer.objects.create(name="Bench", slug="bench")
            shops = {}
            for label, plugin in (("without", False), ("with", True)):
                ev = Event.objects.create(organizer=org, name=f"Bench {label}", slug=f"bench-{label}",
                                          currency="EUR", date_from=now() + timedelta(days=10), live=True,
                                          plugins="pretix_headcount" if plugin else "")
                item = Item.objects.create(event=ev, name="Ticket", default_price=Decimal("0.00"), admission=True)
                quota = Quota.objects.create(event=ev, name="Seats", size=1_000_000)
                quota.items.add(item)
                if plugin:
                    ev.settings.set("headcount_url", server.url)
                    ev.settings.set("headcount_api_key", key)
                    ev.settings.set("headcount_per_person", 4)
                shops[label] = (ev, item)

            times: dict[str, list[float]] = {"without": [], "with": []}
            n = 0

            def add(label: str) -> float:
                nonlocal n
                n += 1
                ev, item = shops[label]
                c = Client(REMOTE_ADDR=f"81.{n // 250 % 250 + 1}.{n % 250 + 1}.9",
                           HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
                t = time.perf_counter()
                r = c.post(f"/bench/{ev.slug}/cart/add", {f"item_{item.pk}": "1"})
                dt = time.perf_counter() - t
                assert r.status_code == 302, r.status_code
                return dt

            from pretix_headcount.client import Client as HeadcountClient

            hc = HeadcountClient(server.url, key)
            pool_id = "bench-rtt"
            hc.create_pool(pool_id, "round trips", 1_000_000, 4, 1800)
            rtt: list[float] = []

            def round_trip() -> None:
                """headcount's hold alone, from this process, as the plugin sends it."""
                t = time.perf_counter()
                a = hc.hold(pool_id, 1, {"device": f"rtt-device-{n}-{len(rtt)}", "ip": f"82.{n // 250 % 250 + 1}.{n % 250 + 1}.9",
                                         "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
                rtt.append(time.perf_counter() - t)
                assert a.status == 201, a.status

            for i in range(args.warmup):
                for label in ("without", "with") if i % 2 else ("with", "without"):
                    add(label)
            for i in range(args.adds):
                for label in ("without", "with") if i % 2 else ("with", "without"):
                    times[label].append(add(label))
                round_trip()

            added = {label: CartPosition.objects.filter(event=ev).count() for label, (ev, _) in shops.items()}
            from pretix_headcount.models import HeadcountHold
            holds = HeadcountHold.objects.filter(event=shops["with"][0], status="held").count()

    out = {label: {"p50_ms": percentile(ts, 0.5) * 1e3, "p90_ms": percentile(ts, 0.9) * 1e3,
                   "mean_ms": statistics.fmean(ts) * 1e3, "adds": len(ts)} for label, ts in times.items()}
    out["headcount_hold_round_trip"] = {"p50_ms": percentile(rtt, 0.5) * 1e3, "p90_ms": percentile(rtt, 0.9) * 1e3,
                                        "holds": len(rtt)}
    out["added_positions"] = added
    out["headcount_holds"] = holds
    out["p50_added_ms"] = out["with"]["p50_ms"] - out["without"]["p50_ms"]
    out["bar_ms"] = 5.0
    out["bar_met"] = out["p50_added_ms"] <= 5.0
    print("| pretix cart add (one ticket, new visitor) | p50 ms | p90 ms | mean ms | adds |")
    print("|---|---:|---:|---:|---:|")
    for label in ("without", "with"):
        o = out[label]
        print(f"| {label} the plugin | {o['p50_ms']:.1f} | {o['p90_ms']:.1f} | {o['mean_ms']:.1f} | {o['adds']} |")
    r = out["headcount_hold_round_trip"]
    print(f"| headcount's hold alone (the plugin's HTTP round trip) | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | | {r['holds']} |")
    print(f"plugin adds {out['p50_added_ms']:+.1f} ms at p50 (bar: +5 ms): "
          f"{'met' if out['bar_met'] else 'MISSED'}; positions {added}, headcount holds {holds}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
