"""The fast paths of the signals give exactly what the plain library path gave.

`tests/signals/_reference.py` keeps the signals as they were (every address
through `validate_email`, every IP through `ipaddress`, `is_valid_number` and
`number_type` both asked). Each test compares whole results (reasons, keys,
scores, the normalized forms), on generated, random and edge inputs.
"""

from __future__ import annotations

import ipaddress
import random

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from headcount.guard.identity import IdentityGuard
from headcount.privacy.keyring import parse_keys
from headcount.signals import analyze_email, analyze_network, analyze_phone, clear_caches
from headcount.signals.email import machine_score
from headcount.signals.network import _SPECIAL
from headcount.simulate.rally import rally_population
from headcount.types import ActorInfo
from tests.signals import _reference as ref

DOMAINS = ["gmail.com", "GoogleMail.com", "web.de", "outlook.com", "yahoo.com", "mailinator.com", "example.org",
           "gmx.net", "sub.mailinator.com", "xn--bcher-kva.de", "bücher.de", "localhost", "foo.invalid",
           "mail.arpa", "a..b.com", "-a.com", "a-.com", "x.y", "123.com", "com", "EXAMPLE.COM.", "[1.2.3.4]",
           "[IPv6:2001:db8::1]", "xn--zz.com", "ab--cd.com", "a" * 64 + ".com", ("a" * 60 + ".") * 4 + "com",
           "yahoo.co.uk", "hotmail.com", "icloud.com", "t-online.de", "guerrillamail.com", "10minutemail.com"]
LOCALS = ["anna.meyer1", "user83749201", "j.doe+5", "ben_77x", "xk3q9zt7w2", "Jane.Doe+tickets", "bob-rally2020",
          "j.a.n.e.d.o.e", "POSTMASTER", "Info", ".a", "a.", "a..b", "", "a b", '"quoted"', '"a@b"', "ünïcödé",
          "a" * 64, "a" * 65, "a" * 240, "x!#$%&'*/=?^`{|}~y", "1234567890", "qwrtzpl8d6", "a+b+c", "a-b-c"]


def _same_email(address: str) -> None:
    assert analyze_email.__wrapped__(address) == ref.analyze_email(address), address


def test_email_matches_the_library_on_listed_addresses() -> None:
    clear_caches()
    for local in LOCALS:
        for domain in DOMAINS:
            _same_email(f"{local}@{domain}")
    for odd in ["", "@", "a@", "@b.com", "a@b@c.com", "Jane <jane@gmail.com>", "jane@gmail.com ", " jane@gmail.com",
                "jane@gmail.com\n", "a@b.com" + "m" * 250, "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57,
                "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58, "jane@ｇmail.com", "jane＠gmail.com"]:
        _same_email(odd)


def test_email_matches_the_library_on_rally_addresses() -> None:
    clear_caches()
    for registrant in rally_population(real=300, fakes_per_tactic=60):
        if registrant.email:
            _same_email(registrant.email)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.emails())
def test_email_matches_the_library_on_generated_addresses(address: str) -> None:
    _same_email(address)
    _same_email(address.upper())


ASCII_LOCAL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789._-+!#$'\"()@ "), max_size=70)


@settings(max_examples=1500, deadline=None)
@given(ASCII_LOCAL, st.sampled_from(DOMAINS))
@example("Info", "gmail.com")
def test_email_matches_the_library_on_ascii_parts(local: str, domain: str) -> None:
    _same_email(f"{local}@{domain}")


@settings(max_examples=800, deadline=None)
@given(st.text(max_size=80))
def test_email_matches_the_library_on_any_text(text: str) -> None:
    _same_email(text)
    _same_email(f"{text}@gmail.com")
    _same_email(f"jane@{text}")


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzAEIOUY0123456789._-+"), max_size=70),
                 st.text(max_size=40)))
def test_machine_score_is_the_same_float(local: str) -> None:
    assert machine_score(local) == ref.machine_score(local), local


def test_machine_score_is_the_same_float_on_many_random_parts() -> None:
    rng = random.Random(3)
    for _ in range(30_000):
        local = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789._-+") for _ in range(rng.randint(0, 30)))
        assert machine_score(local) == ref.machine_score(local), local
    for n in range(6, 37):  # all characters different: the entropy comes from a table
        for _ in range(30):
            local = "".join(rng.sample("abcdefghijklmnopqrstuvwxyz0123456789", n))
            assert machine_score(local) == ref.machine_score(local), local


# ---------------------------------------------------------------- phone


def _phone_corpus() -> list[tuple[str, str]]:
    """Valid, invalid, VoIP, toll-free, unparsable numbers from every region, as people type them."""
    rng = random.Random(7)
    out: list[tuple[str, str]] = []
    for _ in range(400):  # the forms bench/signals.py sends
        out += [(f"+49151{rng.randint(10**7, 10**8 - 1)}", "DE"), (f"+1202555{rng.randint(1000, 9999)}", "DE"),
                (f"0800{rng.randint(10**6, 10**7 - 1)}", "DE"), (f"+4930{rng.randint(10**6, 10**7 - 1)}", "DE")]
    out += [(r.phone, "DE") for r in rally_population(real=300, fakes_per_tactic=60) if r.phone]
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    for region in regions:
        for kind in PhoneNumberType.values():
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            out += [(e164, "DE"), (national, region), (phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
                                                      "US"), (e164[:-1], region), (e164 + "7", region)]
            digits = list(e164[1:])
            for _ in range(2):
                at = rng.randrange(len(str(number.country_code)), len(digits))
                digits[at] = str(rng.randint(0, 9))
                out.append(("+" + "".join(digits), region))
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.4:
            raw = f"+{rng.randint(1, 999)}" + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 14)))
        elif roll < 0.7:
            raw = "0" + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 14)))
        else:
            raw = "".join(rng.choice("0123456789 +-()./xext#*abc") for _ in range(rng.randint(0, 20)))
        out.append((raw, rng.choice([*regions, "ZZ"])))
    out += [("", "DE"), ("+", "DE"), ("tel:+49-30-1234567;ext=5", "DE"), ("+49 (0)30 1234567", "DE"),
            ("0049 30 1234567", "DE"), ("１２３４５６７８９", "JP"), ("+1 800 FLOWERS", "US"), ("a" * 300, "DE"),
            ("+49" + "1" * 300, "DE"), ("+1 202 555 0123", "DE"), ("+44 7700 900123", "DE"), ("+800 1234 5678", "DE"),
            ("+882 3456 7890", "DE"), ("+979 123456789", "DE"), ("+7 912 345 67 89", "DE"), ("+44 1624 123456", "DE")]
    return out


def test_phone_matches_the_library_on_a_varied_corpus() -> None:
    corpus = _phone_corpus()
    assert len(corpus) > 5000
    valid = 0
    for raw, region in corpus:
        mine = analyze_phone.__wrapped__(raw, region)
        assert mine == ref.analyze_phone(raw, region), (raw, region)
        valid += mine.valid
    assert valid > 1000  # the corpus is not all rubbish


@settings(max_examples=800, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["DE", "US", "GB", "FR", "IN", "BR", "ZZ", "001"]))
def test_phone_matches_the_library_on_any_text(text: str, region: str) -> None:
    assert analyze_phone.__wrapped__(text, region) == ref.analyze_phone(text, region)


# ---------------------------------------------------------------- network

USER_AGENTS = [None, "", "  ", "Mozilla/5.0 (Windows NT 10.0) Firefox/130.0", "python-requests/2.32",
               "Mozilla/5.0 (X11) HeadlessChrome/120.0", "Googlebot/2.1", "curl/8.0"]


def _same_network(ip: str | None, ua: str | None = None) -> None:
    assert analyze_network.__wrapped__(ip, ua) == ref.analyze_network(ip, ua), (ip, ua)


def test_network_matches_ipaddress_at_every_special_boundary() -> None:
    assert _SPECIAL, "ipaddress's special networks were found"
    clear_caches()
    for net in _SPECIAL:
        for edge in (int(net.network_address), int(net.broadcast_address)):
            for step in (-65537, -65536, -257, -256, -2, -1, 0, 1, 2, 256, 257, 65536):
                if 0 <= edge + step < 2**32:
                    _same_network(str(ipaddress.IPv4Address(edge + step)))
    for first in range(256):  # the first and last address of every /8, and a middle one
        for rest in ("0.0.0", "255.255.255", "128.64.1"):
            _same_network(f"{first}.{rest}")


@settings(max_examples=800, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(USER_AGENTS))
def test_network_matches_ipaddress_on_any_ipv4(value: int, ua: str | None) -> None:
    _same_network(str(ipaddress.IPv4Address(value)), ua)


def test_network_matches_ipaddress_on_many_random_ipv4() -> None:
    rng = random.Random(5)
    for _ in range(50_000):
        _same_network(str(ipaddress.IPv4Address(rng.getrandbits(32))))


QUADISH = st.lists(st.text(st.sampled_from("0123456789١٢"), max_size=4), min_size=1, max_size=5).map(".".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(QUADISH, st.text(max_size=45), st.ip_addresses(v=6).map(str),
                 st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}")),
       st.sampled_from(["", " ", "\n", "\t "]), st.one_of(st.none(), st.text(max_size=30)))
@example("01.2.3.4", "", None)
@example("1.2.3.4 ", "", "")
def test_network_matches_ipaddress_on_odd_text(text: str, pad: str, ua: str | None) -> None:
    _same_network(pad + text + pad, ua)


# ---------------------------------------------------------------- keys


@pytest.mark.parametrize("value", ["jane@gmail.com", "+4915112345678", "198.51.100.0/24", "ünï\x1fcode", ""])
def test_keys_are_the_key_rings_pseudonyms(value: str) -> None:
    ring = parse_keys("k1:dGVzdC1rZXktZm9yLWhlYWRjb3VudC10ZXN0cy1vbmx5LTMyYnl0ZXMhIQ")
    guard = IdentityGuard(ring)
    for kind in ("id", "email", "tel", "dev", "net", "blk", "ip"):
        assert guard._key(kind, value) == ring.pseudonym(kind, value)
    other = parse_keys("k2:b3RoZXIta2V5LWZvci1oZWFkY291bnQtdGVzdHMtb25seS0zMmJ5dGVz")
    guard.ring = other  # a swapped ring is noticed
    assert guard._key("email", value) == other.pseudonym("email", value)
    assert IdentityGuard()._key("email", value) == f"email:{value}"
    assert guard.identities(ActorInfo(email="A@b.com")) == [other.pseudonym("email", "a@b.com")]
