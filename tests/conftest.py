"""Shared fixtures: every store test runs against SQLite and, when a server is
available (HEADCOUNT_TEST_PG_URL, started by .ci/run), PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from headcount.store import open_store
from headcount.store.base import Store

# a fixed key ring for the whole suite (servers started by tests inherit it)
os.environ.setdefault(
    "HEADCOUNT_SECRET_KEYS", "test1:dGVzdC1rZXktZm9yLWhlYWRjb3VudC10ZXN0cy1vbmx5LTMyYnl0ZXMhIQ"
)

# detection runs in the service only where a test turns it on (tests/api/test_blocks_http.py)
os.environ.setdefault("HEADCOUNT_DETECT_INTERVAL_S", "0")

PG_URL = os.environ.get("HEADCOUNT_TEST_PG_URL")
REQUIRE_PG = os.environ.get("HEADCOUNT_REQUIRE_PG") == "1"


def _with_db(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@contextmanager
def _fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server for the block, dropped after it."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("HEADCOUNT_REQUIRE_PG=1 but HEADCOUNT_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server (set HEADCOUNT_TEST_PG_URL; .ci/run starts one)")
    with _fresh_database(PG_URL, "hc_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'headcount.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store of this test's own, for tests that read everything in it (history over all pools)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('own') / 'headcount.db'}"
        return
    with _fresh_database(request.getfixturevalue("pg_url"), "hc_own") as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def uid() -> str:
    """A unique prefix so tests sharing a PostgreSQL database never collide."""
    return uuid.uuid4().hex[:10]
