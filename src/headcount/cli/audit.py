"""`headcount audit verify` and `headcount purge`: the personal-data controls."""

from __future__ import annotations

import os
import time

import click

from headcount.cli.backup import STORE_OPTION


@click.group()
def audit() -> None:
    """The audit log of personal-data reads."""


@audit.command("verify")
@STORE_OPTION
@click.option("--anchor", metavar="SEQ:MAC", help="a head printed by an earlier verify, to catch a cut-off end")
def verify_cmd(store_url: str | None, anchor: str | None) -> None:
    """Check the audit chain; names every edited, deleted or inserted entry."""
    from headcount.privacy.audit import verify
    from headcount.privacy.keyring import KeyRingError, keyring_for_store
    from headcount.store import StoreError, open_store

    try:
        store = open_store(store_url)
        report = verify(store, keyring_for_store(store), anchor)
    except (StoreError, KeyRingError) as exc:
        raise click.ClickException(str(exc)) from exc
    store.close()
    for problem in report.problems:
        click.echo(f"PROBLEM {problem}")
    click.echo(f"{report.entries} entries; head {report.head} (keep it elsewhere and pass it as --anchor)")
    if not report.ok:
        raise click.ClickException(f"the audit log was tampered with: {len(report.problems)} problem(s)")
    click.echo("audit log intact")


@click.command()
@STORE_OPTION
@click.option("--older-than-days", type=click.FloatRange(min=0), default=None,
              help="default: HEADCOUNT_CONTACT_RETENTION_DAYS (30)")
def purge(store_url: str | None, older_than_days: float | None) -> None:
    """Delete raw contact data kept longer than the retention period."""
    from headcount.settings import Settings
    from headcount.store import StoreError, open_store

    days = Settings().contact_retention_days if older_than_days is None else older_than_days
    try:
        store = open_store(store_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        n = store.purge_contacts(time.time() - days * 86400)
    finally:
        store.close()
    click.echo(f"purged {n} contact value(s) older than {days:g} days")


def _private(path: str, flags: int) -> int:
    """Open for writing with mode 0600: an export of personal data is for its owner only."""
    return os.open(path, flags, 0o600)


@click.group()
def contacts() -> None:
    """Raw contact data (kept only with HEADCOUNT_KEEP_CONTACTS=1)."""


@contacts.command("export")
@STORE_OPTION
@click.option("--reason", required=True, help="why the export is needed; written to the audit log")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="CSV file to write")
@click.option("--who", default=lambda: os.environ.get("USER", "cli"), show_default="$USER",
              help="who exports, for the audit log")
def export(store_url: str | None, reason: str, out: str, who: str) -> None:
    """Decrypt every kept contact into a CSV; the export is audited first."""
    from headcount.privacy.keyring import KeyRingError, keyring_for_store
    from headcount.privacy.vault import export_contacts
    from headcount.store import StoreError, open_store

    try:
        store = open_store(store_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        rows = export_contacts(store, keyring_for_store(store), who=who, role="privacy", reason=reason)
    except (ValueError, KeyRingError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    from headcount.cli.csvsafe import SafeWriter

    try:
        f = open(out, "w", newline="", encoding="utf-8", opener=_private)  # noqa: SIM115 - closed below
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    with f:
        writer = SafeWriter(f)
        writer.writerow(["actor_key", "kind", "value", "kept_since"])
        for actor_key, c in rows:
            writer.writerow([actor_key, c.kind, c.value, c.kept_since])
    click.echo(f"exported {len(rows)} contact value(s) to {out}; the export is in the audit log")
