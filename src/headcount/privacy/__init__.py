"""Personal data protection: keyed pseudonyms, an encrypted contact vault, an audit chain."""

from headcount.privacy.keyring import KeyRing, keyring_for_store, load_keyring

__all__ = ["KeyRing", "keyring_for_store", "load_keyring"]
