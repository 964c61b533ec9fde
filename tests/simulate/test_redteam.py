"""The red-team grid: deterministic worlds with the right labels, a fixed split, and one tiny replay."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from headcount.signals.email import canonical_mailbox
from headcount.simulate.redteam import Cell, Strategy, build, grid, split
from headcount.simulate.redteam.grid import HELD_BACK_SEEDS, TUNE_SEEDS
from headcount.simulate.redteam.metrics import attacker_share_over_time, cell_metrics
from headcount.simulate.redteam.replay import HoldRecord, ReplayResult, replay
from headcount.testing.servers import running_server


def _cell(strategy: Strategy | None, scenario: str = "rally", real: int = 80, seed: int = 7) -> Cell:
    return Cell(scenario, strategy, real, seed, "cgnat_24", (("seconds", 3.0),))  # type: ignore[arg-type]


def test_worlds_are_deterministic_per_seed() -> None:
    s = Strategy("alias", 20, 3, "residential", "fresh", "burst", 0.5, "after")
    a, b, c = build(_cell(s)), build(_cell(s)), build(_cell(s, seed=8))
    assert [e.to_dict() for e in a.entrants] == [e.to_dict() for e in b.entrants]
    assert [e.to_dict() for e in a.entrants] != [e.to_dict() for e in c.entrants]


def test_alias_operators_share_one_canonical_mailbox() -> None:
    world = build(_cell(Strategy("alias", 20, 3, "residential", "fresh", "burst", 0.5, "after")))
    by_op: dict[str, set[str]] = {}
    for e in world.fakes():
        if e.kind != "mimic":
            local, _, domain = str(e.email).partition("@")
            by_op.setdefault(e.operator, set()).add(canonical_mailbox(local, domain))
            assert e.tell
    assert by_op and all(len(boxes) == 1 for boxes in by_op.values())
    assert len({e.email for e in world.fakes()}) == len(world.fakes())  # every alias typed differently


def test_nat_crowd_shares_the_network_with_diverse_devices() -> None:
    world = build(_cell(None, real=400))
    cgnat = [e for e in world.real() if e.kind == "cgnat"]
    assert len(cgnat) == 60
    assert len({str(e.ip).rsplit(".", 1)[0] for e in cgnat}) == 1
    assert len({e.device for e in cgnat}) == len(cgnat)
    assert len({e.user_agent for e in cgnat}) > 10
    assert all(e.label == "real" and not e.tell for e in world.real())
    families = Counter(e.operator for e in world.real() if e.kind == "family")
    assert families and all(2 <= n <= 5 for n in families.values())
    typos = [e for e in world.real() if e.kind == "typo"]
    assert typos and all(dict(e.corrected) for e in typos)


def test_indistinguishable_strategies_are_labelled_apart() -> None:
    clean = Strategy("fresh_mailbox", 1, 50, "residential", "fresh", "burst", 0.5, "after")
    shared_device = Strategy("fresh_mailbox", 10, 5, "residential", "one", "burst", 0.5, "after")
    assert not clean.has_tell() and shared_device.has_tell()
    world = build(_cell(shared_device))
    devices = Counter(e.device for e in world.fakes() if e.kind != "mimic")
    assert max(devices.values()) == 10


def test_split_is_fixed_balanced_and_disjoint() -> None:
    cells = grid("both")
    assert split() == split()
    tune = [c for h, c in cells if h == "tune"]
    held = [c for h, c in cells if h == "held_back"]
    assert {c.design for c in tune}.isdisjoint({c.design for c in held})
    assert all(c.seed in TUNE_SEEDS for c in tune) and all(c.seed in HELD_BACK_SEEDS for c in held)
    for scenario in ("rally", "carts", "merch"):
        assert any(c.scenario == scenario for c in tune) and any(c.scenario == scenario for c in held)
    assert any(c.strategy and c.strategy.identity == "victims" for c in held)
    assert [c.name for _, c in grid("held_back")] == [c.name for c in held]


def test_attacker_share_over_time_on_a_known_case() -> None:
    result = ReplayResult(window=(0.0, 10.0))
    result.holds = [HoldRecord("f1", "stock", 10, 0.0, 5.0, label="fake"),  # 10% of 100 for half the time
                    HoldRecord("r1", "stock", 50, 0.0, 10.0, label="real")]
    avg, peak = attacker_share_over_time(result, "stock", 100, step=0.5)
    assert peak == 0.10
    assert abs(avg - 0.10 * 10 / 21) < 1e-9  # 10 of 21 sample points (0, 0.5, ... 10) see the hold


def test_a_tiny_cell_replays_end_to_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    world = build(Cell("merch", None, 30, 3, "cgnat_24", (("seconds", 3.0),)))
    url = f"sqlite:///{tmp_path}/rt.db"
    keys = [subprocess.run([sys.executable, "-m", "headcount.cli.main", "keys", "create", "--role", role,
                            "--store", url], check=True, capture_output=True, text=True).stdout.split()[-1]
            for role in ("staff", "client")]
    with running_server(url, workers=1) as server:
        result = replay(server.url, keys[1], keys[0], world, verify_share=0.0)
    m = cell_metrics(world, result)
    asked = sum(len(e.products) for e in world.real())
    assert len(result.results) == asked and not result.errors
    confirmed = sum(int(p["confirmed"]) for p in result.final_pools.values())
    assert confirmed == sum(r.seats for r in result.results.values() if r.served)  # the server agrees
    served = sum(all(result.results[(e.uid, p)].served for p in e.products) for e in world.real())
    assert m["flash_refused"] == 1 - served / len(world.real())
    assert m["bars"]["flash_refused"]["pass"] == (m["flash_refused"] <= 0.005)
