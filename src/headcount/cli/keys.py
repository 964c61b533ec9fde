"""`headcount keys`: API keys with roles."""

from __future__ import annotations

import click

ROLES = ["client", "staff", "privacy", "admin"]


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="client: holds and actions; staff: figures; privacy: raw data; admin: all")
@click.option("--store", "store_url", metavar="URL", envvar="HEADCOUNT_STORE",
              help="sqlite:///PATH (default: ./data/headcount.db) or postgresql://...")
def create(role: str, store_url: str | None) -> None:
    """Create a key; the key alone is printed on the last line (it is shown only once)."""
    from headcount.services.keys import create_key
    from headcount.store import StoreError, open_store

    try:
        store = open_store(store_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        key = create_key(store, role)
    finally:
        store.close()
    click.echo(f"created a {role} key; keep it secret, it is not stored in clear:", err=True)
    click.echo(key)
