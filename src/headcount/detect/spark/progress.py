"""`headcount detect --engine spark`: the run with a progress display on stderr.

With no terminal and HEADCOUNT_PROGRESS_LINES set, each stage is one timed line instead.
The bar counts the engine's stages (encoding, background, each detector and scale,
refinement, judging); the line under it follows Spark itself: the active stage
and its finished/total tasks, polled from Spark's status tracker.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import click

from headcount.detect.log import LogError
from headcount.detect.spark.session import SparkUnavailable


def _spark_line(spark: Any) -> str:
    tracker = spark.sparkContext.statusTracker()
    parts = []
    for stage_id in sorted(tracker.getActiveStageIds())[:2]:
        info = tracker.getStageInfo(stage_id)
        if info is not None:
            parts.append(f"stage {stage_id}: {info.numCompletedTasks}/{info.numTasks} tasks")
    return ", ".join(parts)


def run_spark(path: str, err: Any, *, master: str | None, conf: dict[str, str], **kwargs: Any
              ) -> tuple[dict[str, object], int, int]:
    """(the JSON payload, blocks, events) of one Spark detection; errors as click exceptions."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from headcount.detect.spark import engine
    from headcount.detect.spark.session import session

    try:
        with err.status("starting Spark"):
            spark = session(master, conf)
    except SparkUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  TextColumn("[dim]{task.fields[spark]}"), console=err, transient=True,
                  disable=not err.is_terminal) as bar:
        task = bar.add_task("reading and encoding the log", total=None, spark="")
        stop = threading.Event()
        events = [0]

        def poll() -> None:
            while not stop.wait(0.5):
                try:
                    bar.update(task, spark=_spark_line(spark))
                except Exception:  # the tracker is gone while Spark stops
                    return

        def encoded(enc: Any, stages: int) -> None:
            events[0] = enc.n_events
            step(f"encoded: {enc.n_events:,} events, {enc.n_actors:,} actors, {enc.n_targets:,} targets")
            bar.update(task, total=stages, completed=1, description=f"{enc.n_events:,} events")

        began = time.perf_counter()
        lines = not err.is_terminal and bool(os.environ.get("HEADCOUNT_PROGRESS_LINES"))

        def step(stage: str) -> None:  # "name: detail" lines inform, the others finish a stage
            bar.update(task, advance=0 if ":" in stage else 1, description=stage)
            if lines:  # no terminal (a batch job, the bench): one timed line per stage
                err.print(f"[{time.perf_counter() - began:7.1f} s] {stage}", highlight=False)

        watcher = threading.Thread(target=poll, daemon=True)
        if err.is_terminal:
            watcher.start()
        try:
            found = engine.detect_path(path, on_encoded=encoded, progress=step, **kwargs)
        except (LogError, SparkUnavailable) as exc:
            raise click.ClickException(str(exc)) from None
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            stop.set()
    payload: dict[str, object] = {"blocks": [b.to_dict() for b in found.blocks]}
    if found.churn:
        payload["churn"] = [c.to_dict() for c in found.churn[: kwargs.get("top", 10)]]
    return payload, len(found.blocks), events[0]
