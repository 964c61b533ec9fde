"""Personal data protection: keyed pseudonyms, an encrypted contact vault, an audit chain."""

from headcount.privacy.keyring import KeyRing, load_keyring

__all__ = ["KeyRing", "load_keyring"]
