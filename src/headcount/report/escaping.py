"""Text for the report's HTML: escaped, and with what could hide or reorder it spelled out.

A pool or group name can carry bidi controls ("\\u202eevil" shows as "live") or
zero-width characters; the report, like the dashboard, shows them as `⟨U+202E⟩`.
"""

from __future__ import annotations

import html
import re

INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def escape(value: str) -> str:
    """HTML-escaped, with bidi controls and zero-width characters shown by their code point."""
    return html.escape(INVISIBLE.sub(lambda m: f"\u27e8U+{ord(m.group()):04X}\u27e9", value))
