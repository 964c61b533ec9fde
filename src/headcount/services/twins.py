"""One source for a sync method and its async twin: the steps are written once.

A service's logic is a generator that yields `Step`s (each a store or guard call)
and is sent each call's result; it returns the answer. `run_sync` makes every
call in place (the library, the CLI); `run_async` makes it the event loop's way
(the HTTP service): the call's async form where it has one, else in a worker
thread when it blocks, else inline. So the two twins cannot drift apart: the
order of the calls, and every rule between them, exist once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Step(Generic[T]):
    """One call of a service's logic and how the event loop makes it."""

    call: Callable[[], T]
    #: its async form (a store's `a...` method), where there is one
    acall: Callable[[], Awaitable[T]] | None = None
    #: without `acall`: True when the call blocks (store I/O), so the loop hands it to a thread
    blocking: bool = False


#: a service's logic: yields steps, is sent their results, returns the answer
Steps = Generator[Step[Any], Any, R]


def run_sync(steps: Steps[R]) -> R:
    """Run the logic with every call made in place.

    A call's exception is thrown into the logic at its `yield`, as a plain call would raise
    there, so the logic's own `try` sees it the same way in both twins."""
    try:
        step = next(steps)
        while True:
            try:
                value = step.call()
            except Exception as exc:
                step = steps.throw(exc)
                continue
            step = steps.send(value)
    except StopIteration as done:
        result: R = done.value
        return result


async def run_async(steps: Steps[R]) -> R:
    """Run the logic on the event loop: async forms awaited, blocking calls in a thread."""
    try:
        step = next(steps)
        while True:
            try:
                if step.acall is not None:
                    value = await step.acall()
                elif step.blocking:
                    value = await asyncio.to_thread(step.call)
                else:
                    value = step.call()
            except Exception as exc:
                step = steps.throw(exc)
                continue
            step = steps.send(value)
    except StopIteration as done:
        result: R = done.value
        return result
