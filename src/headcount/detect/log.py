"""The action log as columnar integer codes: what every detector reads.

A log is a table of events `(actor, target, ts, *modes)`. Labels of any type are
dictionary-encoded once (Arrow's hash kernel, not a sort), so detectors work on
dense int32 codes and only the final blocks are translated back to labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REQUIRED = ("actor", "target", "ts")
DEFAULT_MAX_EVENTS = 200_000_000


class LogError(ValueError):
    """A log that cannot be read; the message names the file, column or row."""


def _encode(values: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes 0..n-1 and the labels they stand for."""
    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    empty = pc.is_null(array)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        empty = pc.or_(empty, pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(array)), 0))
    if pc.any(empty).as_py():
        row = int(pc.index(empty, True).as_py())
        raise LogError(f"column {name!r}: empty value in row {row + 1}")
    encoded = array.dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return codes, encoded.dictionary.to_numpy(zero_copy_only=False)


ZONE = r"(Z|z|[+-]\d\d(:?\d\d)?)$"


def _iso_micros(array: pa.Array) -> np.ndarray:
    """ISO 8601 text to Unix microseconds; text without a zone is UTC, a bare date is midnight."""
    text = pc.utf8_trim_whitespace(array)
    zoned = pc.match_substring_regex(text, ZONE)
    date_only = pc.equal(pc.utf8_length(text), 10)
    suffix = pc.if_else(date_only, "T00:00:00Z", "Z")
    normal = pc.if_else(zoned, text, pc.binary_join_element_wise(text, suffix, ""))
    return pc.cast(normal, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()


def _first_bad_timestamp(array: pa.Array) -> tuple[int, str]:
    for row, value in enumerate(array.to_pylist()):
        try:
            _iso_micros(pa.array([value], pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            try:
                float(value)
            except ValueError:
                return row, str(value)
    return 0, str(array[0])


#: Unix seconds headcount accepts: 1970-01-01 up to the end of year 9999
TS_MIN, TS_MAX = 0, 253_402_300_799


def parse_timestamps(values: Any) -> np.ndarray:
    """Unix seconds (int64) from Unix numbers or ISO 8601 strings (no zone means UTC)."""
    array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        row = int(pc.index(pc.is_null(array), True).as_py())
        raise LogError(f"column 'ts': empty value in row {row + 1}")
    kind = array.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        seconds = array.to_numpy(zero_copy_only=False)
        if pa.types.is_floating(kind) and not np.isfinite(seconds).all():
            row = int(np.flatnonzero(~np.isfinite(seconds))[0])
            raise LogError(f"column 'ts': row {row + 1} is not a finite number")
        out_of_range = (seconds < TS_MIN) | (seconds > TS_MAX)
        if out_of_range.any():  # also keeps the cast to int64 below exact and warning-free
            row = int(np.flatnonzero(out_of_range)[0])
            raise LogError(f"column 'ts': row {row + 1}: {float(seconds[row]):g} is not a time between "
                           "1970 and 9999 in Unix seconds")
        return np.floor(seconds).astype(np.int64)
    if pa.types.is_timestamp(kind):
        return pc.cast(array, pa.timestamp("s", tz=kind.tz)).cast(pa.int64()).to_numpy()
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise LogError(f"column 'ts': expected Unix seconds or ISO 8601 text, got {kind}")
    try:
        return _iso_micros(array) // 1_000_000
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    numeric = pc.cast(array, pa.float64(), safe=False) if _all_numeric(array) else None
    if numeric is not None:
        return parse_timestamps(numeric)
    row, value = _first_bad_timestamp(array)
    raise LogError(f"column 'ts': row {row + 1}: {value!r} is neither ISO 8601 nor Unix seconds")


def _all_numeric(array: pa.Array) -> bool:
    try:
        pc.cast(array, pa.float64())
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


@dataclass
class ActionLog:
    """Events as int32 codes per mode, with the labels to translate results back."""

    actor: np.ndarray
    target: np.ndarray
    ts: np.ndarray
    modes: dict[str, np.ndarray] = field(default_factory=dict)
    actor_labels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    target_labels: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    mode_labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.actor.shape[0])

    @property
    def n_actors(self) -> int:
        return int(self.actor_labels.shape[0])

    @property
    def n_targets(self) -> int:
        return int(self.target_labels.shape[0])

    @classmethod
    def from_arrays(cls, actor: Any, target: Any, ts: Any,
                    extra: dict[str, Any] | None = None) -> ActionLog:
        """Encode label columns of any type; `ts` is Unix seconds or ISO 8601 text."""
        actor_codes, actor_labels = _encode(actor, "actor")
        target_codes, target_labels = _encode(target, "target")
        seconds = parse_timestamps(ts)
        n = actor_codes.shape[0]
        if target_codes.shape[0] != n or seconds.shape[0] != n:
            raise LogError("columns 'actor', 'target' and 'ts' differ in length")
        modes: dict[str, np.ndarray] = {}
        labels: dict[str, np.ndarray] = {}
        for name, values in (extra or {}).items():
            codes, mode_labels = _encode(values, name)
            if codes.shape[0] != n:
                raise LogError(f"column {name!r} differs in length from 'actor'")
            modes[name], labels[name] = codes, mode_labels
        return cls(actor_codes, target_codes, seconds, modes, actor_labels, target_labels, labels)

    @classmethod
    def from_table(cls, table: pa.Table, source: str = "log") -> ActionLog:
        names = [n.strip().lower() for n in table.column_names]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise LogError(f"{source}: missing column(s) {', '.join(missing)}; "
                           f"a log needs actor,target,ts (found: {', '.join(names) or 'none'})")
        if table.num_rows == 0:
            raise LogError(f"{source}: the log has no events")
        table = table.rename_columns(names)
        extra = {n: table.column(n) for n in names if n not in REQUIRED}
        try:
            return cls.from_arrays(table.column("actor"), table.column("target"), table.column("ts"), extra)
        except LogError as exc:
            raise LogError(f"{source}: {exc}") from None



def read_log(path: str | Path, *, max_events: int = DEFAULT_MAX_EVENTS) -> ActionLog:
    """Read a CSV or Parquet log; never trusts a size the file announces."""
    path = Path(path)
    if not path.exists():
        raise LogError(f"{path}: no such file")
    if path.is_dir():
        raise LogError(f"{path}: is a folder, not a log file")
    if path.stat().st_size == 0:
        raise LogError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            table = _read_parquet(path, max_events)
        else:
            table = _read_csv(path)
    except LogError:
        raise
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        kind = "Parquet" if suffix in (".parquet", ".pq") else "CSV"
        raise LogError(f"{path}: not a readable {kind} log ({_first_line(exc)})") from None
    if table.num_rows > max_events:
        raise LogError(f"{path}: {table.num_rows:,} events, over the limit of {max_events:,}")
    return ActionLog.from_table(table, str(path))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_parquet(path: Path, max_events: int) -> pa.Table:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata  # read the footer before any data
    if meta.num_rows > max_events:
        raise LogError(f"{path}: the file announces {meta.num_rows:,} events, over the limit of "
                       f"{max_events:,}; split the log or raise --max-events")
    return pq.read_table(path)


def _read_csv(path: Path) -> pa.Table:
    import csv as stdcsv

    from pyarrow import csv

    with path.open("rb") as f:
        header = f.readline(1 << 16)
        sample = header + f.read(1 << 16)
    if b"\x00" in sample:
        raise LogError(f"{path}: this is not a CSV file (it has binary content); a log is CSV text or Parquet")
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            raise LogError(f"{path}: this is not UTF-8 CSV text (byte {exc.start + 1}); "
                           "a log is CSV text or Parquet") from None
    bom = header.startswith(b"\xef\xbb\xbf")
    header = header.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark (Excel's UTF-8) is no part of a name
    if not header.strip():
        raise LogError(f"{path}: the first line is empty; expected a header actor,target,ts")
    # the header as the CSV reader will see it: quoted names ("actor") are names too
    names = next(stdcsv.reader([header.decode("utf-8", "replace").rstrip("\r\n")]), [])
    missing = [c for c in REQUIRED if c not in {n.strip().lower() for n in names}]
    if missing:  # say so before parsing: a foreign header is the likeliest cause of what follows
        raise LogError(f"{path}: missing column(s) {', '.join(missing)}; a log needs a header "
                       f"actor,target,ts (the first line is {header[:80].decode('utf-8', 'replace').strip()!r})")
    # Identity columns are labels, never numbers: "007" and "7" are two actors.
    types = {n: pa.string() for n in names if n.strip().lower() != "ts"}
    options = csv.ConvertOptions(column_types=types, strings_can_be_null=False)
    return csv.read_csv(path, convert_options=options,
                        read_options=csv.ReadOptions(block_size=16 << 20, skip_rows=1 if bom else 0,
                                                     column_names=[n.strip() for n in names] if bom else None))
