"""Action budgets: how often one person may follow, register, ... per window.

"#massfollowing" accounts follow thousands to harvest follow-backs, then
unfollow; platforms answer with follow limits. A budget is a list of (limit,
window) per verb, counted per person over the action log (a sliding log: exact,
no burst at window edges), atomically with the append.
"""

from __future__ import annotations

from dataclasses import dataclass

LEDGER_VERBS = frozenset({"hold", "confirm", "release"})  # written by the ledger, not by clients

HOUR = 3600
DAY = 86400


@dataclass(frozen=True, slots=True)
class Budget:
    limit: int
    window_s: int

    @property
    def name(self) -> str:
        unit = {60: "minute", HOUR: "hour", DAY: "day"}.get(self.window_s, f"{self.window_s}s")
        return f"per_{unit}"


#: Defaults, in the spirit of the large platforms' published follow limits.
DEFAULT_BUDGETS: dict[str, tuple[Budget, ...]] = {
    "follow": (Budget(60, HOUR), Budget(400, DAY)),
    "unfollow": (Budget(60, HOUR), Budget(400, DAY)),
    "register": (Budget(3, HOUR), Budget(5, DAY)),
    "checkin": (Budget(2, DAY),),
    "*": (Budget(600, HOUR),),  # any other verb
}


def budgets_for(verb: str, table: dict[str, tuple[Budget, ...]] | None = None) -> tuple[Budget, ...]:
    table = table or DEFAULT_BUDGETS
    return table.get(verb, table.get("*", ()))
