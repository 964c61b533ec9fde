"""Flood mode: a pool whose recent registrations are mostly risky asks for less evidence.

The policy's weights say how much each reason counts for an ordinary pool, where
most registrants are real. When a pool is being flooded, the odds that any one
registrant is fake are far higher before a single signal is read, so a weak
reason that would earn a short hold in calm times should be enough to refuse.
That is Bayes' rule with a prior that moves: the guard adds the `pool_flooded`
reason (its weight in `[weights]`) to every registration in a pool while the share
of risky registrations among the pool's last `window` exceeds `share`. A person
with no other reason still gets a normal hold as long as that weight alone stays
under the first band's bound (the policy loader checks this).

Each server process keeps its own window over the registrations it decided: with
several processes each sees a sample of the pool's traffic, which estimates the
same share. A fresh process waits for `min_seen` registrations before it judges.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from threading import Lock

from headcount.policy import FloodRule

log = logging.getLogger(__name__)


class FloodWatch:
    """Per pool, the share of recent registrations that scored above the first band."""

    def __init__(self, rule: FloodRule) -> None:
        self.rule = rule
        self._recent: dict[str, deque[bool]] = {}
        self._risky: dict[str, int] = {}
        self._was_flooded: set[str] = set()
        self._entered: dict[str, float] = {}  # when each flooded pool entered flood mode (this process)
        self._lock = Lock()

    def flooded(self, pool_id: str) -> bool:
        recent = self._recent.get(pool_id)
        if recent is None or len(recent) < self.rule.min_seen:
            return False
        return self._risky[pool_id] > self.rule.share * len(recent)

    def since(self, pool_id: str) -> float | None:
        """When this process saw the pool enter its current flood mode (None: not flooded here)."""
        return self._entered.get(pool_id) if self.flooded(pool_id) else None

    def share(self, pool_id: str) -> float:
        recent = self._recent.get(pool_id)
        return self._risky[pool_id] / len(recent) if recent else 0.0

    def observe(self, pool_id: str, risky: bool) -> None:
        with self._lock:
            recent = self._recent.get(pool_id)
            if recent is None:
                recent = self._recent[pool_id] = deque(maxlen=self.rule.window)
                self._risky[pool_id] = 0
            if len(recent) == recent.maxlen:
                self._risky[pool_id] -= recent[0]
            recent.append(risky)
            self._risky[pool_id] += risky
            now_flooded = self.flooded(pool_id)
            if now_flooded != (pool_id in self._was_flooded):  # tell the operators when it turns
                (self._was_flooded.add if now_flooded else self._was_flooded.discard)(pool_id)
                if now_flooded:
                    self._entered[pool_id] = time.time()
                else:
                    self._entered.pop(pool_id, None)
                log.warning("pool %s %s flood mode: %.0f%% of its last %d registrations were risky", pool_id,
                            "enters" if now_flooded else "leaves", 100 * self.share(pool_id), len(recent))
