"""Network and client: which network an address is in, and whether a browser is driven.

An IPv4 /24 or IPv6 /64 is the unit that one household, office or server rack
gets; many actors from one such network in a short time is a velocity signal.
Automation markers in the user agent (headless browsers, HTTP libraries) are
risk; their absence proves nothing, as any client can claim to be a browser.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache

AUTOMATION = re.compile(
    r"headless|phantomjs|selenium|webdriver|puppeteer|playwright|python-requests|python-urllib|aiohttp|"
    r"httpx|curl/|wget/|go-http-client|okhttp|java/|libwww|scrapy|node-fetch|axios/|postmanruntime|bot\b|spider|crawler",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NetworkSignals:
    network: str | None = None  # e.g. "198.51.100.0/24"
    reasons: tuple[str, ...] = field(default_factory=tuple)


@lru_cache(maxsize=65_536)
def analyze_network(ip: str | None, user_agent: str | None) -> NetworkSignals:
    reasons: list[str] = []
    network = None
    if ip:
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            reasons.append("ip_invalid")
        else:
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            prefix = 24 if address.version == 4 else 64
            network = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
            if not address.is_global:
                reasons.append("ip_not_public")
    if user_agent is not None:
        if not user_agent.strip():
            reasons.append("ua_missing")
        elif AUTOMATION.search(user_agent):
            reasons.append("ua_automation")
    return NetworkSignals(network, tuple(reasons))
