"""The rally flood: real supporters and fakes using each tactic from the articles.

Real people use common providers, name-like addresses, valid mobile numbers from
several countries, their own networks and devices, and arrive over days. Fakes use
the tactics reported around the 2020 Tulsa rally: throwaway domains, aliases of one
mailbox, invalid, virtual and sequential numbers, shared networks, and a burst of
teenagers following a viral video's recipe (a throwaway address and number, a few
registrations each from their own phone). Clean-looking fakes are mixtures: every
field looks real on its own, and each operator has one weakness that shows in
all the identities it makes (one inbox behind dotted and tagged aliases, a
number app's virtual numbers, or one browser's device id).

One more kind is labelled apart, `own_identity`: people who reserve with their own
address, number, device and network and never come. They are real people who lie
about their intent; nothing at registration can tell them from supporters, so the
ledger gives them what any person gets (the per-person limit) and the headcount
estimate, not the risk decision, is what accounts for them.

Every registrant carries its label, tactic and operator (who is behind it), so
detection and linking can be scored.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

import phonenumbers
from disposable_email_domains import blocklist as DISPOSABLE
from phonenumbers import PhoneNumberType

from headcount.signals.email import canonical_mailbox
from headcount.signals.phone import FICTIONAL_PREFIXES

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
#: Fakes in intent only (their own identity in every field): reported apart, see above.
OWN_IDENTITY = "own_identity"
DAY = 86400


@dataclass(frozen=True)
class Registrant:
    label: str  # "real" or "fake"
    tactic: str  # "real", one of TACTICS, or OWN_IDENTITY
    email: str | None
    phone: str | None
    ip: str
    user_agent: str
    ts: float
    device: str | None = None  # the client's device id (a cookie or app install id)
    operator: str = ""  # who is behind it: a person's own id, or the fake's maker

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _public_ip(rng: random.Random) -> str:
    while True:
        address = ipaddress.IPv4Address(rng.randint(0x01000000, 0xDFFFFFFF))
        if address.is_global:
            return str(address)


US_AREAS = ["201", "212", "213", "305", "312", "404", "415", "512", "602", "617", "702", "713", "718",
            "817", "901", "917", "918"]  # 918: Tulsa


def _example(region: str, *kinds: int) -> phonenumbers.PhoneNumber:
    """The library's example number of the first of `kinds` the region has one for."""
    for kind in kinds:
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            return example
    raise ValueError(f"phonenumbers has no example number of types {kinds} for region {region!r}")


def _mobile(rng: random.Random, region: str) -> str:
    """A valid mobile number of the region with random subscriber digits (numbers of real
    people are spread over the numbering plan, not bunched in one block)."""
    example = _example(region, PhoneNumberType.MOBILE)
    digits = str(example.national_number)
    for _ in range(200):
        if region == "US":
            candidate = f"{rng.choice(US_AREAS)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        else:  # keep the leading digits that make it a mobile range, randomise the rest
            candidate = digits[:2] + "".join(rng.choice("0123456789") for _ in digits[2:])
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
            PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE
        ) and candidate[3:8] != "55501" and not phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164).startswith(FICTIONAL_PREFIXES):
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


def _device(rng: random.Random) -> str:
    return f"dev-{rng.getrandbits(64):016x}"


def _virtual_number(rng: random.Random, i: int) -> str:
    """A toll-free or VoIP number (the kind a number app hands out), varied in its last digits."""
    region = rng.choice(["US", "GB", "FR", "IT", "PL", "NL"])
    kind = rng.choice([PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP])
    example = _example(region, kind, PhoneNumberType.TOLL_FREE)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)[:-2] + f"{i % 100:02d}"


def _dotted(box: str, rng: random.Random) -> str:
    """Dots sprinkled into a Gmail mailbox name: the same mailbox to Gmail."""
    return "".join(c + ("." if rng.random() < 0.4 and k < len(box) - 1 and c != "." else "")
                   for k, c in enumerate(box))


def _alias(box: str, rng: random.Random, unique: Callable[..., str]) -> str:
    """A new alias of one Gmail mailbox: a +tag, or dots sprinkled into the name."""
    for _ in range(100):
        alias = f"{box}+{rng.randint(1, 10**6)}@gmail.com" if rng.random() < 0.7 else f"{_dotted(box, rng)}@gmail.com"
        try:
            return unique(alias, rename=False)
        except ValueError:
            continue
    return unique(f"{box}+{rng.getrandbits(48)}@gmail.com", rename=False)


def rally_population(real: int = 6_200, fakes_per_tactic: int = 1_000, days: float = 7.0,
                     seed: int = 2020, start: float = 1_592_000_000.0,
                     own_identity: int = 0) -> list[Registrant]:
    """Real supporters, fakes of every tactic and `own_identity` no-shows, by arrival time."""
    rng = random.Random(seed)
    out: list[Registrant] = []
    seen_emails: set[str] = set()
    seen_boxes: set[str] = set()

    def unique(email: str, rename: bool = True) -> str:
        """The address, unused by anyone else; a taken one gets digits (a new mailbox) when
        `rename`, else ValueError. Taken means the address or its mailbox (Gmail's dots and
        +tags): two people never share a mailbox; an operator's aliases pass rename=False."""
        local, _, domain = email.partition("@")
        while email in seen_emails or (rename and canonical_mailbox(local, domain) in seen_boxes):
            if not rename:
                raise ValueError(email)
            local = f"{local}{rng.randint(1, 9)}"
            email = f"{local}@{domain}"
        seen_emails.add(email)
        seen_boxes.add(canonical_mailbox(local, domain))
        return email

    def someone(label: str, tactic: str, operator: str) -> Registrant:
        """A person in every field: name-like address, own number, network and device."""
        return Registrant(label, tactic, unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}"),
                          _mobile(rng, rng.choice(COUNTRIES)), _public_ip(rng), rng.choice(BROWSERS),
                          start + rng.random() * days * DAY, _device(rng), operator)

    for i in range(real):
        out.append(someone("real", "real", f"real-{i}"))
    for i in range(own_identity):
        out.append(someone("fake", OWN_IDENTITY, f"own-{i}"))
    disposable = sorted(DISPOSABLE)[:400]
    viral_at = start + days * DAY * 0.6  # the video went viral
    mailboxes = [unique(f"{_person_local(rng)}{rng.randint(1, 99)}@gmail.com").partition("@")[0]
                 for _ in range(max(1, fakes_per_tactic // 40))]
    block_base = 10**7 + rng.randint(0, 10**6)
    farm = [f"{rng.randint(23, 198)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}" for _ in range(3)]
    invalid = ["+1 555 0000", "12345", "+49 000 000", "0000000000", "+44 20 0000 0000", "call me", "+1 999 999 9999"]

    for tactic in TACTICS[:6]:
        for i in range(fakes_per_tactic):
            email: str | None = unique(f"{_random_local(rng)}@{rng.choice(PROVIDERS)}")
            phone: str | None = _mobile(rng, rng.choice(COUNTRIES))
            ip = _public_ip(rng)
            operator = f"{tactic}-{i}"
            if tactic == "disposable":
                email = unique(f"{_random_local(rng)}@{rng.choice(disposable)}")
            elif tactic == "aliases":  # one mailbox, many registrations: +tags and dots
                box = rng.choice(mailboxes)
                operator = f"aliases-{box}"
                email = _alias(box, rng, unique)
            elif tactic == "invalid_phone":
                phone = rng.choice(invalid) + ("" if rng.random() < 0.5 else str(rng.randint(0, 9)))
            elif tactic == "virtual_phone":
                phone = _virtual_number(rng, i)
            elif tactic == "sequential_phone":  # a block of consecutive numbers: each one is valid
                phone = f"+49151{block_base + i}"
                email = unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}")
                operator = "sequential_phone-block"
            elif tactic == "shared_network":  # clean-looking people from three server networks
                email = unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}")
                ip = f"{rng.choice(farm)}.{rng.randint(1, 254)}"
                operator = f"shared_network-{ip.rsplit('.', 1)[0]}"
            out.append(Registrant("fake", tactic, email, phone, ip, rng.choice(BROWSERS),
                                  start + rng.random() * days * DAY, _device(rng), operator))
    out.extend(_viral_burst(rng, fakes_per_tactic, viral_at, disposable, unique))
    out.extend(_clean_looking(rng, fakes_per_tactic, start, days, unique))
    out.sort(key=lambda r: r.ts)
    return out


def _viral_burst(rng: random.Random, n: int, viral_at: float, disposable: list[str],
                 unique: Callable[..., str]) -> list[Registrant]:
    """Teenagers following the video's recipe within six hours of it going viral.

    Each makes two to twelve registrations within half an hour from their own phone
    (one device, one home network), each with a throwaway address (a disposable
    domain, or a generated one at a big provider) and a throwaway number (a number
    app's virtual number, or someone's mobile number typed in); some script it.
    """
    out: list[Registrant] = []
    teen = 0
    while len(out) < n:
        teen += 1
        device, home = _device(rng), _public_ip(rng).rsplit(".", 1)[0]
        scripted = rng.random() < 0.3
        ua = rng.choice(["python-requests/2.24.0", "Mozilla/5.0 HeadlessChrome/84.0"]) if scripted \
            else rng.choice(BROWSERS)
        began = viral_at + rng.random() * 6 * 3600
        for _ in range(min(rng.randint(2, 12), n - len(out))):
            domain = rng.choice(disposable) if rng.random() < 0.4 else rng.choice(PROVIDERS)
            phone = _virtual_number(rng, len(out)) if rng.random() < 0.4 else _mobile(rng, rng.choice(COUNTRIES))
            out.append(Registrant("fake", "viral_burst", unique(f"{_random_local(rng)}@{domain}"), phone,
                                  f"{home}.{rng.randint(1, 254)}", ua, began + rng.random() * 1800, device,
                                  f"viral-{teen}"))
    return out


#: The one thing a clean-looking fake's operator reuses or cannot make look real.
CLEAN_LOOKING_TELLS = ("mailbox_alias", "virtual_number", "device")


def _clean_looking(rng: random.Random, n: int, start: float, days: float,
                   unique: Callable[..., str]) -> list[Registrant]:
    """Operators, about 40 identities each, every field real-looking on its own.

    Each operator has one weakness that shows in every identity it makes: it
    reads all confirmations in one Gmail inbox (dotted and tagged aliases), it
    gets its numbers from a number app (virtual numbers), or it works from one
    browser (its device id). An operator that varies all of these and stays under
    the velocity limits is a mimic: see `own_identity`.
    """
    operators = [{"id": f"clean-{k}", "tell": rng.choice(CLEAN_LOOKING_TELLS), "device": _device(rng),
                  "box": unique(f"{_person_local(rng).replace('.', '').replace('_', '')}{rng.randint(10, 99)}"
                                f"@gmail.com").partition("@")[0]}
                 for k in range(max(1, n // 40))]
    out: list[Registrant] = []
    for i in range(n):
        op = rng.choice(operators)
        person = Registrant("fake", "clean_looking", None, _mobile(rng, rng.choice(COUNTRIES)), _public_ip(rng),
                            rng.choice(BROWSERS), start + rng.random() * days * DAY, _device(rng), str(op["id"]))
        changes: dict[str, object] = {"email": unique(f"{_person_local(rng)}@{rng.choice(PROVIDERS)}")}
        if op["tell"] == "mailbox_alias":
            changes["email"] = _alias(str(op["box"]), rng, unique)
        elif op["tell"] == "virtual_number":
            changes["phone"] = _virtual_number(rng, i)
        else:
            changes["device"] = op["device"]
        out.append(Registrant(**{**asdict(person), **changes}))  # type: ignore[arg-type]
    return out
