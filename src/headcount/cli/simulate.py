"""`headcount simulate`: labelled populations for tests, benchmarks and demos."""

from __future__ import annotations

import csv
import json

import click


@click.group()
def simulate() -> None:
    """Generate scenarios with known truth: rally registrations, follows, shop carts."""


@simulate.command()
@click.option("--real", default=6_200, show_default=True, type=click.IntRange(0, 10_000_000),
              help="real supporters (6,200 came to Tulsa)")
@click.option("--fakes-per-tactic", default=1_000, show_default=True, type=click.IntRange(0, 10_000_000))
@click.option("--own-identity", default=0, show_default=True, type=click.IntRange(0, 10_000_000),
              help="no-shows who reserve with their own identity in every field (labelled fake, tactic "
                   "own_identity)")
@click.option("--days", default=7.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--seed", default=2020, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="file.jsonl or file.csv")
def rally(real: int, fakes_per_tactic: int, own_identity: int, days: float, seed: int, out: str) -> None:
    """The rally flood: real people and fakes using each tactic from the articles, labelled."""
    from rich.progress import track

    from headcount.simulate.rally import rally_population

    population = rally_population(real, fakes_per_tactic, days, seed, own_identity=own_identity)
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


def _write_log(table, out: str) -> None:  # type: ignore[no-untyped-def]
    from headcount.simulate.injection import write_log

    write_log(out, table)


@simulate.command()
@click.option("--accounts", default=20_000, show_default=True, type=click.IntRange(100, 10_000_000))
@click.option("--ring", default=40, show_default=True, type=click.IntRange(0, 100_000),
              help="accounts in the follow-back ring")
@click.option("--mass-followers", default=10, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="file.csv or file.parquet")
def follows(accounts: int, ring: int, mass_followers: int, seed: int, out: str) -> None:
    """A month of follows with a follow-back ring and mass followers (label column says which)."""
    from headcount.simulate.social import follows as make

    log = make(accounts=accounts, ring=ring, mass_followers=mass_followers, seed=seed)
    _write_log(log.table, out)
    click.echo(f"wrote {len(log):,} follows and unfollows to {out} "
               f"(ring: {ring} accounts, mass followers: {mass_followers})")


@simulate.command()
@click.option("--shoppers", default=20_000, show_default=True, type=click.IntRange(100, 10_000_000))
@click.option("--products", default=2_000, show_default=True, type=click.IntRange(10, 1_000_000))
@click.option("--activists", default=150, show_default=True, type=click.IntRange(0, 100_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="file.csv or file.parquet")
def shop(shoppers: int, products: int, activists: int, seed: int, out: str) -> None:
    """A week of add-to-cart actions with a group hoarding limited products (denial of inventory)."""
    from headcount.simulate.social import shop as make

    log = make(shoppers=shoppers, products=products, activists=activists,
               hoarded=min(25, products // 2), seed=seed)
    _write_log(log.table, out)
    click.echo(f"wrote {len(log):,} add-to-cart actions to {out} (hoarding group: {activists} accounts)")


@simulate.command()
@click.option("--cell", "pattern", default=None, help="a cell name pattern (see --list); all cells if omitted")
@click.option("--half", default="both", show_default=True, type=click.Choice(["tune", "held_back", "both"]))
@click.option("--list", "list_only", is_flag=True, help="print the cells with their half and stop")
@click.option("--out", type=click.Path(dir_okay=False), help="file.jsonl: every entrant, labelled, one a line")
def redteam(pattern: str | None, half: str, list_only: bool, out: str | None) -> None:
    """The red-team grid's worlds: entrants labelled real/fake with operator, strategy and tell."""
    from headcount.simulate.redteam import build, grid

    cells = grid(half, pattern)
    if not cells:
        raise click.BadParameter(f"no cell matches {pattern!r}", param_hint="--cell")
    if list_only or not out:
        for h, c in cells:
            click.echo(f"{h}\t{c.name}")
        if not out:
            return
    n = 0
    with open(str(out), "w") as f:
        for h, c in cells:
            world = build(c)
            for pool, crowd in world.history:
                for e in crowd:
                    f.write(json.dumps({"cell": c.name, "half": h, "pool": pool.id, "history": True,
                                        **e.to_dict()}) + "\n")
                    n += 1
            for e in world.entrants:
                f.write(json.dumps({"cell": c.name, "half": h, "history": False, **e.to_dict()}) + "\n")
                n += 1
    click.echo(f"wrote {n:,} entrants of {len(cells)} cells to {out}")
