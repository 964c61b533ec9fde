"""Without an optional extra, the code that needs it says which extra to install, in one line.

PySpark (the `spark` extra) and aiohttp (the `bench` extra) are not dependencies of the
package. `sys.modules[name] = None` makes `import name` raise ImportError, as on a machine
without it, whether or not this virtualenv has it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from headcount.cli.main import main
from headcount.detect.detection import detect_all
from headcount.detect.spark import SparkUnavailable
from headcount.simulate.injection import inject, write_log
from headcount.simulate.redteam import Cell, build
from headcount.simulate.redteam.replay import Replayer, ReplayUnavailable, replay

SPARK = "pip install 'headcount[spark]'"
BENCH = "pip install 'headcount[bench]'"


@pytest.fixture
def no_pyspark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)


@pytest.fixture
def no_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)


def _small_log(tmp_path: Path) -> tuple[Path, object]:
    inj = inject(n_actors=300, n_targets=80, n_events=3_000, ring_actors=10, ring_targets=5, seed=3)
    return write_log(tmp_path / "log.csv", inj.table()), inj


def test_detect_with_the_spark_engine_names_the_extra(tmp_path: Path, no_pyspark: None) -> None:
    path, _ = _small_log(tmp_path)
    result = CliRunner().invoke(main, ["detect", str(path), "--engine", "spark"])
    assert result.exit_code == 1, result.output
    assert SPARK in result.output
    assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_the_local_engine_needs_no_pyspark(tmp_path: Path, no_pyspark: None) -> None:
    path, _ = _small_log(tmp_path)
    result = CliRunner().invoke(main, ["detect", str(path), "--out", str(tmp_path / "found.json")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "found.json").stat().st_size > 0


def test_detect_all_on_spark_names_the_extra(tmp_path: Path, no_pyspark: None) -> None:
    from headcount.detect import read_log

    path, _ = _small_log(tmp_path)
    with pytest.raises(SparkUnavailable, match=r"pip install 'headcount\[spark\]'"):
        detect_all(read_log(path), engine="spark")


def test_the_replay_names_the_extra(no_aiohttp: None) -> None:
    world = build(Cell("merch", None, 5, 3, "cgnat_24", (("seconds", 1.0),)))
    with pytest.raises(ReplayUnavailable, match=r"pip install 'headcount\[bench\]'"):
        Replayer("http://127.0.0.1:1", "client", "staff", world)
    with pytest.raises(ReplayUnavailable, match=r"pip install 'headcount\[bench\]'"):
        replay("http://127.0.0.1:1", "client", "staff", world)


def test_every_module_imports_without_the_extras() -> None:
    """A fresh interpreter (nothing cached) imports each module of the package with both missing."""
    code = (
        "import importlib, pkgutil, sys\n"
        "sys.modules['pyspark'] = None\n"
        "sys.modules['aiohttp'] = None\n"
        "import headcount\n"
        "for m in pkgutil.walk_packages(headcount.__path__, 'headcount.'):\n"
        "    try:\n"
        "        importlib.import_module(m.name)\n"
        "    except ImportError as exc:\n"
        "        print(m.name, exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", done.stdout
