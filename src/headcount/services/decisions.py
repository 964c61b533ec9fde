"""The decisions log: every guard decision on a hold or an action, counted for the views.

The guard decides each request (a band from the policy, reasons, the pool's flood
state); the ledger and the action service call `DecisionLog.note` with that
decision. Counting happens in memory, per pool, minute, verb, outcome, band and
flood flag (and per reason); `flush` adds the counts to the store in one write,
so the request path pays a dictionary update, not a transaction. The HTTP
service flushes about once a second; every process adds its own counts.

Outcomes, in the words the dashboard and report use:
- `allowed`: the pool's normal hold time and per-person limit;
- `shortened`: a band with a shorter hold or a lower per-person cap;
- `challenged`: refused until the person passes a challenge (HTTP 428);
- `denied`: refused (HTTP 403).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from headcount.policy import Policy
from headcount.store.base import Store
from headcount.store.decisions import BUCKET_S, DecisionCount
from headcount.types import Decision

log = logging.getLogger("headcount.services.decisions")

OUTCOMES = ("allowed", "shortened", "challenged", "denied")
#: the outcomes that refuse the request
REFUSALS = ("challenged", "denied")
FLOOD_REASON = "pool_flooded"
#: where decisions on actions with no pool are counted: `action:<verb>`
ACTION_SCOPE = "action:"


def outcome_of(decision: Decision, policy: Policy) -> tuple[str, str]:
    """(outcome, band name) of a guard decision under the policy."""
    band = policy.band(decision.score)
    name = str((decision.extra or {}).get("band") or band.name)
    if decision.challenge:
        return "challenged", name
    if not decision.allow:
        return "denied", name
    named = policy.band_named(name) if name in {b.name for b in policy.bands} else band
    if named.ttl_factor < 1.0 or named.actor_cap is not None:
        return "shortened", name
    return "allowed", name


class DecisionLog:
    """Counts decisions in memory and adds them to the store on `flush` (thread-safe)."""

    def __init__(self, store: Store, policy: Policy, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, float, str, str, str, str, bool], list[float]] = {}

    def note(self, pool_id: str | None, verb: str, decision: Decision, now: float | None = None) -> None:
        """Count one decision: `pool_id` None for an action that concerns no pool."""
        try:
            outcome, band = outcome_of(decision, self.policy)
        except Exception:  # never let counting break a decision
            log.exception("cannot count a decision")
            return
        ts = self.clock() if now is None else float(now)
        bucket = (ts // BUCKET_S) * BUCKET_S
        scope = pool_id if pool_id is not None else f"{ACTION_SCOPE}{verb}"
        flooded = FLOOD_REASON in decision.reasons
        with self._lock:
            for reason in ("", *dict.fromkeys(decision.reasons)):
                key = (scope, bucket, verb, outcome, band, reason, flooded)
                entry = self._pending.get(key)
                if entry is None:
                    self._pending[key] = [1, ts, ts]
                else:
                    entry[0] += 1
                    entry[1] = min(entry[1], ts)
                    entry[2] = max(entry[2], ts)

    def pending(self) -> int:
        with self._lock:
            return sum(int(v[0]) for k, v in self._pending.items() if k[5] == "")

    def flush(self) -> int:
        """Add the counted decisions to the store; returns how many decisions were written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        counts = [DecisionCount(*key, n=int(v[0]), first_ts=v[1], last_ts=v[2]) for key, v in pending.items()]
        try:
            self.store.add_decisions(counts)
        except Exception:
            with self._lock:  # keep them for the next flush
                for c in counts:
                    entry = self._pending.setdefault(c.key, [0, c.first_ts, c.last_ts])
                    entry[0] += c.n
                    entry[1], entry[2] = min(entry[1], c.first_ts), max(entry[2], c.last_ts)
            raise
        return sum(c.n for c in counts if c.reason == "")


async def flusher(decisions: DecisionLog, interval: float = 1.0) -> None:
    """Add the counted decisions to the store every `interval` seconds (and once more at the end)."""
    import asyncio

    try:
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(decisions.flush)
            except Exception:  # kept for the next round
                log.exception("cannot write the decisions log")
    finally:
        try:
            decisions.flush()
        except Exception:
            log.exception("cannot write the decisions log")
