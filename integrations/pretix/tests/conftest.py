"""A real `headcount serve` (SQLite store, its own API key) and real pretix events.

pretix runs with its own test settings (`pretix.testutils.settings`: SQLite, celery eager);
the plugin talks to headcount over HTTP exactly as in production.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix_headcount import client as hc_client
from pretix_headcount import core

from headcount.testing.servers import running_server

_n = itertools.count(1)
_ip = itertools.count(1)


def make_key(store_url: str, role: str = "staff") -> str:
    out = subprocess.run([sys.executable, "-m", "headcount.cli.main", "keys", "create", "--role", role,
                          "--store", store_url], check=True, capture_output=True, text=True)
    return out.stdout.split()[-1]


@pytest.fixture(scope="session")
def headcount_service(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('headcount')}/hc.db"
    key = make_key(store)
    with running_server(store, extra_env={"HEADCOUNT_DETECT_INTERVAL_S": "0"}) as server:
        yield server.url, key


@pytest.fixture(autouse=True)
def _fresh_plugin_state(settings):
    # headcount runs on loopback here; pretix blocks private networks unless its config says
    # `[pretix] allow_http_to_private_networks=on` (see the README)
    settings.ALLOW_HTTP_TO_PRIVATE_NETWORKS = True
    hc_client.forget_failures()
    core.forget_pools()
    core._last_logged.clear()
    yield


def public_ip() -> str:
    """A fresh public-looking IPv4 address per visitor, one /24 each (no packet is sent to it)."""
    n = next(_ip)
    return f"81.{(n // 250) % 250 + 1}.{n % 250 + 1}.{(n * 7) % 250 + 1}"


class Shop:
    """One pretix event with one quota, the plugin enabled and pointed at `url`."""

    def __init__(self, url: str | None, key: str | None, *, size: int = 100, per_person: int = 2,
                 fail_mode: str = "open", plugin: bool = True, reservation_minutes: int = 30) -> None:
        from pretix.base.models import Event, Item, Organizer, Quota

        n = next(_n)
        with scopes_disabled():
            self.organizer = Organizer.objects.create(name=f"Org {n}", slug=f"org{n}")
            self.event = Event.objects.create(
                organizer=self.organizer, name=f"Rally {n}", slug=f"rally{n}", currency="EUR",
                date_from=now() + timedelta(days=10), live=True,
                plugins="pretix_headcount" if plugin else "")
            self.item = Item.objects.create(event=self.event, name="Free ticket", default_price=Decimal("0.00"),
                                            admission=True)
            self.quota = Quota.objects.create(event=self.event, name="Seats", size=size)
            self.quota.items.add(self.item)
            s = self.event.settings
            s.set("attendee_names_asked", False)
            s.set("invoice_address_asked", False)
            s.set("reservation_time", reservation_minutes)
            if url and key:
                s.set("headcount_url", url)
                s.set("headcount_api_key", key)
                s.set("headcount_per_person", per_person)
                s.set("headcount_fail_mode", fail_mode)

    @property
    def base(self) -> str:
        return f"/{self.organizer.slug}/{self.event.slug}"

    @property
    def pool_id(self) -> str:
        cfg = core.config(self.event)
        return core.pool_id_for(self.event, self.quota.pk, cfg)

    def visitor(self, ip: str | None = None, ua: str | None = None) -> Visitor:
        return Visitor(self, ip or public_ip(), ua if ua is not None else "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")


def organiser(shop: Shop, email: str) -> Client:
    """A logged-in control-panel client of a new user in a team with every permission on `shop`."""
    from pretix.base.models import Team, User

    with scopes_disabled():
        user = User.objects.create_user(email, "pw")
        team = Team.objects.create(organizer=shop.organizer, all_events=True, name="Admins",
                                   all_event_permissions=True, all_organizer_permissions=True)
        team.members.add(user)
    c = Client()
    c.login(email=email, password="pw")
    return c


class Visitor:
    """One browser: a Django test client with its own cookies, IP and user agent."""

    def __init__(self, shop: Shop, ip: str, ua: str) -> None:
        self.shop, self.ip, self.ua = shop, ip, ua
        self.client = Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=ua)

    def add(self, count: int = 1):
        return self.client.post(f"{self.shop.base}/cart/add", {f"item_{self.shop.item.pk}": str(count)},
                                follow=True)

    def checkout(self, email: str):
        """Through pretix's checkout views: questions (e-mail), then confirm. Returns the last response."""
        c, base = self.client, self.shop.base
        r = c.get(f"{base}/checkout/start", follow=True)
        url = r.redirect_chain[-1][0] if r.redirect_chain else f"{base}/checkout/questions/"
        if "/questions/" in url:
            r = c.post(url, {"email": email, "email_repeat": email}, follow=True)
            url = r.redirect_chain[-1][0] if r.redirect_chain else url
        if "/confirm/" in url:
            r = c.post(url, {}, follow=True)
        return r

    def cart_positions(self):
        from pretix.base.models import CartPosition

        with scopes_disabled():
            return list(CartPosition.objects.filter(event=self.shop.event))


def messages_of(response) -> str:
    """The alert texts pretix shows (success, error, warning) on a rendered page."""
    import re
    from html import unescape

    html = response.content.decode()
    return " | ".join(unescape(re.sub(r"<[^>]+>", " ", m)).strip()
                      for m in re.findall(r'class="alert alert-[a-z]+"[^>]*>(.*?)</div>', html, flags=re.S))
