"""Backups that are proven by restoring them.

SQLite: the online backup API, consistent while the service keeps writing.
PostgreSQL: its own tools, `pg_dump --format=custom` and `pg_restore`.
`verify` restores a backup into a fresh store and compares a fingerprint of
every table with the one taken inside the backup's own snapshot.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from headcount.store import StoreError

#: Tables whose content a backup must carry, with the column that orders them.
TABLES = {
    "pools": "id",
    "holds": "seq",
    "idempotency": "scope, key",
    "api_keys": "key_id",
    "actions": "seq",
    "schema_migrations": "version",
    "contacts": "actor_key, kind, value_key",
    "audit": "seq",
}


@dataclass(frozen=True)
class Fingerprint:
    """Row count and SHA-256 of the ordered rows of each table."""

    tables: dict[str, tuple[int, str]]

    def differences(self, other: Fingerprint) -> list[str]:
        return [
            f"{name}: {self.tables.get(name)} != {other.tables.get(name)}"
            for name in sorted(set(self.tables) | set(other.tables))
            if self.tables.get(name) != other.tables.get(name)
        ]


@dataclass(frozen=True)
class BackupReport:
    path: str
    kind: str
    bytes: int
    fingerprint: Fingerprint

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise StoreError(f"not a sqlite URL: {url!r}")
    return url[len("sqlite:///"):].split("?", 1)[0]


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgresql", "postgres"}


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if candidates:
        return str(candidates[-1])
    raise StoreError(f"{name} not found: install PostgreSQL's client tools (Debian: postgresql-client)")


def _digest_rows(rows: object) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for row in rows:  # type: ignore[attr-defined]
        h.update(json.dumps([_normal(v) for v in row], default=str).encode())
        n += 1
    return n, h.hexdigest()


def _normal(value: object) -> object:
    """Make SQLite and PostgreSQL values hash alike (floats, JSON text, booleans)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _columns(table: str) -> str:
    # everything but the applied_at timestamp, which differs by design across restores
    return "version, name" if table == "schema_migrations" else "*"


def fingerprint_sqlite(conn: sqlite3.Connection) -> Fingerprint:
    return Fingerprint({
        t: _digest_rows(conn.execute(f"SELECT {_columns(t)} FROM {t} ORDER BY {order}"))
        for t, order in TABLES.items()
    })


def fingerprint_postgres(conn: psycopg.Connection) -> Fingerprint:
    return Fingerprint({
        t: _digest_rows(conn.execute(f"SELECT {_columns(t)} FROM {t} ORDER BY {order}").fetchall())
        for t, order in TABLES.items()
    })


def fingerprint(url: str) -> Fingerprint:
    if _is_postgres(url):
        with psycopg.connect(url) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return fingerprint_postgres(conn)
    conn = sqlite3.connect(_sqlite_path(url))
    try:
        conn.execute("BEGIN")
        return fingerprint_sqlite(conn)
    finally:
        conn.close()


ProgressCallback = Callable[[int, int], None]  # (pages done, pages in all)


def backup(url: str, out: str | os.PathLike[str], progress: ProgressCallback | None = None) -> BackupReport:
    """Write a consistent backup of the store at `url` to `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if _is_postgres(url):
        # the fingerprint and the dump must see the same snapshot: export it
        with psycopg.connect(url) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
            fp = fingerprint_postgres(conn)
            _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                  "--file", str(out), "--dbname", url])
        return BackupReport(str(out), "postgresql", out.stat().st_size, fp)
    source = sqlite3.connect(_sqlite_path(url))
    try:
        tmp = out.with_suffix(out.suffix + ".partial")
        dest = sqlite3.connect(tmp)
        try:
            # online, in steps of 4 MiB: the service keeps writing meanwhile
            source.backup(dest, pages=4096,
                          progress=(lambda _s, left, total: progress(total - left, total)) if progress else None)
            fp = fingerprint_sqlite(dest)
        finally:
            dest.close()
        os.replace(tmp, out)
    finally:
        source.close()
    return BackupReport(str(out), "sqlite", out.stat().st_size, fp)


def restore(backup_path: str | os.PathLike[str], url: str) -> Fingerprint:
    """Restore a backup into the (stopped or empty) store at `url`."""
    backup_path = Path(backup_path)
    if not backup_path.exists():
        raise StoreError(f"no backup at {backup_path}")
    if _is_postgres(url):
        _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--dbname", url, str(backup_path)])
        return fingerprint(url)
    target = Path(_sqlite_path(url))
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(backup_path)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        source.close()
        dest.close()
    return fingerprint(url)


def verify(report: BackupReport, store_url: str) -> list[str]:
    """Restore the backup into a fresh scratch store; returns the differences (none = good)."""
    if report.kind == "postgresql":
        scratch = f"hc_verify_{uuid.uuid4().hex[:8]}"
        admin = urlunsplit(urlsplit(store_url)._replace(path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
        try:
            restored = restore(report.path, urlunsplit(urlsplit(store_url)._replace(path=f"/{scratch}")))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory() as tmp:
            restored = restore(report.path, f"sqlite:///{tmp}/verify.db")
    return report.fingerprint.differences(restored)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StoreError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-2000:]}")
