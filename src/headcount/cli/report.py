"""`headcount report`: a pool's self-contained HTML report and, if asked, its cleaned contact list."""

from __future__ import annotations

import json
import os

import click

from headcount.cli.backup import STORE_OPTION


@click.command()
@click.option("--pool", "pool_id", required=True, help="the pool to report on")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="HTML file to write")
@STORE_OPTION
@click.option("--blocks", "blocks_path", type=click.Path(exists=True, dir_okay=False),
              help="show these groups instead of those the service's detection stored: the JSON of"
                   " `headcount detect --out` or GET /v1/blocks (stored groups' members stay out of"
                   " --contacts-out either way)")
@click.option("--history", multiple=True, metavar="POOL",
              help="earlier pools to learn show-up rates from (repeat); default: every pool of the same"
                   " kind with check-ins")
@click.option("--contacts-out", type=click.Path(dir_okay=False, writable=True),
              help="also write the contacts of the people judged real (CSV; audited; needs kept contacts)")
@click.option("--reason", help="why the contacts are exported; written to the audit log (with --contacts-out)")
@click.option("--who", default=lambda: os.environ.get("USER", "cli"), show_default="$USER",
              help="who exports, for the audit log")
def report(pool_id: str, out: str, store_url: str | None, blocks_path: str | None, history: tuple[str, ...],
           contacts_out: str | None, reason: str | None, who: str) -> None:
    """Write a self-contained HTML report of a pool: registrations by risk band, the real
    headcount against capacity, coordinated groups, and the reasoning in words.

    The groups are those the service's detection stored, unless --blocks gives others; the
    cleaned contact list leaves out every member of a stored or given group."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from headcount.cli.csvsafe import SafeWriter, join
    from headcount.privacy.keyring import KeyRingError, keyring_for_store
    from headcount.report import cleaned_contacts, gather, judged_real, render_html
    from headcount.report.build import ReportError, check_blocks
    from headcount.store import StoreError, open_store

    if contacts_out and not (reason and reason.strip()):
        raise click.BadParameter("exporting contacts needs a reason for the audit log", param_hint="--reason")
    blocks: list[dict[str, object]] | None = None  # None: the groups stored by the service's detection
    if blocks_path:
        try:
            with open(blocks_path, "rb") as f:
                blocks = check_blocks(json.load(f))
        except RecursionError:
            raise click.BadParameter(f"{blocks_path}: the JSON is nested too deeply", param_hint="--blocks") from None
        except (ValueError, ReportError) as exc:
            raise click.BadParameter(f"{blocks_path}: {exc}", param_hint="--blocks") from exc
    try:
        store = open_store(store_url)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                      TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task("reading the action log", total=None)
            source = os.path.basename(blocks_path) if blocks_path else None
            data = gather(store, pool_id, blocks=blocks, blocks_source=source, history=list(history) or None,
                          progress=lambda n: bar.advance(task, n))
            bar.update(task, description="writing the report")
            with open(out, "w", encoding="utf-8") as f:
                f.write(render_html(data))
        click.echo(f"report on {pool_id} written to {out}")
        if contacts_out:
            real = judged_real(data.people)
            rows = cleaned_contacts(store, keyring_for_store(store), pool_id, real, who=who, reason=reason or "")
            with open(contacts_out, "w", newline="", encoding="utf-8",
                      opener=lambda p, fl: os.open(p, fl, 0o600)) as f:  # personal data: owner only
                writer = SafeWriter(f)  # no cell a spreadsheet runs as a formula (OWASP CSV injection)
                writer.writerow(["actor_key", "seats", "emails", "phones"])
                for c in rows:
                    writer.writerow([c.actor_key, c.seats, join(c.emails), join(c.phones)])
            click.echo(f"{len(rows):,} of {len(data.people):,} registrants judged real, with contacts,"
                       f" written to {contacts_out}; the export is in the audit log")
    except ReportError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field}") from exc
    except (ValueError, KeyRingError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # --out or --contacts-out in a missing or unwritable folder
        raise click.ClickException(f"cannot write {exc.filename or out}: {exc.strerror or exc}") from exc
    finally:
        store.close()
