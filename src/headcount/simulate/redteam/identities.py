"""Identity parts with known truth: mailboxes, numbers, networks, devices, user agents.

Each maker takes the caller's `random.Random`, so a world is the same for the same
seed. Real-looking parts are spread the way people's are (name-like mailboxes at
common providers, valid mobile numbers all over the numbering plan, home networks
all over the address space); the attackers' parts carry the tells their strategy
names and nothing else.
"""

from __future__ import annotations

import ipaddress
import random

import phonenumbers
from disposable_email_domains import blocklist as _DISPOSABLE
from phonenumbers import PhoneNumberFormat, PhoneNumberType

FIRST = ["anna", "ben", "carla", "david", "emma", "felix", "grace", "henry", "ines", "jack", "julia", "karl",
         "laura", "liam", "maria", "mason", "nina", "noah", "olivia", "paul", "rosa", "sam", "sofia", "tom",
         "amir", "chen", "priya", "yuki", "lucas", "mia", "omar", "zoe", "ivan", "lena", "marco", "elif"]
LAST = ["smith", "johnson", "miller", "garcia", "davis", "martin", "brown", "wilson", "moore", "taylor",
        "mueller", "schmidt", "schneider", "fischer", "weber", "rossi", "dubois", "kowalski", "jansen",
        "nguyen", "patel", "kim", "silva", "novak", "yilmaz", "haddad", "larsen", "costa", "ivanova"]
#: Big providers, weighted roughly by how common they are among a Western crowd.
PROVIDERS = ["gmail.com"] * 6 + ["outlook.com", "hotmail.com", "yahoo.com", "icloud.com"] * 2 + [
    "web.de", "gmx.de", "aol.com", "t-online.de", "orange.fr", "libero.it", "proton.me"]
#: Misspellings of providers that people type and would correct if asked.
PROVIDER_TYPOS = {"gmial.com": "gmail.com", "gmai.com": "gmail.com", "gnail.com": "gmail.com",
                  "hotmial.com": "hotmail.com", "yaho.com": "yahoo.com", "outlok.com": "outlook.com",
                  "iclod.com": "icloud.com"}
CAMPUS_DOMAINS = ["umich.edu", "ox.ac.uk", "tu-berlin.de", "ethz.ch", "uva.nl", "unimi.it"]
OFFICE_DOMAINS = ["acme-logistics.com", "northwind-bank.de", "contoso-health.org"]
COUNTRIES = ["US", "US", "US", "US", "DE", "GB", "FR", "IT", "ES", "NL", "PL", "CA"]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.{m} Mobile/15E148 Safari/604.1"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} "
     "Safari/605.1.15"),
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    ("Mozilla/5.0 (Linux; Android 14; Pixel {m}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile "
     "Safari/537.36"),
    ("Mozilla/5.0 (Linux; Android 13; SM-S91{m}B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile "
     "Safari/537.36"),
]
SCRIPTED_UAS = ["python-requests/2.31.0", "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0.0.0",
                "curl/8.4.0", "Go-http-client/1.1"]
US_AREAS = ["201", "212", "213", "305", "312", "404", "415", "512", "602", "617", "702", "713", "718",
            "817", "901", "917", "918"]
#: Egress networks of an Apple-private-relay-like service: many people leave through few /24s.
RELAY_EGRESS = ["172.224.226", "172.225.46", "104.28.40", "104.28.88", "146.75.164"]
DISPOSABLE = sorted(_DISPOSABLE)[:2000]


def user_agent(rng: random.Random) -> str:
    """A current browser's user agent with its version varied as people's are."""
    return rng.choice(BROWSERS).format(v=rng.randint(118, 126), m=rng.randint(1, 8))


def device(rng: random.Random) -> str:
    """A client's device id (a cookie or app install id)."""
    return f"dev-{rng.getrandbits(64):016x}"


def public_ip(rng: random.Random) -> str:
    """A global unicast IPv4 address anywhere in the address space (a home line)."""
    while True:
        address = ipaddress.IPv4Address(rng.randint(0x01000000, 0xDFFFFFFF))
        if address.is_global:
            return str(address)


def public_net24(rng: random.Random) -> str:
    """A public /24, as its first three octets."""
    return public_ip(rng).rsplit(".", 1)[0]


def residential_proxy_ip(rng: random.Random, sixteens: list[str]) -> str:
    """An exit of a residential proxy pool: a random home line in one of many /16s."""
    return f"{rng.choice(sixteens)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def proxy_sixteens(rng: random.Random, n: int) -> list[str]:
    """The /16s a residential proxy pool's exits are spread over."""
    out: set[str] = set()
    while len(out) < n:
        out.add(public_ip(rng).rsplit(".", 2)[0])
    return sorted(out)


def person_local(rng: random.Random) -> str:
    """A name-like mailbox name, as people choose them."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return rng.choice([f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}", f"{first}_{last}",
                       f"{first}.{last}{rng.randint(1, 99)}", f"{first}{rng.randint(1955, 2008)}",
                       f"{last}.{first}", f"{first}{last[0]}{rng.randint(1, 999)}"])


def random_local(rng: random.Random) -> str:
    """A throwaway mailbox name: generated, not chosen."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return rng.choice(["".join(rng.choice(alphabet) for _ in range(rng.randint(8, 14))),
                       f"user{rng.randint(10**6, 10**9)}", f"{rng.choice(FIRST)}{rng.randint(10**5, 10**7)}"])


def relay_address(rng: random.Random) -> str:
    """An Apple private-relay or iCloud Hide-My-Email address: random by design, and real."""
    if rng.random() < 0.5:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(rng.choice(alphabet) for _ in range(10)) + "@privaterelay.appleid.com"
    words = ["amber", "brisk", "cedar", "dune", "ember", "fjord", "glint", "harbor", "ivory", "jade", "kite",
             "lumen", "maple", "nova", "onyx", "pebble", "quartz", "ridge", "sable", "tidal"]
    return f"{rng.choice(words)}-{rng.choice(words)}.{rng.randint(0, 9)}{rng.choice('abcdefghjk')}@icloud.com"


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mobile(rng: random.Random, region: str | None = None) -> str:
    """A valid mobile number with random subscriber digits (people's numbers are spread
    over the numbering plan, not bunched in one block), in E.164."""
    region = region or rng.choice(COUNTRIES)
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    assert example is not None, f"phonenumbers has no example mobile for {region}"
    digits = str(example.national_number)
    for _ in range(200):
        if region in ("US", "CA"):
            candidate = f"{rng.choice(US_AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            if candidate[3:6] == "555":
                continue
        else:  # keep the leading digits that make it a mobile range, randomise the rest
            candidate = digits[:2] + "".join(rng.choice("0123456789") for _ in digits[2:])
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
                PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
            return _e164(number)
    return _e164(example)


def local_mobile(rng: random.Random, area: str) -> str:
    """A valid number in `area` (an E.164 number without its last five digits): a town's
    people share a carrier's ranges, so their numbers bunch in a few areas."""
    for _ in range(200):
        candidate = f"{area}{rng.randint(0, 99_999):05d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate
    return mobile(rng)


def mobile_block(rng: random.Random, size: int) -> list[str]:
    """`size` consecutive valid mobile numbers, as a bulk seller of SIM cards sells them."""
    while True:
        base = mobile(rng, rng.choice(["US", "DE", "GB"]))
        head, tail = base[:-3], int(base[-3:])
        start = min(tail, 999 - size) if size < 1000 else 0
        numbers = [f"{head}{start + k:03d}" for k in range(min(size, 1000))]
        if all(phonenumbers.is_valid_number(phonenumbers.parse(n)) for n in numbers[:: max(1, len(numbers) // 5)]):
            return numbers


def virtual_number(rng: random.Random) -> str:
    """A VoIP or toll-free number (what a number app hands out), varied in its last digits."""
    region = rng.choice(["US", "GB", "FR", "IT", "PL", "NL"])
    kind = rng.choice([PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP])
    example = phonenumbers.example_number_for_type(region, kind) or \
        phonenumbers.example_number_for_type(region, PhoneNumberType.TOLL_FREE)
    assert example is not None, f"phonenumbers has no example virtual number for {region}"
    return _e164(example)[:-3] + f"{rng.randint(0, 999):03d}"


def phone_one_digit_short(number: str, rng: random.Random) -> str:
    """The number with one digit left out, as a person mistypes it."""
    k = rng.randint(4, len(number) - 1)
    return number[:k] + number[k + 1:]


def dotted(box: str, rng: random.Random) -> str:
    """Dots sprinkled into a Gmail mailbox name: the same mailbox to Gmail."""
    return "".join(c + ("." if rng.random() < 0.4 and k < len(box) - 1 and c != "." else "")
                   for k, c in enumerate(box))
