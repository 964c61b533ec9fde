"""Scenario generators with known truth, for tests, benchmarks and demos."""

from headcount.simulate.rally import Registrant, rally_population

__all__ = ["Registrant", "rally_population"]
