"""Replay a red-team world over HTTP against a running `headcount serve`, as a front end would.

Time is compressed as a load test does: an entrant arriving at fraction `at` of
the window is sent `at * world.seconds` after the window opens; holds live for
seconds. Every answer is recorded with the entrant's truth, so the metrics can
say who was served, who was refused and why, and what the fakes held when.

People behave as people do: a real person whose answer names a field they
mistyped (422 with `field`) corrects it and tries again; one refused for asking
too many (429 with a quantity above one) asks for one; one asked for a challenge
(428) passes it; a lockout victim refused at first tries once more after the
attacker's hold would have lapsed. Attackers follow their pacing: burst and
steady send each identity once at its time; adaptive ones switch identity and
back off when refused and probe quantities down on 429; cart activists re-hold
with their next identity whenever a hold expires, never paying.

aiohttp comes with the `bench` (and `test`) extra, not with the package: it is
imported when a `Replayer` is made, and without it that raises `ReplayUnavailable`
naming the extra, so the result types and `metrics` import without it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from headcount.simulate.redteam.model import Entrant
from headcount.simulate.redteam.scenarios import PoolDef, World


class ReplayUnavailable(RuntimeError):
    """aiohttp is missing: the message says what to install."""


@dataclass
class HoldRecord:
    """A hold the replay got: who, where, how much, and when it stopped counting."""

    uid: str
    pool: str
    quantity: int
    start: float
    expires: float
    confirmed_at: float | None = None
    label: str = "real"
    tell: bool = False
    #: the server ended it before the replay did (released a farm's device's holds): read at the end
    taken_back: bool = False


@dataclass
class Result:
    """An entrant's outcome in one pool."""

    uid: str
    pool: str
    served: bool = False
    seats: int = 0
    reason: str | None = None  # why it was not served, e.g. "403:velocity_network+pool_flooded"
    first_reason: str | None = None  # the first refusal, even if a retry then succeeded
    attempts: int = 0
    verified: bool = False


@dataclass
class ReplayResult:
    """Everything a replay observed."""

    results: dict[tuple[str, str], Result] = field(default_factory=dict)
    holds: list[HoldRecord] = field(default_factory=list)
    samples: list[tuple[float, str, int, int]] = field(default_factory=list)  # (t, pool, held, confirmed)
    window: tuple[float, float] = (0.0, 0.0)
    final_pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    estimate: dict[str, Any] | None = None
    verification: str = "not asked"  # "used", "not on this server (404)", "not asked"
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()  # Python 3.11 reads the trailing Z


def _reason(status: int, body: dict[str, Any]) -> str:
    reasons = body.get("reasons") or []
    if status == 409:
        return "409:sold_out"
    if status == 429:
        return "429:" + ("+".join(sorted(reasons)) if reasons else "actor_limit")
    if status == 422:
        return f"422:{body.get('field', '?')}"
    return f"{status}:" + "+".join(sorted(str(r).split(":")[0] for r in reasons)) if reasons else str(status)


def verifies(uid: str, share: float) -> bool:
    """Whether this real person verifies their e-mail and number: a fixed hash draw."""
    return int(hashlib.sha256(f"verify:{uid}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


class Replayer:
    """One world against one server."""

    def __init__(self, url: str, client_key: str, staff_key: str, world: World, *, concurrency: int = 48,
                 verify_share: float = 0.0, sample_every: float = 0.5, request_timeout: float = 30.0) -> None:
        try:  # the one place that checks for the extra; _call and run import it again, then known there
            import aiohttp
        except ImportError:
            raise ReplayUnavailable("the red-team replay needs aiohttp: pip install 'headcount[bench]'") from None
        self.url = url.rstrip("/")
        self.world = world
        self.client = {"Authorization": f"Bearer {client_key}"}
        self.staff = {"Authorization": f"Bearer {staff_key}"}
        self.limit = asyncio.Semaphore(concurrency)
        self.verify_share = verify_share
        self.sample_every = sample_every
        self.timeout = aiohttp.ClientTimeout(total=request_timeout)
        self.out = ReplayResult()
        self.session: aiohttp.ClientSession | None = None
        self.ttl = {p.id: p.hold_ttl_s for p in world.pools}
        self.verification_on = False
        self.end = 0.0
        self._n = 0
        self._by_id: dict[str, HoldRecord] = {}

    # -- HTTP -----------------------------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, json: Any = None, staff: bool = False,
                    idem: bool = False) -> tuple[int, dict[str, Any]]:
        import aiohttp

        assert self.session is not None
        headers = dict(self.staff if staff else self.client)
        if idem:
            self._n += 1
            headers["Idempotency-Key"] = f"rt-{self._n}"
        async with self.limit:
            for attempt in range(3):
                try:
                    async with self.session.request(method, self.url + path, json=json, headers=headers) as r:
                        try:
                            body = await r.json(content_type=None)
                        except ValueError:
                            body = {}
                        self.out.requests += 1
                        key = f"{method} {path.split('/')[2] if path.count('/') > 1 else path} {r.status}"
                        self.out.statuses[key] = self.out.statuses.get(key, 0) + 1
                        if r.status >= 500:
                            self.out.errors.append(f"{method} {path}: {r.status} {str(body)[:200]}")
                        return r.status, body if isinstance(body, dict) else {"items": body}
                except (TimeoutError, aiohttp.ClientError) as exc:
                    if attempt == 2:
                        self.out.errors.append(f"{method} {path}: {type(exc).__name__} {exc}")
                        return 599, {}
                    await asyncio.sleep(0.2)
        return 599, {}

    async def hold(self, e: Entrant, pool: str, quantity: int, actor: dict[str, str] | None = None,
                   token: str | None = None) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"quantity": quantity, "actor": actor or e.actor()}
        if token:
            body["challenge_token"] = token
        status, answer = await self._call("POST", f"/v1/pools/{pool}/holds", json=body, idem=True)
        if status == 201:
            now = time.time()
            expires = _ts(answer["expires_at"]) if "expires_at" in answer else now + self.ttl.get(pool, 10)
            record = HoldRecord(e.uid, pool, int(answer.get("quantity", quantity)), now, expires,
                                label=e.label, tell=e.tell)
            self.out.holds.append(record)
            self._by_id[str(answer.get("hold_id"))] = record
        return status, answer

    async def confirm(self, hold_id: str) -> int:
        status, _ = await self._call("POST", f"/v1/holds/{hold_id}/confirm", idem=True)
        if status == 200 and hold_id in self._by_id:
            self._by_id[hold_id].confirmed_at = time.time()
        return status

    async def pass_challenge(self, answer: dict[str, Any]) -> str | None:
        challenge = answer.get("challenge") or {}
        if not challenge.get("id"):
            return None
        status, body = await self._call("POST", f"/v1/challenges/{challenge['id']}/pass", idem=True)
        return body.get("token") if status == 200 else None

    # -- setup -----------------------------------------------------------------------------------------
    async def create_pool(self, pool: PoolDef) -> None:
        status, body = await self._call("POST", "/v1/pools", json=pool.body(), staff=True, idem=True)
        if status != 201:
            raise RuntimeError(f"creating pool {pool.id}: {status} {body}")

    async def detect_verification(self) -> None:
        assert self.session is not None
        async with self.session.get(self.url + "/openapi.json") as r:
            spec = await r.json(content_type=None)
        paths = spec.get("paths", {}) if isinstance(spec, dict) else {}
        self.verification_on = "/v1/verifications" in paths
        if self.verify_share <= 0:
            self.out.verification = "not asked (verify share 0)"
        else:
            self.out.verification = "used" if self.verification_on else "not on this server (404): skipped"

    async def verify(self, e: Entrant, res: Result) -> None:
        ok = True
        for kind, value in (("email", e.email), ("phone", e.phone)):
            if not value or e.corrected:  # a mistyped address gets no code: nothing to verify
                continue
            status, body = await self._call("POST", "/v1/verifications", json={"kind": kind, "value": value},
                                            idem=True)
            if status == 404:
                self.verification_on = False
                self.out.verification = "not on this server (404): skipped"
                return
            if status != 201:
                ok = False
                continue
            status, _ = await self._call("POST", f"/v1/verifications/{body['id']}/confirm",
                                         json={"code": body.get("code")}, idem=True)
            ok = ok and status == 200
        res.verified = ok

    # -- people ------------------------------------------------------------------------------------------
    async def real_person(self, e: Entrant, retry_after: float | None = None) -> None:
        if self.verification_on and verifies(e.uid, self.verify_share):
            first = self.out.results.setdefault((e.uid, e.products[0]), Result(e.uid, e.products[0]))
            await self.verify(e, first)
        for pool in e.products:
            res = self.out.results.setdefault((e.uid, pool), Result(e.uid, pool))
            await self._real_in_pool(e, pool, res)
            if not res.served and retry_after is not None:
                await asyncio.sleep(retry_after)
                await self._real_in_pool(e, pool, res)

    async def _real_in_pool(self, e: Entrant, pool: str, res: Result) -> None:
        actor, quantity, token = e.actor(), e.quantity, None
        fixes = dict(e.corrected)
        for _ in range(4):
            res.attempts += 1
            status, answer = await self.hold(e, pool, quantity, actor, token)
            token = None
            if status == 201:
                if e.confirm_after:
                    await asyncio.sleep(e.confirm_after)
                if e.confirm_after is None:
                    res.served, res.seats, res.reason = True, int(answer["quantity"]), None
                    return
                c = await self.confirm(answer["hold_id"])
                if c == 200:
                    res.served, res.seats, res.reason = True, int(answer["quantity"]), None
                else:
                    res.reason = f"confirm:{c}"
                    res.first_reason = res.first_reason or res.reason
                return
            res.reason = _reason(status, answer)
            res.first_reason = res.first_reason or res.reason
            fixable = [f for f in fixes if status == 422 and f in str(answer.get("field", ""))]
            if fixable:
                actor = {**actor, fixable[0]: fixes.pop(fixable[0])}
            elif status == 429 and quantity > 1:
                quantity = 1
            elif status == 428 and (token := await self.pass_challenge(answer)):
                pass
            else:
                return

    # -- attackers ----------------------------------------------------------------------------------------
    async def fake_once(self, e: Entrant) -> None:
        pool = e.products[0]
        res = self.out.results.setdefault((e.uid, pool), Result(e.uid, pool))
        res.attempts += 1
        status, answer = await self.hold(e, pool, e.quantity)
        if status == 201:
            res.seats = int(answer["quantity"])
            if e.confirm_after is not None:
                res.served = await self.confirm(answer["hold_id"]) == 200
            else:
                res.served = True  # held; counts while the hold lives
        else:
            res.reason = _reason(status, answer)

    async def adaptive(self, identities: list[Entrant], rehold: bool, probe: bool) -> None:
        """An operator's program: identities in turn, backing off when refused, probing quantities."""
        backoff, k = 0.3, 0
        quantity = identities[0].quantity
        while time.time() < self.end and identities:
            e = identities[k % len(identities)]
            if not rehold and k >= len(identities):
                return
            pool = e.products[0]
            res = self.out.results.setdefault((e.uid, pool), Result(e.uid, pool))
            res.attempts += 1
            status, answer = await self.hold(e, pool, quantity)
            if status == 201:
                res.seats = int(answer["quantity"])
                backoff = 0.3
                if e.confirm_after is not None and not rehold:
                    res.served = await self.confirm(answer["hold_id"]) == 200
                else:
                    res.served = True
                if rehold:  # keep the cart full: wait for this hold to lapse, then take it again
                    record = self._by_id.get(str(answer.get("hold_id")))
                    expires = record.expires if record else time.time() + 1
                    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
                else:
                    await asyncio.sleep(0.02 * self.world.seconds / max(1, len(identities)))
                k += 1
                continue
            res.reason = _reason(status, answer)
            if status == 409 and not rehold:
                return  # nothing left
            if status == 429 and probe and quantity > 1:
                quantity = max(1, quantity // 2)  # probe: ask for less with the same identity
                continue
            if probe or not rehold:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 3.0)
            else:
                await asyncio.sleep(0.5)
            k += 1

    # -- the run -----------------------------------------------------------------------------------------
    async def _sampler(self) -> None:
        while time.time() < self.end + 0.5:
            for pool in self.world.pools:
                status, body = await self._call("GET", f"/v1/pools/{pool.id}", staff=True)
                if status == 200:
                    self.out.samples.append((time.time(), pool.id, int(body.get("held", 0)),
                                             int(body.get("confirmed", 0))))
            await asyncio.sleep(self.sample_every)

    async def _at(self, t0: float, at: float, coro: Any) -> None:
        delay = t0 + at * self.world.seconds - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await coro

    async def _history(self) -> None:
        """The earlier pools, sent as fast as the server takes them, then the check-ins."""
        for pool, crowd in self.world.history:
            await self.create_pool(pool)
            saved, self.end = self.end, time.time() + 3600
            await asyncio.gather(*(self.real_person(e) if e.label == "real" else self.fake_once(e) for e in crowd))
            self.end = saved
            came = [e for e in crowd if e.label == "real" and e.shows and self.out.results[(e.uid, pool.id)].served]
            await asyncio.gather(*(self._checkin(e, pool.id) for e in came))
        # the history's outcomes are not the cell's: keep only the check-in truth out of the metrics
        self.out.results = {k: v for k, v in self.out.results.items()
                            if k[1] not in {p.id for p, _ in self.world.history}}
        self.out.holds = [h for h in self.out.holds if h.pool not in {p.id for p, _ in self.world.history}]

    async def _settle(self) -> None:
        """Ask the server how every hold the replay still counts ended: one it took back (a
        farm's device's, released past `revoke_device_after`) is nobody's seat, real or fake."""
        counted = {id(h) for h in self.out.holds}  # not the history's
        live = {hid: r for hid, r in self._by_id.items()
                if id(r) in counted and (r.confirmed_at is not None or r.expires > self.end)}

        async def one(hold_id: str, record: HoldRecord) -> None:
            status, body = await self._call("GET", f"/v1/holds/{hold_id}")
            if status == 200 and body.get("status") in ("released", "expired"):
                record.taken_back = True
                res = self.out.results.get((record.uid, record.pool))
                if res is not None:
                    res.served, res.reason = False, "taken_back"

        await asyncio.gather(*(one(h, r) for h, r in live.items()))

    async def _checkin(self, e: Entrant, pool: str) -> None:
        actor = {**e.actor(), **dict(e.corrected)}
        await self._call("POST", "/v1/actions", json={"verb": "checkin", "actor": actor, "target": pool}, idem=True)

    async def run(self) -> ReplayResult:
        import aiohttp

        began = time.time()
        connector = aiohttp.TCPConnector(limit=128)
        async with aiohttp.ClientSession(connector=connector, timeout=self.timeout) as session:
            self.session = session
            await self.detect_verification()
            await self._history()
            for pool in self.world.pools:
                await self.create_pool(pool)
            t0 = time.time() + 0.5
            self.end = t0 + self.world.seconds
            self.out.window = (t0, self.end)
            tasks = [asyncio.create_task(self._sampler())]
            lockout = any(e.victim for e in self.world.entrants)
            victims = {e.victim for e in self.world.entrants if e.victim}
            programs: dict[str, list[Entrant]] = defaultdict(list)
            for e in self.world.entrants:
                if e.label == "real":
                    retry = (max(self.ttl.values()) + 1.0) if lockout and e.uid in victims else None
                    tasks.append(asyncio.create_task(self._at(t0, e.at, self.real_person(e, retry))))
                elif e.pacing in ("adaptive", "rehold", "adaptive_rehold"):
                    programs[e.operator].append(e)
                else:
                    tasks.append(asyncio.create_task(self._at(t0, e.at, self.fake_once(e))))
            for ids in programs.values():
                p = ids[0].pacing
                tasks.append(asyncio.create_task(self._at(t0, min(i.at for i in ids), self.adaptive(
                    ids, rehold=p != "adaptive", probe=p != "rehold"))))
            await asyncio.gather(*tasks)
            await self._settle()
            for pool in self.world.pools:
                status, body = await self._call("GET", f"/v1/pools/{pool.id}", staff=True)
                self.out.final_pools[pool.id] = body if status == 200 else {"status": status}
            if self.world.history:
                q = "&".join(f"history={p.id}" for p, _ in self.world.history)
                status, body = await self._call("GET", f"/v1/pools/{self.world.pools[0].id}/headcount?{q}",
                                                staff=True)
                self.out.estimate = body if status == 200 else {"status": status, **body}
        self.out.seconds = time.time() - began
        return self.out


def replay(url: str, client_key: str, staff_key: str, world: World, **options: Any) -> ReplayResult:
    """Run the world against the server at `url` and return what happened."""
    return asyncio.run(Replayer(url, client_key, staff_key, world, **options).run())


__all__ = ["HoldRecord", "ReplayResult", "ReplayUnavailable", "Replayer", "Result", "replay", "verifies"]
