"""The plain library path of the signals, as it was before the fast paths (commit d745786).

Kept verbatim (logic only; the data tables come from the production modules) so
that the equivalence tests can prove the fast paths give byte-identical signals.
Slow on purpose: every call goes through `validate_email`, `ipaddress` and the
separate phonenumbers checks, with no caches.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from headcount.signals.email import (
    _PSL,
    DASH_TAGS,
    DISPOSABLE,
    DOTLESS,
    PLUS_TAGS,
    SAME_MAILBOX_DOMAIN,
    EmailSignals,
)
from headcount.signals.network import AUTOMATION, NetworkSignals
from headcount.signals.phone import FICTIONAL_PREFIXES, RISKY_TYPES, PhoneSignals


def is_disposable(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    registrable = _PSL.privatesuffix(domain) or domain
    labels = domain.split(".")
    for i in range(len(labels)):
        candidate = ".".join(labels[i:])
        if candidate in DISPOSABLE:
            return True
        if candidate == registrable:
            break
    return False


def canonical_mailbox(local: str, domain: str) -> str:
    local, domain = local.lower(), domain.lower()
    domain = SAME_MAILBOX_DOMAIN.get(domain, domain)
    if domain in PLUS_TAGS:
        local = local.split("+", 1)[0]
    if domain in DASH_TAGS:
        local = local.split("-", 1)[0]
    if domain in DOTLESS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def tagged(local: str, domain: str) -> bool:
    domain = SAME_MAILBOX_DOMAIN.get(domain.lower(), domain.lower())
    return (domain in PLUS_TAGS and "+" in local) or (domain in DASH_TAGS and "-" in local)


def dot_farmed(local: str, domain: str) -> bool:
    domain = SAME_MAILBOX_DOMAIN.get(domain.lower(), domain.lower())
    return domain in DOTLESS and local.count(".") >= 3


_VOWELS = set("aeiouy")


def machine_score(local: str) -> float:
    s = local.lower().split("+", 1)[0]
    if len(s) < 6:
        return 0.0
    letters = [c for c in s if c.isalpha()]
    digits = sum(c.isdigit() for c in s)
    longest_digits = max((len(m) for m in re.findall(r"\d+", s)), default=0)
    switches = sum(1 for a, b in zip(s, s[1:]) if a.isdigit() != b.isdigit() and a.isalnum() and b.isalnum())
    consonant_run = max((len(m) for m in re.findall(r"[bcdfghjklmnpqrstvwxz]+", s)), default=0)
    vowel_share = sum(c in _VOWELS for c in letters) / len(letters) if letters else 0.0
    separated = any(c in "._-" for c in s)
    counts = Counter(s)
    entropy = -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())
    score = 0.0
    score += min(0.4, max(0, longest_digits - 4) * 0.1)  # 5+ digits in a row
    score += 0.25 if digits / len(s) > 0.3 and letters else 0.0  # digits everywhere
    score += 0.3 if switches >= 4 else 0.0  # x3q9z7: letters and digits alternating
    score += min(0.3, max(0, consonant_run - 4) * 0.1)  # unpronounceable
    score += 0.1 if vowel_share < 0.2 and len(letters) >= 8 else 0.0
    score += 0.15 if entropy > 3.3 and len(s) >= 10 and not separated else 0.0
    return min(1.0, score)


def analyze_email(raw: str, check_deliverability: bool = False) -> EmailSignals:
    if not isinstance(raw, str):
        raise TypeError("email must be a string")
    try:
        info = validate_email(raw, check_deliverability=check_deliverability, allow_smtputf8=True)
    except EmailNotValidError:
        return EmailSignals(valid=False, reasons=("email_invalid",))
    except Exception:  # a library edge case must not turn into a 500
        return EmailSignals(valid=False, reasons=("email_invalid",))
    domain = info.domain.lower()
    reasons: list[str] = []
    disposable = is_disposable(domain)
    if disposable:
        reasons.append("email_disposable")
    score = machine_score(info.local_part)
    if score >= 0.5:
        reasons.append("email_machine_made")
    canonical = canonical_mailbox(info.local_part, domain)
    if tagged(info.local_part, domain) or dot_farmed(info.local_part, domain):
        reasons.append("email_alias")
    return EmailSignals(True, info.normalized, canonical, domain, disposable, score, tuple(reasons))


def _is_us_555_fictional(number: phonenumbers.PhoneNumber) -> bool:
    national = str(number.national_number)
    return number.country_code == 1 and len(national) == 10 and national[3:8] == "55501"


def analyze_phone(raw: str, default_region: str = "DE") -> PhoneSignals:
    if not isinstance(raw, str):
        raise TypeError("phone must be a string")
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException:
        return PhoneSignals(valid=False, reasons=("phone_unparsable",))
    except Exception:  # a library edge case must not turn into a 500
        return PhoneSignals(valid=False, reasons=("phone_unparsable",))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_possible_number(number):
        return PhoneSignals(False, e164, reasons=("phone_impossible",))
    region = phonenumbers.region_code_for_number(number)
    if not phonenumbers.is_valid_number(number):
        return PhoneSignals(False, e164, region, reasons=("phone_invalid",))
    kind = phonenumbers.number_type(number)
    reasons: list[str] = []
    if kind in RISKY_TYPES:
        reasons.append(RISKY_TYPES[kind])
    if e164.startswith(FICTIONAL_PREFIXES) or _is_us_555_fictional(number):
        reasons.append("phone_fictional")
    return PhoneSignals(True, e164, region, PhoneNumberType.to_string(kind), tuple(reasons))


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
