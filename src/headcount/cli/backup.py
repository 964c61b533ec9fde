"""`headcount backup` and `headcount restore`: verified backups of either store."""

from __future__ import annotations

import json

import click

STORE_OPTION = click.option(
    "--store", "store_url", metavar="URL", envvar="HEADCOUNT_STORE",
    help="sqlite:///PATH (default: ./data/headcount.db) or postgresql://...",
)


@click.command()
@STORE_OPTION
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="backup file to write")
@click.option("--no-verify", is_flag=True, help="skip restoring the backup into a scratch store to check it")
def backup(store_url: str | None, out: str, no_verify: bool) -> None:
    """Back up the store while it runs, then prove the backup by restoring it."""
    from rich.progress import Progress

    from headcount.services import backup as bk
    from headcount.store import StoreError, default_store_url

    url = store_url or default_store_url()
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("backing up", total=None)
            report = bk.backup(url, out, progress=lambda done, total: bar.update(task, completed=done, total=total))
            problems: list[str] = []
            if not no_verify:
                bar.update(task, description="verifying (restoring into a scratch store)", total=None)
                problems = bk.verify(report, url)
    except (StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    rows = {t: n for t, (n, _) in report.fingerprint.tables.items()}
    click.echo(f"wrote {report.path} ({report.bytes:,} bytes, {report.kind}); rows: {json.dumps(rows)}")
    if problems:
        raise click.ClickException("the restored backup differs: " + "; ".join(problems))
    if not no_verify:
        click.echo("verified: restored into a fresh store, every table identical")
    if report.keys:
        click.echo(report.keys)


@click.command()
@STORE_OPTION
@click.option("--from", "source", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="do not ask before replacing the store's content")
def restore(store_url: str | None, source: str, yes: bool) -> None:
    """Replace the store's content with a backup (stop the service first)."""
    from headcount.services import backup as bk
    from headcount.store import StoreError, default_store_url

    url = store_url or default_store_url()
    if not yes:
        click.confirm(f"replace everything in {url} with {source}?", abort=True)
    try:
        fp = bk.restore(source, url)
    except (StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    rows = {t: n for t, (n, _) in fp.tables.items()}
    click.echo(f"restored {source} into {url}; rows: {json.dumps(rows)}")
