"""The Spark engine (local mode) finds what the local engine finds, and bad logs are one-line errors.

Needs the `spark` extra and Java 17; skipped without them. One Spark session serves
the module (a JVM start is the slowest step). The peels' Spark rounds are checked
against the local detectors with `driver_cells` low enough that every round runs on
Spark; the full pipeline is checked on injection cells and innocent logs.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("the Spark engine needs Java 17", allow_module_level=True)

from click.testing import CliRunner

from headcount.cli.main import main
from headcount.detect import ActionLog, Background, DenseTensor, Fraudar, LogError
from headcount.detect.detection import detect_all
from headcount.simulate.injection import inject, write_log

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

SMALL = dict(n_actors=3_000, n_targets=800, n_events=40_000, ring_actors=40, ring_targets=15)


@pytest.fixture(scope="module")
def spark():
    from headcount.detect.spark.session import session

    return session("local[2]", {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})


def f1(a, b) -> float:
    a, b = {str(x) for x in a}, {str(x) for x in b}
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 1.0


def same_blocks(local, remote) -> None:
    """Block for block: as many, each pair with actor F1 >= 0.95."""
    assert len(remote.blocks) == len(local.blocks), (
        [(b.detector, len(b.actors)) for b in local.blocks], [(b.detector, len(b.actors)) for b in remote.blocks])
    for lb, rb in zip(local.blocks, remote.blocks):
        assert f1(lb.actors, rb.actors) >= 0.95
        assert f1(lb.targets, rb.targets) >= 0.95


def _encoded(spark, tmp_path: Path, inj):
    from headcount.detect.spark.background import SparkBackground
    from headcount.detect.spark.read import encode

    path = write_log(tmp_path / "log.parquet", inj.table())
    return SparkBackground(encode(spark, str(path), scratch=str(tmp_path / "scratch")))


def test_spark_rounds_give_the_local_peels(spark, tmp_path: Path) -> None:
    """D-Cube's batch rounds and FRAUDAR's core pruning on Spark, tail on the driver: the local blocks."""
    from headcount.detect.spark.passes import dcube_candidates, fraudar_candidates

    inj = inject(density=0.3, burst_s=6 * 3600, camouflage="popular", seed=4, **SMALL)
    log = ActionLog.from_arrays(inj.actor, inj.target, inj.ts, {"ip": inj.ip})
    bg = _encoded(spark, tmp_path, inj)
    detector = DenseTensor("suspiciousness", 2, use_modes=False, batch_eps=0.0)
    local = detector.scale(log, 86400)
    remote = dcube_candidates(bg, detector, 86400, driver_cells=5_000)
    assert len(remote) == len(local) == 2
    for lc, rc in zip(local, remote):
        assert f1(log.actor_labels[lc.actors], np.asarray(_labels(bg, "actor", rc.actors))) >= 0.95
        assert (lc.start, lc.end) == (rc.start, rc.end)
    fraudar = Fraudar(2)
    local_f = fraudar.candidates(log, Background(log))
    remote_f = fraudar_candidates(bg, fraudar, driver_cells=5_000)
    assert len(remote_f) == len(local_f)
    for lc, rc in zip(local_f, remote_f):
        assert f1(log.actor_labels[lc.actors], _labels(bg, "actor", rc.actors)) >= 0.95
        assert f1(log.target_labels[lc.targets], _labels(bg, "target", rc.targets)) >= 0.95


def _labels(bg, name, codes):
    from headcount.detect.spark.read import labels_of

    known = labels_of(bg.encoded, name, codes)
    return [known[int(c)] for c in codes]


# check cells of the injection sweep: the two densities and camouflages of `bench/detect.py --quick`
@pytest.mark.parametrize(("density", "camouflage"), [(0.1, "none"), (0.5, "popular")])
def test_injection_cells_match_the_local_engine(spark, tmp_path: Path, density: float, camouflage: str) -> None:
    from headcount.detect.spark import detect_path

    inj = inject(density=density, burst_s=6 * 3600, camouflage=camouflage, seed=0, n_actors=6_000,
                 n_targets=1_500, n_events=90_000, ring_actors=60, ring_targets=20)
    path = write_log(tmp_path / "log.parquet", inj.table())
    log = ActionLog.from_table(pq.read_table(path))
    local = detect_all(log, top=5)
    remote = detect_path(str(path), top=5)
    same_blocks(local, remote)
    assert remote.blocks and f1({str(a) for a in inj.ring_actors}, remote.blocks[0].actors) >= 0.9


@pytest.mark.parametrize("kind", ["zipf", "flash", "weekly", "popular_follow"])
def test_null_suite_reports_no_block(spark, tmp_path: Path, kind: str) -> None:
    from detect import null_log

    from headcount.detect.spark import detect_path

    cols = null_log(kind, 100)
    table = pa.table({k: (v.astype(str) if k in ("ip", "device") else v) for k, v in cols.items()})
    path = tmp_path / "null.parquet"
    pq.write_table(table, path)
    local = detect_all(ActionLog.from_table(pq.read_table(path)), top=5)
    remote = detect_path(str(path), top=5)
    assert len(remote.blocks) == len(local.blocks) == 0
    assert len(remote.churn) == len(local.churn)


def test_follow_rings_and_churn_match(spark, tmp_path: Path) -> None:
    from headcount.detect.spark import detect_path
    from tests.detect.test_detectors import _follow_log

    (actor, target, ts, verb), ring = _follow_log()
    path = tmp_path / "follows.parquet"
    pq.write_table(pa.table({"actor": actor, "target": target, "ts": ts, "verb": verb}), path)
    local = detect_all(ActionLog.from_table(pq.read_table(path)), detectors=("fraudar",))
    remote = detect_path(str(path), detectors=("fraudar",))
    same_blocks(local, remote)
    assert [c.to_dict() for c in remote.churn] == [c.to_dict() for c in local.churn]


def run(*args: str):
    return CliRunner().invoke(main, ["detect", *args, "--engine", "spark"], catch_exceptions=False)


@pytest.mark.parametrize(("content", "message"), [
    ("actor,ts\n1,3\n", "missing column(s) target"),
    ("actor,target,ts\na,b,yesterday\n", "row 1: 'yesterday' is neither ISO 8601 nor Unix seconds"),
    ("actor,target,ts\na,b,1\nc,d,2020-13-45T00:00:00Z\n", "row 2"),
    ("actor,target,ts\n,b,1\n", "column 'actor': empty value in row 1"),
    ("actor,target,ts\na,b,1e30\n", "is not a time between 1970 and 9999"),
    ("actor,target,ts\n", "no events"),
])
def test_bad_logs_are_one_line_errors(spark, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text(content)
    result = run(str(path))
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and "\tat " not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_empty_and_missing_directories(spark, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run(str(tmp_path / "empty"))
    assert result.exit_code == 1 and "no log parts" in result.output
    assert "no such file" in run(str(tmp_path / "nope")).output
    from headcount.detect.spark import detect_path

    with pytest.raises(LogError, match="no log parts"):
        detect_path(str(tmp_path / "empty"))


def test_cli_reads_a_directory_of_parts_and_writes_the_local_json(spark, tmp_path: Path) -> None:
    inj = inject(density=0.4, burst_s=6 * 3600, seed=2, **SMALL)
    table = inj.table()
    parts = tmp_path / "parts"
    parts.mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), parts / "part-0.parquet")
    pq.write_table(table.slice(half), parts / "part-1.parquet")
    out = tmp_path / "blocks.json"
    result = run(str(parts), "--out", str(out), "--top", "3", "--master", "local[2]")
    assert result.exit_code == 0, result.output
    blocks = json.loads(out.read_text())["blocks"]
    single = write_log(tmp_path / "log.parquet", table)
    local = json.loads(CliRunner().invoke(main, ["detect", str(single), "--top", "3"]).output)["blocks"]
    assert len(blocks) == len(local) >= 1
    for b, lb in zip(blocks, local):
        assert set(b) == set(lb)
        assert f1(b["actors"], lb["actors"]) >= 0.95 and b["start"] == lb["start"]


def test_bad_conf_and_engine_flags(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("actor,target,ts\na,b,1\n")
    assert "--conf" in run(str(path), "--conf", "nonsense").output
    local = CliRunner().invoke(main, ["detect", str(path), "--master", "local[2]"])
    assert local.exit_code != 0 and "only with --engine spark" in local.output
