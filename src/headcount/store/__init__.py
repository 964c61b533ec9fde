"""Persistence: one interface (`Store`), an embedded SQLite and a PostgreSQL backend."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from headcount.settings import Settings
from headcount.store.base import (
    DEFAULT_TIMEOUT_S,
    ActionRecord,
    ApiKeyRecord,
    Store,
    StoreError,
    StoreHealth,
    StoreUnavailable,
)

__all__ = ["ActionRecord", "ApiKeyRecord", "Store", "StoreError", "StoreHealth", "StoreUnavailable",
           "default_store_url", "open_store"]


def default_data_dir() -> Path:
    """Where the embedded store lives: $HEADCOUNT_DATA_DIR, else ./data."""
    return Settings().data_dir


def default_store_url() -> str:
    """$HEADCOUNT_STORE, else the embedded SQLite file under the data directory."""
    return Settings().store_url()


def open_store(url: str | None = None) -> Store:
    """Open (and migrate) the store at `url`.

    `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (add
    `?synchronous=full` to survive power cuts too) or `postgresql://...`.
    Either takes `?timeout_s=N`: the longest wait on the database before an
    operation fails with `StoreUnavailable` (default 5).
    """
    url = url or default_store_url()
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from headcount.store.sqlite import SQLiteStore

        rest = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        path, _, query = rest.partition("?")
        if not path:
            raise StoreError(f"sqlite URL needs a path: sqlite:///data/headcount.db, not {url!r}")
        options = {k: v[-1] for k, v in parse_qs(query).items()}
        unknown = set(options) - {"synchronous", "timeout_s"}
        if unknown:
            raise StoreError(f"unknown sqlite URL option(s) {sorted(unknown)}: use synchronous, timeout_s")
        try:
            timeout_s = float(options.get("timeout_s", DEFAULT_TIMEOUT_S))
        except ValueError as exc:
            raise StoreError(f"timeout_s must be a number of seconds, not {options['timeout_s']!r}") from exc
        return SQLiteStore(path, synchronous=options.get("synchronous", "NORMAL"), timeout_s=timeout_s)
    if scheme in {"postgresql", "postgres"}:
        from headcount.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"unknown store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://...")
