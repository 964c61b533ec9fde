"""pretix's signals, wired to `core`. Which hook does what, and why, is in the README."""

from __future__ import annotations

import contextvars
import json
import logging

from django.contrib import messages
from django.dispatch import receiver
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import resolve, reverse
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from pretix.base.services.cart import CartError
from pretix.base.services.orders import OrderError
from pretix.base.signals import (
    checkin_created,
    order_canceled,
    order_denied,
    order_expired,
    order_placed,
    periodic_task,
    register_data_exporters,
    validate_cart,
    validate_order,
)
from pretix.control.signals import event_dashboard_widgets, nav_event_settings
from pretix.multidomain.urlreverse import eventreverse
from pretix.presale.signals import process_request, process_response

from pretix_headcount import core

log = logging.getLogger(__name__)

#: the order holds made by validate_order, for order_placed in the same call of pretix's
#: order service (both run in one thread, in one `_perform_order`)
_pending_order_holds: contextvars.ContextVar[tuple[int, list] | None] = contextvars.ContextVar(
    "pretix_headcount_pending", default=None)

_CART_ADD = ("cart/add",)
_CART_CHANGE = ("cart/remove", "cart/clear")


def _lines_from_post(request) -> list[tuple[int, int | None, int | None, int]]:
    """The products a cart-add POST asks for, parsed with pretix's own parser."""
    from pretix.presale.views.cart import _item_from_post_value

    req = list(request.POST.lists())
    if "_selected_item" in request.POST:
        req.append((request.POST["_selected_item"], ["1"]))
    raw = []
    if "raw" in request.POST:
        try:
            raw = json.loads(request.POST.get("raw"))
        except ValueError:
            raw = []
    items = [i for i in raw if isinstance(i, dict)]
    for key, values in req:
        for value in values:
            try:
                item = _item_from_post_value(request, key, value)
            except CartError:
                return []  # pretix shows its own error and adds nothing
            if item:
                items.append(item)
    lines = []
    for it in items:
        try:
            lines.append((int(it["item"]), int(it["variation"]) if it.get("variation") else None,
                          int(it["subevent"]) if it.get("subevent") else None, int(it.get("count", 1))))
        except (KeyError, TypeError, ValueError):
            continue
    return [ln for ln in lines if ln[3] > 0]


def _refusal_response(request, message: str):
    url = request.GET.get("next_error") or eventreverse(request.event, "presale:event.index")
    if "ajax" in request.GET or "ajax" in request.POST:
        return JsonResponse({"redirect": url, "success": False, "message": message})
    messages.error(request, message)
    return HttpResponseRedirect(url)


def _add_runs_in_request() -> bool:
    """pretix runs the cart add inside the request unless celery workers take it."""
    from django.conf import settings

    return not getattr(settings, "HAS_CELERY", False) or bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def _drop_messages_since(request, keep: int) -> None:
    """Drop the messages pretix's view queued (its "added to your cart"), keep earlier ones."""
    queued = getattr(getattr(request, "_messages", None), "_queued_messages", None)
    if isinstance(queued, list):
        del queued[keep:]


def _pretix_added_all(request, response, queued_before: int) -> bool:
    """Whether pretix's in-request add said it added everything: its success message and no
    warning or error (or the widget's `"success": true`). Saves a query on every add; when in
    doubt the caller counts the cart's new positions."""
    from django.contrib.messages import constants

    if isinstance(response, JsonResponse):
        try:
            return json.loads(response.content).get("success") is True
        except (ValueError, AttributeError):
            return False
    queued = getattr(getattr(request, "_messages", None), "_queued_messages", None)
    if not isinstance(queued, list):
        return False
    levels = [m.level for m in queued[queued_before:]]
    return constants.SUCCESS in levels and not any(lv >= constants.WARNING for lv in levels)


@receiver(process_request, dispatch_uid="headcount_process_request")
def on_request(sender, request, **kwargs):
    if request.method != "POST":
        return None
    path = request.path_info
    if path.endswith(_CART_CHANGE):
        if core.config(sender) is not None:
            from pretix.presale.views.cart import get_or_create_cart_id

            # taken before the view runs: clearing a cart gives the session a new cart id
            request._headcount_reconcile = get_or_create_cart_id(request, create=False)
        return None
    if not path.endswith(_CART_ADD):
        return None
    cfg = core.config(sender)
    if cfg is None:
        return None
    from pretix.presale.views.cart import get_or_create_cart_id

    lines = _lines_from_post(request)
    if not lines:
        return None
    cart_id = get_or_create_cart_id(request)
    if _add_runs_in_request():
        # headcount decides while pretix adds; process_response collects the answer and
        # undoes the add if it was a refusal
        request._headcount_pending = core.start_cart_hold(request, sender, cfg, cart_id, lines)
        return None
    started = now()  # celery adds later, elsewhere: ask first, as nothing could be undone here
    try:
        made = core.hold_for_cart(request, sender, cart_id, lines, cfg)
    except core.Refused as refusal:
        return _refusal_response(request, refusal.message)
    request._headcount_cart = (cart_id, made, started, sum(ln[3] for ln in lines))
    return None


@receiver(process_response, dispatch_uid="headcount_process_response")
def on_response(sender, request, response, **kwargs):
    pending = getattr(request, "_headcount_pending", None)
    if pending is not None:
        request._headcount_pending = None
        try:
            made = core.settle_cart_hold(sender, pending)
        except core.Refused as refusal:
            core.undo_cart_add(sender, pending.cart_id, pending.started)
            _drop_messages_since(request, pending.queued_messages)
            response = _refusal_response(request, refusal.message)
        else:
            request._headcount_cart = (pending.cart_id, made, pending.started, pending.asked)
            if made and _pretix_added_all(request, response, pending.queued_messages):
                request._headcount_cart = (pending.cart_id, made, pending.started, 0)
    state = getattr(request, "_headcount_cart", None)
    if state is not None:
        cart_id, made, started, asked = state
        if made:
            from pretix.base.models import CartPosition

            if asked and CartPosition.objects.filter(event=sender, cart_id=cart_id,
                                                     datetime__gte=started).count() < asked:
                core.reconcile_cart(sender, cart_id)  # pretix added less (sold out, not available, ...)
            if any(h.band == "short" for h in made):
                core.apply_short_holds(sender, cart_id)
    elif getattr(request, "_headcount_reconcile", None):
        core.reconcile_cart(sender, request._headcount_reconcile)
    new_device = getattr(request, "_headcount_new_device", None)
    if new_device:
        response.set_cookie(core.DEVICE_COOKIE, new_device, max_age=365 * 86400, httponly=True,
                            samesite="Lax", secure=request.is_secure())
    return response


@receiver(validate_cart, dispatch_uid="headcount_validate_cart")
def on_validate_cart(sender, positions, **kwargs):
    """Before checkout starts: a short hold made while pretix added asynchronously still
    shortens the reservation here."""
    positions = list(positions)
    if positions and core.config(sender) is not None:
        core.apply_short_holds(sender, positions[0].cart_id)


@receiver(validate_order, dispatch_uid="headcount_validate_order")
def on_validate_order(sender, positions, email=None, customer=None, **kwargs):
    try:
        made = core.hold_for_order(sender, positions, email, customer)
    except core.Refused as refusal:
        raise OrderError(refusal.message) from None
    _pending_order_holds.set((sender.pk, made))


@receiver(order_placed, dispatch_uid="headcount_order_placed")
def on_order_placed(sender, order, **kwargs):
    pending = _pending_order_holds.get()
    if not pending or pending[0] != sender.pk:
        return
    _pending_order_holds.set(None)
    rows = pending[1]
    if rows:
        core.on_commit(lambda: core.confirm_order(order, rows))


def _cancel(sender, order, **kwargs):
    if core.config(sender) is not None:
        core.on_commit(lambda: core.cancel_order(order))


order_canceled.connect(_cancel, dispatch_uid="headcount_order_canceled")
order_expired.connect(_cancel, dispatch_uid="headcount_order_expired")
order_denied.connect(_cancel, dispatch_uid="headcount_order_denied")


@receiver(checkin_created, dispatch_uid="headcount_checkin_created")
def on_checkin(sender, checkin, **kwargs):
    if checkin.type != "entry" or core.config(sender) is None:
        return
    core.on_commit(lambda: core.record_checkin(checkin))


@receiver(periodic_task, dispatch_uid="headcount_periodic_task")
def on_periodic(sender, **kwargs):
    from pretix_headcount import lottery

    core.sweep()
    lottery.sync()  # lottery events: wins approved, refusals denied


@receiver(nav_event_settings, dispatch_uid="headcount_nav_settings")
def navbar_settings(sender, request, **kwargs):
    url = resolve(request.path_info)
    if not request.user.has_event_permission(request.organizer, request.event, "event.settings.general:write",
                                             request=request):
        return []
    return [{
        "label": "headcount",
        "url": reverse("plugins:pretix_headcount:settings", kwargs={
            "event": request.event.slug, "organizer": request.organizer.slug}),
        "active": url.namespace == "plugins:pretix_headcount",
    }]


@receiver(event_dashboard_widgets, dispatch_uid="headcount_dashboard_widget")
def dashboard_widget(sender, subevent=None, lazy=False, **kwargs):
    from pretix_headcount.widget import widgets

    return widgets(sender, lazy=lazy)


@receiver(register_data_exporters, dispatch_uid="headcount_exporter")
def register_exporter(sender, **kwargs):
    from pretix_headcount.exporters import CleanedContactsExporter

    return CleanedContactsExporter


__all__ = ["_"]
