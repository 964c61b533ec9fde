"""Innocent follow logs with the structure real crowds have, for null suites (no ring inside).

Nothing here was used to tune detection: it is a different generator from the injection
simulator's background, with what that one lacks:

- **popularity** is Zipf with a per-log exponent, over creators in a random order;
- **people** follow a heavy-tailed number of accounts (lognormal), a few mass followers
  follow hundreds, each in one to three sessions placed on a **daily cycle** (evenings busy);
- **networks**: most people have a home network of their own, a share sit behind a few
  mobile carriers' shared addresses (carrier NAT puts strangers on one IP);
- **a flash crowd**: hundreds of people follow one new account within minutes (and some of
  them one or two related accounts), each otherwise their ordinary self;
- **small real groups**: households and choirs of 5-8 follow the same 2-3 niche accounts
  one evening (a household from its home network), and a class of 25 students follows
  its teacher and two classmates over a school day (some from the school's network).

`plant_ring` adds a ring (the positive control): actors on targets all within minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DAY = 86_400
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@dataclass
class CrowdLog:
    """Follow events (parallel lists, any order) and which actors each benign pattern used."""

    actor: list[str] = field(default_factory=list)
    target: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    ip: list[str] = field(default_factory=list)
    device: list[str] = field(default_factory=list)
    patterns: dict[str, set[str]] = field(default_factory=dict)  # pattern name -> its actors
    people: int = 0

    def __len__(self) -> int:
        return len(self.ts)

    def add(self, actor: str, target: str, ts: float, ip: str, device: str) -> None:
        self.actor.append(actor)
        self.target.append(target)
        self.ts.append(float(ts))
        self.ip.append(ip)
        self.device.append(device)

    def order(self) -> np.ndarray:
        """Indices of the events in time order (how they reach the service)."""
        return np.argsort(np.asarray(self.ts), kind="stable")

    def pattern_of(self, actor: str) -> list[str]:
        return sorted(name for name, who in self.patterns.items() if actor in who)


def _evening_start(rng: np.random.Generator, days: int) -> float:
    """A session start on the daily cycle: busiest around 20:00, quiet around 04:00."""
    while True:
        t = rng.random() * days * DAY
        hour = (t % DAY) / 3600
        if rng.random() < 0.5 * (1 + np.cos(2 * np.pi * (hour - 20) / 24)) * 0.9 + 0.1:
            return T0 + t


def innocent_follows(seed: int, people: int | None = None, days: int = 2,
                     crowd: tuple[int, int] = (300, 1200), shared_networks: bool = True) -> CrowdLog:
    """An ordinary follow log of `days` days, seeded; sizes vary with the seed.

    `shared_networks=False` puts every household member and pupil on their own network
    (to tell what a false block rests on: the shared network, or the rest)."""
    rng = np.random.default_rng(seed)
    n_people = int(people or rng.integers(1500, 3000))
    n_creators = int(rng.integers(800, 2000))
    exponent = float(rng.uniform(0.8, 1.25))
    weight = 1.0 / np.arange(1, n_creators + 1) ** exponent
    weight /= weight.sum()
    creators = rng.permutation(n_creators)  # popularity is not the id order
    out = CrowdLog(people=n_people)
    carriers = [f"100.64.{i // 250}.{i % 250 + 1}" for i in range(int(rng.integers(10, 40)))]
    ip = [carriers[int(rng.integers(len(carriers)))] if rng.random() < 0.25 else f"h{seed}.{i}"
          for i in range(n_people)]
    mass = set(rng.choice(n_people, size=max(1, n_people // 100), replace=False).tolist())
    out.patterns["mass_follower"] = {f"u{i}" for i in mass}

    def follow_popular(person: int, k: int, start: float, gap_s: float) -> None:
        picks = np.unique(rng.choice(n_creators, size=k, p=weight))
        times = start + np.cumsum(rng.exponential(gap_s, size=picks.size))
        for c, t in zip(picks.tolist(), times.tolist()):
            out.add(f"u{person}", f"@c{creators[c]}", t, ip[person], f"d{person}")

    for person in range(n_people):
        if person in mass:
            k = int(rng.integers(80, 400))
        else:
            k = int(min(60, max(1, round(rng.lognormal(0.6, 0.9)))))
        sessions = int(rng.integers(1, 4))
        for part in np.array_split(np.arange(k), sessions):
            if part.size:
                follow_popular(person, int(part.size), _evening_start(rng, days), 40.0)

    # a flash crowd: a launch account, and for some of the crowd one or two related ones
    size = int(rng.integers(*crowd))
    fans = rng.choice(n_people, size=min(size, n_people), replace=False)
    at = T0 + float(rng.uniform(0.3, 0.8)) * days * DAY
    hot = [f"@launch{seed}", f"@launch{seed}_brand", f"@launch{seed}_founder"]
    for person in fans.tolist():
        t = at + float(rng.exponential(float(rng.uniform(120, 400))))
        out.add(f"u{person}", hot[0], t, ip[person], f"d{person}")
        for extra, p in ((hot[1], 0.35), (hot[2], 0.15)):
            if rng.random() < p:
                out.add(f"u{person}", extra, t + float(rng.exponential(90)), ip[person], f"d{person}")
    out.patterns["flash_crowd"] = {f"u{p}" for p in fans.tolist()}

    # households (one home network) and choirs (each their own): the same few niche accounts one evening
    taken: set[int] = set(mass)
    for g in range(int(rng.integers(3, 7))):
        members = [int(p) for p in rng.choice(n_people, size=int(rng.integers(5, 9)), replace=False)
                   if int(p) not in taken]
        taken.update(members)
        kind = "household" if g % 2 == 0 else "choir"
        accounts = [f"@{kind}{seed}_{g}_{x}" for x in range(int(rng.integers(2, 4)))]
        evening = T0 + int(rng.integers(0, days)) * DAY + 18 * 3600 + float(rng.uniform(0, 3 * 3600))
        home = f"home{seed}.{g}"
        for person in members:
            start = evening + float(rng.uniform(0, float(rng.uniform(1800, 3 * 3600))))
            for x, account in enumerate(accounts):
                where = home if kind == "household" and shared_networks else ip[person]
                out.add(f"u{person}", account, start + x * float(rng.exponential(120)), where, f"d{person}")
        out.patterns[f"{kind}_{g}"] = {f"u{p}" for p in members}

    # a class of 25: the teacher and two classmates, over one school day, some on the school network
    pupils = [int(p) for p in rng.choice(n_people, size=25, replace=False)]
    stars = pupils[:2]
    school = f"school{seed}"
    day = T0 + int(rng.integers(0, days)) * DAY + 8 * 3600
    for person in pupils:
        where = school if rng.random() < 0.5 and shared_networks else ip[person]
        for account in [f"@teacher{seed}", *(f"u{s}" for s in stars if s != person)]:
            out.add(f"u{person}", account, day + float(rng.uniform(0, 8 * 3600)), where, f"d{person}")
    out.patterns["class"] = {f"u{p}" for p in pupils}
    return out


def plant_ring(log: CrowdLog, seed: int, actors: int = 30, targets: int = 10,
               within_s: float = 1200.0, at: float | None = None) -> set[str]:
    """A ring: `actors` new accounts each follow all `targets` accounts within `within_s`,
    from a handful of networks. Returns the ring's actors."""
    rng = np.random.default_rng(seed + 10_000)
    start = T0 + DAY * 0.9 if at is None else at
    ring = {f"ring{seed}_{a}" for a in range(actors)}
    for a in range(actors):
        for t in range(targets):
            log.add(f"ring{seed}_{a}", f"@pump{seed}_{t}", start + float(rng.uniform(0, within_s)),
                    f"farm{seed}.{a % 3}", f"rd{seed}_{a}")
    log.patterns["ring"] = ring
    return ring
