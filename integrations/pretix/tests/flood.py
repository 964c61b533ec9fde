"""A cart-hoarding flood through pretix's presale views (Django test client), with real
visitors arriving among it; used by tests/test_flood.py and printed as a table.

The flood, all against one small quota (every address below is only a string in a header;
no packet leaves the process):
- scripted: python-requests/curl user agents from 3 datacenter /24 networks;
- sticky hoarders: 10 browsers that keep their cookies and add again and again;
- rotating hoarders: a browser user agent, a fresh cookie jar per request, addresses from
  20 /24 networks (a small proxy pool);
- checkout fakes: like rotating hoarders, then checking out with a throwaway address (half)
  or an alias of one of 3 mailboxes (half), to lock seats with free orders.
Time is compressed: the shops reserve for 1 minute, so a run of a few minutes spans several
reservation lifetimes, as a sale of some hours spans several 15-minute reservations. Bots
keep adding all along (a hoarder re-adds when its carts run out).
Real visitors: each their own network, browser and personal address; one ticket each,
checked out at once. A fifth of the flood comes first (a viral burst), then real visitors arrive
among it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from django.test import Client
from django_scopes import scopes_disabled

BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
SCRIPT_UAS = ["python-requests/2.32.3", "curl/8.5.0", "Python-urllib/3.11"]
THROWAWAY = ["mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com", "trashmail.com"]
MAILBOXES = ["crowd.filler", "seat.taker", "free.tix.fan"]
FIRST = ["anna", "ben", "clara", "david", "emma", "felix", "greta", "hannes", "ines", "jonas", "kim", "lena",
         "max", "nora", "oskar", "paula", "quentin", "rosa", "sven", "tina"]
LAST = ["mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz", "hoffmann"]
PROVIDERS = ["gmail.com", "web.de", "gmx.de", "outlook.com", "posteo.de", "yahoo.com", "t-online.de"]


@dataclass
class Result:
    label: str
    flood_requests: int = 0
    flood_adds_ok: int = 0
    flood_orders: int = 0
    real: int = 0
    real_served: int = 0
    flood_seats_end: int = 0
    flood_seats_peak: int = 0
    samples: list = field(default_factory=list)
    quota: int = 0
    seconds: float = 0.0
    refusals: dict = field(default_factory=dict)

    @property
    def flood_share_end(self) -> float:
        return self.flood_seats_end / self.quota

    @property
    def flood_share_peak(self) -> float:
        return self.flood_seats_peak / self.quota

    @property
    def flood_share_avg(self) -> float:
        """The flood's seats averaged over the run (sampled every 25 requests), as a share."""
        return sum(self.samples) / len(self.samples) / self.quota if self.samples else 0.0

    def row(self) -> str:
        return (f"| {self.label} | {self.flood_requests} | {self.flood_adds_ok} | {self.flood_orders} | "
                f"{self.flood_share_avg:.0%} | {self.flood_share_peak:.0%} | {self.flood_share_end:.0%} | "
                f"{self.real_served}/{self.real} ({self.real_served / self.real:.0%}) | {self.seconds:.0f} s |")


HEADER = ("| pretix | flood add requests | flood adds that went in | flood orders | flood's share of the quota: "
          "average | peak | end | real visitors served | time |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")


def _ok(response) -> bool:
    return any("/order/" in url for url, _ in response.redirect_chain)


def run(shop, *, label: str, flood: int = 1000, real: int = 60, seed: int = 7) -> Result:
    from pretix.base.models import CartPosition, OrderPosition

    rng = random.Random(seed)
    base, item = shop.base, shop.item.pk
    res = Result(label, quota=shop.quota.size, real=real)
    sticky = [Client(REMOTE_ADDR=f"92.60.{i + 1}.{rng.randint(2, 250)}", HTTP_USER_AGENT=BROWSER_UA)
              for i in range(10)]
    flood_carts: set[str] = set()
    flood_emails: set[str] = set()
    tactics = ["scripted", "sticky", "rotating", "checkout"]
    # arrival order: a fifth of the flood first, then real visitors spread evenly among the rest
    head = flood // 5
    arrivals = ["flood"] * head
    rest = ["flood"] * (flood - head) + ["real"] * real
    rng.shuffle(rest)
    arrivals += rest
    t0 = time.perf_counter()

    def flood_seats() -> int:
        with scopes_disabled():
            carts = CartPosition.objects.filter(event=shop.event, cart_id__in=flood_carts,
                                                expires__gt=_now()).count()
            ordered = OrderPosition.objects.filter(order__event=shop.event, order__email__in=flood_emails,
                                                   order__status__in=("n", "p")).count()
        return carts + ordered

    for n, who in enumerate(arrivals):
        if who == "real":
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first}.{last}{rng.randint(1, 999)}@{rng.choice(PROVIDERS)}"
            c = Client(REMOTE_ADDR=f"81.{rng.randint(1, 250)}.{rng.randint(1, 250)}.{rng.randint(2, 250)}",
                       HTTP_USER_AGENT=BROWSER_UA.replace("131.0", f"13{rng.randint(0, 1)}.0"))
            c.post(f"{base}/cart/add", {f"item_{item}": "1"}, follow=True)
            if _checkout(c, base, email):
                res.real_served += 1
            continue
        res.flood_requests += 1
        tactic = tactics[n % 4]
        if tactic == "scripted":
            c = Client(REMOTE_ADDR=f"45.{rng.randint(10, 12)}.7.{rng.randint(2, 250)}",
                       HTTP_USER_AGENT=rng.choice(SCRIPT_UAS))
        elif tactic == "sticky":
            c = sticky[n % len(sticky)]
        else:
            c = Client(REMOTE_ADDR=f"92.{rng.randint(100, 119)}.3.{rng.randint(2, 250)}", HTTP_USER_AGENT=BROWSER_UA)
        before = _positions(shop, _cart_id(c, shop))
        c.post(f"{base}/cart/add", {f"item_{item}": str(rng.choice((1, 2)))})  # no page render: a bot
        cart_id = _cart_id(c, shop)
        if cart_id:
            flood_carts.add(cart_id)
        went_in = cart_id is not None and _positions(shop, cart_id) > before
        if went_in:
            res.flood_adds_ok += 1
        if tactic == "checkout" and went_in:
            if rng.random() < 0.5:
                email = f"{rng.choice(FIRST)}{rng.randint(1, 99999)}@{rng.choice(THROWAWAY)}"
            else:
                box = rng.choice(MAILBOXES)
                email = f"{box}+{rng.randint(1, 99999)}@gmail.com"
            flood_emails.add(email)
            if _checkout(c, base, email):
                res.flood_orders += 1
        if n % 25 == 0:
            seats = flood_seats()
            res.samples.append(seats)
            res.flood_seats_peak = max(res.flood_seats_peak, seats)
    res.flood_seats_end = flood_seats()
    res.flood_seats_peak = max(res.flood_seats_peak, res.flood_seats_end)
    res.seconds = time.perf_counter() - t0
    return res


def _now():
    from django.utils.timezone import now

    return now()


def _cart_id(client: Client, shop) -> str | None:
    key = f"current_cart_event_{shop.event.pk}"
    try:
        return client.session.get(key)
    except Exception:
        return None


def _positions(shop, cart_id: str | None) -> int:
    from pretix.base.models import CartPosition

    if not cart_id:
        return 0
    with scopes_disabled():
        return CartPosition.objects.filter(event=shop.event, cart_id=cart_id, expires__gt=_now()).count()


def _checkout(c: Client, base: str, email: str) -> bool:
    r = c.get(f"{base}/checkout/start", follow=True)
    url = r.redirect_chain[-1][0] if r.redirect_chain else ""
    if "/questions/" in url:
        r = c.post(url, {"email": email, "email_repeat": email}, follow=True)
        url = r.redirect_chain[-1][0] if r.redirect_chain else url
    if "/confirm/" in url:
        r = c.post(url, {}, follow=True)
    return _ok(r)
