"""Identity signals: e-mail, phone, network. Bogus values are reasons, never errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headcount.signals import analyze_email, analyze_network, analyze_phone
from headcount.signals.email import canonical_mailbox, is_disposable, machine_score


@pytest.mark.parametrize(("address", "mailbox"), [
    ("Jane.Doe+tickets@GoogleMail.com", "janedoe@gmail.com"),
    ("j.a.n.e.doe@gmail.com", "janedoe@gmail.com"),
    ("JaneDoe@gmail.com", "janedoe@gmail.com"),
    ("bob-rally2020@yahoo.com", "bob@yahoo.com"),
    ("ann+shop@outlook.com", "ann@outlook.com"),
    ("ann.smith+x@example.org", "ann.smith+x@example.org"),  # unknown provider: keep the tag
])
def test_aliases_of_one_mailbox_share_one_key(address: str, mailbox: str) -> None:
    assert analyze_email(address).canonical == mailbox


def test_explicit_aliases_are_a_reason_but_a_dotted_name_is_not() -> None:
    assert "email_alias" in analyze_email("jane+1@gmail.com").reasons
    assert "email_alias" in analyze_email("j.a.n.e.doe@gmail.com").reasons
    assert analyze_email("jane.doe@gmail.com").reasons == ()


@pytest.mark.parametrize("domain", ["mailinator.com", "sub.mailinator.com", "a.b.mailinator.com"])
def test_disposable_domains_match_on_parent_domains(domain: str) -> None:
    assert is_disposable(domain)
    assert "email_disposable" in analyze_email(f"someone@{domain}").reasons


def test_ordinary_domains_are_not_disposable() -> None:
    for domain in ("gmail.com", "web.de", "example.org", "mail.co.uk"):
        assert not is_disposable(domain)


def test_machine_made_local_parts_score_high_and_names_low() -> None:
    for generated in ("user83749201", "xk3q9zt7w2", "qwrtzpl8d6"):
        assert machine_score(generated) >= 0.5, generated
    for human in ("jane.doe", "anna.schmidt84", "mike", "l.martin", "sophie1990"):
        assert machine_score(human) < 0.5, human


def test_relay_addresses_are_random_by_design_not_machine_made() -> None:
    for relay in ("6sl5j7mad6@privaterelay.appleid.com", "xk3q9zt7w2@mozmail.com", "qwrtzpl8d6@duck.com"):
        signals = analyze_email(relay)
        assert signals.machine_score >= 0.5 and "email_machine_made" not in signals.reasons, relay
    assert "email_machine_made" in analyze_email("xk3q9zt7w2@gmail.com").reasons


@pytest.mark.parametrize(("number", "reason"), [
    ("+1 202 555 0142", "phone_fictional"),
    ("0800 1234567", "phone_toll_free"),
    ("+1 800 555 1234", "phone_toll_free"),
    ("12", "phone_invalid"),
    ("not a number", "phone_unparsable"),
])
def test_bogus_and_risky_numbers_give_reasons(number: str, reason: str) -> None:
    assert reason in analyze_phone(number, "DE").reasons


def test_one_line_one_key_and_us_numbers_are_no_risk() -> None:
    assert analyze_phone("+49 151 12345678").e164 == analyze_phone("0151 12345678", "DE").e164 == "+4915112345678"
    us = analyze_phone("+1 650 253 0000")
    assert us.valid and us.kind == "FIXED_LINE_OR_MOBILE" and us.reasons == ()


def test_networks_and_automation() -> None:
    assert analyze_network("198.51.100.77", None).network == "198.51.100.0/24"
    assert analyze_network("2001:db8:1:2:3:4:5:6", None).network == "2001:db8:1:2::/64"
    assert analyze_network("::ffff:8.8.4.4", None).network == "8.8.4.0/24"
    assert "ua_automation" in analyze_network(None, "Mozilla/5.0 (X11) HeadlessChrome/120.0").reasons
    assert "ua_automation" in analyze_network(None, "python-requests/2.32").reasons
    assert analyze_network("8.8.8.8", "Mozilla/5.0 (Windows NT 10.0) Firefox/130.0").reasons == ()
    assert "ip_invalid" in analyze_network("999.1.1.1", None).reasons


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_no_string_makes_a_signal_raise(text: str) -> None:
    e = analyze_email(text)
    assert e.valid or e.reasons == ("email_invalid",)
    analyze_phone(text, "DE")
    analyze_network(text, text)


@settings(max_examples=200, deadline=None)
@given(st.emails())
def test_valid_addresses_get_a_canonical_key(address: str) -> None:
    e = analyze_email(address)
    if e.valid:
        assert e.canonical and "@" in e.canonical and e.canonical == e.canonical.lower()
        local, _, domain = e.canonical.rpartition("@")
        assert canonical_mailbox(local, domain) == e.canonical  # idempotent
