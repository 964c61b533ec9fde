"""A free event drawn by lottery, through pretix's own checkout and a real `headcount serve`:
orders are registrations, the draw's winners get approved orders, the rest wait in line."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from conftest import Shop, messages_of, organiser
from django.utils.timezone import now
from django_scopes import scopes_disabled
from pretix_headcount import lottery
from pretix_headcount.models import HeadcountHold

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["mara.koch", "jonas.weber", "ida.brandt", "emil.frank", "lotte.haas"]


def lottery_shop(service, seats: int = 2, closes_in: timedelta = timedelta(hours=1)) -> Shop:
    shop = Shop(*service, size=100)
    with scopes_disabled():
        shop.item.require_approval = True
        shop.item.save()
        s = shop.event.settings
        s.set("headcount_lottery_closes_at", now() + closes_in)
        s.set("headcount_lottery_seats", seats)
    return shop


def orders(shop: Shop) -> dict[str, object]:
    with scopes_disabled():
        return {o.email: o for o in shop.event.orders.all()}


def registrations(shop: Shop) -> list[HeadcountHold]:
    with scopes_disabled():
        return list(HeadcountHold.objects.filter(event=shop.event, kind="lottery").order_by("id"))


def draw(service, pool_id: str) -> dict:
    url, key = service
    r = httpx.post(f"{url}/v1/pools/{pool_id}/allocate", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_orders_are_registrations_and_the_draw_approves_its_winners(headcount_service):
    from pretix.base.services.orders import cancel_order

    shop = lottery_shop(headcount_service, seats=2)
    emails = [f"{n}.{shop.event.slug}@gmail.com" for n in NAMES[:3]]
    for email in emails:
        v = shop.visitor()
        v.add(1)
        r = v.checkout(email)
        assert "/order/" in r.redirect_chain[-1][0], messages_of(r)
    placed = orders(shop)
    assert set(placed) == set(emails)
    assert all(o.status == "n" and o.require_approval for o in placed.values())  # undecided until the draw
    regs = registrations(shop)
    assert [r.status for r in regs] == ["registered"] * 3 and all(r.registration_id and r.order_id for r in regs)
    assert lottery.sync() == 0  # before the draw nothing changes

    result = draw(headcount_service, shop.pool_id)
    assert result["won"] == 2 and result["waitlisted"] == 1, result
    assert lottery.sync() == 3
    placed = orders(shop)
    approved = [e for e, o in placed.items() if o.status == "p"]
    waiting = [e for e, o in placed.items() if o.status == "n" and o.require_approval]
    assert len(approved) == 2 and len(waiting) == 1
    statuses = {r.order.email: r.status for r in registrations(shop)}
    assert sorted(statuses.values()) == ["confirmed", "confirmed", "waitlisted"]

    with scopes_disabled():  # a winner cancels: the seat goes to the next in line
        cancel_order(placed[approved[0]].pk)
    deadline = time.monotonic() + 30  # headcount passes a freed win down in its own loop (every few seconds)
    while lottery.sync() == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert orders(shop)[waiting[0]].status == "p"
    assert {r.order.email: r.status for r in registrations(shop)}[waiting[0]] == "confirmed"


def checkout_says(shop: Shop, email: str) -> str:
    """One visitor adds a ticket and checks out with `email`: the messages pretix shows."""
    v = shop.visitor()
    v.add(1)
    return messages_of(v.checkout(email))


def test_a_throwaway_address_is_refused_at_checkout_and_never_registered(headcount_service):
    shop = lottery_shop(headcount_service)
    said = checkout_says(shop, "quick.voter@mailinator.com")
    assert "throwaway" in said, said
    assert orders(shop) == {}
    (refused,) = registrations(shop)
    assert refused.status == "refused" and "email_disposable" in refused.reasons


def test_products_that_need_no_approval_cannot_be_drawn(headcount_service):
    shop = lottery_shop(headcount_service)
    with scopes_disabled():
        shop.item.require_approval = False
        shop.item.save()
    said = checkout_says(shop, f"{NAMES[3]}.{shop.event.slug}@gmail.com")
    assert "require approval" in said, said
    assert orders(shop) == {}


def test_after_the_draw_date_registration_is_closed(headcount_service):
    shop = lottery_shop(headcount_service, closes_in=timedelta(seconds=-1))
    said = checkout_says(shop, f"{NAMES[4]}.{shop.event.slug}@gmail.com")
    assert "closed" in said, said
    assert orders(shop) == {}


def test_a_lottery_cart_holds_nothing_in_headcount(headcount_service):
    shop = lottery_shop(headcount_service)
    shop.visitor().add(2)
    with scopes_disabled():
        assert not HeadcountHold.objects.filter(event=shop.event).exists()


def test_the_settings_page_sets_a_draw(headcount_service):
    from pretix_headcount import core

    url, key = headcount_service
    shop = Shop(url, key)
    c = organiser(shop, "drawer@example.org")
    page = f"/control/event/{shop.organizer.slug}/{shop.event.slug}/headcount/settings"
    html = c.get(page).content.decode()
    assert "Allocation by lottery" in html and "headcount_lottery_closes_at_0" in html
    form = {"headcount_url": url, "headcount_api_key": "*****", "headcount_per_person": "2",
            "headcount_fail_mode": "open", "headcount_lottery_closes_at_0": "2031-05-04",
            "headcount_lottery_closes_at_1": "18:00:00", "headcount_lottery_seats": "0"}
    assert "headcount_lottery_seats" in c.post(page, form).content.decode()  # 0 seats: named, nothing saved
    c.post(page, {**form, "headcount_lottery_seats": "19200", "headcount_lottery_confirm_hours": "24"}, follow=True)
    shop.event.settings.flush()
    cfg = core.config(shop.event)
    assert cfg.lottery_closes_at is not None and cfg.lottery_closes_at.year == 2031
    assert cfg.lottery_seats == 19200 and cfg.lottery_confirm_s == 24 * 3600
