"""Raw contact data, kept only when the operator turns it on, encrypted at rest.

AES-256-GCM under a key derived from the key ring; the actor key and the kind
are bound in as associated data, so a ciphertext moved to another person's row
fails to decrypt instead of showing the wrong address. Reads go through
`read_contacts`, which refuses without a reason and audits every read.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from headcount.privacy.audit import record_read
from headcount.privacy.keyring import KeyRing
from headcount.store.base import ContactRecord, Store

CONTACT_KINDS = ("email", "phone", "ip", "device", "id")


@dataclass(frozen=True)
class Contact:
    kind: str
    value: str
    kept_since: float


def seal(ring: KeyRing, actor_key: str, kind: str, value: str, now: float | None = None) -> ContactRecord:
    nonce = os.urandom(12)
    aad = f"{actor_key}\x1f{kind}".encode()
    ciphertext = AESGCM(ring.derived("vault")).encrypt(nonce, value.encode(), aad)
    return ContactRecord(actor_key, kind, ring.pseudonym(kind, value), ring.current_id, nonce, ciphertext,
                         time.time() if now is None else now)


def unseal(ring: KeyRing, record: ContactRecord) -> str:
    aad = f"{record.actor_key}\x1f{record.kind}".encode()
    try:
        return AESGCM(ring.derived("vault", record.key_id)).decrypt(record.nonce, record.ciphertext, aad).decode()
    except InvalidTag as exc:
        raise ValueError(f"contact {record.kind} of {record.actor_key} does not decrypt: tampered or moved") from exc


def keep_contacts(store: Store, ring: KeyRing, actor_key: str, values: dict[str, str | None]) -> None:
    records = [seal(ring, actor_key, kind, value) for kind, value in values.items() if value]
    if records:
        store.put_contacts(records)


def export_contacts(store: Store, ring: KeyRing, *, who: str, role: str, reason: str) -> list[tuple[str, Contact]]:
    """Every kept contact, decrypted, as (actor_key, contact); audited as one export."""
    if not reason or not reason.strip():
        raise ValueError("reason: exporting personal data needs a reason")
    record_read(store, ring, who=who, role=role, action="contacts.export", subject="*", reason=reason)
    return [(r.actor_key, Contact(r.kind, unseal(ring, r), r.created_at)) for r in store.all_contacts()]


def read_contacts(store: Store, ring: KeyRing, actor_key: str, *, who: str, role: str, reason: str) -> list[Contact]:
    """Decrypt an actor's contacts; the read is appended to the audit chain first."""
    if not reason or not reason.strip():
        raise ValueError("reason: reading personal data needs a reason")
    record_read(store, ring, who=who, role=role, action="contacts.read", subject=actor_key, reason=reason)
    return [Contact(r.kind, unseal(ring, r), r.created_at) for r in store.get_contacts(actor_key)]
