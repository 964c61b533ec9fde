"""Risk bands and per-band counts: the only shape of data the model reads.

The estimate works on band totals, never on per-registration loops, so a pool
of a million registrations costs one `searchsorted` + `bincount` here (or one
SQL GROUP BY in the store) and microseconds in the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

import numpy as np

DEFAULT_EDGES = (0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8)


class _Band(Protocol):
    """What the estimate reads of a policy band (the estimate does not import the policy)."""

    @property
    def name(self) -> str: ...
    @property
    def below(self) -> float | None: ...


class _HasBands(Protocol):
    @property
    def bands(self) -> Sequence[_Band]: ...


@dataclass(frozen=True)
class Bands:
    """Risk-score bins: band i holds scores in [edges[i-1], edges[i]).

    `edges` are the inner boundaries (strictly increasing, inside (0, 1)); there
    are len(edges) + 1 bands. `flag_at` is the score from which a registration
    counts as *flagged*: the pool's flagged share is the model's read of how
    flooded the pool is.
    """

    edges: tuple[float, ...] = DEFAULT_EDGES
    names: tuple[str, ...] = ()
    flag_at: float = 0.5

    def __post_init__(self) -> None:
        edges = tuple(float(e) for e in self.edges)
        if any(not 0.0 < e < 1.0 for e in edges) or any(b <= a for a, b in pairwise(edges)):
            raise ValueError("edges: must be strictly increasing and inside (0, 1)")
        object.__setattr__(self, "edges", edges)
        names = tuple(self.names) or tuple(
            f"{lo:g}-{hi:g}" for lo, hi in zip((0.0, *edges), (*edges, 1.0))
        )
        if len(names) != len(edges) + 1 or len(set(names)) != len(names):
            raise ValueError(f"names: need {len(edges) + 1} distinct names, got {len(names)}")
        object.__setattr__(self, "names", names)
        if not 0.0 < self.flag_at <= 1.0:
            raise ValueError("flag_at: must be in (0, 1]")

    @classmethod
    def from_policy(cls, policy: _HasBands) -> Bands:
        """The bands of a `headcount.policy.Policy` (by name, its `below` bounds)."""
        bands = policy.bands
        edges = tuple(b.below for b in bands if b.below is not None and b.below < 1.0)
        names = tuple(b.name for b in bands)[: len(edges) + 1]
        return cls(edges=edges, names=names, flag_at=edges[len(edges) // 2] if edges else 0.5)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def lower(self) -> np.ndarray:
        return np.array((0.0, *self.edges))

    @property
    def upper(self) -> np.ndarray:
        return np.array((*self.edges, 1.0))

    @property
    def mid(self) -> np.ndarray:
        """Mid score of each band: what the no-history prior reads as P(fake)."""
        return (self.lower + self.upper) / 2.0

    @property
    def flagged(self) -> np.ndarray:
        """Bands counted as flagged: lower bound at or above `flag_at` (at least the top one)."""
        out = self.lower >= self.flag_at - 1e-12
        out[-1] = True
        return out

    def index(self, scores: np.ndarray) -> np.ndarray:
        """Band index of each score."""
        return np.searchsorted(np.asarray(self.edges), scores, side="right")

    def position(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"band: unknown band name {name!r}; known: {list(self.names)}") from None


def _as_counts(field: str, values: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"{field}: need {n} values (one per band), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{field}: counts must be finite and >= 0")
    return arr


@dataclass(frozen=True)
class BandCounts:
    """One pool summed per band, in seats (a hold's quantity counts its seats).

    `sum_sq` is the sum of squared quantities per band: parties come together,
    so chance turnout varies like sum(q^2) p(1-p), not sum(q) p(1-p); it defaults
    to `registered` (every registration one seat). `checked_in` is known for
    earlier pools only.

    `returning` (optional) is the check-in history: seats per band whose holder
    (the person, after linking) checked in at an earlier pool of the organiser.
    A fake made for a flood has none, so it is the model's read of how much of
    a band is real that no score can fake. `returning_checked_in` (earlier pools
    only) is how many of those seats came. The model uses them only when the
    new pool and every earlier pool carry them.
    """

    registered: np.ndarray
    checked_in: np.ndarray | None = None
    sum_sq: np.ndarray | None = None
    returning: np.ndarray | None = None
    returning_checked_in: np.ndarray | None = None

    def __post_init__(self) -> None:
        reg = _as_counts("registered", self.registered, len(np.atleast_1d(self.registered)))
        object.__setattr__(self, "registered", reg)
        if self.checked_in is not None:
            came = _as_counts("checked_in", self.checked_in, len(reg))
            if np.any(came > reg + 1e-9):
                raise ValueError("checked_in: cannot exceed registered in a band")
            object.__setattr__(self, "checked_in", came)
        sq = reg if self.sum_sq is None else _as_counts("sum_sq", self.sum_sq, len(reg))
        if np.any(sq + 1e-9 < reg):
            raise ValueError("sum_sq: the sum of squared quantities cannot be below registered")
        object.__setattr__(self, "sum_sq", sq)
        if self.returning is not None:
            ret = _as_counts("returning", self.returning, len(reg))
            if np.any(ret > reg + 1e-9):
                raise ValueError("returning: cannot exceed registered in a band")
            object.__setattr__(self, "returning", ret)
        if self.returning_checked_in is not None:
            if self.returning is None or self.checked_in is None:
                raise ValueError("returning_checked_in: needs returning and checked_in")
            rc = _as_counts("returning_checked_in", self.returning_checked_in, len(reg))
            if np.any(rc > self.returning + 1e-9) or np.any(rc > self.checked_in + 1e-9):
                raise ValueError("returning_checked_in: cannot exceed returning or checked_in in a band")
            object.__setattr__(self, "returning_checked_in", rc)

    @property
    def has_history_evidence(self) -> bool:
        """True when the pool carries check-in history per band (see `returning`)."""
        return self.returning is not None and (self.checked_in is None or self.returning_checked_in is not None)

    @property
    def total(self) -> float:
        return float(self.registered.sum())

    @classmethod
    def from_mapping(cls, bands: Bands, registered: Mapping[str, float],
                     checked_in: Mapping[str, float] | None = None,
                     returning: Mapping[str, float] | None = None,
                     returning_checked_in: Mapping[str, float] | None = None) -> BandCounts:
        """Counts keyed by band name (missing bands count 0): what a store GROUP BY returns."""

        def arr(m: Mapping[str, float] | None) -> np.ndarray | None:
            if m is None:
                return None
            out = np.zeros(len(bands))
            for name, value in m.items():
                out[bands.position(name)] = value
            return out

        reg = arr(registered)
        assert reg is not None
        return cls(reg, arr(checked_in), None, arr(returning), arr(returning_checked_in))


def count_registrations(bands: Bands, scores: Sequence[float] | np.ndarray,
                        quantities: Sequence[int] | np.ndarray | None = None,
                        checked_in: Sequence[int] | np.ndarray | None = None,
                        returning: Sequence[bool] | np.ndarray | None = None) -> BandCounts:
    """Per-registration risk scores (and quantities, check-ins, check-in history) summed per band.

    `returning[i]`: registration i's holder checked in at an earlier pool of the organiser.
    """
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1:
        raise ValueError("scores: must be a flat sequence")
    if s.size and (not np.all(np.isfinite(s)) or s.min() < 0.0 or s.max() > 1.0):
        raise ValueError("scores: risk scores must be in [0, 1]")
    q = np.ones_like(s) if quantities is None else np.asarray(quantities, dtype=float)
    if q.shape != s.shape:
        raise ValueError("quantities: need one per score")
    if q.size and (not np.all(np.isfinite(q)) or q.min() < 1):
        raise ValueError("quantities: must be >= 1")
    idx = bands.index(s)
    n = len(bands)
    reg = np.bincount(idx, weights=q, minlength=n)
    sq = np.bincount(idx, weights=q * q, minlength=n)
    came = None
    if checked_in is not None:
        c = np.asarray(checked_in, dtype=float)
        if c.shape != s.shape or (c.size and (c.min() < 0 or np.any(c > q))):
            raise ValueError("checked_in: need one per score, between 0 and the quantity")
        came = np.bincount(idx, weights=c, minlength=n)
    ret = ret_came = None
    if returning is not None:
        r = np.asarray(returning)
        if r.shape != s.shape or (r.size and not np.isin(r, (0, 1, True, False)).all()):
            raise ValueError("returning: need one true/false per score")
        r = r.astype(bool)
        ret = np.bincount(idx, weights=q * r, minlength=n)
        if checked_in is not None:
            ret_came = np.bincount(idx, weights=c * r, minlength=n)
    return BandCounts(reg, came, sq, ret, ret_came)
