"""Phone numbers: valid, what kind, one key per line (E.164), fictional ranges.

`phonenumbers` (Google's libphonenumber) does the parsing and typing. Numbers a
person cannot be reached on for long (VoIP, toll-free, premium, shared-cost,
pager, UAN, unknown) count as risk. US and Canadian numbers come back as
FIXED_LINE_OR_MOBILE: that is normal there and no risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

RISKY_TYPES = {
    PhoneNumberType.VOIP: "phone_voip",
    PhoneNumberType.TOLL_FREE: "phone_toll_free",
    PhoneNumberType.PREMIUM_RATE: "phone_premium",
    PhoneNumberType.SHARED_COST: "phone_shared_cost",
    PhoneNumberType.PAGER: "phone_pager",
    PhoneNumberType.UAN: "phone_uan",
    PhoneNumberType.UNKNOWN: "phone_unknown_type",
}

#: Ranges set aside for films and tests, as (E.164 prefix, national significant number length).
FICTIONAL_PREFIXES = (
    "+1202555010", "+1212555010", "+1310555010", "+1415555010",  # US 555-0100..0199 (sample areas)
    "+447700900",  # UK Ofcom drama range 07700 900000-900999
    "+61491570",  # Australia's ACMA fictional mobile range 0491 570 xxx
    "+4915901",  # commonly used German test numbers
)


@dataclass(frozen=True)
class PhoneSignals:
    valid: bool
    e164: str | None = None  # one key per line
    region: str | None = None
    kind: str | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _is_us_555_fictional(number: phonenumbers.PhoneNumber) -> bool:
    """NANP 555-0100 to 555-0199 in any area code is reserved for fiction."""
    national = str(number.national_number)
    return number.country_code == 1 and len(national) == 10 and national[3:8] == "55501"


@lru_cache(maxsize=65_536)
def analyze_phone(raw: str, default_region: str = "DE") -> PhoneSignals:
    """Signals of one number; never raises on the number's content."""
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
