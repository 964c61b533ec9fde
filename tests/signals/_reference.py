"""The plain library path of the signals, as it was before the fast paths (commit d745786).

Kept verbatim (logic only; the data tables come from the production modules) so
that the equivalence tests can prove the fast paths give byte-identical signals.
Slow on purpose: every call goes through `validate_email`, `ipaddress` and the
separate phonenumbers checks, with no caches.
"""

from __future__ import annotations

import ipaddress

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneNumberType

from headcount.signals import email as _email
from headcount.signals.email import EmailSignals
from headcount.signals.network import AUTOMATION, NetworkSignals
from headcount.signals.phone import FICTIONAL_PREFIXES, RISKY_TYPES, PhoneSignals

# Unchanged by the fast paths (the per-domain caching wraps them), so shared, not copied:
is_disposable = _email.is_disposable.__wrapped__  # without its cache, as before
canonical_mailbox, tagged, dot_farmed = _email.canonical_mailbox, _email.tagged, _email.dot_farmed


def machine_score(local: str) -> float:
    """The old score: the general per-character algorithm, which production keeps for
    non-ASCII local parts; the equivalence tests hold the ASCII fast path to it."""
    s = local.lower().split("+", 1)[0]
    return 0.0 if len(s) < 6 else _email._machine_score_general(s)


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
    if score >= 0.5 and domain not in _email.RELAY_DOMAINS:
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
