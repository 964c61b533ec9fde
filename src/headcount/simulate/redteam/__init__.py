"""The red-team grid: attacker strategies as parameters, real crowds, scenarios and a fixed split.

    from headcount.simulate.redteam import grid, build
    for half, cell in grid("held_back"):
        world = build(cell)   # entrants labelled real/fake with operator, strategy and tell

`bench/redteam.py` replays the cells over HTTP against `headcount serve`; see docs/redteam.md.
"""

from headcount.simulate.redteam.grid import GRID_VERSION, grid, quick_grid, split
from headcount.simulate.redteam.model import Cell, Entrant, Strategy
from headcount.simulate.redteam.scenarios import World, build

__all__ = ["GRID_VERSION", "Cell", "Entrant", "Strategy", "World", "build", "grid", "quick_grid", "split"]
