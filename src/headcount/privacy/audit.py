"""The audit log of personal-data reads: an HMAC chain that shows edits and deletions.

Each entry's MAC covers its own fields and the MAC of the entry before, under
a key the database never holds. Whoever can write to the database but does not
have the key cannot edit an entry, delete one from the middle, or insert one
without `verify` naming it. Cutting entries off the end leaves a valid shorter
chain; to catch that, keep the head that `verify` prints somewhere else and
pass it back as `anchor`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from headcount.privacy.keyring import KeyRing, KeyRingError
from headcount.store.base import AuditEntry, Store


def _mac(ring: KeyRing, key_id: str, seq: int, ts: float, who: str, role: str, action: str,
         subject: str, reason: str, prev_mac: str) -> str:
    payload = json.dumps([seq, repr(ts), who, role, action, subject, reason, key_id, prev_mac],
                         separators=(",", ":")).encode()
    return hmac.new(ring.derived("audit", key_id), payload, hashlib.sha256).hexdigest()


def record_read(store: Store, ring: KeyRing, *, who: str, role: str, action: str, subject: str,
                reason: str, now: float | None = None) -> AuditEntry:
    ts = time.time() if now is None else now
    key_id = ring.current_id

    def make(seq: int, prev_mac: str) -> AuditEntry:
        mac = _mac(ring, key_id, seq, ts, who, role, action, subject, reason, prev_mac)
        return AuditEntry(seq, ts, who, role, action, subject, reason, key_id, prev_mac, mac)

    return store.append_audit(make)


@dataclass(frozen=True)
class AuditReport:
    entries: int
    problems: list[str]
    head: str  # "seq:mac" of the last entry, to keep elsewhere

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store, ring: KeyRing, anchor: str | None = None) -> AuditReport:
    """Check the whole chain; every problem names the entry it concerns."""
    entries = store.read_audit()
    problems: list[str] = []
    expected_seq = 1
    prev_mac = ""
    for e in entries:
        if e.seq > expected_seq:
            gap = f"{expected_seq}" if e.seq == expected_seq + 1 else f"{expected_seq}-{e.seq - 1}"
            problems.append(f"entry {gap} deleted (the chain jumps from {expected_seq - 1} to {e.seq})")
        elif e.seq < expected_seq:
            problems.append(f"entry {e.seq} out of order")
        try:
            good = _mac(ring, e.key_id, e.seq, e.ts, e.who, e.role, e.action, e.subject, e.reason, e.prev_mac)
        except KeyRingError:
            problems.append(f"entry {e.seq} uses key {e.key_id!r}, which is no longer in the key ring")
            good = None
        if good is not None and not hmac.compare_digest(good, e.mac):
            problems.append(f"entry {e.seq} edited (its MAC does not match its content)")
        elif e.seq == expected_seq and e.prev_mac != prev_mac:
            problems.append(f"entry {e.seq} does not follow entry {e.seq - 1} (prev_mac differs)")
        prev_mac = e.mac
        expected_seq = e.seq + 1
    head = f"{entries[-1].seq}:{entries[-1].mac[:16]}" if entries else "0:"
    if anchor:
        seq_text, _, mac_prefix = anchor.partition(":")
        match = next((e for e in entries if str(e.seq) == seq_text), None)
        if match is None:
            problems.append(f"entry {seq_text} (the anchor) is missing: the end of the chain was cut")
        elif not match.mac.startswith(mac_prefix):
            problems.append(f"entry {seq_text} (the anchor) differs from the anchored one")
    return AuditReport(len(entries), problems, head)
