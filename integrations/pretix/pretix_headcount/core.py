"""What the plugin does, apart from pretix's signal plumbing (`signals.py`).

Two holds per purchase:
- a **cart hold** when products are added (identity as pretix knows it then: IP, user
  agent, the plugin's device cookie, or the customer account when logged in);
- an **order hold** at checkout, when pretix knows the buyer's e-mail: the cart hold is
  released and a hold for the same quantity is placed with the e-mail (plus IP, user
  agent, customer account). That is the hold the per-person limit across orders bites
  on: aliases of one mailbox are one person in headcount. It is confirmed when the order
  is placed, and cancelled when the order is cancelled, expires or is denied.

The order hold leaves the device out on purpose: headcount keeps a hold under the person
it was made for, so linking a fresh browser's device to a known mailbox at checkout
could move the person's count to a new key; the mailbox alone keeps it in one place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils.timezone import now

from pretix_headcount.client import TIMEOUT_S, Answer, Client, Unreachable
from pretix_headcount.messages import UNAVAILABLE, friendly
from pretix_headcount.models import HeadcountHold

log = logging.getLogger(__name__)

DEVICE_COOKIE = "pretix_headcount_device"
DEFAULT_PER_PERSON = 4
#: a hold whose life is below this share of the pool's hold time is the short-hold band
SHORT_SHARE = 0.5
_LOG_EVERY_S = 60.0
_last_logged: dict[int, float] = {}
_pools_ready: set[tuple[str, str]] = set()


class Refused(Exception):
    """headcount (or the fail-closed mode) refused: `message` is for the customer."""

    def __init__(self, message: str, status: int = 403, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reasons = reasons or []


@dataclass(frozen=True)
class Config:
    url: str
    api_key: str
    fail_open: bool
    per_person: int
    pool_map: dict[int, str]
    dashboard_url: str
    #: a lottery event (`lottery.py`): when registration closes and the draw runs; None: first come
    lottery_closes_at: datetime | None = None
    lottery_confirm_s: int = 48 * 3600
    lottery_seats: int | None = None  # seats the draw gives (pretix's quota caps registrations)

    @property
    def client(self) -> Client:
        return Client(self.url, self.api_key)


def parse_pool_map(text: str) -> dict[int, str]:
    """`quota_id=pool_id`, one a line (blank lines and `#` comments ignored)."""
    out: dict[int, str] = {}
    for n, line in enumerate((text or "").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        left, sep, right = line.partition("=")
        if not sep or not left.strip().isdigit() or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", right.strip()):
            raise ValueError(f"line {n}: expected QUOTA_ID=POOL_ID (pool ids: letters, digits, . _ -; at most 64)")
        out[int(left.strip())] = right.strip()
    return out


def config(event) -> Config | None:
    """The event's headcount settings, or None while no service URL and key are set."""
    s = event.settings
    url, key = s.get("headcount_url"), s.get("headcount_api_key")
    if not url or not key:
        return None
    try:
        pool_map = parse_pool_map(s.get("headcount_pools") or "")
    except ValueError:
        pool_map = {}
    return Config(
        url=url, api_key=key,
        fail_open=(s.get("headcount_fail_mode") or "open") != "closed",
        per_person=int(s.get("headcount_per_person", as_type=int) or DEFAULT_PER_PERSON),
        pool_map=pool_map,
        dashboard_url=s.get("headcount_dashboard_url") or url.rstrip("/") + "/",
        lottery_closes_at=s.get("headcount_lottery_closes_at", as_type=datetime) or None,
        lottery_confirm_s=int(s.get("headcount_lottery_confirm_hours", as_type=int) or 48) * 3600,
        lottery_seats=s.get("headcount_lottery_seats", as_type=int) or None,
    )


def pool_id_for(event, quota_id: int, cfg: Config) -> str:
    if quota_id in cfg.pool_map:
        return cfg.pool_map[quota_id]
    pid = f"pretix-{event.organizer.slug}-{event.slug}-q{quota_id}"
    if len(pid) > 64 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", pid):
        digest = hashlib.sha256(f"{event.organizer.slug}/{event.slug}".encode()).hexdigest()[:16]
        pid = f"pretix-{digest}-q{quota_id}"
    return pid


@dataclass(frozen=True)
class PoolAsk:
    """One pool's share of a hold, with what creating the pool on first use needs (read from
    pretix beforehand, so that asking headcount is HTTP only and can run on a worker thread)."""

    pool_id: str
    quantity: int
    name: str
    capacity: int
    per_person: int
    ttl_s: int
    allocation: dict[str, object] | None = None  # a lottery pool's (`lottery.allocation`)

    @classmethod
    def of(cls, event, cfg: Config, pool_id: str, quantity: int, quota) -> PoolAsk:
        capacity = quota.size if quota.size is not None else 1_000_000
        drawn = None
        if cfg.lottery_closes_at is not None:
            from pretix_headcount.lottery import allocation

            capacity = cfg.lottery_seats or capacity
            drawn = allocation(cfg.lottery_closes_at, cfg.lottery_confirm_s)
        return cls(pool_id, quantity, f"{event.name} / {quota.name}"[:200], capacity, cfg.per_person,
                   reservation_s(event), drawn)


def ensure_pool(client: Client, ask: PoolAsk) -> None:
    """Create the pool in headcount on first use (a 409 means it exists: fine)."""
    if (client.url, ask.pool_id) in _pools_ready:
        return
    answer = client.create_pool(ask.pool_id, ask.name, ask.capacity, ask.per_person, ask.ttl_s, ask.allocation)
    if answer.status == 422:
        raise Unreachable(f"headcount refused to create pool {ask.pool_id}: {answer.body.get('detail')}")
    _pools_ready.add((client.url, ask.pool_id))


def forget_pools() -> None:
    _pools_ready.clear()
    _quota_cache.clear()


def log_unreachable(event, where: str, error: Exception, fail_open: bool) -> None:
    """A warning in the event log, at most once a minute per event and process."""
    t = time.monotonic()
    if t - _last_logged.get(event.pk, -1e9) < _LOG_EVERY_S:
        return
    _last_logged[event.pk] = t
    log.warning("headcount unreachable for event %s (%s): %s", event.pk, where, error)
    event.log_action("pretix_headcount.unreachable", data={
        "where": where, "error": str(error)[:500], "mode": "open" if fail_open else "closed"})


# --- identity -------------------------------------------------------------------------
def request_actor(request) -> dict[str, str]:
    """The visitor as pretix knows them at cart time."""
    from pretix.helpers.http import get_client_ip

    actor: dict[str, str] = {}
    customer = getattr(request, "customer", None)
    if customer:  # a lazy object wrapping None for guests
        actor["id"] = f"pretix-customer-{customer.organizer_id}-{customer.pk}"
        if customer.email:
            actor["email"] = customer.email
    else:
        actor["device"] = device_of(request)
    ip = get_client_ip(request)
    if ip:
        actor["ip"] = ip[:64]
    # always sent: an empty user agent is itself a signal (headcount's `ua_missing`)
    actor["user_agent"] = request.headers.get("User-Agent", "")[:1000]
    return actor


def device_of(request) -> str:
    """The plugin's long-lived browser cookie; minted here when the browser has none yet."""
    dev = request.COOKIES.get(DEVICE_COOKIE)
    if not dev or not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", dev):
        dev = getattr(request, "_headcount_new_device", None) or secrets.token_urlsafe(18)
        request._headcount_new_device = dev
    return dev


# --- quotas and pools -------------------------------------------------------------------
#: (event, item, variation, subevent) -> (monotonic expiry, quotas): which quotas a product
#: counts against changes rarely; a cart add should not ask the database every time
_quota_cache: dict[tuple, tuple[float, list]] = {}
QUOTA_CACHE_S = 30.0


def quotas_for(event, item_id: int, variation_id: int | None, subevent_id: int | None, *, cached: bool = True):
    from pretix.base.models import Quota

    key = (event.pk, item_id, variation_id, subevent_id)
    hit = _quota_cache.get(key) if cached else None
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    qs = Quota.objects.filter(event=event, subevent_id=subevent_id)
    if variation_id:
        qs = qs.filter(variations__pk=variation_id)
    else:
        qs = qs.filter(items__pk=item_id)
    quotas = list(qs)
    if len(_quota_cache) > 10_000:
        _quota_cache.clear()
    _quota_cache[key] = (time.monotonic() + QUOTA_CACHE_S, quotas)
    return quotas


def demand_by_pool(event, cfg: Config, lines) -> dict[str, tuple[int, object]]:
    """`lines`: (item id, variation id, subevent id, count) -> {pool id: (quantity, quota)}."""
    demand: dict[str, tuple[int, object]] = {}
    for item_id, variation_id, subevent_id, count in lines:
        for quota in quotas_for(event, item_id, variation_id, subevent_id):
            pid = pool_id_for(event, quota.pk, cfg)
            q, _ = demand.get(pid, (0, quota))
            demand[pid] = (q + count, quota)
    return demand


def positions_by_pool(event, cfg: Config, positions) -> dict[str, tuple[int, object]]:
    return demand_by_pool(event, cfg, [
        (p.item_id, p.variation_id, p.subevent_id, 1) for p in positions])


def _parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def reservation_s(event) -> int:
    """pretix's reservation time in seconds: the hold time of the pools the plugin creates."""
    return int(event.settings.get("reservation_time", as_type=int) or 30) * 60


def _band(answer: Answer, ttl: int) -> str:
    exp = _parse_expiry(answer.body.get("expires_at"))
    if exp is not None and (exp - now()).total_seconds() < SHORT_SHARE * ttl:
        return "short"
    return "normal"


def _hold(client: Client, ask: PoolAsk, actor: dict[str, str], idempotency: str | None) -> Answer:
    """HTTP only (no database, no settings): the pool made on first use, then the hold."""
    ensure_pool(client, ask)
    answer = client.hold(ask.pool_id, ask.quantity, actor, idempotency)
    if answer.status == 404:  # the pool vanished (a new headcount store): make it again, once
        _pools_ready.discard((client.url, ask.pool_id))
        ensure_pool(client, ask)
        answer = client.hold(ask.pool_id, ask.quantity, actor, idempotency)
    return answer


_BAND_OF_STATUS = {403: "deny", 409: "sold_out", 428: "challenge", 429: "limit"}


def record_refusal(event, kind: str, cart_id: str | None, pool_id: str, quantity: int, answer: Answer,
             actor: dict[str, str], bands: dict[int, str] = _BAND_OF_STATUS, message: str | None = None) -> Refused:
    """The refusal row (the widget counts them) and the customer's message (`message`, else the
    answer's in customer words); `bands` names the band of each refusing status."""
    risk = answer.body.get("risk") or {}
    HeadcountHold.objects.create(
        event=event, kind=kind, cart_id=cart_id, pool_id=pool_id, quantity=quantity, status="refused",
        band=bands.get(answer.status, "deny"), score=risk.get("score"), reasons=answer.reasons,
        ip=actor.get("ip", ""), user_agent=actor.get("user_agent", ""))
    return Refused(message or friendly(answer.status, answer.reasons), answer.status, answer.reasons)


def actor_digest(actor: dict[str, str]) -> str:
    """A short digest of an identity, for idempotency keys: the same buyer asks the same."""
    return hashlib.sha256(repr(sorted(actor.items())).encode()).hexdigest()[:16]


def release_rows(cfg: Config | None, rows) -> None:
    for row in rows:
        if cfg is not None and row.hold_id:
            try:
                cfg.client.release(row.hold_id)
            except Unreachable as exc:  # it expires by itself in headcount
                log.info("could not release hold %s: %s", row.hold_id, exc)
        row.status = "released"
        row.save(update_fields=["status"])


# --- carts --------------------------------------------------------------------------------
#: how long process_response waits for a hold started in process_request: above the client's
#: own connect + read timeouts for the two calls a first add makes (create the pool, hold)
WAIT_S = 2 * sum(TIMEOUT_S) + 0.5
_executor_of_pid: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    """One small thread pool per process (made anew after a pre-forking server forked)."""
    global _executor_of_pid
    if _executor_of_pid is None or _executor_of_pid[0] != os.getpid():
        _executor_of_pid = (os.getpid(), ThreadPoolExecutor(max_workers=8, thread_name_prefix="headcount-hold"))
    return _executor_of_pid[1]


@dataclass
class PendingCartHold:
    """A cart hold asked for in process_request; its answer is collected in process_response."""

    cfg: Config
    cart_id: str
    actor: dict[str, str]
    future: Future
    started: datetime
    asked: int
    #: messages queued before pretix's view ran: on a refusal, the view's own message is dropped
    queued_messages: int = 0


def _ask_headcount(client: Client, asks: list[PoolAsk], actor: dict[str, str]) -> list[tuple[PoolAsk, Answer]]:
    """HTTP only, so it can run on a worker thread: one hold per pool, stopping at the first refusal."""
    out: list[tuple[PoolAsk, Answer]] = []
    for ask in asks:
        answer = _hold(client, ask, actor, None)
        out.append((ask, answer))
        if not answer.ok:
            break
    return out


def start_cart_hold(request, event, cfg: Config, cart_id: str, lines) -> PendingCartHold | None:
    """Send the cart hold on a worker thread and return at once, so headcount decides while
    pretix adds (`settle_cart_hold` collects the answer). None when no quota is involved."""
    demand = demand_by_pool(event, cfg, lines)
    if not demand or cfg.lottery_closes_at is not None:  # a lottery pool takes no holds: the draw decides
        return None
    asks = [PoolAsk.of(event, cfg, pid, q, quota) for pid, (q, quota) in demand.items()]
    actor = request_actor(request)
    future = _executor().submit(_ask_headcount, cfg.client, asks, actor)
    storage = getattr(request, "_messages", None)
    return PendingCartHold(cfg, cart_id, actor, future, now(), sum(ln[3] for ln in lines),
                           len(getattr(storage, "_queued_messages", ())))


def settle_cart_hold(event, pending: PendingCartHold) -> list[HeadcountHold]:
    """Wait for headcount's answer and record it; raises Refused (the caller undoes pretix's add)."""
    cfg = pending.cfg
    try:
        try:
            answers = pending.future.result(timeout=WAIT_S)
        except FutureTimeout:
            raise Unreachable(f"no answer within {WAIT_S:.1f} s") from None
    except Unreachable as exc:
        log_unreachable(event, "cart", exc, cfg.fail_open)
        if not cfg.fail_open:
            raise Refused(str(UNAVAILABLE), 503) from None
        return []
    made: list[HeadcountHold] = []
    refused: tuple[PoolAsk, Answer] | None = None
    for ask, answer in answers:
        if not answer.ok:
            refused = (ask, answer)
            break
        risk = answer.body.get("risk") or {}
        made.append(HeadcountHold(
            event=event, kind="cart", cart_id=pending.cart_id, pool_id=ask.pool_id, hold_id=answer.body["hold_id"],
            quantity=ask.quantity, status="held", band=_band(answer, ask.ttl_s), score=risk.get("score"),
            reasons=answer.reasons, expires_at=_parse_expiry(answer.body.get("expires_at")),
            ip=pending.actor.get("ip", ""), user_agent=pending.actor.get("user_agent", "")))
    if len(made) == 1:
        made[0].save()
    elif made:
        made = HeadcountHold.objects.bulk_create(made)
    if refused is not None:
        release_rows(cfg, made)  # the other pools' holds of this add
        ask, answer = refused
        raise record_refusal(event, "cart", pending.cart_id, ask.pool_id, ask.quantity, answer, pending.actor)
    return made


def hold_for_cart(request, event, cart_id: str, lines, cfg: Config | None = None) -> list[HeadcountHold]:
    """Ask headcount before pretix adds `lines` (when the add runs outside this request, in a
    celery worker, and cannot be undone here); raises Refused to stop the add."""
    cfg = cfg or config(event)
    if cfg is None:
        return []
    pending = start_cart_hold(request, event, cfg, cart_id, lines)
    return settle_cart_hold(event, pending) if pending else []


def undo_cart_add(event, cart_id: str, since: datetime) -> int:
    """Remove the cart positions pretix created since `since` (this request's add), add-ons
    first; returns how many. A refused add keeps nothing reserved."""
    from pretix.base.models import CartPosition

    qs = CartPosition.objects.filter(event=event, cart_id=cart_id, datetime__gte=since)
    n = qs.filter(addon_to__isnull=False).delete()[0]
    return n + qs.delete()[0]


def apply_short_holds(event, cart_id: str) -> int:
    """Shorten the cart's reservation to the earliest live short hold; returns positions changed."""
    from pretix.base.models import CartPosition

    first = (HeadcountHold.objects.filter(event=event, cart_id=cart_id, kind="cart", status="held", band="short")
             .exclude(expires_at=None).order_by("expires_at").values_list("expires_at", flat=True).first())
    if first is None:
        return 0
    return CartPosition.objects.filter(event=event, cart_id=cart_id, expires__gt=first).update(
        expires=first, max_extend=first)


def reconcile_cart(event, cart_id: str, cfg: Config | None = None) -> int:
    """Release cart holds that no live cart position needs any more (removed, expired, or
    never added because pretix refused); returns how many were released."""
    from pretix.base.models import CartPosition

    cfg = cfg or config(event)
    holds = list(HeadcountHold.objects.filter(event=event, cart_id=cart_id, kind="cart", status="held")
                 .order_by("-id"))
    if not holds:
        return 0
    live = CartPosition.objects.filter(event=event, cart_id=cart_id, expires__gt=now())
    need = Counter({pid: q for pid, (q, _) in positions_by_pool(event, cfg, live).items()}) if cfg else Counter()
    held = Counter()
    for h in holds:
        held[h.pool_id] += h.quantity
    drop = []
    for h in holds:  # newest first
        if held[h.pool_id] - h.quantity >= need[h.pool_id]:
            held[h.pool_id] -= h.quantity
            drop.append(h)
    release_rows(cfg, drop)
    return len(drop)


# --- orders ---------------------------------------------------------------------------------
def hold_for_order(event, positions, email: str | None, customer) -> list[HeadcountHold]:
    """At checkout: swap the cart holds for holds with the buyer's e-mail; raises Refused."""
    cfg = config(event)
    positions = list(positions)
    if cfg is None or not positions:
        return []
    cart_id = positions[0].cart_id
    cart_rows = list(HeadcountHold.objects.filter(event=event, cart_id=cart_id, kind="cart", status="held"))
    last = (HeadcountHold.objects.filter(event=event, cart_id=cart_id, kind="cart").order_by("-id").first())
    actor: dict[str, str] = {}
    if email:
        actor["email"] = email
    if customer is not None:
        actor["id"] = f"pretix-customer-{customer.organizer_id}-{customer.pk}"
    if last is not None:
        if last.ip:
            actor["ip"] = last.ip
        actor["user_agent"] = last.user_agent
    if not actor:
        return []
    if cfg.lottery_closes_at is not None:
        from pretix_headcount.lottery import register_for_order

        try:
            return register_for_order(event, cfg, positions, actor)
        except Unreachable as exc:
            log_unreachable(event, "registration", exc, cfg.fail_open)
            raise Refused(str(UNAVAILABLE), 503) from None  # a draw cannot fail open: nobody would be registered
    digest = actor_digest(actor)
    made: list[HeadcountHold] = []
    try:
        demand = positions_by_pool(event, cfg, positions)
        release_rows(cfg, cart_rows)
        for pool_id, (quantity, quota) in demand.items():
            answer = _hold(cfg.client, PoolAsk.of(event, cfg, pool_id, quantity, quota), actor,
                           f"pretix-order-{event.pk}-{cart_id}-{pool_id}-{quantity}-{digest}")
            if not answer.ok:
                release_rows(cfg, made)
                refusal = record_refusal(event, "order", cart_id, pool_id, quantity, answer, actor)
                if answer.status in (403, 429):
                    drop_cart(event, cart_id)
                raise refusal
            risk = answer.body.get("risk") or {}
            made.append(HeadcountHold.objects.create(
                event=event, kind="order", cart_id=cart_id, pool_id=pool_id, hold_id=answer.body["hold_id"],
                quantity=quantity, status="held", band=_band(answer, reservation_s(event)), score=risk.get("score"),
                reasons=answer.reasons, expires_at=_parse_expiry(answer.body.get("expires_at")),
                ip=actor.get("ip", ""), user_agent=actor.get("user_agent", "")))
    except Unreachable as exc:
        log_unreachable(event, "order", exc, cfg.fail_open)
        if not cfg.fail_open:
            release_rows(cfg, made)
            raise Refused(str(UNAVAILABLE), 503) from None
    return made


def drop_cart(event, cart_id: str) -> int:
    """A denied identity (or one past the per-person limit) keeps no stock reserved: its cart
    is emptied at once instead of blocking seats until the reservation runs out."""
    from pretix.base.models import CartPosition

    qs = CartPosition.objects.filter(event=event, cart_id=cart_id)
    n = qs.count()
    qs.filter(addon_to__isnull=False).delete()
    qs.delete()
    return n


def confirm_order(order, rows: list[HeadcountHold]) -> None:
    cfg = config(order.event)
    for row in rows:
        row.order = order
        if row.kind == HeadcountHold.KIND_LOTTERY:  # a registration: the draw decides (lottery.sync)
            row.save(update_fields=["order"])
            continue
        if cfg is not None and row.hold_id:
            try:
                answer = cfg.client.confirm(row.hold_id)
            except Unreachable as exc:
                log_unreachable(order.event, "confirm", exc, cfg.fail_open)
                row.save(update_fields=["order"])
                continue
            if answer.ok:
                row.status = "confirmed"
            else:  # expired before the order was placed: pretix's quota still decided
                order.log_action("pretix_headcount.confirm_failed", data={
                    "hold": row.hold_id, "status": answer.status})
        row.save(update_fields=["order", "status"])


def cancel_order(order) -> None:
    rows = list(HeadcountHold.objects.filter(order=order, status__in=("held", "confirmed")))
    release_rows(config(order.event), rows)


# --- check-ins ------------------------------------------------------------------------------
def record_checkin(checkin) -> None:
    position = checkin.position
    order = position.order
    event = order.event
    cfg = config(event)
    if cfg is None:
        return
    actor: dict[str, str] = {}
    if order.email:
        actor["email"] = order.email
    if order.customer_id:
        actor["id"] = f"pretix-customer-{order.customer.organizer_id}-{order.customer_id}"
    if not actor:
        return
    rows = HeadcountHold.objects.filter(order=order).values_list("pool_id", flat=True).distinct()
    pools = list(rows) or [pool_id_for(event, q.pk, cfg) for q in quotas_for(
        event, position.item_id, position.variation_id, position.subevent_id)]
    ts = checkin.datetime.timestamp() if checkin.datetime else None
    for pool_id in pools:
        try:
            cfg.client.action("checkin", actor, pool_id, ts)
        except Unreachable as exc:
            log_unreachable(event, "checkin", exc, cfg.fail_open)
            return


# --- the periodic sweep ----------------------------------------------------------------------
def sweep() -> int:
    """Release holds of carts left alone (expired or emptied) and of order holds whose order was
    never placed; returns how many were released. Runs from pretix's periodic task."""
    from django_scopes import scopes_disabled

    released = 0
    with scopes_disabled():
        carts = (HeadcountHold.objects.filter(kind="cart", status="held")
                 .values_list("event_id", "cart_id").distinct())
        from pretix.base.models import Event
        events: dict[int, object] = {}
        for event_id, cart_id in carts:
            event = events.get(event_id) or Event.objects.get(pk=event_id)
            events[event_id] = event
            released += reconcile_cart(event, cart_id)
        stale = HeadcountHold.objects.filter(kind="order", status="held", order=None,
                                             created__lt=now() - timedelta(hours=1))
        for row in stale.select_related("event"):
            release_rows(config(row.event), [row])
            released += 1
    return released


def utcnow() -> datetime:
    return datetime.now(UTC)


def on_commit(fn) -> None:
    transaction.on_commit(fn)
