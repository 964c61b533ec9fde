"""Every `HEADCOUNT_*` environment variable, read once, validated, in one place.

`Settings()` reads the environment (pydantic-settings); `Settings(keep_contacts=True)`
overrides it field by field, which is how tests and library users configure
headcount without touching the environment. A bad value is an error that names
the variable. Nothing else in the package reads `os.environ`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """The service's and the library's configuration (`HEADCOUNT_<FIELD>` in upper case)."""

    model_config = SettingsConfigDict(env_prefix="HEADCOUNT_", extra="forbid", frozen=True)

    #: the store URL: sqlite:///PATH or postgresql://... (default: <data_dir>/headcount.db)
    store: str | None = None
    #: where the embedded store lives when `store` is not set
    data_dir: Path = Path("data")
    #: the secret keys (`id:base64[,older...]`, current first); else the store's own key ring
    secret_keys: SecretStr | None = None
    #: a secret that encrypts the key ring kept inside a PostgreSQL store (see privacy.keyring)
    operator_secret: SecretStr | None = None
    #: a policy file (TOML); the shipped default when unset
    policy: Path | None = None
    #: keep raw contact data (encrypted) so that privacy staff can read or export it
    keep_contacts: bool = False
    #: raw contact data older than this is purged
    contact_retention_days: float = Field(default=30.0, gt=0)
    #: browser origins allowed to call the API (CORS is off when empty); comma-separated
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    #: failed authentications per client address and minute before answering 429
    auth_failures_per_minute: int = Field(default=20, ge=1)
    #: seconds between detection runs in the service (0 turns detection off)
    detect_interval_s: float = Field(default=60.0, ge=0)
    #: seconds between rounds of streaming detection (new actions into candidate blocks; 0: off)
    stream_interval_s: float = Field(default=0.5, ge=0, le=60)
    #: "signals" (the product) or "identity" (persons without risk, for comparisons)
    guard: Literal["signals", "identity"] = "signals"
    #: the region for phone numbers written without a country code (ISO 3166 alpha-2)
    default_region: str | None = None

    # abuse limits of the HTTP service (issue 13; see docs/security.md) ------------------
    #: the largest request body accepted (413 beyond, refused before it is read)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: seconds a client may take to send a request's body (408 beyond)
    body_timeout_s: float = Field(default=10.0, gt=0, le=600)
    #: the most requests one server process works on at once (the adaptive limit's ceiling);
    #: more are answered 503 with Retry-After at once
    max_inflight: int = Field(default=128, ge=1, le=100_000)
    #: the latency admitted requests should keep: above it the process admits fewer at once (an
    #: adaptive limit under max_inflight); unset: the limit is max_inflight, fixed
    shed_latency_ms: float | None = Field(default=None, gt=0, le=60_000)
    #: proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For is believed;
    #: empty: the client address is the connection's peer, whatever the headers say
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    #: seconds a server process trusts a verified API key before asking the store again
    #: (a revocation reaches every process within this time)
    key_cache_s: float = Field(default=1.0, ge=0, le=300)
    #: seconds between the service's store health checks (`/healthz` reports the last one)
    health_interval_s: float = Field(default=0.5, gt=0, le=60)

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("secret_keys", "operator_secret", "store", "policy", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`HEADCOUNT_SECRET_KEYS=` (set but empty) means not configured, as in most tools."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be a two-letter region code such as US or DE")
        return value.upper()

    def store_url(self) -> str:
        """The store URL: `store`, else the embedded SQLite file under `data_dir`."""
        return self.store or f"sqlite:///{self.data_dir / 'headcount.db'}"


class SettingsError(ValueError):
    """An environment variable has a value headcount cannot use; the message names it."""


def load_settings(**overrides: object) -> Settings:
    """`Settings(**overrides)`, with validation errors turned into one line per variable."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"HEADCOUNT_{'_'.join(str(p) for p in err['loc'][:1]).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(problems) from None
