"""`headcount.open`: one way in, with the service's privacy and per-person limit,
and keys that belong to the store rather than to the working directory."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import headcount
from headcount import ActorInfo, PoolSpec
from headcount.privacy.keyring import KeyRingError, key_file_for
from headcount.settings import Settings

EXAMPLE = '''
import headcount
from headcount import ActorInfo, PoolSpec

with headcount.open("sqlite:///data/headcount.db") as hc:
    hc.create_pool(PoolSpec("shop-caps", "Caps", "stock", capacity=500, per_actor_limit=3, hold_ttl_s=600))
    outcomes = [hc.hold("shop-caps", 2, ActorInfo(email="Ann.Lee+caps@gmail.com")),
                hc.hold("shop-caps", 2, ActorInfo(email="annlee@gmail.com", phone="+4915123456789")),
                hc.hold("shop-caps", 2, ActorInfo(phone="+49 1512 3456789"))]
    print([o.result.value for o in outcomes])
'''


def _env_without_keys() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADCOUNT_")}
    env["PYTHONPATH"] = str(Path(headcount.__file__).resolve().parents[1])
    return env


def test_readme_library_example_stores_no_raw_identifier_and_holds_the_limit(tmp_path: Path) -> None:
    """The README's example as written, in a fresh directory, with no configured keys."""
    run = subprocess.run([sys.executable, "-c", EXAMPLE], cwd=tmp_path, env=_env_without_keys(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    # 2 seats, then the same mailbox (alias) and a phone: the limit of 3 is one person's
    assert run.stdout.strip() == "['held', 'actor_limit', 'actor_limit']"
    db = tmp_path / "data" / "headcount.db"
    assert key_file_for(db).exists() and (key_file_for(db).stat().st_mode & 0o777) == 0o600
    raw = b"".join(p.read_bytes() for p in db.parent.glob("headcount.db*") if not p.name.endswith(".keys"))
    for needle in (b"annlee", b"Ann.Lee", b"gmail.com", b"15123456789", b"1512 3456789"):
        assert needle not in raw
    with sqlite3.connect(db) as conn:
        keys = [r[0] for r in conn.execute("SELECT actor_key FROM holds")]
    assert keys and all(k.startswith(("email:", "tel:", "person:", "p")) for k in keys)


def test_same_store_from_two_directories_uses_the_same_keys(tmp_path: Path) -> None:
    db = tmp_path / "store" / "h.db"
    url = f"sqlite:///{db}"
    env = _env_without_keys()
    script = ("import headcount, sys\nfrom headcount import ActorInfo, PoolSpec\n"
              f"hc = headcount.open({url!r})\n"
              "hc.create_pool(PoolSpec('p', 'P', 'event', capacity=100, per_actor_limit=2, hold_ttl_s=600))\n"
              "print(hc.hold('p', 2, ActorInfo(email='ann@example.org')).result.value)\nhc.close()\n")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    answers = [subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120) for cwd in (first, second)]
    assert [a.returncode for a in answers] == [0, 0], answers[1].stderr
    assert [a.stdout.strip() for a in answers] == ["held", "actor_limit"]  # no extra seats
    assert not (first / "data").exists() and not (second / "data").exists()  # nothing follows the cwd
    verify = subprocess.run([sys.executable, "-m", "headcount.cli.main", "audit", "verify", "--store", url],
                            cwd=second, env=env, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and "audit log intact" in verify.stdout, verify.stdout + verify.stderr


def test_store_without_its_keys_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    settings = Settings(secret_keys=None)
    headcount.open(f"sqlite:///{db}", settings=settings).close()
    key_file_for(db).rename(tmp_path / "elsewhere.keys")
    with pytest.raises(KeyRingError, match=r"none were found: looked at .*h\.db\.keys"):
        headcount.open(f"sqlite:///{db}", settings=settings)


def test_other_keys_for_a_store_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    headcount.open(f"sqlite:///{db}", settings=Settings(secret_keys=None)).close()
    other = Settings(secret_keys="k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwMTI")
    with pytest.raises(KeyRingError, match="not the key 'k1' this store was written under"):
        headcount.open(f"sqlite:///{db}", settings=other)


@pytest.mark.postgres
def test_postgres_keeps_its_key_ring_under_the_operator_secret(pg_url: str) -> None:
    """In a database of its own: the suite's shared one was written under the suite's keys."""
    import uuid

    import psycopg

    name = f"hc_keys_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        _kept_ring_round_trip(pg_url.rsplit("/", 1)[0] + "/" + name)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _kept_ring_round_trip(pg_url: str) -> None:
    settings = Settings(secret_keys=None, operator_secret="operator-secret-for-tests")
    with headcount.open(pg_url, settings=settings) as hc:
        ring = hc.keyring
    with headcount.open(pg_url, settings=settings) as hc:
        assert hc.keyring == ring
    with pytest.raises(KeyRingError, match="does not open"):
        headcount.open(pg_url, settings=Settings(secret_keys=None, operator_secret="another"))
    with pytest.raises(KeyRingError, match="OPERATOR_SECRET"):
        headcount.open(pg_url, settings=Settings(secret_keys=None))


def test_public_api_fits_on_a_page() -> None:
    assert "open" in headcount.__all__ and "Headcount" in headcount.__all__
    assert len(headcount.__all__) <= 25
    for name in headcount.__all__:
        assert hasattr(headcount, name)


def test_open_library_equals_service_wiring(tmp_path: Path) -> None:
    with headcount.open(f"sqlite:///{tmp_path / 'h.db'}") as hc:
        app = hc.asgi(sweep_interval=None, detect_interval=0)
        assert app.state.headcount is hc and app.state.ledger.guard is hc.guard
        hc.create_pool(PoolSpec("p", "P", "event", capacity=1, per_actor_limit=1, hold_ttl_s=60))
        assert hc.hold("p", 1, ActorInfo(email="x@mailinator.com")).result.value in {"denied", "held"}
