"""A pool names the region its national-format phone numbers are read in (issue 13 L):
no country is guessed, and one service can hold pools of several countries."""

from __future__ import annotations

from pathlib import Path

import pytest

from headcount.store import open_store
from headcount.types import PoolSpec
from tests.api.conftest import Service

NATIONAL, INTERNATIONAL = "(415) 555-2671", "+1 415 555 2671"


def _pool(service: Service, pool_id: str, **extra: object):  # type: ignore[no-untyped-def]
    return service.client.post("/v1/pools", headers=service.auth("staff"), json={
        "id": pool_id, "name": "p", "kind": "event", "capacity": 100, "per_actor_limit": 1, "hold_ttl_s": 600,
        **extra})


def _hold(service: Service, pool_id: str, phone: str):  # type: ignore[no-untyped-def]
    return service.client.post(f"/v1/pools/{pool_id}/holds", headers=service.auth("client"),
                               json={"actor": {"phone": phone}})


def test_a_pools_region_reads_its_national_numbers_and_others_guess_none(service: Service, uid: str) -> None:
    us, plain = f"{uid}-us", f"{uid}-plain"
    assert _pool(service, us, phone_region="us").status_code == 201
    assert _pool(service, plain).status_code == 201
    staff = service.auth("staff")
    assert service.client.get(f"/v1/pools/{us}", headers=staff).json()["phone_region"] == "US"
    assert service.client.get(f"/v1/pools/{plain}", headers=staff).json()["phone_region"] is None

    first = _hold(service, us, NATIONAL)
    assert first.status_code == 201, first.text
    assert "phone_unparsable" not in first.json()["risk"]["reasons"]
    again = _hold(service, us, INTERNATIONAL)  # the same number written the other way: the same person
    assert again.status_code == 429 and again.json()["reasons"] == ["actor_limit"], again.text

    elsewhere = _hold(service, plain, NATIONAL)  # no region anywhere: not read as any country's
    assert "phone_unparsable" in elsewhere.json()["risk"]["reasons"], elsewhere.text


@pytest.mark.parametrize("region", ["XX", "usa", "1", ""])
def test_an_unknown_region_is_refused_naming_the_field(service: Service, uid: str, region: str) -> None:
    answer = _pool(service, f"{uid}-bad", phone_region=region)
    assert answer.status_code == 422 and answer.json()["field"] == "phone_region", answer.text
    assert service.client.get(f"/v1/pools/{uid}-bad", headers=service.auth("staff")).status_code == 404


def test_the_library_refuses_an_unknown_region(tmp_path: Path) -> None:
    import headcount

    hc = headcount.open(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        with pytest.raises(ValueError, match="phone_region"):
            hc.create_pool(PoolSpec("p", "p", "event", 10, 1, 60, phone_region="XX"))
        assert hc.ledger.pool("p") is None
        hc.create_pool(PoolSpec("q", "q", "event", 10, 1, 60, phone_region="GB"))
        pool = hc.ledger.pool("q")
        assert pool is not None and pool.phone_region == "GB"
    finally:
        hc.close()


def test_the_region_survives_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    store.create_pool(PoolSpec("p", "p", "event", 10, 1, 60, phone_region="FR"), 0.0)
    store.close()
    again = open_store(url)
    try:
        pool = again.get_pool("p", 0.0)
        assert pool is not None and pool.phone_region == "FR"
    finally:
        again.close()
