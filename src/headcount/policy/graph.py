"""`[graph]`: how far the identity graph may fan out before it is risk, and what behaviour does.

Households set the limits: a family shares one tablet or one number among a few
mailboxes, a person reads mail on a few devices. Beyond `*_limit` partners a key
earns its fan-out reason, with a weight that grows with how far past the limit it
is (`weight * (1 + growth * log2(count / limit))`), so forty mailboxes behind one
device is refused where five earn a short hold. Past `revoke_device_after` a device
is a farm, and the household's allowance it was given before is taken back: the holds
it made are released (otherwise each operator keeps `device_mailboxes` holds per
device, however many devices it runs).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


class GraphRuleError(ValueError):
    pass


@dataclass(frozen=True)
class GraphRule:
    device_mailboxes: int = 4  # mailboxes one device may show (a family's tablet)
    device_numbers: int = 4  # phone numbers behind one device
    mailbox_spellings: int = 3  # spellings (dots, +tags) of one mailbox
    mailbox_devices: int = 6  # devices one mailbox is used from
    number_devices: int = 6  # devices behind one phone number (a family sharing it)
    number_mailboxes: int = 5  # mailboxes behind one phone number
    #: past this many mailboxes, numbers or accounts behind one device, every hold that device
    #: made is released, confirmed or not: no household shows that many, and only its owner
    #: sends a device id, so nobody else can set it off. 0: never. Set it to 0 for kiosks
    revoke_device_after: int = 8
    #: numbers from one block of a thousand (E.164 without its last 3 digits): among real people
    #: two share a block by chance only in a pool of many thousands; bought numbers come in runs
    block_numbers: int = 3
    #: ... and only when chance would put that many of its area's numbers into one block with
    #: probability under `block_alpha` (headcount.guard.numbering): a dense town is not a run
    block_alpha: float = 0.001
    growth: float = 2.0  # how fast a fan-out reason's weight grows past its limit
    #: network velocity applies only when the network's people lack diversity: distinct
    #: devices under `network_device_share` of its registrations today, or distinct user
    #: agents under `network_agent_share`; `network_slack` registrations are forgiven first
    network_device_share: float = 0.5
    network_agent_share: float = 0.2
    network_slack: int = 5
    #: behaviour memory: holds that expired or were released unconfirmed
    abandoned_short: int = 2  # from this many on: `abandoned_holds` (shorter holds, smaller caps)
    abandoned_cooldown: int = 4  # from this many on: `abandoned_repeatedly` (refused)
    trusted_after: int = 1  # confirmed holds (more than abandoned) that make a person trusted
    #: double opt-in: a hold is confirmed only for a person with a verified e-mail or number
    confirm_requires_verified: bool = False

    @classmethod
    def from_table(cls, table: object, source: str) -> GraphRule:
        if table is None:
            return cls()
        if not isinstance(table, dict):
            raise GraphRuleError(f"{source}: [graph] must be a table")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for key, value in table.items():
            f = known.get(key)
            if f is None:
                raise GraphRuleError(f"{source}: graph.{key} is unknown; use {', '.join(sorted(known))}")
            default = f.default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
                want = "true or false"
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1_000_000
                want = "a whole number in [0, 1000000]"
            else:
                ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100
                want = "a number in [0, 100]"
            if not ok:
                raise GraphRuleError(f"{source}: graph.{key} must be {want}")
            values[key] = float(value) if isinstance(default, float) else value
        rule = cls(**values)  # type: ignore[arg-type]
        if rule.block_alpha > 1:
            raise GraphRuleError(f"{source}: graph.block_alpha must be a probability in [0, 1]")
        if rule.abandoned_cooldown and rule.abandoned_cooldown < rule.abandoned_short:
            raise GraphRuleError(f"{source}: graph.abandoned_cooldown must not be under graph.abandoned_short")
        return rule
