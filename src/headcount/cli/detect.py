"""`headcount detect LOG`: coordinated groups in an action log, most suspicious first."""

from __future__ import annotations

import json
import sys

import click


def _widths(value: str | None) -> tuple[int, ...] | None:
    if not value:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    out = []
    for part in value.split(","):
        part = part.strip().lower()
        scale = units.get(part[-1:])
        number = part[:-1] if scale else part
        try:
            seconds = int(float(number) * (scale or 1))
        except ValueError:
            raise click.BadParameter(f"{part!r} is not a duration such as 3600, 1h, 6h or 3d",
                                     param_hint="--bucket") from None
        if seconds <= 0:
            raise click.BadParameter(f"{part!r} must be positive", param_hint="--bucket")
        out.append(seconds)
    return tuple(out)


def _confs(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not k=v, e.g. spark.executor.memory=4g", param_hint="--conf")
        out[key.strip()] = value.strip()
    return out


@click.command()
@click.argument("log_path", metavar="LOG")
@click.option("--out", type=click.Path(dir_okay=False), help="write the JSON here instead of stdout")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 10_000), help="blocks at most")
@click.option("--min-score", default=None, type=float,
              help="reporting threshold (log10 odds against chance); 0 lists every candidate above chance")
@click.option("--bucket", "buckets", default=None, metavar="WIDTHS",
              help="time bucket widths, e.g. 1h,6h,3d (default: chosen from the log's span)")
@click.option("--detectors", default="burst,dcube,fraudar,lockstep", show_default=True,
              help="which detectors the ensemble runs")
@click.option("--max-events", default=200_000_000, show_default=True, type=click.IntRange(1),
              help="refuse logs with more events than this")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="local: this process; spark: Apache Spark (the spark extra), for logs beyond one machine")
@click.option("--master", default=None, metavar="URL",
              help="with --engine spark: local[N], spark://host:7077, yarn, ... (default local[*])")
@click.option("--conf", "confs", multiple=True, metavar="K=V",
              help="with --engine spark: a Spark setting, e.g. spark.driver.memory=8g (repeatable)")
def detect(log_path: str, out: str | None, top: int, min_score: float | None, buckets: str | None,
           detectors: str, max_events: int, engine: str, master: str | None, confs: tuple[str, ...]) -> None:
    """Find coordinated groups in LOG (CSV or Parquet with actor,target,ts and any further
    categorical columns such as ip or device; ts in ISO 8601 or Unix seconds).

    With a `verb` column of follow/unfollow, follow-back rings join the blocks and
    follow-then-unfollow churners are listed under "churn"."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from headcount.detect import DEFAULT_MIN_SCORE, LogError, read_log
    from headcount.detect.detection import detect_all
    from headcount.detect.mzoom import auto_scales

    chosen = tuple(d.strip() for d in detectors.split(",") if d.strip())
    known = ("burst", "dcube", "mzoom", "fraudar", "lockstep")
    unknown = [d for d in chosen if d not in known]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown detector(s) {', '.join(unknown) or '(none)'}; "
                                 f"choose from {', '.join(known)}", param_hint="--detectors")
    widths = _widths(buckets)
    err = Console(stderr=True)
    if engine == "spark":
        from headcount.detect.spark.progress import run_spark

        spark_payload, n_blocks, n_events = run_spark(log_path, err, top=top, detectors=chosen, bucket_widths=widths,
                                                min_score=DEFAULT_MIN_SCORE if min_score is None else min_score,
                                                master=master, conf=_confs(confs), max_events=max_events)
        _write(spark_payload, out, err, n_blocks, n_events)
        return
    if master or confs:
        raise click.BadParameter("only with --engine spark", param_hint="--master/--conf")
    try:
        with err.status("reading the log"):
            log = read_log(log_path, max_events=max_events)
    except LogError as exc:
        raise click.ClickException(str(exc)) from None
    threshold = DEFAULT_MIN_SCORE if min_score is None else min_score
    scales = len(widths or auto_scales(log.ts))
    stages = scales * sum(d in chosen for d in ("burst", "dcube", "mzoom")) + \
        ("fraudar" in chosen) + ("lockstep" in chosen) + 2
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(f"{len(log):,} events", total=stages)

        def step(stage: str) -> None:
            bar.update(task, advance=1, description=stage)

        found = detect_all(log, top=top, min_score=threshold, bucket_widths=widths, detectors=chosen,
                           progress=step)
    blocks, churners = found.blocks, found.churn
    payload: dict[str, object] = {"blocks": [b.to_dict() for b in blocks]}
    if churners:  # follow-then-unfollow ("#massfollowing"), when the log has a verb column
        payload["churn"] = [c.to_dict() for c in churners[:top]]
    _write(payload, out, err, len(blocks), len(log))


def _write(payload: dict[str, object], out: str | None, err: object, n_blocks: int, n_events: int) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
        err.print(f"{n_blocks} block(s) from {n_events:,} events written to {out}")  # type: ignore[attr-defined]
    else:
        sys.stdout.write(text + "\n")
