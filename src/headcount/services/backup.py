"""Backups that are proven by restoring them, and restores that cannot destroy the store.

SQLite: the online backup API, consistent while the service keeps writing.
PostgreSQL: its own tools, `pg_dump --format=custom` and `pg_restore`.

A backup carries a fingerprint (row count and SHA-256 of the ordered rows) of
every table the schema has, read from the schema itself, so a table added by a
later migration is never forgotten; it is written next to the backup as
`<backup>.manifest.json` with the file's SHA-256. `verify` restores a backup
into a scratch store and compares.

`restore` never writes into the live store before the backup has been proven:
SQLite restores into a new file beside the store, checks it (integrity check,
the manifest's SHA-256 and fingerprint when there is one) and only then swaps it
in with `os.replace`; PostgreSQL restores into a scratch database first and only
then, in one transaction, into the store. Any failure leaves the store as it was
and no half-written file behind.

The secret keys are not in a backup (a stolen backup must not carry them):
`keys_location` says where they are, so they can be backed up separately.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from headcount.store import StoreError
from headcount.store.base import one_line

MANIFEST_SUFFIX = ".manifest.json"


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
    sha256: str = ""
    keys: str = field(default="")  # where the secret keys are, which the backup does not hold

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise StoreError(f"not a sqlite URL: {url!r}")
    return url[len("sqlite:///"):].split("?", 1)[0]


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme in {"postgresql", "postgres"}


def _libpq_url(url: str) -> str:
    """The URL without headcount's own options (libpq refuses unknown ones)."""
    from headcount.store.postgres import split_url

    return split_url(url)[0]


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if candidates:
        return str(candidates[-1])
    raise StoreError(f"{name} not found: install PostgreSQL's client tools (Debian: postgresql-client)")


# fingerprints ------------------------------------------------------------------------

def _digest_rows(rows: Any) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for row in rows:
        h.update(json.dumps([_normal(v) for v in row], default=str).encode())
        n += 1
    return n, h.hexdigest()


def _normal(value: object) -> object:
    """Make SQLite and PostgreSQL values hash alike (floats, JSON text, booleans, bytes)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: columns that differ by design between a store and its restored copy
_SKIP_COLUMNS = {("schema_migrations", "applied_at")}


def _select(table: str, columns: list[str], order: list[str]) -> str:
    cols = ", ".join(_quote(c) for c in columns if (table, c) not in _SKIP_COLUMNS)
    return f"SELECT {cols} FROM {_quote(table)} ORDER BY {', '.join(_quote(c) for c in order)}"


def sqlite_tables(conn: sqlite3.Connection) -> dict[str, str]:
    """Every table of the schema, each with the query that reads it in primary-key order."""
    out: dict[str, str] = {}
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    for name in names:
        info = conn.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
        columns = [r[1] for r in info]
        pk = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        out[name] = _select(name, columns, pk or columns)
    return out


def postgres_tables(conn: psycopg.Connection[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    names = [r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()]
    for name in names:
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = %s ORDER BY ordinal_position", (name,)).fetchall()]
        pk = [r[0] for r in conn.execute(
            "SELECT k.column_name FROM information_schema.table_constraints c"
            " JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name"
            "  AND k.table_schema = c.table_schema AND k.table_name = c.table_name"
            " WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()"
            " AND c.table_name = %s ORDER BY k.ordinal_position", (name,)).fetchall()]
        out[name] = _select(name, columns, pk or columns)
    return out


def fingerprint_sqlite(conn: sqlite3.Connection) -> Fingerprint:
    return Fingerprint({t: _digest_rows(conn.execute(sql)) for t, sql in sqlite_tables(conn).items()})


def fingerprint_postgres(conn: psycopg.Connection[Any]) -> Fingerprint:
    return Fingerprint({t: _digest_rows(conn.execute(sql).fetchall()) for t, sql in postgres_tables(conn).items()})


@contextlib.contextmanager
def _sqlite_ro(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A read-only connection that never creates the file it is pointed at."""
    if not Path(path).is_file():
        raise StoreError(f"no SQLite database at {path}")
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        yield conn
    finally:
        conn.close()


def fingerprint(url: str) -> Fingerprint:
    if _is_postgres(url):
        with psycopg.connect(_libpq_url(url)) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return fingerprint_postgres(conn)
    with _sqlite_ro(_sqlite_path(url)) as lite:
        lite.execute("BEGIN")
        return fingerprint_sqlite(lite)


# the key ring ----------------------------------------------------------------------

def keys_location(url: str) -> str:
    """One sentence: where this store's secret keys are, and that a backup does not hold them."""
    if os.environ.get("HEADCOUNT_SECRET_KEYS"):
        return ("the secret keys come from HEADCOUNT_SECRET_KEYS and are not in the backup: "
                "keep a copy of that value, separately from the backup")
    if _is_postgres(url):
        return ("the secret keys are not in the backup: keep HEADCOUNT_SECRET_KEYS (or, for a key ring kept "
                "in the database, HEADCOUNT_OPERATOR_SECRET) safe, separately from the backup")
    path: str | None = None
    try:
        from headcount.privacy import keyring

        finder = getattr(keyring, "key_file_for", None)
        if callable(finder):
            path = str(finder(_sqlite_path(url)))
    except Exception:
        path = None
    if path is None:
        path = str(Path(_sqlite_path(url)).with_name("secret.keys"))
    return (f"the secret keys are not in the backup: back up {path} separately "
            "(without it the backup's pseudonyms, contacts and audit log cannot be used)")


# backup --------------------------------------------------------------------------

ProgressCallback = Callable[[int, int], None]  # (pages done, pages in all)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _private_new(path: Path) -> None:
    """Create an empty owner-only file (backups hold pseudonyms and encrypted contacts)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _write_manifest(report: BackupReport) -> None:
    target = Path(report.path + MANIFEST_SUFFIX)
    tmp = target.with_name(target.name + ".partial")
    _private_new(tmp)
    tmp.write_text(json.dumps({"kind": report.kind, "sha256": report.sha256, "bytes": report.bytes,
                               "fingerprint": report.fingerprint.tables}, indent=1))
    os.replace(tmp, target)


def read_manifest(backup_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = Path(str(backup_path) + MANIFEST_SUFFIX)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        data["fingerprint"] = Fingerprint({k: (int(v[0]), str(v[1])) for k, v in data["fingerprint"].items()})
        return data
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise StoreError(f"the backup's manifest {path} is damaged ({one_line(exc)}); move it away to restore "
                         "without it") from exc


def backup(url: str, out: str | os.PathLike[str], progress: ProgressCallback | None = None) -> BackupReport:
    """Write a consistent backup of the store at `url` to `out` (and `out.manifest.json`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    try:
        if _is_postgres(url):
            libpq = _libpq_url(url)
            # the fingerprint and the dump must see the same snapshot: export it
            with psycopg.connect(libpq) as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
                fp = fingerprint_postgres(conn)
                _private_new(tmp)
                _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                      "--file", str(tmp), "--dbname", libpq])
            kind = "postgresql"
        else:
            with _sqlite_ro(_sqlite_path(url)) as source:
                _private_new(tmp)
                dest = sqlite3.connect(tmp)
                try:
                    # online, in steps of 4 MiB: the service keeps writing meanwhile
                    source.backup(dest, pages=4096, progress=(
                        (lambda _s, left, total: progress(total - left, total)) if progress else None))
                    dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
                    fp = fingerprint_sqlite(dest)
                finally:
                    dest.close()
            kind = "sqlite"
        os.replace(tmp, out)
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {url} failed: {one_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"backup failed: {one_line(exc)}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    report = BackupReport(str(out), kind, out.stat().st_size, fp, _sha256(out), keys_location(url))
    _write_manifest(report)
    return report


# restore -------------------------------------------------------------------------

def _check_against_manifest(backup_path: Path, restored: Fingerprint) -> None:
    manifest = read_manifest(backup_path)
    if manifest is None:
        return
    problems = manifest["fingerprint"].differences(restored)
    if problems:
        raise StoreError(f"the backup {backup_path} differs from what was backed up: {problems[0]}")


def _check_sha(backup_path: Path) -> None:
    manifest = read_manifest(backup_path)
    if manifest is not None and manifest.get("sha256") and manifest["sha256"] != _sha256(backup_path):
        raise StoreError(f"the backup {backup_path} is damaged: its SHA-256 is not the one written at backup time")


def _sqlite_copy_checked(backup_path: Path, dest_path: Path) -> Fingerprint:
    """Copy a SQLite backup into a new file and prove it sound; raises StoreError saying why not."""
    try:
        with _sqlite_ro(backup_path) as source:
            _private_new(dest_path)
            dest = sqlite3.connect(dest_path)
            try:
                source.backup(dest)
                problems = [r[0] for r in dest.execute("PRAGMA integrity_check").fetchall()]
                if problems != ["ok"]:
                    raise StoreError(f"the backup {backup_path} is damaged: {one_line(Exception(problems[0]))}")
                fk = dest.execute("PRAGMA foreign_key_check").fetchall()
                if fk:
                    raise StoreError(f"the backup {backup_path} is damaged: a {fk[0][0]} row points at nothing")
                if not dest.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone():
                    raise StoreError(f"{backup_path} is a SQLite database but not a headcount store")
                dest.execute("PRAGMA journal_mode = WAL")
                fp = fingerprint_sqlite(dest)
            finally:
                dest.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{backup_path} is not a usable SQLite backup: {one_line(exc)}") from exc
    except UnicodeDecodeError as exc:  # text that is not text: bytes changed inside a row
        raise StoreError(f"the backup {backup_path} is damaged: a text value is not valid UTF-8") from exc
    return fp


def _restore_sqlite(backup_path: Path, url: str) -> Fingerprint:
    target = Path(_sqlite_path(url))
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_sha(backup_path)
    staged = target.with_name(f"{target.name}.restore-{uuid.uuid4().hex[:8]}")
    try:
        fp = _sqlite_copy_checked(backup_path, staged)
        _check_against_manifest(backup_path, fp)
        # fold the staged copy's WAL in, so one file is swapped in whole
        conn = sqlite3.connect(staged)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        _retire_live_sqlite(target)
        os.replace(staged, target)
        _fsync_dir(target.parent)
    finally:
        for leftover in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return fingerprint(url)


def _retire_live_sqlite(target: Path) -> None:
    """Empty the live store's WAL into it and remove WAL and SHM, which belong to the old file.

    Fails (and changes nothing) while another connection writes the store.
    """
    if not target.exists():
        return
    try:
        conn = sqlite3.connect(f"file:{target.resolve()}?mode=rw", uri=True, timeout=2.0)
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        busy = None  # the live file is not a sound database: nothing in it to keep
    if busy is not None and busy[0]:
        raise StoreError(f"the store {target} is in use: stop the service before restoring")
    for side in (Path(f"{target}-wal"), Path(f"{target}-shm")):
        with contextlib.suppress(FileNotFoundError):
            side.unlink()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _scratch_database(url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the same server, dropped afterwards."""
    libpq = _libpq_url(url)
    scratch = f"hc_scratch_{uuid.uuid4().hex[:10]}"
    admin = urlunsplit(urlsplit(libpq)._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
    except psycopg.Error as exc:
        raise StoreError(f"cannot create a scratch database to check the backup in: {one_line(exc)}") from exc
    try:
        yield urlunsplit(urlsplit(libpq)._replace(path=f"/{scratch}"))
    finally:
        with contextlib.suppress(psycopg.Error), psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def _pg_restore_into(backup_path: Path, libpq_url: str) -> None:
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", "--dbname", libpq_url, str(backup_path)])


def _restore_postgres(backup_path: Path, url: str) -> Fingerprint:
    _check_sha(backup_path)
    with _scratch_database(url) as scratch:
        _pg_restore_into(backup_path, scratch)
        proven = fingerprint(scratch)
    _check_against_manifest(backup_path, proven)
    # proven sound: now into the store, in one transaction (all of it, or nothing)
    _pg_restore_into(backup_path, _libpq_url(url))
    return fingerprint(url)


def restore(backup_path: str | os.PathLike[str], url: str) -> Fingerprint:
    """Replace the (stopped) store at `url` with a backup, only once the backup is proven sound."""
    backup_path = Path(backup_path)
    if not backup_path.is_file():
        raise StoreError(f"no backup at {backup_path}")
    if _is_postgres(url):
        return _restore_postgres(backup_path, url)
    return _restore_sqlite(backup_path, url)


def verify(report: BackupReport, store_url: str) -> list[str]:
    """Restore the backup into a fresh scratch store; returns the differences (none = good)."""
    path = Path(report.path)
    if report.kind == "postgresql":
        with _scratch_database(store_url) as scratch:
            _pg_restore_into(path, scratch)
            restored = fingerprint(scratch)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                restored = _sqlite_copy_checked(path, Path(tmp) / "verify.db")
            except StoreError as exc:
                return [str(exc)]
    return report.fingerprint.differences(restored)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()] or lines or ["no message"]
        raise StoreError(f"{Path(cmd[0]).name} failed: {errors[0][:500]}")
