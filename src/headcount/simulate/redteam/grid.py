"""The red-team grid and its split into a `tune` half and a `held_back` half, fixed in code.

The split is decided before anyone tunes the defence and never by results:
designs (a cell's parameters without its seed) are grouped into strata (the
scenario kind; lockout cells apart), ranked within each stratum by a SHA-256 of
the design under `SALT`, and alternate between the halves by rank, so each half
gets every kind of scenario. Seeds come from disjoint ranges: tune seeds from
`TUNE_SEEDS`, held-back seeds from `HELD_BACK_SEEDS`, each picked by the design's
hash. Changing the list of designs re-ranks the strata: that makes a new grid
(bump `GRID_VERSION`), and results on the old held-back half count as seen.

v2 (this grid) adds eleven designs to v1's and real crowds whose numbers come from
one town (a "+local" variant); its held-back seeds are new, and v1's held-back
results (docs/redteam-results.md of v1) count as seen: the defence was changed
after them.
"""

from __future__ import annotations

import fnmatch
import hashlib

from headcount.simulate.redteam.model import Cell, Half, Strategy

GRID_VERSION = "v2"
SALT = f"headcount-redteam-split-{GRID_VERSION}"
TUNE_SEEDS = range(10_000, 20_000)
HELD_BACK_SEEDS = range(200_000, 210_000)  # v1's were range(90_000, 100_000): seen
RALLY_REAL = 400
CART_REAL = 180
MERCH_REAL = 2_400

S = Strategy
#: The attacker designs of rally cells: every level of every parameter appears, most in both halves.
RALLY: list[tuple[Strategy, str]] = [
    (S("disposable", 1, 1500, "residential", "fresh", "burst", 0.8, "after"), "cgnat_24"),
    (S("disposable", 12, 60, "one_24", "one", "burst", 0.6, "after", scripted=True), "cgnat_one_address"),
    (S("disposable", 30, 30, "residential", "few", "adaptive", 0.7, "before"), "cgnat_24"),
    (S("alias", 40, 20, "residential", "fresh", "burst", 0.7, "after"), "cgnat_one_address"),
    (S("alias", 200, 5, "cgnat", "few", "steady", 0.6, "during"), "cgnat_24"),
    (S("alias", 60, 10, "residential", "fresh", "adaptive", 0.6, "during"), "cgnat_24"),
    (S("fresh_mailbox", 40, 25, "residential", "one", "burst", 0.7, "after"), "cgnat_24"),
    (S("fresh_mailbox", 100, 10, "one_24", "fresh", "burst", 0.5, "during"), "cgnat_one_address"),
    (S("fresh_mailbox", 20, 50, "cgnat", "few", "adaptive", 0.7, "after"), "cgnat_24"),
    (S("fresh_mailbox", 1, 2000, "residential", "fresh", "burst", 0.8, "after"), "cgnat_24"),
    (S("fresh_mailbox", 20, 50, "cgnat", "fresh", "steady", 0.6, "during"), "cgnat_one_address"),
    (S("bought_mobile", 50, 20, "residential", "fresh", "steady", 0.7, "during"), "cgnat_24"),
    (S("bought_mobile", 20, 40, "cgnat", "few", "burst", 0.6, "before"), "cgnat_one_address"),
    (S("bought_mobile", 200, 8, "one_24", "fresh", "burst", 0.8, "before"), "cgnat_24"),
    (S("virtual_number", 10, 100, "residential", "fresh", "burst", 0.7, "after"), "cgnat_24"),
    (S("virtual_number", 30, 30, "cgnat", "few", "adaptive", 0.6, "after"), "cgnat_one_address"),
    # v2
    (S("fresh_mailbox", 5, 200, "residential", "fresh", "steady", 0.5, "during"), "cgnat_24+local"),
    (S("bought_mobile", 100, 5, "cgnat", "fresh", "adaptive", 0.7, "after"), "cgnat_one_address"),
    (S("virtual_number", 200, 3, "residential", "one", "steady", 0.6, "before"), "cgnat_24+local"),
    (S("alias", 10, 100, "one_24", "few", "burst", 0.5, "during"), "cgnat_one_address+local"),
    (S("disposable", 100, 10, "cgnat", "fresh", "steady", 0.7, "during"), "cgnat_one_address"),
    (S("bought_mobile", 10, 100, "residential", "fresh", "burst", 0.6, "after"), "cgnat_24+local"),
]
LOCKOUT: list[tuple[Strategy, str]] = [
    (S("victims", 40, 1, "one_24", "one", "burst", 0.1, "before"), "cgnat_24"),
    (S("victims", 20, 2, "residential", "one", "burst", 0.1, "before"), "cgnat_one_address"),
    (S("victims", 30, 2, "cgnat", "few", "steady", 0.1, "during"), "cgnat_24+local"),  # v2
]
CARTS: list[tuple[Strategy, str]] = [
    (S("fresh_mailbox", 20, 60, "residential", "fresh", "burst", 0.5, "during"), "cgnat_24"),
    (S("disposable", 20, 40, "one_24", "one", "burst", 0.5, "before"), "cgnat_24"),
    (S("alias", 30, 50, "residential", "fresh", "burst", 0.5, "before"), "cgnat_one_address"),
    (S("virtual_number", 20, 60, "cgnat", "few", "burst", 0.5, "during"), "cgnat_24"),
    (S("bought_mobile", 30, 48, "residential", "fresh", "adaptive", 0.5, "before"), "cgnat_one_address"),
    (S("fresh_mailbox", 30, 64, "residential", "few", "adaptive", 0.5, "during"), "cgnat_24"),
    # v2
    (S("virtual_number", 10, 80, "cgnat", "fresh", "adaptive", 0.5, "before"), "cgnat_one_address+local"),
    (S("disposable", 5, 100, "cgnat", "fresh", "steady", 0.5, "during"), "cgnat_24"),
]
MERCH_VARIANTS = ["cgnat_24", "cgnat_one_address", "cgnat_24+local", "cgnat_one_address+local"]


def _rank_key(design: str) -> str:
    return hashlib.sha256(f"{SALT}:{design}".encode()).hexdigest()


def _seed(design: str, half: Half) -> int:
    seeds = TUNE_SEEDS if half == "tune" else HELD_BACK_SEEDS
    return seeds[int(_rank_key(f"seed:{design}"), 16) % len(seeds)]


def _designs() -> dict[str, list[Cell]]:
    """Every design, seedless (seed 0), by stratum."""
    return {
        "rally": [Cell("rally", s, RALLY_REAL, 0, v) for s, v in RALLY],
        "lockout": [Cell("rally", s, RALLY_REAL, 0, v) for s, v in LOCKOUT],
        "carts": [Cell("carts", s, CART_REAL, 0, v) for s, v in CARTS],
        "merch": [Cell("merch", None, MERCH_REAL, 0, v) for v in MERCH_VARIANTS],
    }


def split() -> dict[str, Half]:
    """Each design's half: alternate by hash rank within its stratum (fixed, result-blind)."""
    out: dict[str, Half] = {}
    for cells in _designs().values():
        for rank, cell in enumerate(sorted(cells, key=lambda c: _rank_key(c.design))):
            out[cell.design] = "tune" if rank % 2 == 0 else "held_back"
    return out


def grid(half: Half | str = "both", pattern: str | None = None) -> list[tuple[Half, Cell]]:
    """The cells of a half (or both), each with its seed from its half's range.

    `pattern`: a shell pattern (or plain substring) matched against the cell's name.
    """
    halves = split()
    out: list[tuple[Half, Cell]] = []
    for cells in _designs().values():
        for c in cells:
            h = halves[c.design]
            if half not in ("both", h):
                continue
            cell = Cell(c.scenario, c.strategy, c.real, _seed(c.design, h), c.variant, c.extra)
            if pattern and not (fnmatch.fnmatch(cell.name, pattern) or pattern in cell.name):
                continue
            out.append((h, cell))
    return out


def quick_grid() -> list[tuple[Half, Cell]]:
    """A few small cells of each scenario kind, for a look in a couple of minutes (tune seeds)."""
    small = {"seconds": 12.0}
    cells = [
        Cell("rally", RALLY[3][0], 120, TUNE_SEEDS[1], "cgnat_24", tuple(small.items())),
        Cell("rally", LOCKOUT[0][0], 120, TUNE_SEEDS[2], "cgnat_24", tuple(small.items())),
        Cell("carts", CARTS[1][0], 60, TUNE_SEEDS[3], "cgnat_24", (("seconds", 20.0),)),
        Cell("merch", None, 300, TUNE_SEEDS[4], "cgnat_24", (("seconds", 20.0),)),
    ]
    return [("tune", c) for c in cells]
