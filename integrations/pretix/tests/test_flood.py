"""The flood through pretix's presale views, without and with the plugin, side by side."""

from __future__ import annotations

import flood
import pytest
from conftest import Shop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.flood]


def test_the_flood_with_and_without_the_plugin(headcount_service, capsys, settings):
    settings.DEBUG = False  # no query log: a thousand requests per side
    quota = 50
    without = flood.run(Shop(None, None, size=quota, plugin=False, reservation_minutes=1),
                        label="without the plugin")
    with_plugin = flood.run(Shop(*headcount_service, size=quota, per_person=2, reservation_minutes=1),
                            label="with headcount")
    with capsys.disabled():
        print("\n" + flood.HEADER)
        print(without.row())
        print(with_plugin.row())
    # pretix alone: the flood takes the quota and real visitors find it gone
    assert without.flood_share_avg >= 0.9
    # with the plugin the flood holds less of the quota over the run and more real visitors get a ticket
    assert with_plugin.flood_share_avg < without.flood_share_avg
    assert with_plugin.real_served > without.real_served
