"""The service's background loops: expiry sweeps and contact purges, and detection.

They run inside the HTTP service's lifespan; each round runs in a thread, so
requests go on, and a failed round is logged once and retried next time.
"""

from __future__ import annotations

import asyncio
import logging

from headcount.services.detection import GroupWatch, Leadership
from headcount.services.holds import Ledger

log = logging.getLogger("headcount.background")


async def sweeper(ledger: Ledger, interval: float, retention_s: float) -> None:
    """Make expiry permanent and purge old contact data in the background.

    Availability never waits for the sweep: expired holds never count anyway.
    """
    rounds = 0
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(ledger.sweep)
            if rounds % 60 == 0:
                await asyncio.to_thread(ledger.store.purge_contacts, ledger.clock() - retention_s)
        except Exception:  # keep sweeping; a failed round is retried next time
            log.exception("sweep failed")
        rounds += 1


async def detector(watch: GroupWatch, leadership: Leadership, interval: float) -> None:
    """Run detection on a schedule in the leading process; reload flagged persons in all.

    Detection runs in a thread (numpy and numba release the GIL), so requests go on.
    """
    while True:
        try:
            if leadership.acquire():
                await asyncio.to_thread(watch.run_once)
            else:
                await asyncio.to_thread(watch.refresh)
        except Exception:  # a failed round is retried next time; serving goes on
            log.exception("detection failed")
        try:
            await asyncio.sleep(interval)
        except asyncio.CancelledError:
            leadership.release()
            raise
