"""The service's background loops: expiry sweeps and contact purges, and detection.

They run inside the HTTP service's lifespan; each round runs in a thread, so
requests go on, and a failed round is logged once and retried next time. Streaming
detection has a thread of its own (`StreamThread`): its rounds never wait for a
free worker thread, and requests never wait for a round.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

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


class StreamThread:
    """Streaming detection's rounds, every `interval` seconds, in one daemon thread.

    The leader (whoever holds the detection lock, taken by `detector`) runs
    `GroupWatch.stream_tick`; the other processes reload the stored members, so a
    streamed block reaches their guards within a round too."""

    def __init__(self, watch: GroupWatch, leadership: Leadership, interval: float) -> None:
        self.watch, self.leadership, self.interval = watch, leadership, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headcount-stream", daemon=True)
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                if self.leadership.leading:
                    self.watch.stream_tick()
                else:
                    self.watch.refresh()
            except Exception:  # a failed round is retried next time; serving goes on
                self.failures += 1
                if self.failures == 1 or self.failures % 100 == 0:
                    log.exception("streaming detection failed (%d so far)", self.failures)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))
