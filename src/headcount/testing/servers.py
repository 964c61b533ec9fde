"""Start `headcount serve` as real server processes on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    store_url: str


@contextlib.contextmanager
def running_server(
    store_url: str, *, workers: int = 1, port: int | None = None, timeout: float = 60.0,
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Run `headcount serve` until the block ends; wait until it answers /healthz."""
    port = port or free_port()
    env = {**os.environ, **(extra_env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "headcount.cli.main", "serve", "--store", store_url,
         "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"server exited with {process.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {url} did not come up in {timeout}s")
            time.sleep(0.1)
        yield RunningServer(url, process, store_url)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
