"""Backups are consistent while the service writes, and verified by restoring them."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from headcount.services import backup as bk
from headcount.cli.main import main
from headcount.services.holds import Ledger
from headcount.store import open_store
from headcount.types import ActorInfo, PoolSpec


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
