"""CSV files that a spreadsheet opens as data, never as formulas (OWASP "CSV Injection").

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return (or their
full-width forms, which some spreadsheets also accept) is prefixed with a single
quote, so `=cmd|'/Ccalc'!A0@example.org` - a valid e-mail address - shows as
text. The csv module quotes the rest (delimiters, quotes, line breaks). Numbers
are written as numbers. Lists are neutralised element by element before they
are joined, because a spreadsheet set to `;` as its delimiter splits them again.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: Any) -> Any:
    """`value` as safe to put in a CSV cell: text that could start a formula gets a leading `'`."""
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    if value.startswith(TRIGGERS):
        return "'" + value
    return value


def join(values: Iterable[str], sep: str = ";") -> str:
    """One cell from several values, each neutralised (a `;`-delimiting spreadsheet splits them)."""
    return neutralise(sep.join(neutralise(v) for v in values))


class SafeWriter:
    """`csv.writer` whose every cell is neutralised."""

    def __init__(self, f: IO[str]) -> None:
        self._writer = csv.writer(f)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(v) for v in row])
