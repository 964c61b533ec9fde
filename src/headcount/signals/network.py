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


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: A dotted quad exactly as `ipaddress.IPv4Address` accepts it: four decimal octets up to 255,
#: ASCII digits only, no leading zeros.
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


def _ipv4_special_networks() -> list[ipaddress.IPv4Network]:
    """Every network `ipaddress` keeps for its IPv4 properties (private, shared, reserved, exceptions...)."""
    constants = getattr(ipaddress, "_IPv4Constants", None)
    nets: list[ipaddress.IPv4Network] = []
    for value in vars(constants).values() if constants is not None else ():
        for item in value if isinstance(value, list | tuple) else (value,):
            if isinstance(item, ipaddress.IPv4Network):
                nets.append(item)
    return nets


_SPECIAL = _ipv4_special_networks()
#: Per prefix length L, the L-bit blocks that hold a finer special network, so that
#: `is_global` is not the same for all their addresses. Every other block lies wholly
#: inside or wholly outside each special network: one answer serves all its addresses.
_MIXED = {level: frozenset(int(net.network_address) >> (32 - level) for net in _SPECIAL if net.prefixlen > level)
          for level in (8, 16, 24)}


@lru_cache(maxsize=8192)
def _block_is_global(level: int, block: int) -> bool:
    """`ipaddress`'s own is_global for the first address of a uniform block (so: for all of it)."""
    return ipaddress.IPv4Address(block << (32 - level)).is_global


def _ipv4_is_global(a: int, b: int, c: int) -> bool | None:
    """is_global of any address in a.b.c.0/24, or None when the /24 is mixed (ask `ipaddress`)."""
    if a not in _MIXED[8]:
        return _block_is_global(8, a)
    block = a << 8 | b
    if block not in _MIXED[16]:
        return _block_is_global(16, block)
    block = block << 8 | c
    if block not in _MIXED[24]:
        return _block_is_global(24, block)
    return None


@lru_cache(maxsize=4096)
def _client_reasons(user_agent: str) -> tuple[str, ...]:
    """What a user agent says; user agents repeat across actors (a few browser builds), so cached."""
    if not user_agent.strip():
        return ("ua_missing",)
    if AUTOMATION.search(user_agent):
        return ("ua_automation",)
    return ()


def _network_slow(address_text: str) -> tuple[str | None, tuple[str, ...]]:
    """(network, reasons) of an address through `ipaddress` (IPv6, mapped IPv4, invalid, mixed /24s)."""
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        return None, ("ip_invalid",)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    network = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    return network, (() if address.is_global else ("ip_not_public",))


def _network(ip: str) -> tuple[str | None, tuple[str, ...]]:
    """(the /24 or /64, reasons) of an address; plain dotted quads without `ipaddress`'s objects."""
    text = ip.strip()
    quad = _DOTTED_QUAD.fullmatch(text) if _SPECIAL else None
    if quad is not None:
        a, b, c, _ = quad.groups()
        is_global = _ipv4_is_global(int(a), int(b), int(c))
        if is_global is not None:
            return f"{a}.{b}.{c}.0/24", (() if is_global else ("ip_not_public",))
    return _network_slow(text)


@lru_cache(maxsize=65_536)
def analyze_network(ip: str | None, user_agent: str | None) -> NetworkSignals:
    """Signals of an address and a user agent; never raises on their content.

    The same result as parsing with `ipaddress` (tests/signals/test_signals_fastpath.py
    proves it on random and edge addresses), without building address objects for
    the common case of a dotted quad.
    """
    network = None
    reasons: tuple[str, ...] = ()
    if ip:
        network, reasons = _network(ip)
    if user_agent is not None:
        reasons += _client_reasons(user_agent)
    return NetworkSignals(network, reasons)


def clear_caches() -> None:
    """Forget every cached address and user agent (benchmarks, tests)."""
    for fn in (analyze_network, _client_reasons, _block_is_global):
        fn.cache_clear()
