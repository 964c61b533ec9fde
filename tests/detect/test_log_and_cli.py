"""Reading logs: every bad log gets a clear error naming the problem, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headcount.cli.main import main
from headcount.detect import ActionLog, LogError, read_log
from headcount.simulate.injection import inject, write_log


def run(*args: str):
    return CliRunner().invoke(main, ["detect", *args], catch_exceptions=False)


def test_timestamps_iso_and_unix_agree(tmp_path: Path) -> None:
    (tmp_path / "iso.csv").write_text(
        "actor,target,ts\na,x,2020-06-13T10:00:00Z\nb,x,2020-06-13T12:00:00+02:00\nc,y,2020-06-13 10:00:00\n")
    (tmp_path / "unix.csv").write_text("actor,target,ts\na,x,1592042400\nb,x,1592042400.9\nc,y,1592042400\n")
    assert read_log(tmp_path / "iso.csv").ts.tolist() == [1592042400] * 3
    assert read_log(tmp_path / "unix.csv").ts.tolist() == [1592042400] * 3


def test_labels_stay_labels(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("actor,target,ts,ip\n007,1,0,10.0.0.1\n7,1,5,10.0.0.1\n")
    log = read_log(tmp_path / "log.csv")
    assert log.n_actors == 2 and sorted(log.actor_labels.tolist()) == ["007", "7"]
    assert list(log.modes) == ["ip"]


@pytest.mark.parametrize(("content", "message"), [
    ("", "empty"),
    ("\n\n", "first line is empty"),
    ("actor,target,ts\n", "no events"),
    ("user,item,time\n1,2,3\n", "missing column(s) actor, target, ts"),
    ("actor,ts\n1,3\n", "missing column(s) target"),
    ("actor,target,ts\na,b,yesterday\n", "row 1: 'yesterday' is neither ISO 8601 nor Unix seconds"),
    ("actor,target,ts\na,b,1\nc,d,2020-13-45T00:00:00Z\n", "row 2"),
    ("actor,target,ts\na,b\n", "not a readable CSV log"),
    ("actor,target,ts\n,b,1\n", "column 'actor': empty value in row 1"),
    ("% 1000000000, 24071, 4211\n1,1,5,1314057600\n", "missing column(s)"),
])
def test_bad_logs_name_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text(content)
    with pytest.raises(LogError, match=None) as info:
        read_log(path)
    assert message in str(info.value)
    result = run(str(path))
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_a_parquet_footer_announcing_a_billion_events_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"actor": ["a"] * 50, "target": ["x"] * 50, "ts": list(range(50))}), path)
    with pytest.raises(LogError, match="announces 50 events, over the limit of 10"):
        read_log(path, max_events=10)
    result = run(str(path), "--max-events", "10")
    assert result.exit_code == 1 and "over the limit" in result.output


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    result = run(str(path))
    assert result.exit_code == 1 and "not a readable Parquet log" in result.output


def test_missing_file_and_bad_flags(tmp_path: Path) -> None:
    assert "no such file" in run(str(tmp_path / "nope.csv")).output
    path = tmp_path / "log.csv"
    path.write_text("actor,target,ts\na,b,1\n")
    assert "--bucket" in run(str(path), "--bucket", "soon").output
    assert "--detectors" in run(str(path), "--detectors", "magic").output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.text(alphabet=st.sampled_from("ab,01:-TZ \n.\"x%"), max_size=80))
def test_fuzzed_logs_never_crash(tmp_path: Path, body: str) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text("actor,target,ts\n" + body)
    try:
        log = read_log(path)
    except LogError:
        return
    assert len(log) == log.target.size == log.ts.size


def test_cli_writes_blocks_most_suspicious_first(tmp_path: Path) -> None:
    inj = inject(density=0.4, burst_s=6 * 3600, seed=2, n_actors=3_000, n_targets=800, n_events=40_000,
                 ring_actors=40, ring_targets=15)
    path = write_log(tmp_path / "log.parquet", inj.table())
    out = tmp_path / "blocks.json"
    result = run(str(path), "--out", str(out), "--top", "3")
    assert result.exit_code == 0, result.output
    blocks = json.loads(out.read_text())["blocks"]
    assert 1 <= len(blocks) <= 3
    assert [b["score"] for b in blocks] == sorted((b["score"] for b in blocks), reverse=True)
    first = blocks[0]
    assert {"actors", "targets", "start", "end", "density", "score"} <= set(first)
    assert len({int(a) for a in first["actors"]} & inj.ring_actors) >= 36
    assert first["start"].endswith("Z") and first["start"] <= first["end"]
    all_listed = json.loads(run(str(path), "--min-score", "-1e9", "--top", "50").output)["blocks"]
    assert len(all_listed) >= len(blocks)


def test_from_arrays_checks_lengths() -> None:
    with pytest.raises(LogError, match="differ in length"):
        ActionLog.from_arrays(np.arange(3), np.arange(2), np.arange(3))


def test_cli_reports_follow_rings_and_churn(tmp_path: Path) -> None:
    from tests.detect.test_detectors import _follow_log

    (actor, target, ts, verb), ring = _follow_log()
    path = tmp_path / "follows.parquet"
    pq.write_table(pa.table({"actor": actor, "target": target, "ts": ts, "verb": verb}), path)
    result = run(str(path), "--detectors", "fraudar")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    rings = [b for b in payload["blocks"]
             if b["detector"] == "follow_ring" or "follow_ring" in b["evidence"].get("detectors", [])]
    assert len(rings) == 1 and len({int(a) for a in rings[0]["actors"]} & ring) >= 23
    assert payload["churn"][0]["actor"] == 3500 and payload["churn"][0]["unfollows"] == 180


def test_quoted_header_names_are_names(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text('"actor","target","ts"\n"a","x",5\n"b","x",7\n')
    log = read_log(tmp_path / "q.csv")
    assert sorted(log.actor_labels.tolist()) == ["a", "b"] and log.ts.tolist() == [5, 7]


def test_odd_files_are_one_line_errors(tmp_path: Path) -> None:
    """A byte-order mark is read past; a huge timestamp and a binary file are errors naming why."""
    from headcount.detect.log import LogError, read_log

    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfactor,target,ts\na,b,100\nc,b,200\n")
    assert len(read_log(bom)) == 2
    huge = tmp_path / "huge.csv"
    huge.write_text("actor,target,ts\na,b,1e30\n")
    with pytest.raises(LogError, match=r"column 'ts': row 1: 1e\+?30 is not a time between 1970 and 9999"):
        read_log(huge)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(LogError, match="not a CSV file"):
        read_log(binary)
