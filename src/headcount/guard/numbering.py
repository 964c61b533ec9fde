"""Number blocks judged against their area: a run of bought numbers, not a dense town.

Bought numbers come in runs: many in one block of a thousand (E.164 without its last
three digits). But real people are not spread evenly over a country's numbers
either: a city's crowd, a campus or one carrier's new range puts many real numbers
into the same few areas (a hundred blocks: E.164 without its last five digits). A
block is suspicious only when it holds more of its area's numbers than chance
would put there: with `n` numbers in the area spread over its hundred blocks, the
block's count is binomial(n, 1/100), and a count that chance reaches in any of
the area's hundred blocks with probability under `alpha` (each block gets its
chance: alpha / 100 for one, and each arrival in the area looks again: alpha /
(100 x the area's count) for one look) is a run. A block alone in a quiet area still trips at
a handful of numbers; a block in a busy area needs many more.
"""

from __future__ import annotations

from scipy.special import bdtrc

#: blocks of a thousand numbers in one area (the E.164 number without its last five digits)
AREA_BLOCKS = 100


def block_of(e164: str) -> str:
    """The block of a thousand a number belongs to."""
    return e164[:-3]


def area_of(e164: str) -> str:
    """The area of a hundred blocks a number belongs to."""
    return e164[:-5]


def unusual_block(in_block: int, in_area: int, alpha: float) -> bool:
    """Whether `in_block` numbers in one block is unlikely by chance when its area holds
    `in_area` (the block's own included): P(X >= in_block) under alpha / (100 x in_area), X ~
    binomial(in_area, 1/100), so that some block of a busy area reaching it, at any of the
    area's arrivals, is no alarm."""
    if in_block <= 0:
        return False
    in_area = max(in_area, in_block)
    # every arrival in the area looks at its block again: a union bound over those looks too
    return bool(bdtrc(in_block - 1, in_area, 1.0 / AREA_BLOCKS) < alpha / (AREA_BLOCKS * in_area))
