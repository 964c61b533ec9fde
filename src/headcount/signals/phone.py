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
from phonenumbers import NumberParseException, PhoneNumberType, phonenumberutil

RISKY_TYPES = {
    PhoneNumberType.VOIP: "phone_voip",
    PhoneNumberType.TOLL_FREE: "phone_toll_free",
    PhoneNumberType.PREMIUM_RATE: "phone_premium",
    PhoneNumberType.SHARED_COST: "phone_shared_cost",
    PhoneNumberType.PAGER: "phone_pager",
    PhoneNumberType.UAN: "phone_uan",
    PhoneNumberType.UNKNOWN: "phone_unknown_type",
}

_E164 = phonenumbers.PhoneNumberFormat.E164
_UNKNOWN = PhoneNumberType.UNKNOWN
_KIND_NAMES = {value: PhoneNumberType.to_string(value) for value in PhoneNumberType.values()}

# Keep every compiled metadata pattern (the library's documented switch for checking
# many numbers from many regions; process-wide, bounded by the metadata): no
# recompiling once `re`'s own cache is full, and a dict look-up instead of
# `re.compile`'s cache check on each of the ~20 pattern matches per number.
phonenumbers.enable_pattern_cache()

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


_UNPARSABLE = PhoneSignals(valid=False, reasons=("phone_unparsable",))
#: the library's type matcher for a number and a region's metadata (what `number_type` runs)
_type_helper = getattr(phonenumberutil, "_number_type_helper", None)


def _number_type(number: phonenumbers.PhoneNumber, region: str | None) -> int:
    """`phonenumbers.number_type(number)` for a number whose region is already known.

    `number_type` looks the region up again, which for a shared calling code (+1, +7,
    +44...) can mean a whole type match per candidate region; with the region at
    hand the library's type matcher runs once, as `number_type` would run it.
    Should a phonenumbers release drop that helper: `number_type` itself."""
    if _type_helper is None:
        return phonenumbers.number_type(number)
    if region is None or number.country_code is None:
        return _UNKNOWN  # no metadata to match against: what `number_type` answers then
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(number.country_code, region)
    if metadata is None:
        return _UNKNOWN
    return _type_helper(phonenumbers.national_significant_number(number), metadata)


def _is_us_555_fictional(number: phonenumbers.PhoneNumber) -> bool:
    """NANP 555-0100 to 555-0199 in any area code is reserved for fiction."""
    national = str(number.national_number)
    return number.country_code == 1 and len(national) == 10 and national[3:8] == "55501"


def known_region(code: str) -> bool:
    """Whether `code` is a region whose numbers phonenumbers can read ("US", "DE", ...)."""
    return code in phonenumbers.SUPPORTED_REGIONS


@lru_cache(maxsize=65_536)
def analyze_phone(raw: str, default_region: str | None = None) -> PhoneSignals:
    """Signals of one number; never raises on the number's content.

    One type match per number: `number_type` is UNKNOWN exactly when
    `is_valid_number` is false (both match the national number against the
    region's metadata), so asking both ran the same matching twice.
    tests/signals/test_signals_fastpath.py proves the results equal to asking both.
    """
    if not isinstance(raw, str):
        raise TypeError("phone must be a string")
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException:
        return _UNPARSABLE
    except Exception:  # a library edge case must not turn into a 500
        return _UNPARSABLE
    e164 = phonenumbers.format_number(number, _E164)
    if not phonenumbers.is_possible_number(number):
        return PhoneSignals(False, e164, reasons=("phone_impossible",))
    region = phonenumbers.region_code_for_number(number)
    kind = _number_type(number, region)
    if kind == _UNKNOWN:
        return PhoneSignals(False, e164, region, reasons=("phone_invalid",))
    reasons: list[str] = []
    if kind in RISKY_TYPES:
        reasons.append(RISKY_TYPES[kind])
    if e164.startswith(FICTIONAL_PREFIXES) or _is_us_555_fictional(number):
        reasons.append("phone_fictional")
    return PhoneSignals(True, e164, region, _KIND_NAMES.get(kind) or PhoneNumberType.to_string(kind), tuple(reasons))


def clear_caches() -> None:
    """Forget every cached number (benchmarks, tests)."""
    analyze_phone.cache_clear()
