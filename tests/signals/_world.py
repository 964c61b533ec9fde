"""What the guard tests through the library share: a clock they set, and names of their own."""

from __future__ import annotations

T0 = 1_800_000_000.0


class Clock:
    """A clock the test moves (`Headcount.over(..., clock=Clock())`)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def letters(uid: str) -> str:
    """A test's uid spelled in letters: mailboxes of its own that look typed by a person
    (digits would make them machine-made), so tests sharing a database never meet."""
    return uid.translate(str.maketrans("0123456789", "ghijklmnop"))
