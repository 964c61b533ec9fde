"""Identity signals: what an actor's e-mail, phone, network and client say about them.

Each analyser returns reason codes (risk) and identity keys (who this is). A
malformed or bogus value is a reason, never an error: fake registrations are
exactly where bogus values come from.
"""

from headcount.signals.email import EmailSignals, analyze_email
from headcount.signals.network import NetworkSignals, analyze_network
from headcount.signals.phone import PhoneSignals, analyze_phone

__all__ = [
    "EmailSignals",
    "NetworkSignals",
    "PhoneSignals",
    "analyze_email",
    "analyze_network",
    "analyze_phone",
]
