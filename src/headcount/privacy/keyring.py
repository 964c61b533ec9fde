"""Secret keys for pseudonyms, encryption and the audit chain, with rotation.

Identities (e-mail, phone, IP, device, client ids) are stored only as keyed
hashes: HMAC-SHA256 under a secret the database never sees, so a leaked
database does not reveal who registered, and nobody without the key can test a
guessed address against it. Encryption and audit keys are derived from the
same secret with HKDF, one purpose each.

Keys come from `HEADCOUNT_SECRET_KEYS` (`id:base64,id:base64`, the first is
current) or, failing that, from `<data dir>/secret.keys`, created with a fresh
random key on first use (mode 0600). Every process that shares a store must
share the keys.

Rotation: put a new key first. New pseudonyms use it; the old keys stay to
verify old audit entries and decrypt old contacts. Per-person counters of pools
that are open during a rotation start again for the people who come back, so
rotate between events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_BYTES = 32


class KeyRingError(ValueError):
    """The configured keys are unusable; the message names the problem."""


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[tuple[str, bytes], ...]  # (key id, secret), current first

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError("the key ring is empty")
        for key_id, secret in self.keys:
            if not key_id.isalnum():
                raise KeyRingError(f"key id {key_id!r} must be letters and digits")
            if len(secret) < MIN_KEY_BYTES:
                raise KeyRingError(f"key {key_id!r} has {len(secret)} bytes; at least {MIN_KEY_BYTES} are needed")

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def secret(self, key_id: str) -> bytes:
        for kid, secret in self.keys:
            if kid == key_id:
                return secret
        raise KeyRingError(f"unknown key id {key_id!r}; it was rotated out of the key ring")

    def derived(self, purpose: str, key_id: str | None = None) -> bytes:
        """A 32-byte key for one purpose (pseudonym, vault, audit), derived with HKDF."""
        return _derive(self.secret(key_id or self.current_id), purpose)

    def pseudonym(self, kind: str, value: str) -> str:
        """`kind:keyid:hash`, the same for the same value under the same key."""
        mac = hmac.new(self.derived("pseudonym"), f"{kind}\x1f{value}".encode(), hashlib.sha256)
        return f"{kind}:{self.current_id}:{base64.urlsafe_b64encode(mac.digest()[:18]).decode()}"


@lru_cache(maxsize=64)
def _derive(secret: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"headcount/{purpose}".encode()).derive(secret)


def parse_keys(text: str) -> KeyRing:
    keys = []
    for n, part in enumerate(p.strip() for p in text.replace("\n", ",").split(",")):
        if not part:
            continue
        key_id, sep, b64 = part.partition(":")
        if not sep:
            raise KeyRingError(f"key {n + 1} must read id:base64")
        try:
            secret = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        except (ValueError, TypeError) as exc:
            raise KeyRingError(f"key {key_id!r} is not base64") from exc
        keys.append((key_id, secret))
    return KeyRing(tuple(keys))


def new_key_line(key_id: str | None = None) -> str:
    return f"{key_id or 'k' + secrets.token_hex(3)}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def load_keyring(data_dir: str | os.PathLike[str] | None = None) -> KeyRing:
    """The key ring from HEADCOUNT_SECRET_KEYS, else the data directory's key file."""
    configured = os.environ.get("HEADCOUNT_SECRET_KEYS")
    if configured:
        return parse_keys(configured)
    from headcount.store import default_data_dir

    path = Path(data_dir or default_data_dir()) / "secret.keys"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_key_line("k1") + "\n")
    return parse_keys(path.read_text())
