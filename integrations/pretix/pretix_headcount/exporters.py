"""The cleaned contact list, through pretix's exporter registry.

One row per person as headcount sees them (aliases of one mailbox are one person):
orders that are placed and not cancelled, whose order hold headcount confirmed. Refused
identities never had an order; a person with several orders appears once, with all of them.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from pretix.base.exporter import ListExporter

from pretix_headcount import core
from pretix_headcount.client import Unreachable
from pretix_headcount.models import HeadcountHold


class CleanedContactsExporter(ListExporter):
    identifier = "headcount_contacts"
    verbose_name = _("Cleaned contact list (headcount)")
    category = _("Order data")
    description = _("One row per real person: confirmed orders only, aliases of one mailbox merged.")

    def iterate_list(self, form_data):
        yield ["person", "email", "orders", "tickets", "risk_score", "checked_in"]
        cfg = core.config(self.event)
        rows = (HeadcountHold.objects.filter(event=self.event, kind="order", status="confirmed")
                .exclude(order=None).select_related("order").order_by("id"))
        people: dict[str, dict] = {}
        for h in rows:
            order = h.order
            if order.status not in ("n", "p"):
                continue
            person = order.email.lower() if order.email else f"order-{order.code}"
            if cfg is not None:
                try:
                    state = cfg.client.hold_state(h.hold_id)
                    person = state.body.get("actor_key") or person
                except Unreachable:
                    pass
            p = people.setdefault(person, {"emails": [], "orders": [], "tickets": 0, "score": 0.0, "in": False})
            if order.email and order.email not in p["emails"]:
                p["emails"].append(order.email)
            if order.code not in p["orders"]:
                p["orders"].append(order.code)
                p["in"] = p["in"] or order.positions.filter(all_checkins__successful=True).exists()
            p["tickets"] += h.quantity
            p["score"] = max(p["score"], h.score or 0.0)
        for person, p in people.items():
            yield [person, " ".join(p["emails"]), " ".join(p["orders"]), p["tickets"], f"{p['score']:.2f}",
                   "yes" if p["in"] else "no"]

    def get_filename(self):
        return f"{self.event.slug}_headcount_contacts"
