"""Allocation for free events: the lottery's pure parts (the draw, vetting, overbooking).

    from headcount.allocation import Entry, run_draw, first_difference, tickets
    draw = run_draw("rally", seed, entries, tickets=19_200)
    assert first_difference(draw) is None        # anyone can recompute it

The service (`headcount.services.lottery`) takes registrations, runs the draw at
`closes_at` and passes lapsed wins down the waitlist; see docs/lottery.md.
"""

from headcount.allocation.draw import (
           Draw,
           Entry,
           commitment,
           digest,
           first_difference,
           new_seed,
           run_draw,
)
from headcount.allocation.overbook import DEFAULT_RISK, Overbooking, tickets

__all__ = ["DEFAULT_RISK", "Draw", "Entry", "Overbooking", "commitment", "digest", "first_difference",
           "new_seed", "run_draw", "tickets"]
