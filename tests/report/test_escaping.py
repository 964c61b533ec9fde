"""The report's text: escaped, and nothing in a name can reorder or hide what is shown."""

from __future__ import annotations

import html

from hypothesis import given
from hypothesis import strategies as st

from headcount.report.escaping import INVISIBLE, escape


@given(st.text())
def test_nothing_invisible_or_markup_survives(value: str) -> None:
    out = escape(value)
    assert not INVISIBLE.search(out) and "<" not in out and ">" not in out
    if not INVISIBLE.search(value):
        assert html.unescape(out) == value  # nothing else changes


def test_a_right_to_left_override_is_spelled_out() -> None:
    assert escape("Tickets \u202eevil\u200b") == "Tickets \u27e8U+202E\u27e9evil\u27e8U+200B\u27e9"
