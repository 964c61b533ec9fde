"""One decision per hold or action: identity signals, the policy, person linking."""

from headcount.guard.signals_guard import SignalsGuard

__all__ = ["SignalsGuard"]
