"""`headcount keys`: API keys with roles: create (optionally expiring), list, revoke; audited."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

ROLES = ["client", "staff", "privacy", "admin"]
STORE = click.option("--store", "store_url", metavar="URL", envvar="HEADCOUNT_STORE",
                     help="sqlite:///PATH (default: ./data/headcount.db) or postgresql://...")
WHO = click.option("--who", default=lambda: os.environ.get("USER", "cli"), show_default="$USER",
                   help="who does it, for the audit log")


@click.group()
def keys() -> None:
    """Manage API keys."""


@contextmanager
def _opened(store_url: str | None) -> Iterator[Any]:
    from headcount.store import StoreError, open_store

    try:
        store = open_store(store_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield store
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def _ring(store: Any) -> Any:
    from headcount.privacy.keyring import KeyRingError, keyring_for_store

    try:
        return keyring_for_store(store)
    except KeyRingError as exc:
        raise click.ClickException(f"the audit log needs the store's key ring: {exc}") from exc


def _duration(text: str | None) -> float | None:
    """`90d`, `12h`, `30m`, `45s` or seconds."""
    if text is None:
        return None
    units: dict[str, Callable[[float], float]] = {"d": lambda n: n * 86400, "h": lambda n: n * 3600,
                                                  "m": lambda n: n * 60, "s": lambda n: n}
    unit = text[-1:].lower()
    try:
        return units[unit](float(text[:-1])) if unit in units else float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration such as 90d, 12h, 30m or 3600",
                                 param_hint="--expires-in") from None


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="client: holds and actions; staff: figures; privacy: raw data; admin: all")
@click.option("--expires-in", metavar="DURATION", help="the key stops working after this (90d, 12h, 30m, seconds)")
@click.option("--label", help="whose key it is (shown by `keys list`)")
@STORE
@WHO
def create(role: str, expires_in: str | None, label: str | None, store_url: str | None, who: str) -> None:
    """Create a key; the key alone is printed on the last line (it is shown only once)."""
    from headcount.services.keys import KeyRequestError, create_key

    seconds = _duration(expires_in)
    with _opened(store_url) as store:
        try:
            key = create_key(store, role, expires_in_s=seconds, label=label, ring=_ring(store), who=who)
        except KeyRequestError as exc:
            hint = {"expires_in_s": "--expires-in"}.get(exc.field, f"--{exc.field}")
            raise click.BadParameter(str(exc).split(": ", 1)[-1], param_hint=hint) from exc
    click.echo(f"created a {role} key; keep it secret, it is not stored in clear:", err=True)
    click.echo(key)


@keys.command("list")
@STORE
@click.option("--all", "show_all", is_flag=True, help="also revoked and expired keys")
def list_cmd(store_url: str | None, show_all: bool) -> None:
    """Every key: id, role, state, created, expires, label (never a secret)."""
    import time
    from datetime import UTC, datetime

    from headcount.services.keys import list_keys

    def when(ts: float | None) -> str:
        return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")

    now = time.time()
    with _opened(store_url) as store:
        records = list_keys(store)
    click.echo(f"{'key_id':<14} {'role':<8} {'state':<8} {'created':<21} {'expires':<21} label")
    for r in records:
        state = "revoked" if r.revoked else ("expired" if not r.usable(now) else "active")
        if state != "active" and not show_all:
            continue
        label = (r.label or "").encode("unicode_escape").decode("ascii")  # no terminal escapes
        click.echo(f"{r.key_id:<14} {r.role:<8} {state:<8} {when(r.created_at):<21} {when(r.expires_at):<21} {label}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--reason", default="", help="why; written to the audit log")
@STORE
@WHO
def revoke(key_id: str, reason: str, store_url: str | None, who: str) -> None:
    """Revoke KEY_ID (the id, or the whole key) at once; every server process refuses it within
    HEADCOUNT_KEY_CACHE_S (1 s by default)."""
    from headcount.services.keys import key_id_of, revoke_key

    key_id = key_id_of(key_id.strip())
    with _opened(store_url) as store:
        if store.get_api_key(key_id) is None:
            raise click.ClickException(f"no key with id {key_id!r} (see `headcount keys list --all`)")
        done = revoke_key(store, key_id, ring=_ring(store), who=who, reason=reason)
    click.echo(f"revoked key {key_id}" if done else f"key {key_id} was revoked already")
