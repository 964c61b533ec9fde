import pytest
from django_scopes import scopes_disabled

from conftest import Shop, messages_of
from pretix_headcount.models import HeadcountHold


@pytest.mark.django_db
def test_a_normal_visitor_buys(headcount_service):
    url, key = headcount_service
    shop = Shop(url, key)
    v = shop.visitor()
    r = v.add(1)
    print(messages_of(r))
    with scopes_disabled():
        print(list(HeadcountHold.objects.values()))
    r = v.checkout("ann.smith@gmail.com")
    print(r.redirect_chain, messages_of(r))
    with scopes_disabled():
        print(list(HeadcountHold.objects.values()))
        print(list(shop.event.orders.values("code", "status", "email")))
