"""The rally flood: real supporters and fakes using each tactic from the articles.

Real people use common providers, name-like addresses, valid mobile numbers from
several countries, their own networks, and arrive over days. Fakes use the
tactics reported around the 2020 Tulsa rally: throwaway domains, aliases of one
mailbox, invalid, virtual and sequential numbers, shared networks, and a burst
after a video went viral; some are made to look clean. Every registrant carries
its label and tactic, so detection can be scored.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import asdict, dataclass

import phonenumbers
from disposable_email_domains import blocklist as DISPOSABLE
from phonenumbers import PhoneNumberType

FIRST = ["anna", "ben", "carla", "david", "emma", "felix", "grace", "henry", "ines", "jack", "julia", "karl",
         "laura", "liam", "maria", "mason", "nina", "noah", "olivia", "paul", "rosa", "sam", "sofia", "tom"]
LAST = ["smith", "johnson", "miller", "garcia", "davis", "martin", "brown", "wilson", "moore", "taylor",
        "mueller", "schmidt", "schneider", "fischer", "weber", "rossi", "dubois", "kowalski", "jansen"]
PROVIDERS = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "web.de", "gmx.de", "hotmail.com",
             "aol.com", "t-online.de", "orange.fr", "libero.it"]
COUNTRIES = ["US", "US", "US", "DE", "GB", "FR", "IT", "ES", "NL", "PL"]
BROWSERS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile Safari/604.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36"]
TACTICS = ["disposable", "aliases", "invalid_phone", "virtual_phone", "sequential_phone",
           "shared_network", "viral_burst", "clean_looking"]
DAY = 86400


@dataclass(frozen=True)
class Registrant:
    label: str  # "real" or "fake"
    tactic: str  # "real" or one of TACTICS
    email: str | None
    phone: str | None
    ip: str
    user_agent: str
    ts: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _public_ip(rng: random.Random) -> str:
    while True:
        address = ipaddress.IPv4Address(rng.randint(0x01000000, 0xDFFFFFFF))
        if address.is_global:
            return str(address)


US_AREAS = ["201", "212", "213", "305", "312", "404", "415", "512", "602", "617", "702", "713", "718",
            "817", "901", "917", "918"]  # 918: Tulsa


def _mobile(rng: random.Random, region: str) -> str:
    """A valid mobile number of the region with random subscriber digits (numbers of real
    people are spread over the numbering plan, not bunched in one block)."""
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    digits = str(example.national_number)
    for _ in range(200):
        if region == "US":
            candidate = f"{rng.choice(US_AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        else:  # keep the leading digits that make it a mobile range, randomise the rest
            candidate = digits[:2] + "".join(rng.choice("0123456789") for _ in digits[2:])
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
            PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE
        ) and candidate[3:8] != "55501":
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _person_local(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return rng.choice([f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}", f"{first}_{last}",
                       f"{first}.{last}{rng.randint(1, 99)}", f"{first}{rng.randint(1955, 2007)}"])


def _random_local(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return rng.choice([
        "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 14))),
        f"user{rng.randint(10**6, 10**9)}",
        f"{rng.choice(FIRST)}{rng.randint(10**5, 10**7)}",
    ])


def rally_population(real: int = 6_200, fakes_per_tactic: int = 1_000, days: float = 7.0,
                     seed: int = 2020, start: float = 1_592_000_000.0) -> list[Registrant]:
    """Real supporters and fakes of every tactic, shuffled by arrival time."""
    rng = random.Random(seed)
    out: list[Registrant] = []
    seen_emails: set[str] = set()

    def unique(email: str) -> str:
        while email in seen_emails:
            local, _, domain = email.partition("@")
            email = f"{local}{rng.randint(1, 9)}@{domain}"
        seen_emails.add(email)
        return email

    for _ in range(real):
        out.append(Registrant("real", "real", unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}"),
                              _mobile(rng, rng.choice(COUNTRIES)), _public_ip(rng), rng.choice(BROWSERS),
                              start + rng.random() * days * DAY))
    disposable = sorted(DISPOSABLE)[:400]
    viral_at = start + days * DAY * 0.6  # the video went viral
    mailboxes = [f"{_person_local(rng)}{rng.randint(1, 99)}" for _ in range(max(1, fakes_per_tactic // 40))]
    block_base = 10**7 + rng.randint(0, 10**6)
    farm = [f"{rng.randint(23, 198)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}" for _ in range(3)]
    invalid = ["+1 555 0000", "12345", "+49 000 000", "0000000000", "+44 20 0000 0000", "call me", "+1 999 999 9999"]

    for tactic in TACTICS:
        for i in range(fakes_per_tactic):
            email: str | None = unique(f"{_random_local(rng)}@{rng.choice(PROVIDERS)}")
            phone: str | None = _mobile(rng, rng.choice(COUNTRIES))
            ip = _public_ip(rng)
            ua = rng.choice(BROWSERS)
            ts = start + rng.random() * days * DAY
            if tactic == "disposable":
                email = unique(f"{_random_local(rng)}@{rng.choice(disposable)}")
            elif tactic == "aliases":  # one mailbox, many registrations: +tags and dots
                box = rng.choice(mailboxes)
                for _ in range(100):
                    if rng.random() < 0.7:
                        alias = f"{box}+{rng.randint(1, 10**6)}@gmail.com"
                    else:
                        dots = "".join(c + ("." if rng.random() < 0.4 and k < len(box) - 1 else "")
                                       for k, c in enumerate(box))
                        alias = f"{dots}@gmail.com"
                    if alias not in seen_emails:
                        break
                seen_emails.add(alias)
                email = alias
            elif tactic == "invalid_phone":
                phone = rng.choice(invalid) + ("" if rng.random() < 0.5 else str(rng.randint(0, 9)))
            elif tactic == "virtual_phone":
                region = rng.choice(["US", "GB", "FR", "IT", "PL", "NL"])
                kind = rng.choice([PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP])
                example = phonenumbers.example_number_for_type(region, kind) or \
                    phonenumbers.example_number_for_type(region, PhoneNumberType.TOLL_FREE)
                phone = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[:-2] + f"{i % 100:02d}"
            elif tactic == "sequential_phone":  # a block of consecutive numbers: each one is valid
                phone = f"+49151{block_base + i}"
                email = unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}")
            elif tactic == "shared_network":  # clean-looking people from three server networks
                email = unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}")
                ip = f"{rng.choice(farm)}.{rng.randint(1, 254)}"
            elif tactic == "viral_burst":  # generated accounts within hours of the video, some scripted
                ts = viral_at + rng.random() * 6 * 3600
                if rng.random() < 0.3:
                    ua = rng.choice(["python-requests/2.24.0", "Mozilla/5.0 HeadlessChrome/84.0"])
            elif tactic == "clean_looking":  # made to look like a real supporter in every field
                email = unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}")
            out.append(Registrant("fake", tactic, email, phone, ip, ua, ts))
    out.sort(key=lambda r: r.ts)
    return out
