"""E-mail: syntax, disposable domains, one key per mailbox, machine-made local parts.

Syntax and normalisation come from `email-validator` (no DNS unless asked), the
disposable domains from `disposable-email-domains`, matched on the domain and
its parents up to the registrable domain from the Public Suffix List
(`publicsuffixlist`, which ships the list). Aliases of one mailbox (Gmail's dots
and +tags, +tags of providers that deliver them, Yahoo's -tags, case) share one
canonical key, so fifty aliases count as one person.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import email_validator
from disposable_email_domains import blocklist as DISPOSABLE
from email_validator import validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
    EMAIL_MAX_LENGTH,
)
from email_validator.syntax import validate_email_domain_name
from publicsuffixlist import PublicSuffixList

_PSL = PublicSuffixList()
_CASE_INSENSITIVE_MAILBOX_NAMES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)

#: Providers whose mailboxes ignore dots in the local part.
DOTLESS = {"gmail.com"}
#: Canonical domain for providers with several names for one mailbox: Google's two names;
#: Apple's iCloud, whose accounts also receive at me.com and mac.com; Proton, whose accounts
#: receive at proton.me, protonmail.com, protonmail.ch and pm.me (issue 13 L).
SAME_MAILBOX_DOMAIN = {
    "googlemail.com": "gmail.com",
    "me.com": "icloud.com", "mac.com": "icloud.com",
    "protonmail.com": "proton.me", "protonmail.ch": "proton.me", "pm.me": "proton.me",
}
#: Providers whose usernames ignore dots, hyphens and underscores (Proton's rule).
SEPARATORLESS = {"proton.me"}
#: Providers that deliver local+tag to local.
PLUS_TAGS = {
    "gmail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com",
    "fastmail.com", "fastmail.fm", "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "yandex.ru", "yandex.com",
    "zoho.com", "gmx.de", "gmx.net", "web.de", "posteo.de", "mailbox.org", "tutanota.com", "hey.com",
}
#: Relay services that hand real people random addresses by design (Sign in with Apple,
#: Firefox Relay, DuckDuckGo, SimpleLogin, addy.io, Proton Pass): a random-looking local
#: part there is the service's doing, not a script's, so it earns no `email_machine_made`.
#: Each relay address forwards to a real mailbox behind an account of the service.
RELAY_DOMAINS = frozenset({
    "privaterelay.appleid.com", "mozmail.com", "duck.com", "simplelogin.com", "simplelogin.co",
    "aleeas.com", "slmail.me", "anonaddy.me", "anonaddy.com", "addy.io", "passmail.net", "passinbox.com",
})
#: Providers that deliver base-keyword to base (Yahoo's disposable addresses).
DASH_TAGS = {"yahoo.com", "yahoo.co.uk", "yahoo.de", "yahoo.fr", "ymail.com", "rocketmail.com"}


@dataclass(frozen=True)
class EmailSignals:
    valid: bool
    normalized: str | None = None
    canonical: str | None = None  # one key per mailbox
    domain: str | None = None
    disposable: bool = False
    machine_score: float = 0.0  # 0: looks typed by a person, 1: looks generated
    reasons: tuple[str, ...] = field(default_factory=tuple)


@lru_cache(maxsize=65_536)
def is_disposable(domain: str) -> bool:
    """The domain or a parent of it (up to the registrable domain) is a throwaway provider."""
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
    if domain in SEPARATORLESS:
        local = local.replace(".", "").replace("-", "").replace("_", "")
    return f"{local}@{domain}"


def tagged(local: str, domain: str) -> bool:
    """An explicit alias: a +tag (or Yahoo -tag) the provider delivers to the base mailbox."""
    domain = SAME_MAILBOX_DOMAIN.get(domain.lower(), domain.lower())
    return (domain in PLUS_TAGS and "+" in local) or (domain in DASH_TAGS and "-" in local)


def dot_farmed(local: str, domain: str) -> bool:
    """Dots sprinkled into a dot-blind mailbox (j.a.n.e.d.o.e): one dot is just a name."""
    domain = SAME_MAILBOX_DOMAIN.get(domain.lower(), domain.lower())
    return domain in DOTLESS and local.count(".") >= 3


_VOWELS = set("aeiouy")
_CONSONANTS = "bcdfghjklmnpqrstvwxz"
#: Byte classes for the fast machine score: d digit, v vowel, c consonant, _ anything else.
_KIND = bytes(ord("d") if chr(i) in "0123456789" else ord("v") if chr(i).lower() in _VOWELS
              else ord("c") if chr(i).lower() in _CONSONANTS else ord("_") for i in range(256))
#: ... then letter (a), digit (d) or other (_), to count letter-digit switches with bytes.count.
_ALNUM = bytes(ord("a") if chr(i) in "vc" else i for i in range(256))
#: runs of 5.. digits and 5.. consonants; a run of 4 or less adds nothing, and the terms stop
#: growing at 8 digits and 7 consonants
_DIGIT_RUNS = (b"ddddd", b"dddddd", b"ddddddd", b"dddddddd")
_CONSONANT_RUNS = (b"ccccc", b"cccccc", b"ccccccc")
#: the score terms for a run of 4 or less, 5, 6, ...: the expressions below, evaluated once
_DIGIT_TERMS = tuple(min(0.4, max(0, run - 4) * 0.1) for run in range(4, 9))
_CONSONANT_TERMS = tuple(min(0.3, max(0, run - 4) * 0.1) for run in range(4, 8))


@lru_cache(maxsize=512)
def _entropy_terms(n: int) -> tuple[float, ...]:
    """`c / n * log2(c / n)` for c = 0..n (a character's share of the entropy of a text of
    length n), then the entropy of n different characters, summed as over `Counter(s)`."""
    terms = (0.0, *(c / n * math.log2(c / n) for c in range(1, n + 1)))
    return (*terms, -sum(terms[1] for _ in range(n)))


def _run(kinds: bytes, needles: tuple[bytes, ...]) -> int:
    """How many of `needles` (runs of 5, 6, ... of one class) occur: 0 for a run of 4 or less."""
    found = 0
    for needle in needles:
        if needle not in kinds:
            break
        found += 1
    return found


def machine_score(local: str) -> float:
    """How generated a local part looks: long digit runs, letters and digits
    alternating, unpronounceable runs, randomness without separators.

    A heuristic, not a verdict: `jane.doe84`, `max.schmidt` and `sophie1990` score
    low; `user83749201`, `xk3q9zt7w2` and `qwrtzpl8d6` high. People separate names
    with dots or underscores; generators rarely do.

    ASCII local parts (nearly all) take a byte-class translation and counts instead
    of per-character Python loops; the result is the same float (tests/signals).
    """
    s = local.lower().split("+", 1)[0]
    if len(s) < 6:
        return 0.0
    if not s.isascii():
        return _machine_score_general(s)
    n = len(s)
    kinds = s.encode("ascii").translate(_KIND)
    digits = kinds.count(b"d")
    vowels = kinds.count(b"v")
    letters = vowels + kinds.count(b"c")
    alnum = kinds.translate(_ALNUM)
    switches = alnum.count(b"ad") + alnum.count(b"da")  # neither can overlap itself
    vowel_share = vowels / letters if letters else 0.0
    separated = "." in s or "_" in s or "-" in s
    score = 0.0
    score += _DIGIT_TERMS[_run(kinds, _DIGIT_RUNS)]  # 5+ digits in a row
    score += 0.25 if digits / n > 0.3 and letters else 0.0  # digits everywhere
    score += 0.3 if switches >= 4 else 0.0  # x3q9z7: letters and digits alternating
    score += _CONSONANT_TERMS[_run(kinds, _CONSONANT_RUNS)]  # unpronounceable
    score += 0.1 if vowel_share < 0.2 and letters >= 8 else 0.0
    # entropy <= log2(distinct characters) < 3.3 with 9 or fewer: computed only where it can count
    if n >= 10 and not separated:
        distinct = len(set(s))
        if distinct == n:  # all different (common in generated parts): the entropy depends on n alone
            entropy = _entropy_terms(n)[n + 1]
            score += 0.15 if entropy > 3.3 else 0.0
        elif distinct >= 10:
            terms = _entropy_terms(n)  # the same floats summed in the same order as over Counter(s)
            entropy = -sum(map(terms.__getitem__, map(s.count, dict.fromkeys(s))))
            score += 0.15 if entropy > 3.3 else 0.0
    return min(1.0, score)


def _machine_score_general(s: str) -> float:
    """`machine_score` for any text (non-ASCII local parts), one character at a time."""
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


def _library_defaults() -> bool:
    """The module-wide `email_validator` settings that the fast path's answers depend on are the defaults."""
    ev = email_validator
    return ev.STRICT is False and ev.GLOBALLY_DELIVERABLE is True and ev.TEST_ENVIRONMENT is False


@lru_cache(maxsize=65_536)
def _domain_part(domain_part: str) -> tuple[str, str] | None:
    """(domain, ASCII domain) of the part after the @-sign, or None when invalid.

    `email_validator`'s own domain check, once per distinct domain: in a flood the
    addresses are new but the domains repeat."""
    try:
        info = validate_email_domain_name(domain_part, test_environment=False, globally_deliverable=True)
    except Exception:  # EmailSyntaxError, or a library edge case: invalid either way
        return None
    return info["domain"], info["ascii_domain"]


def _validated(raw: str, check_deliverability: bool) -> tuple[str, str, str] | None:
    """(local part, domain, normalized address) exactly as `validate_email` gives them, None when invalid.

    Plain ASCII addresses (one dot-atom local part, a domain name) are checked with
    the library's own pieces: its dot-atom rule for the local part, and its domain
    check cached per domain. Anything else (non-ASCII, quotes, display names,
    domain literals, lengths near the limit, deliverability checks) goes through
    the whole `validate_email`.
    """
    if (not check_deliverability and raw.isascii() and '"' not in raw and "<" not in raw
            and _library_defaults()):
        local, at, domain_part = raw.partition("@")
        if at and domain_part and "[" not in domain_part and DOT_ATOM_TEXT.match(local):
            parts = _domain_part(domain_part)
            if parts is None:
                return None
            domain, ascii_domain = parts
            if local.lower() in _CASE_INSENSITIVE_MAILBOX_NAMES:
                local = local.lower()
            normalized = f"{local}@{domain}"
            if (len(raw) <= EMAIL_MAX_LENGTH and len(local) + 1 + len(ascii_domain) <= EMAIL_MAX_LENGTH
                    and len(normalized.encode("utf8")) <= EMAIL_MAX_LENGTH):
                return local, domain, normalized
    try:
        info = validate_email(raw, check_deliverability=check_deliverability, allow_smtputf8=True)
    except Exception:  # EmailNotValidError, or a library edge case that must not turn into a 500
        return None
    return info.local_part, info.domain, info.normalized


@lru_cache(maxsize=65_536)
def _mailbox_rules(domain: str) -> tuple[bool, str, bool, bool, bool]:
    """(disposable, mailbox domain, +tags, -tags, dot-blind) of a lower-case domain, once per domain."""
    mailbox_domain = SAME_MAILBOX_DOMAIN.get(domain, domain)
    return (is_disposable(domain), mailbox_domain, mailbox_domain in PLUS_TAGS, mailbox_domain in DASH_TAGS,
            mailbox_domain in DOTLESS)


_INVALID = EmailSignals(valid=False, reasons=("email_invalid",))


@lru_cache(maxsize=65_536)
def analyze_email(raw: str, check_deliverability: bool = False) -> EmailSignals:
    """Signals of one address; never raises on the address's content.

    The same result as `validate_email` followed by `is_disposable`, `machine_score`,
    `canonical_mailbox`, `tagged` and `dot_farmed`, with the per-domain work done
    once per domain (tests/signals/test_signals_fastpath.py proves it equal).
    """
    if not isinstance(raw, str):
        raise TypeError("email must be a string")
    parts = _validated(raw, check_deliverability)
    if parts is None:
        return _INVALID
    local, domain, normalized = parts
    domain = domain.lower()
    disposable, mailbox_domain, plus, dash, dotless = _mailbox_rules(domain)
    reasons: list[str] = []
    if disposable:
        reasons.append("email_disposable")
    score = machine_score(local)
    if score >= 0.5 and domain not in RELAY_DOMAINS:
        reasons.append("email_machine_made")
    key = local.lower()
    if plus:
        key = key.split("+", 1)[0]
    if dash:
        key = key.split("-", 1)[0]
    if dotless:
        key = key.replace(".", "")
    if mailbox_domain in SEPARATORLESS:
        key = key.replace(".", "").replace("-", "").replace("_", "")
    if (plus and "+" in local) or (dash and "-" in local) or (dotless and local.count(".") >= 3):
        reasons.append("email_alias")
    return EmailSignals(True, normalized, f"{key}@{mailbox_domain}", domain, disposable, score, tuple(reasons))


def clear_caches() -> None:
    """Forget every cached address and domain (benchmarks, tests)."""
    for fn in (analyze_email, _domain_part, _mailbox_rules, is_disposable):
        fn.cache_clear()
