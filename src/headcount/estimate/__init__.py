"""The real headcount of a pool: expected real attendance with an interval.

    from headcount.estimate import Bands, count_registrations, estimate_headcount

    bands = Bands()  # risk-score bins; or Bands.from_policy(policy)
    current = count_registrations(bands, scores, quantities)
    history = [count_registrations(bands, s, q, came) for s, q, came in earlier_pools]
    result = estimate_headcount(current, history, bands=bands, capacity=19_200)
    result.expected_real, result.interval, result.to_dict()
"""

from .bands import DEFAULT_EDGES, BandCounts, Bands, count_registrations
from .model import estimate_headcount, flagged_share
from .prior import Prior
from .result import BandEstimate, HeadcountEstimate

__all__ = [
    "DEFAULT_EDGES",
    "BandCounts",
    "BandEstimate",
    "Bands",
    "HeadcountEstimate",
    "Prior",
    "count_registrations",
    "estimate_headcount",
    "flagged_share",
]
