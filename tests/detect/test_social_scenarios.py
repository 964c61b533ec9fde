"""The follow and shop scenarios through the CLI: `simulate` writes a log, `detect` finds its groups."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pv
import pyarrow.parquet as pq
from click.testing import CliRunner

from headcount.cli.main import main


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _labelled(path: Path, label: str) -> set[str]:
    table = (pq.read_table(path) if path.suffix == ".parquet" else pv.read_csv(path)).to_pydict()
    return {a for a, lab in zip(table["actor"], table["label"]) if lab == label}


def test_follows_ring_and_mass_followers_are_found(tmp_path: Path) -> None:
    path = tmp_path / "follows.parquet"
    _run("simulate", "follows", "--accounts", "5000", "--ring", "30", "--mass-followers", "6", "--out", str(path))
    ring, churners = _labelled(path, "ring"), _labelled(path, "massfollow")
    payload = json.loads(_run("detect", str(path), "--top", "10"))
    block = payload["blocks"][0]  # the ring, once, however many detectors saw it
    assert set(block["actors"]) == ring and "follow_ring" in block["evidence"]["detectors"]
    for other in payload["blocks"][1:]:  # mass followers hitting the same popular accounts may
        assert set(other["actors"]) <= churners  # show as a block too; no ordinary account does
    assert {c["actor"] for c in payload["churn"]} == churners


def test_cart_hoarding_is_found(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    _run("simulate", "shop", "--shoppers", "5000", "--products", "800", "--activists", "60", "--out", str(path))
    group = _labelled(path, "hoarding")
    blocks = json.loads(_run("detect", str(path)))["blocks"]
    assert len(blocks) == 1 and set(blocks[0]["actors"]) == group
    assert all(t.startswith("sku-") for t in blocks[0]["targets"])
