"""`headcount simulate`: labelled populations for tests, benchmarks and demos."""

from __future__ import annotations

import csv
import json

import click


@click.group()
def simulate() -> None:
    """Generate scenarios with known truth (rally; shop and follows to come)."""


@simulate.command()
@click.option("--real", default=6_200, show_default=True, type=click.IntRange(0, 10_000_000),
              help="real supporters (6,200 came to Tulsa)")
@click.option("--fakes-per-tactic", default=1_000, show_default=True, type=click.IntRange(0, 10_000_000))
@click.option("--days", default=7.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--seed", default=2020, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="file.jsonl or file.csv")
def rally(real: int, fakes_per_tactic: int, days: float, seed: int, out: str) -> None:
    """The rally flood: real people and fakes using each tactic from the articles, labelled."""
    from rich.progress import track

    from headcount.simulate.rally import rally_population

    population = rally_population(real, fakes_per_tactic, days, seed)
    rows = [r.to_dict() for r in track(population, description="writing", transient=True)]
    if out.endswith(".csv"):
        with open(out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["label"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        with open(out, "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    fakes = sum(r.label == "fake" for r in population)
    click.echo(f"wrote {len(population):,} registrants ({real:,} real, {fakes:,} fake) to {out}")
