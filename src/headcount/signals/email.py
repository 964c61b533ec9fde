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

from disposable_email_domains import blocklist as DISPOSABLE
from email_validator import EmailNotValidError, validate_email
from publicsuffixlist import PublicSuffixList

_PSL = PublicSuffixList()

#: Providers whose mailboxes ignore dots in the local part.
DOTLESS = {"gmail.com"}
#: Canonical domain for providers with several names for one mailbox.
SAME_MAILBOX_DOMAIN = {"googlemail.com": "gmail.com"}
#: Providers that deliver local+tag to local.
PLUS_TAGS = {
    "gmail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com", "mac.com",
    "fastmail.com", "fastmail.fm", "proton.me", "protonmail.com", "pm.me", "yandex.ru", "yandex.com",
    "zoho.com", "gmx.de", "gmx.net", "web.de", "posteo.de", "mailbox.org", "tutanota.com", "hey.com",
}
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


def machine_score(local: str) -> float:
    """How generated a local part looks: long digit runs, letters and digits
    alternating, unpronounceable runs, randomness without separators.

    A heuristic, not a verdict: `jane.doe84`, `max.schmidt` and `sophie1990` score
    low; `user83749201`, `xk3q9zt7w2` and `qwrtzpl8d6` high. People separate names
    with dots or underscores; generators rarely do.
    """
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


@lru_cache(maxsize=65_536)
def analyze_email(raw: str, check_deliverability: bool = False) -> EmailSignals:
    """Signals of one address; never raises on the address's content."""
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
