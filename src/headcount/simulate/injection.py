"""An action log with a coordinated ring injected into it: known truth for detectors.

The background is what real people produce: actors whose activity is heavy-tailed,
targets whose popularity follows a Zipf law, events over 30 days with a daily
cycle, each actor behind one or two home /24 networks. The ring is what a
campaign produces: `ring_actors` accounts hitting `ring_targets` targets, each
edge with probability `density`, all within one burst, from a few shared
networks. Camouflage makes the ring look like the background:

- ``none``: the ring accounts do nothing else;
- ``random``: each ring account also hits as many random targets as it has ring edges;
- ``popular``: the same, with targets drawn by popularity (the hardest to tell apart);
- ``hijacked``: the ring accounts are real background actors with their own histories.

Camouflage events are spread over the whole period (an organic-looking history)
unless ``camo_in_burst`` is set. Everything is vectorised: 300,000 events take a
few tens of milliseconds, 10 million a few seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY = 86_400
HOUR = 3_600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
CAMOUFLAGE = ("none", "random", "popular", "hijacked")
DENSITIES = (0.05, 0.1, 0.2, 0.5, 0.8)
BURSTS = (HOUR, 6 * HOUR, 3 * DAY)


@dataclass(frozen=True)
class InjectionParams:
    """One cell of the sweep; the defaults are issue 4's background."""

    density: float = 0.2
    burst_s: int = 6 * HOUR
    camouflage: str = "none"
    seed: int = 0
    n_actors: int = 20_000
    n_targets: int = 5_000
    n_events: int = 300_000
    days: int = 30
    zipf_a: float = 0.8
    activity_sigma: float = 1.0  # lognormal spread of per-actor activity
    ring_actors: int = 200
    ring_targets: int = 50
    ring_networks: int = 5
    camo_in_burst: bool = False
    t0: int = T0

    def __post_init__(self) -> None:
        if self.camouflage not in CAMOUFLAGE:
            raise ValueError(f"camouflage must be one of {CAMOUFLAGE}, not {self.camouflage!r}")
        if not 0.0 < self.density <= 1.0:
            raise ValueError("density must be in (0, 1]")
        if not 0 < self.burst_s <= self.days * DAY:
            raise ValueError("burst_s must be positive and fit in the period")


@dataclass(frozen=True)
class Background:
    """Background events (sorted by time) and what generated them."""

    actor: np.ndarray  # int64 ids 0..n_actors-1
    target: np.ndarray  # int64 ids 0..n_targets-1, 0 the most popular
    ts: np.ndarray  # int64 Unix seconds
    ip: np.ndarray  # uint32 address of the event's /24 network (host octet 0)
    popularity: np.ndarray  # float64 p_t per target, sums to 1
    networks: np.ndarray  # uint32 (n_actors, 2) home networks; column 1 == column 0 if only one


@dataclass(frozen=True)
class Injected:
    """The log with the ring in it, and the truth to score detectors against."""

    actor: np.ndarray  # int64; ring accounts are ids >= n_actors unless hijacked
    target: np.ndarray  # int64
    ts: np.ndarray  # int64 Unix seconds, sorted
    ip: np.ndarray  # uint32 /24 network address
    is_ring: np.ndarray  # bool per event: a ring edge (not camouflage, not background)
    ring_actors: frozenset[int]
    ring_targets: frozenset[int]
    burst: tuple[int, int]  # [start, end) of the ring's events
    params: InjectionParams = field(repr=False)

    def __len__(self) -> int:
        return int(self.actor.shape[0])

    def table(self, ip_text: bool = True) -> pa.Table:
        """The log as an Arrow table (actor, target, ts, ip), ready for CSV or Parquet."""
        return log_table(self.actor, self.target, self.ts, self.ip, ip_text=ip_text)

    def truth(self) -> dict[str, object]:
        """The parameters and the ring, JSON-ready (for a file next to the log)."""
        return {"params": asdict(self.params), "burst": list(self.burst),
                "ring_actors": sorted(self.ring_actors), "ring_targets": sorted(self.ring_targets)}


def zipf_popularity(n: int, a: float) -> np.ndarray:
    """p_t proportional to rank^-a, target 0 the most popular."""
    p = np.arange(1, n + 1, dtype=np.float64) ** -a
    return p / p.sum()


def _cycle(step_s: int) -> np.ndarray:
    """Weights over a day in steps of step_s: peak at 20:00 UTC, trough 3x lower."""
    t = np.arange(0, DAY, step_s) / DAY
    return 1.0 + 0.5 * np.cos(2 * np.pi * (t - 20 / 24))


def _daily_times(rng: np.random.Generator, n: int, t0: int, days: int) -> np.ndarray:
    """n times, uniform over days with the daily cycle within each day (unsorted)."""
    weight = _cycle(60)
    minute = rng.choice(weight.size, size=n, p=weight / weight.sum())
    day = rng.integers(0, days, size=n)
    return t0 + day * DAY + minute * 60 + rng.integers(0, 60, size=n)


def _sorted_daily_times(rng: np.random.Generator, n: int, t0: int, days: int) -> np.ndarray:
    """The same distribution, sorted: counts per minute, a uniform second, one sort of ts alone."""
    weight = np.tile(_cycle(60), days)
    counts = rng.multinomial(n, weight / weight.sum())
    minute = np.repeat(np.arange(weight.size, dtype=np.int64), counts)
    return np.sort(t0 + minute * 60 + rng.integers(0, 60, size=n))


def _distinct_networks(rng: np.random.Generator, n: int) -> np.ndarray:
    """n distinct /24 networks in 1.0.0.0-223.255.255.0, as uint32 addresses."""
    lo, hi = 1 << 16, 224 << 16  # /24 prefixes a.b.c with a in 1..223
    prefixes = np.empty(0, dtype=np.int64)
    while prefixes.size < n:
        draw = rng.integers(lo, hi, size=int(n * 1.1) + 16)
        prefixes = np.unique(np.concatenate([prefixes, draw]))
    prefixes = rng.permutation(prefixes)[:n]
    return (prefixes << 8).astype(np.uint32)


def _pick_network(rng: np.random.Generator, homes: np.ndarray, owner: np.ndarray,
                  p_second: float) -> np.ndarray:
    """Each event comes from its owner's first network, or its second with p_second."""
    second = rng.random(owner.size) < p_second
    return np.where(second, homes[owner, 1], homes[owner, 0])


def background(n_actors: int = 20_000, n_targets: int = 5_000, n_events: int = 300_000,
               days: int = 30, zipf_a: float = 0.8, activity_sigma: float = 1.0,
               seed: int | np.random.Generator = 0, t0: int = T0,
               n_networks: int | None = None) -> Background:
    """Real people only: heavy-tailed activity, Zipf targets, a daily cycle, home networks.

    Activity weights are lognormal, so the mean is n_events / n_actors (15 by
    default) while a few actors do hundreds of actions, as on real platforms.
    Networks come from a pool of n_actors / 2 /24s, so families and offices share one.
    """
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, activity_sigma, size=n_actors)
    # Actor and target are drawn independently of time, so pairing i.i.d. draws with
    # times born sorted gives a time-ordered log without sorting or gathering.
    actor = rng.choice(n_actors, size=n_events, p=activity / activity.sum())
    popularity = zipf_popularity(n_targets, zipf_a)
    target = rng.choice(n_targets, size=n_events, p=popularity)
    ts = _sorted_daily_times(rng, n_events, t0, days)
    pool = _distinct_networks(rng, n_networks or max(1, n_actors // 2))
    homes = pool[rng.integers(0, pool.size, size=(n_actors, 2))]
    one_home = rng.random(n_actors) >= 0.3  # 30% of actors have a second network
    homes[one_home, 1] = homes[one_home, 0]
    ip = _pick_network(rng, homes, actor, 0.3)
    return Background(actor.astype(np.int64), target.astype(np.int64), ts, ip, popularity, homes)


def inject(params: InjectionParams | None = None, **overrides: object) -> Injected:
    """Background plus one ring, per `params` (or InjectionParams(**overrides))."""
    p = params if params is not None else InjectionParams(**overrides)  # type: ignore[arg-type]
    # Three streams: the background's (same seed, same background whatever the ring),
    # the ring's structure and the clock. The burst only moves the clock, so the
    # actor x target graph of a seed is the same for every burst length.
    rng = np.random.default_rng([p.seed, 4])
    clock = np.random.default_rng([p.seed, 5])
    bg = background(p.n_actors, p.n_targets, p.n_events, p.days, p.zipf_a, p.activity_sigma,
                    seed=p.seed, t0=p.t0)
    span = p.days * DAY
    n_r, n_t = p.ring_actors, p.ring_targets

    if p.camouflage == "hijacked":
        active = np.unique(bg.actor)
        ring_ids = rng.choice(active, size=n_r, replace=False).astype(np.int64)
    else:
        ring_ids = p.n_actors + np.arange(n_r, dtype=np.int64)
    ring_tgts = rng.choice(p.n_targets, size=n_t, replace=False).astype(np.int64)

    adj = rng.random((n_r, n_t)) < p.density
    empty = np.flatnonzero(~adj.any(axis=1))
    adj[empty, rng.integers(0, n_t, size=empty.size)] = True  # at least one edge per ring actor
    ri, ci = np.nonzero(adj)
    start = p.t0 + int(clock.integers(0, span - p.burst_s + 1))
    ring_ts = start + clock.integers(0, p.burst_s, size=ri.size)

    ring_nets = _distinct_networks(rng, p.ring_networks + 64)
    ring_nets = ring_nets[~np.isin(ring_nets, bg.networks)][: p.ring_networks]
    homes = ring_nets[rng.integers(0, ring_nets.size, size=(n_r, 2))]
    ring_ip = _pick_network(rng, homes, ri, 0.5)

    parts_actor, parts_target, parts_ts, parts_ip = [ring_ids[ri]], [ring_tgts[ci]], [ring_ts], [ring_ip]
    if p.camouflage in ("random", "popular"):
        owner = np.repeat(np.arange(n_r), adj.sum(axis=1))  # as many camouflage edges as ring edges
        if p.camouflage == "random":
            camo_target = rng.integers(0, p.n_targets, size=owner.size)
        else:
            camo_target = rng.choice(p.n_targets, size=owner.size, p=bg.popularity)
        camo_ts = (start + clock.integers(0, p.burst_s, size=owner.size) if p.camo_in_burst
                   else _daily_times(clock, owner.size, p.t0, p.days))
        parts_actor.append(ring_ids[owner])
        parts_target.append(camo_target.astype(np.int64))
        parts_ts.append(camo_ts)
        parts_ip.append(_pick_network(rng, homes, owner, 0.5))

    n_ring = ri.size
    actor = np.concatenate([bg.actor, *parts_actor])
    target = np.concatenate([bg.target, *parts_target])
    ts = np.concatenate([bg.ts, *parts_ts]).astype(np.int64)
    ip = np.concatenate([bg.ip, *parts_ip]).astype(np.uint32)
    is_ring = np.zeros(actor.size, dtype=bool)
    is_ring[bg.actor.size: bg.actor.size + n_ring] = True
    order = np.argsort(ts)
    return Injected(actor[order], target[order], ts[order], ip[order], is_ring[order],
                    frozenset(ring_ids.tolist()), frozenset(ring_tgts.tolist()),
                    (start, start + p.burst_s), p)


def ip_to_text(ip: np.ndarray) -> pa.Array:
    """uint32 addresses as dotted quads ("203.0.113.0"), vectorised in Arrow."""
    ip = np.asarray(ip, dtype=np.uint32)
    octets = [pc.cast(pa.array((ip >> s) & 0xFF), pa.string()) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*octets, ".")


def log_table(actor: np.ndarray, target: np.ndarray, ts: np.ndarray,
              ip: np.ndarray | None = None, ip_text: bool = True) -> pa.Table:
    """An Arrow table with the log's columns (ip as dotted text unless ip_text=False)."""
    columns = {"actor": pa.array(actor), "target": pa.array(target), "ts": pa.array(ts)}
    if ip is not None:
        columns["ip"] = ip_to_text(ip) if ip_text else pa.array(ip)
    return pa.table(columns)


def write_log(path: str | Path, table: pa.Table) -> Path:
    """Write a log table as Parquet (.parquet, .pq) or CSV (anything else)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        from pyarrow import csv

        csv.write_csv(table, path)
    return path
