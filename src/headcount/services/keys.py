"""API keys and roles.

A key reads `hc_<key_id>_<secret>`. Only a SHA-256 of the secret is stored:
the secret is 32 random bytes, so a slow password hash would add latency to
every request without adding safety. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from enum import StrEnum

from headcount.store.base import ApiKeyRecord, Store


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


def create_key(store: Store, role: Role | str) -> str:
    """Create an API key with a role; returns the key, which is shown only once."""
    role = Role(role)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    store.add_api_key(ApiKeyRecord(key_id, _digest(secret), role.value, time.time()))
    return f"hc_{key_id}_{secret}"


def parse_key(key: str) -> tuple[str, str] | None:
    if not key.startswith("hc_") or len(key) > 200:
        return None
    key_id, sep, secret = key[3:].partition("_")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def verify_key(store: Store, key: str) -> tuple[str, Role] | None:
    """The (key_id, role) of a valid, unrevoked key, else None."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    key_id, secret = parsed
    record = store.get_api_key(key_id)
    if record is None or record.revoked:
        # compare anyway so that unknown ids take as long as wrong secrets
        secrets.compare_digest(_digest(secret), "0" * 64)
        return None
    if not secrets.compare_digest(_digest(secret), record.secret_hash):
        return None
    return key_id, Role(record.role)
