"""Secret keys for pseudonyms, encryption and the audit chain, with rotation.

Identities (e-mail, phone, IP, device, client ids) are stored only as keyed
hashes: HMAC-SHA256 under a secret the database never sees, so a leaked
database does not reveal who registered, and nobody without the key can test a
guessed address against it. Encryption and audit keys are derived from the
same secret with HKDF, one purpose each.

The keys belong to the store (see `keyring_for_store`): `HEADCOUNT_SECRET_KEYS`
(`id:base64,id:base64`, the first is current) when set; else, for SQLite, the file
`<database>.keys` beside it, created with a fresh random key for a new store (mode
0600); for PostgreSQL, a ring kept in the database encrypted under
`HEADCOUNT_OPERATOR_SECRET`. Every process that shares a store must share the keys.

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
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from headcount.settings import Settings

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


def load_keyring(settings: Settings | None = None) -> KeyRing:
    """The configured key ring (`HEADCOUNT_SECRET_KEYS`); an error when none is configured.

    A store's own key ring is found by `keyring_for_store`, which is what the
    service, the CLI and `headcount.open` use."""
    settings = settings or Settings()
    if settings.secret_keys is None:
        raise KeyRingError("no secret keys are configured (HEADCOUNT_SECRET_KEYS)")
    return parse_keys(settings.secret_keys.get_secret_value())


def key_file_for(db_path: str | os.PathLike[str]) -> Path:
    """Where an SQLite store's key ring lives: beside the database, `<file>.keys`."""
    path = Path(db_path)
    return path.with_name(path.name + ".keys")


def keyring_for_store(store: Any, settings: Settings | None = None) -> KeyRing:
    """The key ring that belongs to this store, never one that follows the working directory.

    - `HEADCOUNT_SECRET_KEYS`, when set, is used for any store.
    - An SQLite store keeps its keys in `<database file>.keys` (mode 0600; an older
      store's `secret.keys` in the same folder is still found).
    - A PostgreSQL store keeps its key ring in its own `meta` table, encrypted with
      AES-256-GCM under `HEADCOUNT_OPERATOR_SECRET`; without that secret (or
      `HEADCOUNT_SECRET_KEYS`) it cannot be opened.

    Every store remembers a check value of each key it was written under. Keys are
    created only for a store that has none; a store with checks but no keys, or keys
    that match none of its checks, is an error that says where headcount looked.
    """
    settings = settings or Settings()
    known = store.meta_keys(CHECK_PREFIX)
    path = getattr(store, "path", None)
    if settings.secret_keys is not None:
        ring = parse_keys(settings.secret_keys.get_secret_value())
        where = "HEADCOUNT_SECRET_KEYS"
    elif path is not None:
        ring, where = _sqlite_ring(Path(path), bool(known))
    else:
        ring, where = _kept_ring(store, settings, bool(known))
    _check(store, ring, known, where)
    return ring


CHECK_PREFIX = "key_check:"
KEPT_RING = "keyring"


def _check_value(ring: KeyRing, key_id: str) -> str:
    return hmac.new(_derive(ring.secret(key_id), "store-check"), b"headcount", hashlib.sha256).hexdigest()[:32]


def _check(store: Any, ring: KeyRing, known: list[str], where: str) -> None:
    """Refuse keys that are not this store's; remember the checks of the ring's keys."""
    ids = {key_id for key_id, _ in ring.keys}
    matching = [k for k in known if k.removeprefix(CHECK_PREFIX) in ids]
    if known and not matching:
        raise KeyRingError(
            f"the keys from {where} are not this store's: it was written under key "
            f"{', '.join(k.removeprefix(CHECK_PREFIX) for k in known)}, the ring has {', '.join(sorted(ids))}")
    for key_id, _ in ring.keys:
        value = _check_value(ring, key_id)
        stored = store.put_meta_if_absent(CHECK_PREFIX + key_id, value)
        if not hmac.compare_digest(stored, value):
            raise KeyRingError(f"key {key_id!r} from {where} is not the key {key_id!r} this store was written under")


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _sqlite_ring(db: Path, store_has_keys: bool) -> tuple[KeyRing, str]:
    path = key_file_for(db)
    legacy = db.with_name("secret.keys")
    for candidate in (path, legacy):
        if candidate.exists():
            return parse_keys(candidate.read_text()), str(candidate)
    if store_has_keys:
        raise KeyRingError(
            f"the store {db} was written under secret keys, but none were found: looked at "
            f"HEADCOUNT_SECRET_KEYS (unset), {path} and {legacy}; restore the key file from your backup")
    try:
        _write_new(path, new_key_line("k1") + "\n")
    except FileExistsError:  # another process of the same store made it first
        pass
    return parse_keys(path.read_text()), str(path)


def _operator_key(settings: Settings) -> bytes:
    assert settings.operator_secret is not None
    return _derive(settings.operator_secret.get_secret_value().encode(), "operator-keyring")


def _kept_ring(store: Any, settings: Settings, store_has_keys: bool) -> tuple[KeyRing, str]:
    """A server store's key ring, kept inside it encrypted under the operator secret."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if settings.operator_secret is None:
        raise KeyRingError("a PostgreSQL store needs HEADCOUNT_SECRET_KEYS, or HEADCOUNT_OPERATOR_SECRET "
                           "to keep its key ring inside the database")
    aead = AESGCM(_operator_key(settings))
    kept = store.get_meta(KEPT_RING)
    if kept is None:
        if store_has_keys:
            raise KeyRingError("the store was written under secret keys that are not in it; set "
                               "HEADCOUNT_SECRET_KEYS to them")
        nonce = secrets.token_bytes(12)
        sealed = aead.encrypt(nonce, new_key_line("k1").encode(), KEPT_RING.encode())
        kept = store.put_meta_if_absent(KEPT_RING, base64.b64encode(nonce + sealed).decode())
    raw = base64.b64decode(kept)
    try:
        text = aead.decrypt(raw[:12], raw[12:], KEPT_RING.encode()).decode()
    except Exception as exc:  # InvalidTag: another operator secret
        raise KeyRingError("HEADCOUNT_OPERATOR_SECRET does not open the key ring kept in this store") from exc
    return parse_keys(text), "the store's kept key ring"
