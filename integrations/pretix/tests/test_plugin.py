"""The plugin against a real pretix (installed from PyPI, its own test settings and views) and a
real `headcount serve` on loopback. Every shop below is a fresh pretix event with its own pool."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from conftest import Shop, messages_of, organiser, public_ip
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix_headcount import core
from pretix_headcount.models import HeadcountHold

from headcount.testing.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit hooks run, as in production


def hc_get(service, path: str) -> dict:
    url, key = service
    r = httpx.get(url + path, headers={"Authorization": f"Bearer {key}"}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def orders(shop: Shop) -> list:
    with scopes_disabled():
        return list(shop.event.orders.all())


def rows(shop: Shop, **kw) -> list[HeadcountHold]:
    with scopes_disabled():
        return list(HeadcountHold.objects.filter(event=shop.event, **kw).order_by("id"))


def test_a_normal_visitor_buys_and_headcount_confirms(headcount_service):
    shop = Shop(*headcount_service)
    v = shop.visitor()
    r = v.add(1)
    assert "successfully added" in messages_of(r)
    (cart_hold,) = rows(shop, kind="cart")
    assert cart_hold.status == "held" and cart_hold.band == "normal"
    assert hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")["held"] == 1

    r = v.checkout("ann.smith@gmail.com")
    assert "/order/" in r.redirect_chain[-1][0], messages_of(r)
    (order,) = orders(shop)
    assert order.email == "ann.smith@gmail.com"
    (order_hold,) = rows(shop, kind="order")
    assert order_hold.status == "confirmed" and order_hold.order_id == order.pk
    assert rows(shop, kind="cart")[0].status == "released"  # swapped for the order hold, not counted twice
    assert hc_get(headcount_service, f"/v1/holds/{order_hold.hold_id}")["status"] == "confirmed"
    pool = hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")
    assert (pool["held"], pool["confirmed"]) == (0, 1)


def test_a_throwaway_address_is_refused_with_a_readable_message(headcount_service):
    shop = Shop(*headcount_service)
    v = shop.visitor()
    v.add(1)
    r = v.checkout("quick.buyer@mailinator.com")
    text = messages_of(r)
    assert "permanent e-mail address" in text and "throwaway" in text, text
    assert "email_disposable" not in text  # headcount's codes never reach the customer
    assert orders(shop) == []
    (refusal,) = rows(shop, status="refused")
    assert refusal.kind == "order" and refusal.band == "deny" and "email_disposable" in refusal.reasons
    assert v.cart_positions() == []  # a refused identity keeps no seat reserved
    pool = hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")
    assert (pool["held"], pool["confirmed"]) == (0, 0)


def test_one_person_behind_20_aliases_gets_the_per_person_limit_across_orders(headcount_service):
    shop = Shop(*headcount_service, per_person=2)
    aliases = ["maria.lopez.fan@gmail.com", "mar.ia.lopez.fan@gmail.com", "marialopezfan+1@gmail.com",
               "m.arialopezfan@gmail.com", "marialopez.fan+tickets@gmail.com", "maria.lopezfan+a@googlemail.com"]
    aliases += [f"maria.lopez.fan+r{i}@gmail.com" for i in range(14)]
    assert len(set(aliases)) == 20
    placed, refused = 0, []
    for alias in aliases:  # a fresh browser and network for every order
        v = shop.visitor()
        v.add(1)
        r = v.checkout(alias)
        if "/order/" in r.redirect_chain[-1][0]:
            placed += 1
        else:
            refused.append(messages_of(r))
    assert placed == 2
    assert len(refused) == 18 and all("limit of tickets per person" in m for m in refused), refused[:3]
    assert len(orders(shop)) == 2
    assert hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")["confirmed"] == 2


def test_a_cart_left_alone_releases_its_hold(headcount_service):
    from pretix.base.models import CartPosition
    from pretix.base.signals import periodic_task

    shop = Shop(*headcount_service)
    v = shop.visitor()
    v.add(2)
    (hold,) = rows(shop, kind="cart")
    assert hold.quantity == 2 and hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")["held"] == 2
    with scopes_disabled():  # the reservation runs out (pretix's clock: the positions' expiry)
        CartPosition.objects.filter(event=shop.event).update(expires=now() - timedelta(seconds=1))
    periodic_task.send(None)  # what pretix's `runperiodic` cron sends
    (hold,) = rows(shop, kind="cart")
    assert hold.status == "released"
    assert hc_get(headcount_service, f"/v1/holds/{hold.hold_id}")["status"] == "released"
    assert hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")["held"] == 0


def test_removing_from_the_cart_releases_the_hold(headcount_service):
    shop = Shop(*headcount_service)
    v = shop.visitor()
    v.add(1)
    (hold,) = rows(shop, kind="cart")
    v.client.post(f"{shop.base}/cart/clear", {}, follow=True)
    assert rows(shop, kind="cart")[0].status == "released"
    assert hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")["held"] == 0


def test_a_doubtful_visitor_gets_a_shortened_reservation(headcount_service):
    shop = Shop(*headcount_service)
    v = shop.visitor(ua="")  # no user agent and no contact yet: headcount's short-hold band
    v.add(1)
    (hold,) = rows(shop, kind="cart")
    assert hold.band == "short", hold.reasons
    (pos,) = v.cart_positions()
    left = (pos.expires - now()).total_seconds()
    assert left < 0.3 * 30 * 60  # a quarter of pretix's 30 minutes, not the full 30
    assert pos.expires == hold.expires_at and pos.max_extend == hold.expires_at


def test_an_automated_client_is_refused_at_the_cart(headcount_service):
    shop = Shop(*headcount_service)
    v = shop.visitor(ua="python-requests/2.31.0")
    r = v.add(1)
    assert "Automated browsers cannot book" in messages_of(r)
    assert v.cart_positions() == []
    (refusal,) = rows(shop, status="refused")
    assert refusal.kind == "cart" and refusal.band == "deny"


def test_a_cancelled_order_gives_the_seat_back(headcount_service):
    from pretix.base.services.orders import cancel_order

    shop = Shop(*headcount_service)
    v = shop.visitor()
    v.add(1)
    v.checkout("lena.meyer@gmx.de")
    (order,) = orders(shop)
    with scopes_disabled():
        cancel_order(order.pk)
    (hold,) = rows(shop, kind="order")
    assert hold.status == "released"
    pool = hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")
    assert (pool["held"], pool["confirmed"]) == (0, 0)


def test_a_checkin_reaches_headcount(headcount_service):
    from pretix.base.services.checkin import perform_checkin

    shop = Shop(*headcount_service)
    v = shop.visitor()
    v.add(1)
    v.checkout("tom.becker@web.de")
    (order,) = orders(shop)
    with scopes_disabled():
        clist = shop.event.checkin_lists.create(name="Door", all_products=True)
        perform_checkin(order.positions.first(), clist, {})
    assert hc_get(headcount_service, f"/v1/pools/{shop.pool_id}/headcount")["checked_in"] == 1


def test_headcount_down_fails_open_by_default_with_a_warning_in_the_event_log(headcount_service):
    _, key = headcount_service
    shop = Shop(f"http://127.0.0.1:{free_port()}", key)  # nothing listens there
    v = shop.visitor()
    r = v.add(1)
    assert "successfully added" in messages_of(r)
    r = v.checkout("ann.smith@gmail.com")
    assert len(orders(shop)) == 1
    with scopes_disabled():
        logged = list(shop.event.logentry_set.filter(action_type="pretix_headcount.unreachable"))
    assert logged and logged[0].parsed_data["mode"] == "open"


def test_headcount_down_fails_closed_when_configured(headcount_service):
    _, key = headcount_service
    shop = Shop(f"http://127.0.0.1:{free_port()}", key, fail_mode="closed")
    v = shop.visitor()
    r = v.add(1)
    assert "cannot check your booking right now" in messages_of(r)
    assert v.cart_positions() == []


def test_without_settings_the_plugin_stays_out_of_the_way(headcount_service):
    shop = Shop(None, None)
    v = shop.visitor(ua="python-requests/2.31.0")
    r = v.add(1)
    assert "successfully added" in messages_of(r)
    assert rows(shop) == []


def test_the_pool_map_and_its_validation():
    assert core.parse_pool_map("12=rally-main\n# comment\n\n13 = vip.pool") == {12: "rally-main", 13: "vip.pool"}
    with pytest.raises(ValueError, match="line 1"):
        core.parse_pool_map("twelve=rally")
    with pytest.raises(ValueError, match="line 2"):
        core.parse_pool_map("1=ok\n2=not ok!")


def test_the_settings_page_saves_and_keeps_the_key_secret(headcount_service):
    url, key = headcount_service
    shop = Shop(url, key)
    c = organiser(shop, "admin@example.org")
    page = f"/control/event/{shop.organizer.slug}/{shop.event.slug}/headcount/settings"
    r = c.get(page)
    assert r.status_code == 200 and key not in r.content.decode()  # shown redacted
    r = c.post(page, {"headcount_url": url, "headcount_api_key": "*****", "headcount_pools": "oops",
                      "headcount_per_person": "3", "headcount_fail_mode": "closed"})
    assert "QUOTA_ID=POOL_ID" in r.content.decode()  # the bad map is named, nothing saved
    r = c.post(page, {"headcount_url": url, "headcount_api_key": "*****",
                      "headcount_pools": f"{shop.quota.pk}=rally-main", "headcount_per_person": "3",
                      "headcount_fail_mode": "closed"}, follow=True)
    shop.event.settings.flush()
    cfg = core.config(shop.event)
    assert cfg.api_key == key and cfg.pool_map == {shop.quota.pk: "rally-main"} and not cfg.fail_open
    assert cfg.per_person == 3


def test_dashboard_widget_and_contact_export(headcount_service):
    from pretix.base.models import User
    from pretix_headcount.exporters import CleanedContactsExporter
    from pretix_headcount.widget import render, summary

    shop = Shop(*headcount_service)
    for email in ("ann.smith@gmail.com", "a.nn.smith+2@gmail.com", "bob.jones@web.de"):
        v = shop.visitor()
        v.add(1)
        v.checkout(email)
    bot = shop.visitor(ua="curl/8.5.0")
    bot.add(1)
    with scopes_disabled():
        data = summary(shop.event)
        html = render(data)
    (pool,) = [p for p in data["pools"] if p["id"] == shop.pool_id]
    assert pool["registered"] == 3 and len(pool["interval"]) == 2
    assert data["refused"] == 1 and data["refused_by_band"] == {"deny": 1}
    assert "Real headcount" in html and shop.pool_id in html
    with scopes_disabled():
        exporter = CleanedContactsExporter(shop.event, shop.organizer)
        lines = list(exporter.iterate_list({}))
    assert lines[0][:2] == ["person", "email"]
    people = lines[1:]
    assert len(people) == 2  # ann's two aliases are one person
    assert sorted(p[3] for p in people) == [1, 2]
    del User


def test_visitors_ip_is_a_public_one():
    assert public_ip().startswith("81.")


def test_the_control_panel_shows_the_widget_and_lists_the_exporter(headcount_service):
    from pretix.base.signals import register_data_exporters

    shop = Shop(*headcount_service)
    v = shop.visitor()
    v.add(1)
    v.checkout("carla.rossi@gmail.com")
    c = organiser(shop, "boss@example.org")
    with scopes_disabled():
        exporters = [cls for _, cls in register_data_exporters.send(shop.event)]
    assert any(getattr(cls, "identifier", "") == "headcount_contacts" for cls in exporters)
    base = f"/control/event/{shop.organizer.slug}/{shop.event.slug}/"
    assert c.get(base).status_code == 200
    r = c.get(base + "widgets.json")
    assert r.status_code == 200
    (ours,) = [w for w in r.json()["widgets"] if w.get("lazy") == "headcount"]
    assert "Real headcount" in ours["content"] and shop.pool_id in ours["content"]
    assert "1 registered" in ours["content"]


def _cart_inserts(queries) -> int:
    return sum(1 for q in queries if q["sql"].lstrip().upper().startswith("INSERT")
               and "pretixbase_cartposition" in q["sql"])


def test_a_refused_add_is_undone_and_leaves_no_cart_position_behind(headcount_service):
    """headcount decides while pretix adds; a refusal removes what pretix just added (and only that)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    shop = Shop(*headcount_service, per_person=2)
    v = shop.visitor()
    assert "successfully added" in messages_of(v.add(2))
    kept = sorted(p.pk for p in v.cart_positions())
    assert len(kept) == 2
    with CaptureQueriesContext(connection) as queries:
        r = v.add(1)  # a third ticket for the same browser: headcount's per-person limit
    text = messages_of(r)
    assert "limit of tickets per person" in text and "successfully added" not in text, text
    assert _cart_inserts(queries.captured_queries) >= 1  # pretix did add it, concurrently with the hold
    assert sorted(p.pk for p in v.cart_positions()) == kept  # ... and the plugin took it out again
    (refusal,) = rows(shop, status="refused")
    assert refusal.kind == "cart" and refusal.band == "limit"
    assert hc_get(headcount_service, f"/v1/pools/{shop.pool_id}")["held"] == 2


def test_a_refused_widget_add_answers_json_and_leaves_no_cart_position(headcount_service):
    shop = Shop(*headcount_service)
    v = shop.visitor(ua="python-requests/2.31.0")
    r = v.client.post(f"{shop.base}/cart/add?ajax=1", {f"item_{shop.item.pk}": "1"})
    body = r.json()
    assert body["success"] is False and "Automated browsers cannot book" in body["message"]
    assert v.cart_positions() == []


def test_when_celery_adds_elsewhere_the_hold_is_asked_before_the_add(headcount_service, monkeypatch):
    """With celery workers pretix's add happens outside the request and cannot be undone there,
    so the plugin asks headcount first and a refusal stops pretix from adding at all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from pretix_headcount import signals

    # what the plugin concludes from HAS_CELERY without CELERY_TASK_ALWAYS_EAGER (a broker this
    # test does not have): pretix itself still adds in the request here
    monkeypatch.setattr(signals, "_add_runs_in_request", lambda: False)
    shop = Shop(*headcount_service)
    bot = shop.visitor(ua="python-requests/2.31.0")
    with CaptureQueriesContext(connection) as queries:
        r = bot.add(1)
    assert "Automated browsers cannot book" in messages_of(r)
    assert _cart_inserts(queries.captured_queries) == 0 and bot.cart_positions() == []
    v = shop.visitor()
    assert "successfully added" in messages_of(v.add(1))
    assert [h.status for h in rows(shop, kind="cart", status="held")] == ["held"]


def test_when_pretix_adds_nothing_the_concurrent_hold_is_released(headcount_service):
    """pretix's quota says sold out while headcount's (bigger) pool said yes: the hold is given back."""
    url, key = headcount_service
    pool = f"bigger-{public_ip().replace('.', '-')}"
    r = httpx.post(url + "/v1/pools", headers={"Authorization": f"Bearer {key}"}, timeout=5, json={
        "id": pool, "name": "bigger", "kind": "event", "capacity": 10, "per_actor_limit": 4, "hold_ttl_s": 1800})
    assert r.status_code == 201, r.text
    shop = Shop(url, key, size=1)
    shop.event.settings.set("headcount_pools", f"{shop.quota.pk}={pool}")
    assert "successfully added" in messages_of(shop.visitor().add(1))
    late = shop.visitor()
    text = messages_of(late.add(1))
    assert "successfully added" not in text, text
    assert [h.status for h in rows(shop, kind="cart")] == ["held", "released"]
    assert hc_get(headcount_service, f"/v1/pools/{pool}")["held"] == 1


def test_pretix_ssrf_guard_still_applies_to_the_headcount_url(headcount_service, settings):
    from pretix_headcount.client import Client, Unreachable, close_connections

    settings.ALLOW_HTTP_TO_PRIVATE_NETWORKS = False  # pretix's default: no requests to loopback
    close_connections()  # the guard runs when connecting, as pretix's own does
    url, key = headcount_service
    with pytest.raises(Unreachable, match="local address"):
        Client(url, key).pool("anything")
