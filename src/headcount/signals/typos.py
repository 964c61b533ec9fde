"""Likely typos: a mistyped provider domain or a number a digit short is a person to ask, not a fake.

A real person who types `gmial.com` or drops a digit of their number is refused
by nothing but their own hand. The guard answers such a request with a 422 that
names the field and, where one is clear, a correction, so the front end can ask
the person to fix it; it never counts as risk. A domain is a likely typo when it
is one edit (insertion, deletion, substitution or swap of neighbours) away from a
big provider's and is not itself one. Distance by rapidfuzz (Damerau-Levenshtein
via its OSA distance, in C).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException
from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

#: the providers most people have their mailbox at (typos of these are common and clear)
PROVIDERS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "ymail.com",
    "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "outlook.com", "outlook.de", "live.com",
    "live.de", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "gmx.at",
    "web.de", "t-online.de", "freenet.de", "posteo.de", "mail.de", "proton.me", "protonmail.com",
    "orange.fr", "free.fr", "laposte.net", "libero.it", "mail.ru", "yandex.ru", "comcast.net",
    "verizon.net", "att.net", "btinternet.com", "bluewin.ch", "seznam.cz", "wp.pl", "o2.pl",
)
#: real domains one edit away from a provider above: never "corrected"
_KNOWN = frozenset(PROVIDERS) | {"mail.com", "email.com", "gmx.com", "gmx.ch", "aol.de", "live.fr", "web.com",
                                  "me.de", "msn.de", "mac.de", "free.de"}


@dataclass(frozen=True, slots=True)
class Typo:
    field: str  # the request field, e.g. "actor.email"
    reason: str  # email_typo, phone_typo
    suggestion: str | None = None  # the corrected value, when one is clear


@lru_cache(maxsize=16_384)
def _domain_fix(domain: str) -> str | None:
    if domain in _KNOWN or len(domain) < 5:
        return None
    best = extractOne(domain, PROVIDERS, scorer=OSA.distance, score_cutoff=1)
    return best[0] if best is not None else None


def email_typo(address: str) -> Typo | None:
    """A correction of `address` if its domain is one edit away from a big provider's."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local:
        return None
    fix = _domain_fix(domain.lower())
    return Typo("actor.email", "email_typo", f"{local}@{fix}") if fix else None


def _valid(country_code: int, national: str) -> bool:
    if not national or national[0] == "0":
        return False
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    # the length test is cheap; the full pattern match runs only for lengths that can be valid
    return bool(phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number))


@lru_cache(maxsize=16_384)
def phone_typo(raw: str, default_region: str | None = None) -> Typo | None:
    """An invalid number that one digit more or one digit less would make valid: mistyped,
    not made up (a number far from any valid one is left to the risk signals)."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException:
        return None
    except Exception:  # a library edge case is not a typo
        return None
    if phonenumbers.is_valid_number(number):
        return None
    cc = number.country_code
    if cc is None or number.national_number is None:  # `parse` sets both; the type allows None
        return None
    national = str(number.national_number)
    if not 4 <= len(national) <= 14:
        return None
    # A number's validity turns on its prefix and its length, so a digit dropped or doubled
    # anywhere after the prefix is found by mending the end: one digit more, or one less.
    if any(_valid(cc, n) for n in (national + "0", national + "5", national[:-1])):
        return Typo("actor.phone", "phone_typo")
    # A digit lost inside the prefix (a US exchange's first digit) cannot be mended at the
    # end, but the length still tells: too short (or long) for the country by one digit.
    return Typo("actor.phone", "phone_typo") if _one_digit_off(number, cc, national) else None


def _one_digit_off(number: phonenumbers.PhoneNumber, cc: int, national: str) -> bool:
    why = phonenumbers.is_possible_number_with_reason(number)
    if why == phonenumbers.ValidationResult.TOO_SHORT:
        near = national + "0"
    elif why == phonenumbers.ValidationResult.TOO_LONG:
        near = national[:-1]
    else:
        return False
    return bool(phonenumbers.is_possible_number(
        phonenumbers.PhoneNumber(country_code=cc, national_number=int(near))))


def clear_caches() -> None:
    for fn in (_domain_fix, phone_typo):
        fn.cache_clear()
