"""Personal data: keyed hashes only, encrypted contacts, audited reads, a tamper-evident audit log."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from headcount.api.app import create_app
from headcount.cli.main import main
from headcount.privacy.audit import record_read, verify
from headcount.privacy.keyring import load_keyring, new_key_line, parse_keys
from headcount.privacy.vault import seal, unseal
from headcount.services.keys import create_key
from headcount.settings import Settings
from headcount.store import open_store

EMAIL = "ann.private@example.org"
PHONE = "+4917655501234"  # a number no other test uses: the store may be shared


def _service(url: str, keep: bool) -> tuple[TestClient, dict[str, str]]:
    store = open_store(url)
    keys = {r: create_key(store, r) for r in ("client", "staff", "privacy")}
    app = create_app(store, settings=Settings(keep_contacts=keep, auth_failures_per_minute=5),
                     sweep_interval=None, close_store=True)
    return TestClient(app), keys


def _hold(client: TestClient, keys: dict[str, str], uid: str) -> str:
    h = {"Authorization": f"Bearer {keys['staff']}"}
    client.post("/v1/pools", headers=h, json={"id": uid, "name": "x", "kind": "event", "capacity": 5,
                                              "per_actor_limit": 2, "hold_ttl_s": 60})
    r = client.post(f"/v1/pools/{uid}/holds", headers={"Authorization": f"Bearer {keys['client']}"},
                    json={"actor": {"email": EMAIL, "phone": PHONE, "ip": "198.51.100.7"}})
    assert r.status_code == 201
    return client.get(f"/v1/holds/{r.json()['hold_id']}", headers=h).json()["actor_key"]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'p.db'}"


def _raw_bytes(url: str) -> bytes:
    path = Path(url[len("sqlite:///"):])
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_no_raw_identity_reaches_the_store(sqlite_url: str, uid: str) -> None:
    client, keys = _service(sqlite_url, keep=False)
    with client:
        actor_key = _hold(client, keys, uid)
    assert actor_key.startswith("email:") and EMAIL not in actor_key
    raw = _raw_bytes(sqlite_url)
    for secret in (EMAIL, PHONE, "198.51.100.7", "ann.private"):
        assert secret.encode() not in raw


def test_kept_contacts_are_encrypted_and_every_read_is_audited(store_url: str, uid: str) -> None:
    client, keys = _service(store_url, keep=True)
    with client:
        actor_key = _hold(client, keys, uid)
        path = f"/v1/contacts/{actor_key}"
        assert client.get(path, params={"reason": "fraud review"},
                          headers={"Authorization": f"Bearer {keys['staff']}"}).status_code == 403
        missing = client.get(path, headers={"Authorization": f"Bearer {keys['privacy']}"})
        assert missing.status_code == 422 and missing.json()["field"] == "reason"
        r = client.get(path, params={"reason": "subject access request #17"},
                       headers={"Authorization": f"Bearer {keys['privacy']}"})
        assert r.status_code == 200
        values = {c["kind"]: c["value"] for c in r.json()["contacts"]}
        assert values == {"email": EMAIL, "phone": PHONE, "ip": "198.51.100.7"}
        store = client.app.state.store  # type: ignore[attr-defined]
        entries = [e for e in store.read_audit() if e.subject == actor_key]
        assert [(e.action, e.reason) for e in entries] == [("contacts.read", "subject access request #17")]
        assert verify(store, client.app.state.keyring).ok  # type: ignore[attr-defined]
    if store_url.startswith("sqlite"):
        assert EMAIL.encode() not in _raw_bytes(store_url)


def test_a_ciphertext_moved_to_another_person_does_not_decrypt() -> None:
    ring = parse_keys(new_key_line("k1"))
    record = seal(ring, "email:k1:ann", "email", EMAIL)
    assert unseal(ring, record) == EMAIL
    with pytest.raises(ValueError, match="tampered or moved"):
        unseal(ring, replace(record, actor_key="email:k1:bob"))
    with pytest.raises(ValueError, match="tampered or moved"):
        unseal(ring, replace(record, ciphertext=bytes([record.ciphertext[0] ^ 1]) + record.ciphertext[1:]))


def test_rotation_keeps_old_contacts_readable() -> None:
    old_line, new_line = new_key_line("k1"), new_key_line("k2")
    old = parse_keys(old_line)
    record = seal(old, "a", "email", EMAIL)
    rotated = parse_keys(f"{new_line},{old_line}")
    assert rotated.current_id == "k2"
    assert unseal(rotated, record) == EMAIL
    assert rotated.pseudonym("email", EMAIL) != old.pseudonym("email", EMAIL)


def test_audit_verify_names_each_edit_and_deletion(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    store = open_store(url)
    ring = load_keyring()
    for i in range(6):
        record_read(store, ring, who=f"key{i}", role="privacy", action="contacts.read",
                    subject=f"email:x:{i}", reason="review")
    report = verify(store, ring)
    assert report.ok and report.entries == 6
    head = report.head
    store.close()
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--store", url])
    assert ok.exit_code == 0 and "audit log intact" in ok.output

    conn = sqlite3.connect(tmp_path / "a.db")
    conn.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 2")
    conn.execute("DELETE FROM audit WHERE seq = 4")
    conn.execute("DELETE FROM audit WHERE seq = 6")
    conn.commit()
    conn.close()
    bad = runner.invoke(main, ["audit", "verify", "--store", url, "--anchor", head])
    assert bad.exit_code == 1
    assert "entry 2 edited" in bad.output
    assert "entry 4 deleted" in bad.output
    assert "entry 6 (the anchor) is missing" in bad.output
    assert "Traceback" not in bad.output


def test_failed_authentication_is_rate_limited(sqlite_url: str, uid: str) -> None:
    client, keys = _service(sqlite_url, keep=False)
    with client:
        statuses = [client.get("/v1/pools", headers={"Authorization": "Bearer hc_nope_nope"}).status_code
                    for _ in range(7)]
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
        # a valid key is never refused for its address's failures (issue 13 M6: else a spoofed or
        # shared address locks its owner out)
        assert client.get("/v1/pools", headers={"Authorization": f"Bearer {keys['staff']}"}).status_code == 200


def test_purge_removes_old_contacts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = open_store(url)
    ring = load_keyring()
    store.put_contacts([seal(ring, "a", "email", EMAIL, now=1000.0), seal(ring, "b", "email", "b@x.org")])
    store.close()
    result = CliRunner().invoke(main, ["purge", "--store", url, "--older-than-days", "1"])
    assert result.exit_code == 0 and "purged 1" in result.output
    store = open_store(url)
    assert store.get_contacts("a") == [] and len(store.get_contacts("b")) == 1
    store.close()


def _tamper(url: str, statements: list[str]) -> None:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        for sql in statements:
            conn.execute(sql)
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(url, autocommit=True) as pg:
            for sql in statements:
                pg.execute(sql)


def test_audit_tampering_is_named_on_every_store(store_url: str, uid: str) -> None:
    store = open_store(store_url)
    ring = load_keyring()
    made = [record_read(store, ring, who="k", role="privacy", action="contacts.read",
                        subject=f"{uid}-{i}", reason="review") for i in range(5)]
    assert verify(store, ring).ok
    edited, deleted = made[1].seq, made[3].seq
    _tamper(store_url, [f"UPDATE audit SET who = 'someone else' WHERE seq = {edited}",
                        f"DELETE FROM audit WHERE seq = {deleted}"])
    problems = verify(store, ring).problems
    assert any(p.startswith(f"entry {edited} edited") for p in problems)
    assert any(p.startswith(f"entry {deleted} deleted") for p in problems)
    assert len(problems) == 2  # nothing else is flagged
    _tamper(store_url, [f"DELETE FROM audit WHERE seq >= {made[0].seq}"])  # leave the table clean
    store.close()


def test_contacts_export_is_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    store = open_store(url)
    ring = load_keyring()
    store.put_contacts([seal(ring, "email:a", "email", EMAIL), seal(ring, "tel:b", "phone", PHONE)])
    store.close()
    runner = CliRunner()
    assert runner.invoke(main, ["contacts", "export", "--store", url, "--out", str(tmp_path / "x.csv")]).exit_code == 2
    result = runner.invoke(main, ["contacts", "export", "--store", url, "--reason", "organiser's cleanup",
                                  "--out", str(tmp_path / "x.csv"), "--who", "dpo"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "x.csv").read_text()
    assert EMAIL in text and PHONE in text
    store = open_store(url)
    (entry,) = store.read_audit()
    assert (entry.who, entry.action, entry.subject, entry.reason) == ("dpo", "contacts.export", "*", "organiser's cleanup")
    store.close()
