"""Backups are consistent while the service writes, and verified by restoring them."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner

from headcount.cli.main import main
from headcount.services import backup as bk
from headcount.services.holds import Ledger
from headcount.store import StoreError, open_store
from headcount.store.base import ChallengeRecord
from headcount.store.blocks import StoredBlock
from headcount.types import ActorInfo, HoldRequest, PoolSpec


def _fill_while(ledger: Ledger, pool: str, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        out = ledger.hold(pool, 1, ActorInfo(id=f"a{i}"))
        if out.ok and i % 3 == 0:
            ledger.confirm(out.body["hold_id"])
        i += 1


def test_backup_during_writes_restores_identical_and_consistent(store_url: str, tmp_path: Path, uid: str) -> None:
    store = open_store(store_url)
    ledger = Ledger(store)
    ledger.create_pool(PoolSpec(uid, "Arena", "event", 100_000, 2, 600))
    for i in range(50):
        ledger.hold(uid, 1, ActorInfo(id=f"pre{i}"))
    stop = threading.Event()
    writer = threading.Thread(target=_fill_while, args=(ledger, uid, stop))
    writer.start()
    try:
        time.sleep(0.2)
        report = bk.backup(store_url, tmp_path / "backup.bin")
    finally:
        stop.set()
        writer.join()
    assert bk.verify(report, store_url) == []
    assert report.fingerprint.tables["holds"][0] >= 50

    # the restored ledger is internally consistent: counters equal its holds
    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    if report.kind == "sqlite":
        bk.restore(report.path, restored_url)
        restored = open_store(restored_url)
        pool = restored.get_pool(uid, time.time())
        conn = sqlite3.connect(tmp_path / "restored.db")
        held, confirmed = conn.execute(
            "SELECT coalesce(sum(CASE WHEN status='held' THEN quantity END), 0),"
            " coalesce(sum(CASE WHEN status='confirmed' THEN quantity END), 0) FROM holds WHERE pool_id = ?",
            (uid,),
        ).fetchone()
        conn.close()
        assert pool is not None and (pool.held, pool.confirmed) == (held, confirmed)
        restored.close()
    store.close()


def test_a_tampered_backup_is_caught(tmp_path: Path, uid: str) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    store = open_store(url)
    ledger = Ledger(store)
    ledger.create_pool(PoolSpec(uid, "Shop", "stock", 10, 2, 600))
    ledger.hold(uid, 2, ActorInfo(id="ann"))
    store.close()
    report = bk.backup(url, tmp_path / "b.db")
    conn = sqlite3.connect(report.path)
    conn.execute("UPDATE pools SET capacity = 11")
    conn.commit()
    conn.close()
    problems = bk.verify(report, url)
    assert problems and problems[0].startswith("pools:")


def test_cli_backup_and_restore(tmp_path: Path, uid: str) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    store = open_store(url)
    Ledger(store).create_pool(PoolSpec(uid, "Shop", "stock", 10, 2, 600))
    store.close()
    runner = CliRunner()
    result = runner.invoke(main, ["backup", "--store", url, "--out", str(tmp_path / "b.db")])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    target = f"sqlite:///{tmp_path / 'new.db'}"
    result = runner.invoke(main, ["restore", "--store", target, "--from", str(tmp_path / "b.db"), "--yes"])
    assert result.exit_code == 0, result.output
    restored = open_store(target)
    assert restored.get_pool(uid, time.time()) is not None
    restored.close()
    missing = runner.invoke(main, ["restore", "--store", target, "--from", str(tmp_path / "nope.db"), "--yes"])
    assert missing.exit_code != 0 and "Traceback" not in missing.output


# every table, restore that cannot destroy the store (issue 11, issue 13 H3) ------------------


T0 = 1_800_000_000.0


def _fill_every_concern(store: object, uid: str) -> None:
    s: object = store
    s.create_pool(PoolSpec(uid, "P", "event", 10, 2, 600), T0)  # type: ignore[attr-defined]
    s.place_hold(HoldRequest(uid, 1, f"{uid}-ann", owner="key-A"), T0)  # type: ignore[attr-defined]
    s.link_and_hit([f"{uid}-e", f"{uid}-p"], T0, [f"{uid}-net"], (60,))  # type: ignore[attr-defined]
    s.create_challenge(ChallengeRecord(f"ch_{uid}", f"{uid}-ann", "pool:x", 0.5, ("velocity",),  # type: ignore[attr-defined]
                                       T0, T0 + 60))
    s.replace_blocks([StoredBlock(f"b_{uid}", T0, T0, "d", 0.9, T0, T0 + 1, 1.0, 3, (f"{uid}-ann",), (uid,),  # type: ignore[attr-defined]
                                  {})])
    assert s.ping()  # type: ignore[attr-defined]


def _schema_tables_sqlite(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
    finally:
        conn.close()


def test_backup_fingerprints_every_table_of_the_schema(tmp_path: Path, uid: str) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    store = open_store(url)
    _fill_every_concern(store, uid)
    store.close()
    report = bk.backup(url, tmp_path / "b.db")
    tables = report.fingerprint.tables
    assert set(tables) == _schema_tables_sqlite(tmp_path / "live.db")
    for name in ("identities", "velocity", "challenges", "blocks", "block_members", "holds", "meta"):
        assert tables[name][0] >= 1, name
    assert bk.verify(report, url) == []
    # a table a later migration adds is covered without anyone listing it
    conn = sqlite3.connect(tmp_path / "live.db")
    conn.execute("CREATE TABLE later_feature (id INTEGER PRIMARY KEY, v TEXT)")
    conn.execute("INSERT INTO later_feature (v) VALUES ('x')")
    conn.commit()
    conn.close()
    assert bk.backup(url, tmp_path / "b2.db").fingerprint.tables["later_feature"][0] == 1


def _leftovers(folder: Path, allowed: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - allowed


def _corrupt(path: Path, n: int = 200, seed: int = 7) -> None:
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for _ in range(n):
        i = rng.randrange(100, len(data))  # past the header: the file still looks like a database
        data[i] = (data[i] + rng.randrange(1, 256)) % 256
    path.write_bytes(bytes(data))


def test_a_corrupted_backup_leaves_the_store_intact(tmp_path: Path, uid: str) -> None:
    live = tmp_path / "live"
    live.mkdir()
    url = f"sqlite:///{live / 'headcount.db'}"
    store = open_store(url)
    _fill_every_concern(store, uid)
    store.close()
    report = bk.backup(url, tmp_path / "b.db")
    store = open_store(url)  # the store moves on after the backup
    store.create_pool(PoolSpec(uid + "-later", "Later", "stock", 5, 1, 60), T0)
    store.close()
    before = bk.fingerprint(url)
    files_before = {p.name for p in live.iterdir()}
    _corrupt(Path(report.path))
    with pytest.raises(StoreError) as caught:
        bk.restore(report.path, url)
    assert "\n" not in str(caught.value) and "damaged" in str(caught.value)
    assert bk.fingerprint(url) == before
    assert _leftovers(live, files_before) == set()
    # without its manifest, damage to the structure is still found by the database's own checks
    os.unlink(report.path + bk.MANIFEST_SUFFIX)
    data = bytearray(Path(report.path).read_bytes())
    data[1024:1124] = b"\xff" * 100  # the header of the second page (pages are 1 KiB)
    Path(report.path).write_bytes(bytes(data))
    with pytest.raises(StoreError):
        bk.restore(report.path, url)
    assert bk.fingerprint(url) == before
    assert _leftovers(live, files_before) == set()


def test_restoring_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    target = tmp_path / "new" / "headcount.db"
    with pytest.raises(StoreError, match="not a usable SQLite backup"):
        bk.restore(junk, f"sqlite:///{target}")
    assert not target.exists()  # no 0-byte store left behind
    assert not any(target.parent.iterdir())
    # and from the CLI: one clear line, no traceback
    result = CliRunner().invoke(main, ["restore", "--store", f"sqlite:///{target}", "--from", str(junk), "--yes"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not target.exists()


def test_a_good_restore_swaps_the_whole_store(tmp_path: Path, uid: str) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    store = open_store(url)
    _fill_every_concern(store, uid)
    store.close()
    report = bk.backup(url, tmp_path / "b.db")
    store = open_store(url)
    store.create_pool(PoolSpec(uid + "-later", "Later", "stock", 5, 1, 60), T0)
    store.close()
    restored = bk.restore(report.path, url)
    assert restored == report.fingerprint
    store = open_store(url)
    try:
        assert store.get_pool(uid + "-later", T0) is None and store.get_pool(uid, T0) is not None
        assert store.place_hold(HoldRequest(uid, 1, "bob"), T0).ok
    finally:
        store.close()
    assert stat_mode(tmp_path / "live.db") & 0o077 == 0
    assert stat_mode(Path(report.path)) & 0o077 == 0


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_cli_backup_says_where_the_keys_are(tmp_path: Path, uid: str) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    open_store(url).close()
    result = CliRunner().invoke(main, ["backup", "--store", url, "--out", str(tmp_path / "b.db")])
    assert result.exit_code == 0, result.output
    assert "secret keys" in result.output and "not in the backup" in result.output


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """A database of its own: a restore replaces everything in it."""
    admin = os.environ.get("HEADCOUNT_TEST_PG_URL")
    if not admin:
        pytest.skip("no PostgreSQL server (set HEADCOUNT_TEST_PG_URL)")
    name = f"hc_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgres_restore_is_proven_first_and_leaves_the_store_on_failure(
        own_pg_url: str, tmp_path: Path, uid: str) -> None:
    store = open_store(own_pg_url)
    _fill_every_concern(store, uid)
    store.close()
    report = bk.backup(own_pg_url, tmp_path / "b.dump")
    conn = psycopg.connect(own_pg_url)
    names = {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE'")}
    conn.close()
    assert set(report.fingerprint.tables) == names
    store = open_store(own_pg_url)
    store.create_pool(PoolSpec(uid + "-later", "Later", "stock", 5, 1, 60), T0)
    store.close()
    before = bk.fingerprint(own_pg_url)
    _corrupt(Path(report.path))
    with pytest.raises(StoreError) as caught:
        bk.restore(report.path, own_pg_url)
    assert "\n" not in str(caught.value)
    assert bk.fingerprint(own_pg_url) == before
    os.unlink(report.path + bk.MANIFEST_SUFFIX)  # pg_restore's own checks, in the scratch database
    with pytest.raises(StoreError):
        bk.restore(report.path, own_pg_url)
    assert bk.fingerprint(own_pg_url) == before
    good = bk.backup(own_pg_url, tmp_path / "good.dump")
    store = open_store(own_pg_url)
    store.create_pool(PoolSpec(uid + "-gone", "Gone", "stock", 5, 1, 60), T0)
    store.close()
    assert bk.restore(good.path, own_pg_url) == good.fingerprint
    with psycopg.connect(os.environ["HEADCOUNT_TEST_PG_URL"]) as admin:  # no scratch database left behind
        assert not admin.execute("SELECT 1 FROM pg_database WHERE datname LIKE 'hc_scratch_%'").fetchall()
