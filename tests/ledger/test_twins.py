"""The sync and async drivers of one service's steps make the same calls, each its own way."""

from __future__ import annotations

import asyncio
import threading

from headcount.services.twins import Step, Steps, run_async, run_sync


def _steps(log: list[tuple[str, str]]) -> Steps[int]:
    def where(name: str, value: int) -> int:
        log.append((name, threading.current_thread().name))
        return value

    async def async_form() -> int:
        log.append(("acall", "async"))
        return 10

    a = yield Step(lambda: where("inline", 1))
    b = yield Step(lambda: where("blocking", 2), blocking=True)
    c = yield Step(lambda: where("sync form", 3), async_form)
    return a + b + c


def test_sync_makes_every_call_in_place() -> None:
    log: list[tuple[str, str]] = []
    assert run_sync(_steps(log)) == 6
    main = threading.current_thread().name
    assert log == [("inline", main), ("blocking", main), ("sync form", main)]


def test_async_awaits_the_async_form_and_hands_blocking_calls_to_a_thread() -> None:
    log: list[tuple[str, str]] = []
    assert asyncio.run(run_async(_steps(log))) == 13
    main = threading.current_thread().name
    assert log[0] == ("inline", main)
    assert log[1][0] == "blocking" and log[1][1] != main
    assert log[2] == ("acall", "async")


def test_an_error_in_a_call_reaches_the_caller() -> None:
    def boom() -> int:
        raise ValueError("no")

    def steps() -> Steps[int]:
        yield Step(boom)
        return 0

    for run in (run_sync, lambda s: asyncio.run(run_async(s))):
        try:
            run(steps())
        except ValueError as exc:
            assert str(exc) == "no"
        else:
            raise AssertionError("the error was lost")

def _guarded() -> Steps[str]:
    """Logic that catches its call's failure: both twins must let it."""
    def fails() -> str:
        raise LookupError("gone")
    try:
        yield Step(fails, blocking=True)
    except LookupError as exc:
        return f"caught {exc}"
    return "not raised"


def test_a_calls_exception_reaches_the_logic_in_both_twins() -> None:
    assert run_sync(_guarded()) == "caught gone"
    assert asyncio.run(run_async(_guarded())) == "caught gone"
