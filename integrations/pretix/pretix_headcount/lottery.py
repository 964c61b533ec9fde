"""Free events drawn by lottery: orders become registrations, the draw's winners approved orders.

A free rally is not a sale: nobody should win by speed. With a draw date set in the
event's headcount settings, the event's pools are headcount lottery pools and pretix's
own "requires approval" state carries the undecided order:

- **Checkout** (`validate_order`): every product must require approval (else the order
  would be valid at once). The buyer is registered in the pool's draw with the identity
  pretix knows (e-mail, customer account, the cart's address and browser); a registration
  headcount denies refuses the order with a readable message, as a denied hold would.
- **The draw** runs in headcount at the draw date (or on `POST /v1/pools/{id}/allocate`):
  coordinated groups and the deny band are refused, winners drawn per person, the rest an
  ordered waitlist. pretix's quota counts pending orders, so it caps registrations; the
  seats drawn are the setting `headcount_lottery_seats`.
- **After it** (`sync`, from pretix's periodic task): each pending order's registration is
  read. A win is confirmed in headcount and the order approved (pretix sends its mail); a
  refusal or a lapsed win denies the order; the waitlist keeps it pending, and a seat given
  back later (a cancelled order releases its win) is drawn on to the next in line, whose
  order the next round approves.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django_scopes import scopes_disabled

from pretix_headcount.client import Unreachable
from pretix_headcount.models import HeadcountHold

log = logging.getLogger(__name__)

#: headcount's answer to a registration, as the plugin's band for a refusal
_BAND = {403: "deny", 409: "closed", 428: "challenge", 429: "limit"}
CLOSED_MESSAGE = "Registration for this event's draw has closed."
APPROVAL_NEEDED = ("This event is allocated by a draw: its products must require approval "
                   "(ask the organiser to set it).")


def allocation(closes_at: datetime, confirm_within_s: int) -> dict[str, object]:
    """The `allocation` of the event's pools: a lottery closing at the draw date. pretix's
    quota is the ceiling, so the draw does not overbook."""
    return {"mode": "lottery", "closes_at": closes_at.timestamp(), "confirm_within_s": confirm_within_s,
            "overbook_risk": 0.0}


def register_for_order(event, cfg, positions, actor: dict[str, str]) -> list[HeadcountHold]:
    """At checkout: one registration per pool for the buyer; raises `core.Refused`."""
    from pretix_headcount import core

    positions = list(positions)
    if any(not p.item.require_approval for p in positions):
        raise core.Refused(APPROVAL_NEEDED, 409)
    assert cfg.lottery_closes_at is not None
    if core.utcnow() >= cfg.lottery_closes_at:
        raise core.Refused(CLOSED_MESSAGE, 409, ["registration_closed"])
    cart_id = positions[0].cart_id
    digest = core.actor_digest(actor)
    made: list[HeadcountHold] = []
    for pool_id, (quantity, quota) in core.positions_by_pool(event, cfg, positions).items():
        ask = core.PoolAsk.of(event, cfg, pool_id, quantity, quota)
        core.ensure_pool(cfg.client, ask)
        answer = cfg.client.register(pool_id, quantity, actor, f"pretix-reg-{event.pk}-{cart_id}-{pool_id}-{digest}")
        if not answer.ok:
            raise core.record_refusal(event, HeadcountHold.KIND_LOTTERY, cart_id, pool_id, quantity, answer,
                                      actor, _BAND, CLOSED_MESSAGE if answer.status == 409 else None)
        risk = answer.body.get("risk") or {}
        made.append(HeadcountHold.objects.create(
            event=event, kind=HeadcountHold.KIND_LOTTERY, cart_id=cart_id, pool_id=pool_id, quantity=quantity,
            registration_id=str(answer.body.get("registration_id", "")), status="registered",
            score=risk.get("score"), reasons=answer.reasons, ip=actor.get("ip", ""),
            user_agent=actor.get("user_agent", "")))
    return made


def _settle(row: HeadcountHold, cfg) -> str | None:
    """One registration read and applied to its order; the new row status, or None for no change."""
    from pretix.base.models import Order
    from pretix.base.services.orders import OrderError, approve_order, deny_order

    order = row.order
    answer = cfg.client.registration(row.registration_id)
    if answer.status != 200:
        return None
    state, hold_id = answer.body.get("status"), answer.body.get("hold_id")
    pending = order.status == Order.STATUS_PENDING and order.require_approval
    if order.status in (Order.STATUS_CANCELED, Order.STATUS_EXPIRED):
        if hold_id and state in ("won", "confirmed"):
            cfg.client.release(hold_id)  # the seat goes on to the next in line
        return "released"
    if state == "won" and hold_id:
        if not cfg.client.confirm(hold_id).ok:
            return None  # it lapsed meanwhile: the next round reads it as lapsed
        row.hold_id = hold_id
        state = "confirmed"
    if state == "confirmed":
        if pending:
            try:
                approve_order(order, send_mail=True)
            except OrderError as exc:
                order.log_action("pretix_headcount.approve_failed", data={"error": str(exc)})
                return None
        return "confirmed"
    if state in ("refused", "lapsed"):
        if pending:
            reason = answer.body.get("reason") or state
            deny_order(order, comment=f"headcount draw: {reason}", send_mail=True)
        return "refused"
    if state == "waitlisted":
        return "waitlisted"
    return None  # registered: not drawn yet


def sync() -> int:
    """Bring every undecided lottery order in line with its registration; how many changed."""
    from pretix_headcount import core

    changed = 0
    with scopes_disabled():
        rows = (HeadcountHold.objects.filter(kind=HeadcountHold.KIND_LOTTERY, order__isnull=False,
                                             status__in=("registered", "waitlisted"))
                .select_related("order", "event").order_by("id"))
        for row in rows:
            cfg = core.config(row.event)
            if cfg is None:
                continue
            try:
                status = _settle(row, cfg)
            except Unreachable as exc:
                core.log_unreachable(row.event, "lottery", exc, cfg.fail_open)
                continue
            if status is not None and status != row.status:
                row.status = status
                row.save(update_fields=["status", "hold_id"])
                changed += 1
    return changed
