"""Service settings from the environment, read once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, not {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    #: keep raw contact data (encrypted) so that privacy staff can read or export it
    keep_contacts: bool = False
    #: raw contact data older than this is purged
    contact_retention_days: float = 30.0
    #: browser origins allowed to call the API (CORS is off when empty)
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    #: failed authentications per client address and minute before answering 429
    auth_failures_per_minute: int = 20

    @classmethod
    def from_env(cls) -> Settings:
        origins = tuple(o.strip() for o in os.environ.get("HEADCOUNT_CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            keep_contacts=_flag("HEADCOUNT_KEEP_CONTACTS"),
            contact_retention_days=_float("HEADCOUNT_CONTACT_RETENTION_DAYS", 30.0),
            cors_origins=origins,
            auth_failures_per_minute=int(_float("HEADCOUNT_AUTH_FAILURES_PER_MINUTE", 20)),
        )
