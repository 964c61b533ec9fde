"""API keys and roles, and their lifecycle: create (optionally expiring), list, revoke.

A key reads `hc_<key_id>_<secret>`. Only a SHA-256 of the secret is stored:
the secret is 32 random bytes, so a slow password hash would add latency to
every request without adding safety. Comparison is constant-time.

Creating and revoking a key are written to the audit chain when a key ring is
given (the CLI and the admin endpoints always give one), with who did it. A
revoked or expired key fails `verify_key` at once; server processes cache a
verified key for `HEADCOUNT_KEY_CACHE_S` (1 s by default), so a revocation
reaches every process of every machine within that time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from enum import StrEnum

from headcount.privacy.audit import record_read
from headcount.privacy.keyring import KeyRing
from headcount.store.base import ApiKeyRecord, Store

#: the longest expiry a key can be given (ten years)
MAX_EXPIRY_S = 10 * 365 * 86400
MAX_LABEL = 200


class Role(StrEnum):
    CLIENT = "client"  # a ticketing system, shop or app: holds and actions
    STAFF = "staff"  # organisers: exact figures, blocks, estimates
    PRIVACY = "privacy"  # raw contact reads and exports, audited
    ADMIN = "admin"  # everything, including keys


#: What each role may do, as the set of roles whose rights it includes.
GRANTS: dict[Role, frozenset[Role]] = {
    Role.CLIENT: frozenset({Role.CLIENT}),
    Role.STAFF: frozenset({Role.CLIENT, Role.STAFF}),
    Role.PRIVACY: frozenset({Role.STAFF, Role.PRIVACY}),
    Role.ADMIN: frozenset(Role),
}


def role_allows(role: Role, needed: Role) -> bool:
    return needed in GRANTS[role]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRequestError(ValueError):
    """A key request headcount refuses; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _check(role: Role | str, expires_in_s: float | None, label: str | None) -> Role:
    try:
        role = Role(role)
    except ValueError:
        raise KeyRequestError("role", f"must be one of {', '.join(r.value for r in Role)}, not {role!r}") from None
    if expires_in_s is not None and not (0 < expires_in_s <= MAX_EXPIRY_S):
        raise KeyRequestError("expires_in_s", f"must be above 0 and at most {MAX_EXPIRY_S} seconds (ten years)")
    if label is not None and (len(label) > MAX_LABEL or not label.isprintable()):
        raise KeyRequestError("label", f"must be at most {MAX_LABEL} printable characters")
    return role


def create_key(store: Store, role: Role | str, *, expires_in_s: float | None = None, label: str | None = None,
               ring: KeyRing | None = None, who: str = "?", now: float | None = None) -> str:
    """Create an API key with a role; returns the key, which is shown only once.

    `expires_in_s`: the key stops working that long from now. With `ring`, the
    creation is appended to the audit chain as done by `who`.
    """
    role = _check(role, expires_in_s, label)
    now = time.time() if now is None else now
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    expires_at = None if expires_in_s is None else now + expires_in_s
    if ring is not None:  # audited first: no key exists that the chain does not show
        record_read(store, ring, who=who, role="admin", action="keys.create", subject=f"key:{key_id}",
                    reason=f"role={role.value}" + (f" expires_at={expires_at:.0f}" if expires_at else "")
                           + (f" label={label}" if label else ""), now=now)
    store.add_api_key(ApiKeyRecord(key_id, _digest(secret), role.value, now, expires_at=expires_at, label=label))
    return f"hc_{key_id}_{secret}"


def list_keys(store: Store) -> list[ApiKeyRecord]:
    """Every key, oldest first (only hashes of the secrets are kept, so nothing secret is listed)."""
    return store.list_api_keys()


def key_id_of(text: str) -> str:
    """A key id from an id or a whole key (`hc_<id>_<secret>`), so an operator can paste either."""
    parsed = parse_key(text)
    return parsed[0] if parsed is not None else text


def revoke_key(store: Store, key_id: str, *, ring: KeyRing | None = None, who: str = "?",
               reason: str = "", now: float | None = None) -> bool:
    """Revoke a key at once; False when there is no such key or it was revoked already (not audited)."""
    now = time.time() if now is None else now
    if store.get_api_key(key_id) is None:
        return False
    if ring is not None:
        record_read(store, ring, who=who, role="admin", action="keys.revoke", subject=f"key:{key_id}",
                    reason=reason or "revoked", now=now)
    return store.revoke_api_key(key_id, now)


def parse_key(key: str) -> tuple[str, str] | None:
    if not key.startswith("hc_") or len(key) > 200:
        return None
    key_id, sep, secret = key[3:].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def verify_key(store: Store, key: str, now: float | None = None) -> tuple[str, Role] | None:
    """The (key_id, role) of a valid key (not revoked, not expired), else None."""
    record = verify_record(store, key, now)
    return None if record is None else (record.key_id, Role(record.role))


def verify_record(store: Store, key: str, now: float | None = None) -> ApiKeyRecord | None:
    """The record of a valid key (not revoked, not expired), else None."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    key_id, secret = parsed
    if not key_id.isascii() or not secret.isascii():
        return None
    record = store.get_api_key(key_id)
    if record is None or not record.usable(time.time() if now is None else now):
        # compare anyway so that unknown ids take as long as wrong secrets
        secrets.compare_digest(_digest(secret), "0" * 64)
        return None
    if not secrets.compare_digest(_digest(secret), record.secret_hash):
        return None
    return record
