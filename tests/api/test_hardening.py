"""Attacks on headcount itself (issue 13), each reproduced in process and shown to do no harm now.

Stores are real (SQLite, and PostgreSQL where a server is available); the
server-level attacks (real uvicorn, real faults) are in test_hardening_server.py.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from headcount.api.app import create_app
from headcount.api.health import HealthMonitor
from headcount.api.middleware import Admission, client_address, parse_networks
from headcount.cli.csvsafe import TRIGGERS, join, neutralise
from headcount.cli.main import main
from headcount.services.keys import create_key
from headcount.settings import Settings
from headcount.store import StoreHealth, open_store
from tests.api.conftest import Service

POOL = {"id": "p1", "name": "Pool", "kind": "event", "capacity": 100, "per_actor_limit": 4, "hold_ttl_s": 600}


def _pool(service: Service, pool: dict[str, object] = POOL) -> None:
    assert service.client.post("/v1/pools", json=pool, headers=service.auth("staff")).status_code == 201


def _problem(r, status: int, field: str | None = None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field, body
    return body


# M5: body limits, authentication before the body ----------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(service: Service) -> None:
    big = b'{"quantity": 1, "actor": {"id": "' + b"x" * 200_000 + b'"}}'
    for headers in ({}, service.auth("client"), {"Authorization": "Bearer hc_nope_nope"}):
        r = service.client.post("/v1/pools/p1/holds", content=big,
                                headers={**headers, "Content-Type": "application/json"})
        _problem(r, 413, "body")
        assert r.headers["connection"] == "close"


def test_a_chunked_body_over_the_limit_is_cut_off(service: Service) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted while reading
        yield b'{"quantity": 1, "actor": {"id": "'
        for _ in range(100):
            yield b"x" * 4096
        yield b'"}}'

    r = service.client.post("/v1/pools/p1/holds", content=chunks(),
                            headers={**service.auth("client"), "Content-Type": "application/json"})
    _problem(r, 413, "body")


def test_an_anonymous_or_badly_keyed_body_is_refused_unread(service: Service) -> None:
    # malformed JSON: had it been parsed first, this would be 400
    for headers, status in (({}, 401), ({"Authorization": "Bearer hc_nope_nope"}, 401),
                            ({"Authorization": "Basic abc"}, 401)):
        r = service.client.post("/v1/pools/p1/holds", content=b"{not json",
                                headers={**headers, "Content-Type": "application/json"})
        _problem(r, status, "Authorization")
    # with a key the same body is parsed, and is a clear 400 naming the body
    r = service.client.post("/v1/pools/p1/holds", content=b"{not json",
                            headers={**service.auth("client"), "Content-Type": "application/json"})
    _problem(r, 400, "body")


def test_a_bad_content_length_is_400(service: Service) -> None:
    r = service.client.post("/v1/pools", content=b"{}", headers={**service.auth("staff"), "Content-Length": "x2"})
    assert r.status_code in (400, 413) or r.status_code < 500


# M6: failed authentications, addresses --------------------------------------------------


def test_forwarded_for_is_ignored_without_trusted_proxies(service: Service) -> None:
    """Rotating X-Forwarded-For does not reset the failed-auth limit (the peer is the address)."""
    statuses = [service.client.get("/v1/pools", headers={"Authorization": "Bearer hc_nope_nope",
                                                         "X-Forwarded-For": f"198.51.100.{i}"}).status_code
                for i in range(30)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    # the victim's valid key from the same (now limited) address still works
    assert service.client.get("/v1/pools", headers=service.auth("staff")).status_code == 200


TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1"])


def test_client_address_believes_only_trusted_proxies() -> None:
    assert client_address("203.0.113.5", ["1.2.3.4"], TRUSTED) == "203.0.113.5"  # not a proxy: the peer
    assert client_address("127.0.0.1", ["1.2.3.4"], TRUSTED) == "1.2.3.4"
    # the client prepends a lie; the proxy appends what it saw: the right-most untrusted hop counts
    assert client_address("10.1.1.1", ["6.6.6.6, 198.51.100.7"], TRUSTED) == "198.51.100.7"
    assert client_address("10.1.1.1", ["6.6.6.6", "198.51.100.7, 10.2.2.2"], TRUSTED) == "198.51.100.7"
    assert client_address("10.1.1.1", ["garbage, 198.51.100.7"], TRUSTED) == "198.51.100.7"
    assert client_address("10.1.1.1", ["198.51.100.7, garbage"], TRUSTED) == "10.1.1.1"
    assert client_address("127.0.0.1", ["[2001:db8::1]:443"], TRUSTED) == "2001:db8::1"
    assert client_address("127.0.0.1", ["1.2.3.4"], ()) == "127.0.0.1"


@given(peer=st.ip_addresses().map(str), hops=st.lists(st.text(max_size=40), max_size=5))
def test_an_untrusted_peer_is_never_replaced(peer: str, hops: list[str]) -> None:
    if any(__import__("ipaddress").ip_address(peer) in n for n in TRUSTED):
        return
    assert client_address(peer, hops, TRUSTED) == peer


def test_trusted_proxies_setting_is_validated() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, 127.0.0.1").trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    with pytest.raises(ValueError, match="not an IP address"):
        Settings(trusted_proxies="proxy.example.org")


# M7: key lifecycle -------------------------------------------------------------------------


def test_keys_are_listed_created_with_expiry_and_revoked_at_once(service: Service, store_url: str) -> None:
    admin = service.auth("admin")
    r = service.client.post("/v1/keys", json={"role": "client", "label": "shop A", "expires_in_s": 3600},
                            headers=admin)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["state"] == "active" and made["key"].startswith(f"hc_{made['key_id']}_")
    new = {"Authorization": f"Bearer {made['key']}"}
    assert service.client.get(f"/v1/holds/h_{'0' * 33}", headers=new).status_code == 404  # it works
    listed = service.client.get("/v1/keys", headers=admin).json()
    mine = [k for k in listed if k["key_id"] == made["key_id"]]
    assert mine and mine[0]["label"] == "shop A" and "key" not in mine[0] and "secret_hash" not in mine[0]
    # a second server process over the same store, which has the key cached
    other = create_app(open_store(store_url), sweep_interval=None, close_store=True,
                       settings=Settings(key_cache_s=0.5))
    with TestClient(other, raise_server_exceptions=False) as second:
        assert second.get(f"/v1/holds/h_{'0' * 33}", headers=new).status_code == 404
        r = service.client.delete(f"/v1/keys/{made['key_id']}?reason=leaked", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "revoked"
        _problem(service.client.get(f"/v1/holds/h_{'0' * 33}", headers=new), 401, "Authorization")  # at once
        time.sleep(0.6)
        _problem(second.get(f"/v1/holds/h_{'0' * 33}", headers=new), 401, "Authorization")  # within the cache
    assert service.client.delete(f"/v1/keys/{made['key_id']}", headers=admin).json()["revoked_now"] is False
    _problem(service.client.delete("/v1/keys/abcdef123456", headers=admin), 404, "key_id")
    _problem(service.client.delete("/v1/keys/not-hex!", headers=admin), 422, "key_id")
    _problem(service.client.get("/v1/keys", headers=service.auth("staff")), 403)
    store = open_store(store_url)
    try:
        audited = [(e.action, e.subject) for e in store.read_audit()]
    finally:
        store.close()
    assert ("keys.create", f"key:{made['key_id']}") in audited
    assert ("keys.revoke", f"key:{made['key_id']}") in audited


def test_an_expired_key_is_refused(service: Service) -> None:
    r = service.client.post("/v1/keys", json={"role": "client", "expires_in_s": 1}, headers=service.auth("admin"))
    key = {"Authorization": f"Bearer {r.json()['key']}"}
    assert service.client.get(f"/v1/holds/h_{'0' * 33}", headers=key).status_code == 404
    time.sleep(1.2)
    _problem(service.client.get(f"/v1/holds/h_{'0' * 33}", headers=key), 401, "Authorization")
    listed = {k["key_id"]: k for k in service.client.get("/v1/keys", headers=service.auth("admin")).json()}
    assert listed[r.json()["key_id"]]["state"] == "expired"


@pytest.mark.parametrize(("body", "field"), [
    ({"role": "root"}, "role"),
    ({"role": "client", "expires_in_s": 0}, "expires_in_s"),
    ({"role": "client", "expires_in_s": "soon"}, "expires_in_s"),
    ({"role": "client", "label": "a\nb"}, "label"),
    ({"role": "client", "secret": "x"}, "secret"),
])
def test_bad_key_requests_name_the_field(service: Service, body: dict[str, object], field: str) -> None:
    _problem(service.client.post("/v1/keys", json=body, headers=service.auth("admin")), 422, field)


def test_cli_keys_list_and_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    run = CliRunner().invoke
    made = run(main, ["keys", "create", "--role", "client", "--store", url, "--expires-in", "90d", "--label", "pos"])
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    listed = run(main, ["keys", "list", "--store", url])
    assert listed.exit_code == 0 and key_id in listed.output and "active" in listed.output and "pos" in listed.output
    assert key.split("_", 2)[2] not in listed.output  # never the secret
    revoked = run(main, ["keys", "revoke", key, "--store", url, "--reason", "till stolen"])  # the whole key works too
    assert revoked.exit_code == 0 and f"revoked key {key_id}" in revoked.output
    assert key_id not in run(main, ["keys", "list", "--store", url]).output
    assert "revoked" in run(main, ["keys", "list", "--store", url, "--all"]).output
    missing = run(main, ["keys", "revoke", "abcdef", "--store", url])
    assert missing.exit_code == 1 and "no key" in missing.output and "Traceback" not in missing.output
    bad = run(main, ["keys", "create", "--role", "client", "--store", url, "--expires-in", "-1d"])
    assert bad.exit_code == 2 and "--expires-in" in bad.output
    store = open_store(url)
    try:
        actions = [e.action for e in store.read_audit()]
    finally:
        store.close()
    assert actions.count("keys.create") == 1 and actions.count("keys.revoke") == 1


# M1: imports of past events -----------------------------------------------------------------


def test_backdated_actions_need_staff(service: Service) -> None:
    past = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    body = {"verb": "follow", "actor": {"email": "victim@example.org"}, "target": "acc", "ts": past}
    _problem(service.client.post("/v1/actions", json=body, headers=service.auth("client")), 403, "ts")
    assert service.client.post("/v1/actions", json=body, headers=service.auth("staff")).status_code == 200
    recent = {**body, "ts": (datetime.now(UTC) - timedelta(seconds=30)).isoformat()}  # clock skew, queues
    assert service.client.post("/v1/actions", json=recent, headers=service.auth("client")).status_code == 200


# L: problem documents keep their status ------------------------------------------------------


def test_a_409_problem_keeps_the_http_status(service: Service, uid: str) -> None:
    _pool(service, {**POOL, "id": uid})
    c = service.auth("client")
    hold = service.client.post(f"/v1/pools/{uid}/holds", json={"actor": {"id": uid}}, headers=c).json()["hold_id"]
    assert service.client.delete(f"/v1/holds/{hold}", headers=c).status_code == 200
    body = _problem(service.client.post(f"/v1/holds/{hold}/confirm", headers=c), 409)
    assert body["hold_status"] == "released"


# M2: exports a spreadsheet would run ---------------------------------------------------------

EVIL = "=cmd|'/Ccalc'!A0@example.org"


def test_contacts_export_neutralises_formulas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(url)
    staff = create_key(store, "staff")
    client = create_key(store, "client")
    app = create_app(store, settings=Settings(keep_contacts=True), sweep_interval=None, close_store=True)
    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.post("/v1/pools", json=POOL, headers={"Authorization": f"Bearer {staff}"}).status_code == 201
        for email in (EVIL, "+1@example.org", "ann@example.org"):
            r = http.post("/v1/pools/p1/holds", json={"actor": {"email": email}},
                          headers={"Authorization": f"Bearer {client}"})
            assert r.status_code == 201, r.text
    out = tmp_path / "contacts.csv"
    done = CliRunner().invoke(main, ["contacts", "export", "--store", url, "--reason", "test", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    rows = list(csv.reader(io.StringIO(out.read_text())))
    values = [r[2] for r in rows[1:]]
    assert f"'{EVIL}" in values and "'+1@example.org" in values and "ann@example.org" in values
    assert all(not v.startswith(TRIGGERS) for row in rows for v in row)


@given(st.lists(st.text(max_size=30), max_size=4))
def test_no_cell_starts_a_formula(values: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([neutralise(v) for v in values] + [join(values)])
    for cell in next(csv.reader(io.StringIO(buf.getvalue()))):
        assert not cell.startswith(TRIGGERS)
    for v in values:
        assert neutralise(v) in (v, "'" + v)
    for part in join(values).split(";"):  # a spreadsheet splitting on ';' sees no formula either
        assert not part.startswith(TRIGGERS) or part.startswith("'")
    assert neutralise(-5) == -5 and neutralise(3.5) == 3.5


# L: no traceback on CLI paths ------------------------------------------------------------------


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    run = CliRunner().invoke
    cases = [
        ["report", "--pool", "x", "--out", str(tmp_path / "r.html"), "--blocks", str(deep), "--store", url],
        ["report", "--pool", "x", "--out", str(tmp_path / "missing" / "r.html"), "--store", url],
        ["contacts", "export", "--store", url, "--reason", "r", "--out", str(tmp_path / "missing" / "c.csv")],
        ["detect", str(deep)],
    ]
    for args in cases:
        result = run(main, args)
        assert result.exit_code in (1, 2), (args, result.output)
        assert isinstance(result.exception, SystemExit), (args, result.exception)
        assert "Traceback" not in result.output and result.output.strip(), args


# M3: health reflects the store; writes fail fast while it is down ----------------------------


def test_healthz_reports_the_store(tmp_path: Path) -> None:
    """The real store made unwritable (its write lock held by another program): /healthz says so
    within the bound, writes get 503 at once, and both recover by themselves."""
    import sqlite3

    db = tmp_path / "h.db"
    store = open_store(f"sqlite:///{db}?timeout_s=0.5")
    staff = create_key(store, "staff")
    app = create_app(store, settings=Settings(health_interval_s=0.1), sweep_interval=None, close_store=True)
    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.get("/healthz").json() == {"status": "ok", "store": "ok"}
        assert http.get("/v1/health").status_code == 200
        lock = sqlite3.connect(db, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            deadline = time.monotonic() + 5
            while http.get("/healthz").status_code == 200:
                assert time.monotonic() < deadline, "health did not notice the fault"
                time.sleep(0.05)
            body = _problem(http.get("/healthz"), 503)
            assert body["store"] == "unavailable"
            started = time.monotonic()
            r = http.post("/v1/pools", json=POOL, headers={"Authorization": f"Bearer {staff}"})
            _problem(r, 503)
            assert r.headers["Retry-After"] == "1" and time.monotonic() - started < 0.5  # at once
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        deadline = time.monotonic() + 5
        while http.get("/healthz").status_code != 200:
            assert time.monotonic() < deadline, "no recovery within 5 s"
            time.sleep(0.05)
        assert http.post("/v1/pools", json=POOL, headers={"Authorization": f"Bearer {staff}"}).status_code == 201


def test_health_monitor_notices_a_hanging_check(tmp_path: Path) -> None:
    class Hangs:
        timeout_s = 0.1

        def health(self) -> StoreHealth:
            time.sleep(5)
            return StoreHealth(True)

    monitor = HealthMonitor(Hangs(), interval_s=0.1)  # type: ignore[arg-type]
    monitor.start()
    try:
        time.sleep(1.5)
        state = monitor.state()
        assert not state.ok and "has not answered" in state.detail
    finally:
        monitor.stop()


# L: admission control ----------------------------------------------------------------------------


def test_admission_sheds_beyond_max_inflight_and_never_health() -> None:
    release = asyncio.Event()

    async def slow_app(scope, receive, send):  # type: ignore[no-untyped-def]
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    gate = Admission(slow_app, max_inflight=2)

    async def call(path: str) -> int:
        sent: list[dict[str, object]] = []

        async def send(message):  # type: ignore[no-untyped-def]
            sent.append(message)

        async def receive():  # type: ignore[no-untyped-def]
            return {"type": "http.request", "body": b"", "more_body": False}

        await gate({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
        start = sent[0]
        if start["status"] == 503:
            headers = dict(start["headers"])  # type: ignore[arg-type]
            assert headers[b"retry-after"] == b"1"
            assert json.loads(sent[1]["body"])["status"] == 503  # type: ignore[arg-type]
        return int(start["status"])  # type: ignore[arg-type]

    async def scenario() -> list[int]:
        held = [asyncio.create_task(call("/v1/pools")) for _ in range(2)]
        await asyncio.sleep(0.01)
        shed = await asyncio.wait_for(call("/v1/pools"), 1)  # at once, not queued
        health = asyncio.create_task(call("/healthz"))
        await asyncio.sleep(0.01)
        release.set()
        return [*(await asyncio.gather(*held)), shed, await health]

    assert asyncio.run(scenario()) == [200, 200, 503, 200]
    assert gate.inflight == 0 and gate.shed == 1


# L: one mailbox, one seat; no hard-coded phone region -------------------------------------------


@pytest.mark.parametrize("aliases", [
    ["ann.lee@icloud.com", "ann.lee@me.com", "Ann.Lee+tickets@mac.com"],
    ["john.doe@proton.me", "johndoe@protonmail.com", "john_doe+x@pm.me", "john-doe@protonmail.ch"],
])
def test_apple_and_proton_aliases_are_one_person(service: Service, aliases: list[str], uid: str) -> None:
    _pool(service, {**POOL, "id": uid, "per_actor_limit": 1})
    c = service.auth("client")
    tag = "".join(ch for ch in uid if ch.isalpha())[:4] or "q"  # unique per run: a shared database links
    aliases = [re.sub(r"(?i)(doe|lee)", lambda m: m.group(0) + tag, a) for a in aliases]
    first = service.client.post(f"/v1/pools/{uid}/holds", json={"actor": {"email": aliases[0]}}, headers=c)
    assert first.status_code == 201, first.text
    for alias in aliases[1:]:  # the same person: over the per-person limit of 1
        r = service.client.post(f"/v1/pools/{uid}/holds", json={"actor": {"email": alias}}, headers=c)
        assert r.status_code == 429, (alias, r.text)


def test_national_numbers_are_not_read_as_german(tmp_path: Path) -> None:
    from headcount.core import Headcount

    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        unset = Headcount.over(store, settings=Settings())
        us = Headcount.over(store, settings=Settings(default_region="US"))
        from headcount.types import ActorInfo

        national = ActorInfo(phone="(202) 555-0143")
        assert "phone_unparsable" in unset.guard.assess(national, "p", 0).reasons  # type: ignore[attr-defined]
        intl = ActorInfo(phone="+1 202 555 0143")
        assert us.guard.assess(national, "p", 0).actor_key == us.guard.assess(intl, "p", 0).actor_key  # type: ignore[attr-defined]
    finally:
        store.close()


def test_the_adaptive_limit_falls_when_admitted_requests_are_slow_and_recovers() -> None:
    delay = {"s": 0.03}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await asyncio.sleep(delay["s"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = Admission(app, max_inflight=32, target_s=0.01, window_s=0.02)

    async def call() -> None:
        async def send(message):  # type: ignore[no-untyped-def]
            return None

        async def receive():  # type: ignore[no-untyped-def]
            return {"type": "http.request", "body": b"", "more_body": False}

        await gate({"type": "http", "path": "/v1/pools", "method": "GET", "headers": []}, receive, send)

    async def rounds(n: int, pause: float = 0.0) -> None:
        for _ in range(n):
            await asyncio.gather(*(call() for _ in range(40)))
            await asyncio.sleep(pause)

    asyncio.run(rounds(8))
    assert gate.limit == gate.floor == 4 and gate.shed > 0  # slow: down to the floor
    delay["s"] = 0.0
    for _ in range(10):  # a window each; a loaded machine's own event-loop delays can slow the growth
        asyncio.run(rounds(40, pause=0.025))
        if gate.limit > 20:
            break
    assert gate.limit > 20  # fast again, at the limit: it grows back
