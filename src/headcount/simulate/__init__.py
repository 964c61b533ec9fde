"""Scenario generators with known truth, for tests, benchmarks and demos."""

from headcount.simulate.rally import Registrant, rally_population

__all__ = ["Registrant", "rally_population"]

from headcount.simulate import redteam  # the red-team grid

__all__ += ["redteam"]
