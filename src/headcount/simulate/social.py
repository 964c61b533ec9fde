"""Action logs with known groups: "#massfollowing" on a social app, cart hoarding in a shop.

Both write the columns `headcount detect` reads (actor, target, ts, verb, ip) plus a
`label` column saying which rows the planted group made, so detection can be scored.

- **follows**: ordinary accounts follow a few accounts each (popularity is Zipf) over
  a month; a follow-back ring of accounts follows each other within a day; mass
  followers follow hundreds, harvest follow-backs and unfollow most within days.
- **shop**: shoppers add a few products to carts over a week; an activist group adds
  the same limited products within an hour from a few networks (denial of inventory).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from headcount.simulate.injection import zipf_popularity

DAY = 86_400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class LabelledLog:
    table: pa.Table  # actor, target, ts, verb, ip, label
    groups: dict[str, frozenset[str]]  # planted group -> its actors

    def __len__(self) -> int:
        return self.table.num_rows


def _ips(rng: np.random.Generator, owners: np.ndarray, networks: int) -> np.ndarray:
    home = rng.integers(1 << 24, 223 << 24, size=networks, dtype=np.int64) & ~0xFF
    return (home[owners % networks] | rng.integers(1, 255, size=owners.size)).astype(np.int64)


def _dotted(ip: np.ndarray) -> list[str]:
    return [f"{(v >> 24) & 255}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}" for v in ip.tolist()]


def _table(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, str, np.ndarray, str]]) -> pa.Table:
    actor = np.concatenate([p[0] for p in parts])
    order = np.argsort(np.concatenate([p[2] for p in parts]), kind="stable")
    cols = {
        "actor": [f"@u{a}" for a in actor[order]],
        "target": [f"@u{t}" if isinstance(t, (int, np.integer)) else str(t)
                   for t in np.concatenate([p[1] for p in parts])[order]],
        "ts": np.concatenate([p[2] for p in parts])[order],
        "verb": np.concatenate([np.full(p[0].size, p[3]) for p in parts])[order],
        "ip": np.array(_dotted(np.concatenate([p[4] for p in parts])))[order],
        "label": np.concatenate([np.full(p[0].size, p[5]) for p in parts])[order],
    }
    return pa.table(cols)


def follows(accounts: int = 20_000, follows_per_account: float = 6.0, ring: int = 40,
            mass_followers: int = 10, seed: int = 0) -> LabelledLog:
    """A month of follows with a follow-back ring and mass followers in it."""
    rng = np.random.default_rng(seed)
    n = int(accounts * follows_per_account)
    popularity = zipf_popularity(accounts, 0.9)
    a = rng.integers(0, accounts, n)
    t = rng.choice(accounts, n, p=popularity)
    keep = a != t
    a, t = a[keep], t[keep]
    parts = [(a, t, T0 + rng.integers(0, 30 * DAY, a.size), "follow", _ips(rng, a, accounts), "real")]
    members = accounts + np.arange(ring)
    ra, rb = np.meshgrid(members, members)
    pick = (ra != rb) & (rng.random(ra.shape) < 0.8)
    start = T0 + int(rng.integers(0, 29 * DAY))
    parts.append((ra[pick], rb[pick], start + rng.integers(0, DAY, int(pick.sum())), "follow",
                  _ips(rng, ra[pick], 3), "ring"))
    churners = accounts + ring + np.arange(mass_followers)
    for c in churners:
        targets = rng.choice(accounts, 400, replace=False, p=popularity)
        when = T0 + int(rng.integers(0, 25 * DAY))
        parts.append((np.full(400, c), targets, when + rng.integers(0, DAY, 400), "follow",
                      _ips(rng, np.full(400, c), accounts), "massfollow"))
        undo = targets[rng.random(400) < 0.85]
        parts.append((np.full(undo.size, c), undo, when + 2 * DAY + rng.integers(0, DAY, undo.size),
                      "unfollow", _ips(rng, np.full(undo.size, c), accounts), "massfollow"))
    return LabelledLog(_table(parts), {"ring": frozenset(f"@u{m}" for m in members.tolist()),
                                       "massfollow": frozenset(f"@u{c}" for c in churners.tolist())})


def shop(shoppers: int = 20_000, products: int = 2_000, adds_per_shopper: float = 3.0,
         activists: int = 150, hoarded: int = 25, seed: int = 0) -> LabelledLog:
    """A week of add-to-cart actions with an activist group hoarding limited products."""
    rng = np.random.default_rng(seed)
    n = int(shoppers * adds_per_shopper)
    popularity = zipf_popularity(products, 0.8)
    a = rng.integers(0, shoppers, n)
    p = rng.choice(products, n, p=popularity)
    parts = [(a, np.array([f"sku-{x}" for x in p]), T0 + rng.integers(0, 7 * DAY, n), "add_to_cart",
              _ips(rng, a, shoppers), "real")]
    group = shoppers + np.arange(activists)
    limited = rng.choice(products, hoarded, replace=False)
    ga, gp = np.meshgrid(group, limited)
    pick = rng.random(ga.shape) < 0.5
    start = T0 + int(rng.integers(0, 6 * DAY))
    parts.append((ga[pick], np.array([f"sku-{x}" for x in gp[pick]]),
                  start + rng.integers(0, 3600, int(pick.sum())), "add_to_cart", _ips(rng, ga[pick], 4),
                  "hoarding"))
    return LabelledLog(_table(parts), {"hoarding": frozenset(f"@u{g}" for g in group.tolist())})
