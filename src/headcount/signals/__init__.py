"""Identity signals: what an actor's e-mail, phone, network and client say about them.

Each analyser returns reason codes (risk) and identity keys (who this is). A
malformed or bogus value is a reason, never an error: fake registrations are
exactly where bogus values come from.
"""

from headcount.signals import email as _email
from headcount.signals import network as _network
from headcount.signals import phone as _phone
from headcount.signals.email import EmailSignals, analyze_email
from headcount.signals.network import NetworkSignals, analyze_network
from headcount.signals.phone import PhoneSignals, analyze_phone


def clear_caches() -> None:
    """Forget every cached address, number, domain and user agent: the next actor starts cold."""
    for module in (_email, _phone, _network):
        module.clear_caches()


__all__ = [
    "EmailSignals",
    "NetworkSignals",
    "PhoneSignals",
    "analyze_email",
    "analyze_network",
    "analyze_phone",
    "clear_caches",
]
