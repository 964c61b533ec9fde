"""The event dashboard widget: the real-headcount estimate with its interval, flood state,
refusals, and a link to headcount's own dashboard."""

from __future__ import annotations

from datetime import timedelta

from django.utils.html import format_html, format_html_join
from django.utils.timezone import now
from django.utils.translation import gettext as _

from pretix_headcount import core
from pretix_headcount.client import Unreachable
from pretix_headcount.models import HeadcountHold


def pools_of(event, cfg: core.Config) -> list[str]:
    used = set(HeadcountHold.objects.filter(event=event).values_list("pool_id", flat=True).distinct())
    used |= {core.pool_id_for(event, q.pk, cfg) for q in event.quotas.all()}
    return sorted(used)


def summary(event) -> dict | None:
    """What the widget shows, as data (the exporter and tests read it too)."""
    cfg = core.config(event)
    if cfg is None:
        return None
    since = now() - timedelta(hours=24)
    recent = HeadcountHold.objects.filter(event=event, created__gte=since)
    refused = recent.filter(status="refused")
    by_band: dict[str, int] = {}
    for band in refused.values_list("band", flat=True):
        by_band[band] = by_band.get(band, 0) + 1
    last = list(recent.order_by("-id").values_list("reasons", flat=True)[:100])
    flooded = any("pool_flooded" in (r or []) for r in last)
    pools = []
    for pool_id in pools_of(event, cfg):
        try:
            answer = cfg.client.headcount(pool_id)
        except Unreachable as exc:
            pools.append({"id": pool_id, "error": str(exc)})
            continue
        if answer.ok:
            pools.append({"id": pool_id, **answer.body})
        elif answer.status != 404:
            pools.append({"id": pool_id, "error": f"HTTP {answer.status}"})
    return {"pools": pools, "refused": refused.count(), "refused_by_band": by_band,
            "flooded": flooded, "dashboard_url": cfg.dashboard_url}


def widgets(event, lazy: bool = False) -> list[dict]:
    if core.config(event) is None:
        return []
    data = None if lazy else summary(event)
    content = None if data is None else render(data)
    return [{"content": content, "display_size": "big", "priority": 50, "lazy": "headcount",
             "url": core.config(event).dashboard_url}]


def render(data: dict) -> str:
    rows = []
    for p in data["pools"]:
        if "error" in p:
            rows.append((p["id"], _("unreachable: %s") % p["error"]))
            continue
        lo, hi = (p.get("interval") or [None, None])[:2]
        rows.append((p["id"], _("%(real)s real expected (90%%: %(lo)s–%(hi)s) of %(reg)s registered, capacity %(cap)s")
                     % {"real": _num(p.get("expected_real")), "lo": _num(lo), "hi": _num(hi),
                        "reg": _num(p.get("registered")), "cap": _num(p.get("capacity"))}))
    bands = ", ".join(f"{k}: {v}" for k, v in sorted(data["refused_by_band"].items())) or "–"
    return format_html(
        '<div class="shopstate"><h3>{}</h3><ul>{}</ul><p>{} <strong>{}</strong> ({})</p><p>{} <strong>{}</strong></p>'
        '<p><a href="{}" target="_blank" rel="noopener">{}</a></p></div>',
        _("Real headcount"),
        format_html_join("", "<li><code>{}</code>: {}</li>", rows),
        _("Refused in the last 24 hours:"), data["refused"], bands,
        _("Flood mode:"), _("on") if data["flooded"] else _("off"),
        data["dashboard_url"], _("Open headcount's dashboard"),
    )


def _num(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)
