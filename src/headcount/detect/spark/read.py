"""Reading and encoding a log on Spark: the same columns, checks and codes as `detect.log`.

A log is CSV or Parquet, one file or a directory of parts, on any filesystem Spark
reads. Labels are dictionary-encoded into dense codes in order of first appearance
(as Arrow's `dictionary_encode` does for the local engine, so both engines give a
value the same code on one file): one `groupBy` per column for the first row of each
label, a range-partitioned sort of the labels, and a code from each row's partition
offset plus its place in the partition (no single-partition window, no Python UDF).
The encoded events and the dictionaries are written to Parquet in a scratch folder
and read back, which cuts the lineage every later pass would otherwise recompute.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from headcount.detect.log import DEFAULT_MAX_EVENTS, REQUIRED, TS_MAX, TS_MIN, LogError
from headcount.detect.spark.session import spark_errors

ROW = "_row"


@dataclass
class Encoded:
    """The log as integer codes on Spark, with its dictionaries and sizes."""

    spark: Any
    events: Any                      # DataFrame: _row, actor, target, ts, *modes (int codes, ts seconds)
    dictionaries: dict[str, Any]     # column -> DataFrame(code, label)
    sizes: dict[str, int]            # column -> number of distinct labels
    n_events: int
    ts_min: int
    ts_max: int
    modes: list[str] = field(default_factory=list)
    scratch: str = ""

    @property
    def n_actors(self) -> int:
        return self.sizes["actor"]

    @property
    def n_targets(self) -> int:
        return self.sizes["target"]

    def close(self) -> None:
        if self.scratch and not self.scratch.startswith(("hdfs:", "s3a:", "gs:", "abfs:")):
            shutil.rmtree(self.scratch.removeprefix("file:"), ignore_errors=True)


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file:")


def _fmt(path: str, fmt: str | None) -> str:
    """'parquet' or 'csv', from the name, or from the parts of a local directory."""
    if fmt:
        return fmt
    name = path.rstrip("/").lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    local = Path(path.removeprefix("file:"))
    if _is_local(path) and local.is_dir():
        names = [p.name.lower() for p in local.rglob("*") if p.is_file()]
        if any(n.endswith((".parquet", ".pq")) for n in names):
            return "parquet"
        return "csv"
    return "parquet" if not name.endswith(".txt") else "csv"


def _check_path(path: str) -> None:
    if not _is_local(path):
        return
    local = Path(path.removeprefix("file:"))
    if not local.exists():
        raise LogError(f"{path}: no such file or directory")
    if local.is_dir():
        parts = [p for p in local.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))
                 and not any(q.name.startswith(("_", ".")) for q in p.relative_to(local).parents if q.name)]
        if not parts:
            raise LogError(f"{path}: the directory has no log parts (no CSV or Parquet files)")
        if all(p.stat().st_size == 0 for p in parts):
            raise LogError(f"{path}: every part is empty")
    elif local.stat().st_size == 0:
        raise LogError(f"{path}: the file is empty")


def read_raw(spark: Any, path: str, fmt: str | None = None) -> Any:
    """The log as a DataFrame with lower-case column names and a `_row` (file order)."""
    from pyspark.sql import functions as F

    _check_path(path)
    kind = _fmt(path, fmt)
    with spark_errors(path):
        if kind == "parquet":
            reader = spark.read
            if not path.rstrip("/").lower().endswith((".parquet", ".pq")):
                reader = reader.option("pathGlobFilter", "*.parquet")  # a directory's parts, not its notes
            df = reader.parquet(path)
        else:
            df = (spark.read.option("header", True).option("mode", "PERMISSIVE")
                  .option("inferSchema", False).option("encoding", "UTF-8").csv(path))
        names = [c.replace("\ufeff", "").strip().lower() for c in df.columns]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise LogError(f"{path}: missing column(s) {', '.join(missing)}; "
                           f"a log needs actor,target,ts (found: {', '.join(names) or 'none'})")
        df = df.toDF(*names)
        return df.withColumn(ROW, F.monotonically_increasing_id())


def _row_number(df: Any, row_id: int) -> int:
    """The 1-based line of the event whose `_row` is `row_id` (only asked when reporting an error)."""
    from pyspark.sql import functions as F

    return int(df.filter(F.col(ROW) < row_id).count()) + 1


def _ts_column(df: Any) -> tuple[Any, Any, Any]:
    """(seconds, is-unparsable, is-out-of-range) expressions for the `ts` column of any type."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    kind = df.schema["ts"].dataType
    col = F.col("ts")
    if isinstance(kind, (T.TimestampType, T.TimestampNTZType)):
        seconds = F.unix_timestamp(col) if isinstance(kind, T.TimestampNTZType) else col.cast("long")
        return seconds, F.lit(False), F.lit(False)
    if isinstance(kind, T.DateType):
        return F.unix_timestamp(col.cast("timestamp")), F.lit(False), F.lit(False)
    if isinstance(kind, T.NumericType):
        number = col.cast("double")
        iso = F.lit(None).cast("long")
    else:
        text = F.trim(col.cast("string"))
        number = F.expr("try_cast(trim(ts) as double)")
        iso = F.expr("try_cast(trim(ts) as timestamp)").cast("long")
        # 'inf', 'nan' and the like are numbers to Spark but not times
        number = F.when(text.rlike(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), number)
    finite = number.isNotNull() & ~F.isnan(number)
    out_of_range = finite & ((number < TS_MIN) | (number > TS_MAX))
    seconds = F.when(finite, F.floor(number).cast("long")).otherwise(iso)
    return seconds, seconds.isNull(), out_of_range


DRIVER_LABELS = 2_000_000  # dictionaries up to this size are numbered on the driver (one collect)


def _dense_codes(labels: Any, spark: Any, driver_labels: int = DRIVER_LABELS) -> tuple[Any, int]:
    """(DataFrame(label, code) with codes 0..n-1 in order of first appearance, n)."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    few = labels.limit(driver_labels + 1).toArrow()
    if few.num_rows <= driver_labels:
        order = np.argsort(few.column("_first").to_numpy(), kind="stable")
        table = pa.table({"label": few.column("label").take(pa.array(order)),
                          "code": pa.array(np.arange(order.size, dtype=np.int32))})
        return spark.createDataFrame(table), int(order.size)
    ordered = labels.orderBy("_first").select(
        "label", "_first", F.spark_partition_id().alias("_pid"), F.monotonically_increasing_id().alias("_mid"))
    ordered = ordered.localCheckpoint(eager=True)
    counts = {int(r["_pid"]): int(r["count"]) for r in ordered.groupBy("_pid").count().collect()}
    offsets, total = [], 0
    for pid in range(max(counts) + 1 if counts else 0):
        offsets.append(total)
        total += counts.get(pid, 0)
    offset = F.element_at(F.array(*[F.lit(o) for o in offsets] or [F.lit(0)]), F.col("_pid") + 1)
    code = (offset + F.col("_mid") - F.shiftleft(F.col("_pid").cast("long"), 33)).cast("int")
    return ordered.select("label", code.alias("code")), total


def encode(spark: Any, path: str, fmt: str | None = None, max_events: int = DEFAULT_MAX_EVENTS,
           scratch: str | None = None) -> Encoded:
    """Read, check and encode a log; every bad log is a one-line `LogError` naming the column and row."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    raw = read_raw(spark, path, fmt)
    with spark_errors(path):
        modes = [c for c in raw.columns if c not in (*REQUIRED, ROW)]
        seconds, bad_ts, far_ts = _ts_column(raw)
        checks = [F.count(F.lit(1)).alias("n")]
        for name in ("actor", "target", *modes):
            value = F.col(name)
            empty = value.isNull()
            if isinstance(raw.schema[name].dataType, T.StringType):
                empty = empty | (F.length(F.trim(value)) == 0)
            checks.append(F.min(F.when(empty, F.col(ROW))).alias(f"empty_{name}"))
        checks += [F.min(F.when(F.col("ts").isNull(), F.col(ROW))).alias("empty_ts"),
                   F.min(F.when(bad_ts & F.col("ts").isNotNull(), F.col(ROW))).alias("bad_ts"),
                   F.min(F.when(far_ts, F.col(ROW))).alias("far_ts"),
                   F.min(seconds).alias("ts_min"), F.max(seconds).alias("ts_max")]
        stats = raw.agg(*checks).collect()[0]
        n = int(stats["n"])
        if n == 0:
            raise LogError(f"{path}: the log has no events")
        if n > max_events:
            raise LogError(f"{path}: {n:,} events, over the limit of {max_events:,}")
        for name in ("actor", "target", "ts", *modes):
            if stats[f"empty_{name}"] is not None:
                row = _row_number(raw, stats[f"empty_{name}"])
                raise LogError(f"{path}: column {name!r}: empty value in row {row}")
        if stats["far_ts"] is not None:
            row_id = stats["far_ts"]
            value = raw.filter(F.col(ROW) == row_id).select(F.col("ts").cast("double")).first()[0]
            raise LogError(f"{path}: column 'ts': row {_row_number(raw, row_id)}: {float(value):g} is not a "
                           "time between 1970 and 9999 in Unix seconds")
        if stats["bad_ts"] is not None:
            row_id = stats["bad_ts"]
            value = raw.filter(F.col(ROW) == row_id).select("ts").first()[0]
            raise LogError(f"{path}: column 'ts': row {_row_number(raw, row_id)}: {str(value)!r} is neither "
                           "ISO 8601 nor Unix seconds")

        scratch = scratch or _scratch(spark)
        dictionaries: dict[str, Any] = {}
        sizes: dict[str, int] = {}
        events = raw.select(ROW, seconds.alias("ts"), "actor", "target", *modes)
        for name in ("actor", "target", *modes):
            labels = raw.groupBy(F.col(name).alias("label")).agg(F.min(ROW).alias("_first"))
            codes, size = _dense_codes(labels, spark)
            target = f"{scratch}/dict_{name}"
            codes.write.mode("overwrite").parquet(target)
            dictionaries[name] = spark.read.parquet(target)
            sizes[name] = size
            join = dictionaries[name].withColumnRenamed("label", name)
            if size <= 2_000_000:
                join = F.broadcast(join)
            events = events.join(join, on=name, how="inner").drop(name).withColumnRenamed("code", name)
        events.select(ROW, "actor", "target", "ts", *modes).write.mode("overwrite").parquet(f"{scratch}/events")
        return Encoded(spark, spark.read.parquet(f"{scratch}/events"), dictionaries, sizes, n,
                       int(stats["ts_min"]), int(stats["ts_max"]), modes, scratch)


def _scratch(spark: Any) -> str:
    """A scratch folder for intermediate Parquet: spark.local.dir on a local master, else the temp dir."""
    base = spark.conf.get("spark.headcount.scratch", None)
    if base:
        return f"{base.rstrip('/')}/headcount-{uuid.uuid4().hex[:12]}"
    return tempfile.mkdtemp(prefix="headcount-spark-")


def labels_of(encoded: Encoded, name: str, codes: Any) -> dict[int, Any]:
    """Labels of the given codes of one column (a small lookup, one job)."""
    from pyspark.sql import functions as F

    wanted = sorted({int(c) for c in np.asarray(codes).ravel().tolist()})
    if not wanted:
        return {}
    table = encoded.dictionaries[name]
    if len(wanted) <= 5_000:
        rows = table.filter(F.col("code").isin(wanted)).collect()
    else:
        keys = encoded.spark.createDataFrame([(c,) for c in wanted], "code int")
        rows = table.join(F.broadcast(keys), "code").collect()
    return {int(r["code"]): r["label"] for r in rows}
