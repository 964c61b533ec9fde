"""`headcount lottery verify POOL`, `show` and `draw`: lottery pools from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from headcount.cli.backup import STORE_OPTION


@click.group()
def lottery() -> None:
    """Lottery pools: recompute a draw, or show one."""


@lottery.command("verify")
@click.argument("pool")
@STORE_OPTION
@click.option("--draw", "draw_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="a published draw (GET /v1/pools/POOL/draw) to recompute without the store")
@click.option("--commitment", metavar="HEX", help="the commitment the pool published before it closed")
def verify_cmd(pool: str, store_url: str | None, draw_file: Path | None, commitment: str | None) -> None:
    """Recompute POOL's draw from the registration digest and the seed; name the first difference."""
    from headcount.allocation.draw import Draw, first_difference

    if draw_file is not None:
        try:
            published = Draw.from_dict(json.loads(draw_file.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"{draw_file}: not a published draw: {exc}") from exc
        problem = first_difference(published)
        if problem is None and commitment is not None and commitment != published.commitment:
            problem = f"the commitment is {published.commitment}, not the {commitment} published before the close"
        tickets: int | None = published.tickets
        winners = len(published.winners)
    else:
        from headcount.services.lottery import verify_store
        from headcount.store import StoreError, open_store

        try:
            store = open_store(store_url)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            problem = verify_store(store, pool, commitment)
            alloc = store.get_allocation(pool)
            tickets = (alloc.draw or {}).get("tickets") if alloc else None
            winners = len((alloc.draw or {}).get("winners", [])) if alloc else 0
        finally:
            store.close()
    if problem is not None:
        raise click.ClickException(f"draw of {pool} does not verify: {problem}")
    click.echo(f"draw of {pool} verified: {winners} winners, {tickets} tickets, recomputed from the digest and seed")


@lottery.command("show")
@click.argument("pool")
@STORE_OPTION
def show_cmd(pool: str, store_url: str | None) -> None:
    """The pool's lottery state and, once drawn, the overbooking's reasoning."""
    from headcount.store import StoreError, open_store

    try:
        store = open_store(store_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        a = store.get_allocation(pool)
        if a is None:
            raise click.ClickException(f"pool {pool!r} has no lottery")
        counts = store.registration_counts(pool)
    finally:
        store.close()
    click.echo(f"{pool}: capacity {a.capacity}, closes {a.closes_at}, commitment {a.commitment}")
    for status, (n, seats) in sorted(counts.items()):
        click.echo(f"  {status}: {n} registrations, {seats} seats")
    if a.draw:
        click.echo(f"  seed {a.draw['seed']}\n  digest {a.draw['digest']}")
        click.echo(f"  {a.draw.get('overbooking', {}).get('reason', '')}")
