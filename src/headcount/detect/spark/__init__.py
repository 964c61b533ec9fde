"""Coordinated-group detection on Apache Spark: the local engine's findings for logs beyond one machine.

    from headcount.detect.spark import detect_path
    found = detect_path("s3a://bucket/actions/", master="spark://host:7077")
    for block in found.blocks: ...

Needs the `spark` extra (`pip install 'headcount[spark]'`, PySpark from PyPI, which
bundles Spark) and Java 17. Importing this package without PySpark works; running it
raises `SparkUnavailable` naming what to install. See docs/spark.md.
"""

from __future__ import annotations

from typing import Any

from headcount.detect.spark.session import SparkUnavailable, require_pyspark

__all__ = ["SparkUnavailable", "detect_log", "detect_path"]


def detect_path(path: str, **kwargs: Any) -> Any:
    """`detect_all` over a CSV/Parquet log (file or directory) with Spark; see `engine.detect_path`."""
    require_pyspark()
    from headcount.detect.spark.engine import detect_path as run

    return run(path, **kwargs)


def detect_log(log: Any, **kwargs: Any) -> Any:
    """`detect_all` with Spark on an in-memory `ActionLog`."""
    require_pyspark()
    from headcount.detect.spark.engine import detect_log as run

    return run(log, **kwargs)
