"""Risk from the identity graph: fan-out past what households show, and behaviour memory.

Pure: it reads what the store knows of a request's keys (`KeyView`s) and the
policy's `[graph]`, and says which reasons apply, how much weight they add past
their base weight, and why, in words (`identity_fanout_device: 37 mailboxes`).

Direction matters for who can be harmed. A device's fan-out is the requester's own
doing (nobody else sends that device id). A mailbox or number can be typed by
anyone, so its memory forgives one abandoned hold, and a verified one earns no
fan-out at all: its owner proved it, and others naming it are charged apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from headcount.guard.numbering import unusual_block
from headcount.policy.graph import GraphRule
from headcount.store.graph import KeyView
from headcount.store.linking import kind_of

#: (subject kind, partner kind, GraphRule field with the limit, reason, noun)
FANOUT = (
    ("dev", "email", "device_mailboxes", "identity_fanout_device", "mailboxes"),
    ("dev", "tel", "device_numbers", "identity_fanout_device", "numbers"),
    ("dev", "id", "device_mailboxes", "identity_fanout_device", "accounts"),
    ("email", "addr", "mailbox_spellings", "identity_fanout_aliases", "spellings"),
    ("email", "dev", "mailbox_devices", "identity_fanout_mailbox", "devices"),
    ("tel", "dev", "number_devices", "identity_fanout_number", "devices"),
    ("tel", "email", "number_mailboxes", "identity_fanout_number", "mailboxes"),
    ("blk", "tel", "block_numbers", "identity_fanout_block", "numbers in one block of a thousand"),
)
TYPED = frozenset({"email", "tel", "id"})


@dataclass
class GraphJudgement:
    reasons: list[str] = field(default_factory=list)
    extra_weight: float = 0.0  # on top of the reasons' base weights
    details: dict[str, str] = field(default_factory=dict)
    trusted: bool = False
    #: device keys past `revoke_device_after`: the holds they made are to be released
    revoke: list[str] = field(default_factory=list)


def _count(view: KeyView, partner: str | None, kind: str) -> int:
    """Distinct partners of `kind` the key has once this request's one is counted."""
    n = view.partners.get(kind, 0)
    return n + (1 if partner is not None and partner not in view.linked else 0)


def _run_of_numbers(rule: GraphRule, in_block: int, by_kind: Mapping[str, str],
                    views: Mapping[str, KeyView]) -> bool:
    """Whether a block's numbers are more than its area's traffic would put there."""
    area_key = by_kind.get("area")
    area = views.get(area_key) if area_key else None
    if area is None:
        return True  # no area to judge by: the block's limit alone
    in_area = _count(area, by_kind.get("tel"), "tel")
    return unusual_block(in_block, in_area, rule.block_alpha)


def judge(rule: GraphRule, weights: Mapping[str, float], keys: list[str],
          views: Mapping[str, KeyView]) -> GraphJudgement:
    out = GraphJudgement()
    by_kind: dict[str, str] = {}
    for k in keys:
        by_kind.setdefault(kind_of(k), k)
    worst: dict[str, tuple[float, str]] = {}
    for subject, partner_kind, limit_name, reason, noun in FANOUT:
        key = by_kind.get(subject)
        view = views.get(key) if key else None
        if view is None or (subject in TYPED and view.verified):
            continue
        limit = getattr(rule, limit_name)
        n = _count(view, by_kind.get(partner_kind), partner_kind)
        if subject == "blk" and n > limit and not _run_of_numbers(rule, n, by_kind, views):
            continue  # a busy area: that many numbers in one block is what chance does there
        if limit and n > limit:
            extra = weights.get(reason, 0.0) * rule.growth * math.log2(n / limit)
            if reason not in worst or extra > worst[reason][0]:
                worst[reason] = (extra, f"{n} {noun}")
        if (subject == "dev" and key is not None and rule.revoke_device_after
                and n > rule.revoke_device_after and key not in out.revoke):
            out.revoke.append(key)
    for reason, (extra, detail) in worst.items():
        out.reasons.append(reason)
        out.extra_weight += extra
        out.details[reason] = detail
    # memory: a device's lapses are its owner's doing, in full. A mailbox or number can be
    # typed by anyone (a family's shared number, an attacker typing a victim's address), so
    # when the request sends a device, the typed keys' lapses are left to the devices that
    # made them; without one, a typed key's count applies, forgiving one (a verified one: in full)
    abandoned = confirmed = 0
    device_sent = "dev" in by_kind
    for k, view in views.items():
        kind = kind_of(k)
        if kind == "dev":
            abandoned, confirmed = max(abandoned, view.abandoned), max(confirmed, view.confirmed)
        elif kind in TYPED:
            if view.verified:
                confirmed = max(confirmed, view.confirmed)
            if not device_sent:
                abandoned = max(abandoned, view.abandoned - (0 if view.verified else 1))
    if rule.abandoned_cooldown and abandoned >= rule.abandoned_cooldown:
        out.reasons.append("abandoned_repeatedly")
        out.details["abandoned_repeatedly"] = f"{abandoned} holds left to lapse"
    elif rule.abandoned_short and abandoned >= rule.abandoned_short:
        out.reasons.append("abandoned_holds")
        out.details["abandoned_holds"] = f"{abandoned} holds left to lapse"
    out.trusted = (rule.trusted_after > 0 and confirmed >= rule.trusted_after and confirmed > abandoned
                   and not worst)
    # a verified mailbox or number named without a device its owner used
    device = by_kind.get("dev")
    for k in keys:
        view = views.get(k)
        if (view is not None and view.verified and kind_of(k) in TYPED and view.partners.get("dev", 0)
                and (device is None or device not in view.linked)):
            out.reasons.append("claims_verified")
            out.details["claims_verified"] = f"someone's verified {'mailbox' if kind_of(k) == 'email' else 'number'}"
            break
    return out


def diverse_network(rule: GraphRule, view: KeyView | None, registrations: int) -> bool:
    """Whether the people behind a network differ enough that its volume is not a farm's."""
    if view is None:
        return False
    n = registrations - rule.network_slack
    if n <= 0:
        return True
    devices, agents = view.partners.get("dev", 0), view.partners.get("ua", 0)
    return devices >= rule.network_device_share * n and agents >= rule.network_agent_share * n
