"""The flood through pretix's presale views, without and with the plugin, side by side."""

from __future__ import annotations

import pytest

import flood
from conftest import Shop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.flood]


def test_the_flood_with_and_without_the_plugin(headcount_service, capsys, settings):
    settings.DEBUG = False  # no query log: a thousand requests per side
    quota = 50
    without = flood.run(Shop(None, None, size=quota, plugin=False), label="without the plugin")
    with_plugin = flood.run(Shop(*headcount_service, size=quota, per_person=2), label="with headcount")
    with capsys.disabled():
        print("\n" + flood.HEADER)
        print(without.row())
        print(with_plugin.row())
    # pretix alone: the flood takes the quota and real visitors find it gone
    assert without.flood_share_peak >= 0.9
    # with the plugin the flood holds less of the quota and more real visitors get a ticket
    assert with_plugin.flood_share_peak < without.flood_share_peak
    assert with_plugin.real_served > without.real_served
