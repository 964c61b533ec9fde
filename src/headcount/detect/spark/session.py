"""The Spark session the engine runs in, quiet, and Spark's errors as one-line `LogError`s.

PySpark is an optional extra (`pip install 'headcount[spark]'`, Java 17 on the PATH);
importing this module without it raises `SparkUnavailable` with the line to run.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from headcount.detect.log import LogError


class SparkUnavailable(RuntimeError):
    """PySpark or Java is missing: the message says what to install."""


def require_pyspark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise SparkUnavailable("the Spark engine needs PySpark: pip install 'headcount[spark]' "
                               "(and Java 17, e.g. apt-get install openjdk-17-jre-headless)") from None
    return pyspark


# Spark's own log lines (WARN NativeCodeLoader, stage failures with stack traces) stay out
# of the user's terminal: the engine reports what went wrong itself, in one line.
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex{0}
logger.spark.name = org.apache.spark
logger.spark.level = off
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = off
logger.parquet.name = org.apache.parquet
logger.parquet.level = off
"""

#: settings the engine sets unless the caller gives its own (see docs/spark.md)
DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",          # bad values become nulls we report, not exceptions
    "spark.ui.showConsoleProgress": "false",     # the CLI draws its own progress
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "2g",
    "spark.sql.autoBroadcastJoinThreshold": str(32 << 20),
}


def _log4j_file() -> str:
    path = Path(tempfile.gettempdir()) / "headcount-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        path.write_text(_LOG4J)
    return str(path)


def session(master: str | None = None, conf: dict[str, str] | None = None, app: str = "headcount detect"):
    """The active session, or a new one on `master` (default local[*]) with `conf` on top of DEFAULTS."""
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None and not conf:
        return active
    settings = dict(DEFAULTS)
    settings.update(conf or {})
    quiet = f"-Dlog4j2.configurationFile=file:{_log4j_file()}"
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        settings[key] = f"{settings[key]} {quiet}" if key in settings else quiet
    builder = SparkSession.builder.appName(app)
    if master or not os.environ.get("PYSPARK_SUBMIT_ARGS"):
        builder = builder.master(master or settings.pop("spark.master", "local[*]"))
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with _jvm_output_to(jvm_log()):
            spark = builder.getOrCreate()
    except Exception as exc:  # the JVM could not start: no Java, a bad master URL, ...
        raise SparkUnavailable(f"could not start Spark: {one_line(exc)} (see {jvm_log()})") from None
    spark.sparkContext.setLogLevel("OFF")
    return spark


def jvm_log() -> str:
    """Where the JVM's own output goes (its banner, warnings, any stack trace): not the terminal."""
    return os.environ.get("HEADCOUNT_SPARK_LOG") or str(Path(tempfile.gettempdir()) / f"headcount-spark-{os.getuid()}.log")


@contextlib.contextmanager
def _jvm_output_to(path: str) -> Iterator[None]:
    """Start the JVM with its stdout and stderr on `path` (it inherits the file descriptors)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


_NOISE = re.compile(r"^(\[[A-Z_.]+\]\s*)")


def one_line(exc: BaseException) -> str:
    """The first meaningful line of a Spark/Py4J error, without the Java stack trace."""
    text = getattr(exc, "getMessage", None)
    message = text() if callable(text) else str(exc)
    message = message or type(exc).__name__
    for line in message.strip().splitlines():
        line = line.strip()
        if not line or line.startswith(("at ", "JVM stacktrace", "Traceback", "An error occurred while calling")):
            continue
        line = re.sub(r"^:?\s*((org\.apache\.\S+|java\.\S+|py4j\.\S+|scala\.\S+):\s*)+", "", line)
        line = re.sub(r"\s*SQLSTATE: \w+\.?$", "", line)
        line = _NOISE.sub("", line)
        return line[:300]
    return type(exc).__name__


@contextlib.contextmanager
def spark_errors(source: str) -> Iterator[None]:
    """Turn Spark's exceptions (analysis errors, failed jobs) into one-line `LogError`s."""
    try:
        yield
    except LogError:
        raise
    except SparkUnavailable:
        raise
    except Exception as exc:
        from pyspark.errors import PySparkException

        # Py4J's errors (a failed job) by module: py4j is PySpark's dependency, not ours
        if isinstance(exc, PySparkException) or type(exc).__module__.startswith("py4j"):
            raise LogError(f"{source}: {one_line(exc)}") from None
        raise
