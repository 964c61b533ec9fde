"""Request and response bodies of the v1 API.

Strict types: a string where a number belongs is a 422 naming the field, never
a silent conversion. Unknown fields are rejected so that typos do not pass
unnoticed.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from headcount.signals.phone import known_region

PoolId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MAX_CAPACITY = 1_000_000_000
MAX_QUANTITY = 1_000_000


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class LightIn(Strict):
    yellow_at: float = Field(0.2, ge=0, le=1, description="available/capacity at or below which the light is yellow")
    red_at: float = Field(0.0, ge=0, le=1, description="available/capacity at or below which the light is red")

    @model_validator(mode="after")
    def _ordered(self) -> LightIn:
        if self.red_at > self.yellow_at:
            raise ValueError("red_at must not exceed yellow_at")
        return self


class AllocationIn(Strict):
    """How a pool is allocated: first come, first served (holds), or a lottery after `closes_at`."""

    mode: Literal["first_come", "lottery"] = "first_come"
    closes_at: Annotated[str, StringConstraints(min_length=1, max_length=64)] | int | float | None = Field(
        None, description="ISO 8601 time (or Unix seconds) when registration closes and the draw runs (lottery)")
    confirm_within_s: int = Field(3600, ge=1, le=30 * 86400, description="seconds a winner has to confirm")
    overbook_risk: float = Field(0.05, ge=0, le=0.5, description="accepted chance that more come than fit")


class PoolIn(Strict):
    id: PoolId
    name: ShortText
    kind: Literal["event", "stock"]
    capacity: int = Field(ge=0, le=MAX_CAPACITY)
    per_actor_limit: int = Field(ge=1, le=MAX_QUANTITY)
    hold_ttl_s: int = Field(ge=1, le=7 * 24 * 3600)
    light: LightIn | None = None
    allocation: AllocationIn | None = None
    phone_region: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = Field(
        None, description="region whose national-format numbers this pool reads (e.g. US); default: the service's")

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and not known_region(value.upper()):
            raise ValueError("must be a region code phone numbers are known for, such as US or DE")
        return value.upper() if value else None


class ActorIn(Strict):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    ip: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    device: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    user_agent: Annotated[str, StringConstraints(max_length=1000)] | None = None

    @field_validator("ip")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        """The visitor's address as the front end saw it; anything else is the front end's bug."""
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError("must be an IPv4 or IPv6 address, such as 203.0.113.7") from None
        return value

    @model_validator(mode="after")
    def _identified(self) -> ActorIn:
        if not any((self.id, self.email, self.phone, self.ip, self.device)):
            raise ValueError("actor needs at least one of id, email, phone, ip, device")
        return self


#: The token a passed challenge yields (`POST /v1/challenges/{id}/pass`).
ChallengeToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,300}$")]
CHALLENGE_TOKEN_DOC = "the token from passing the challenge this request was answered with (428) before"


class HoldIn(Strict):
    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)
    actor: ActorIn
    challenge_token: ChallengeToken | None = Field(None, description=CHALLENGE_TOKEN_DOC)


class RegistrationIn(Strict):
    quantity: int = Field(1, ge=1, le=MAX_QUANTITY)
    actor: ActorIn
    challenge_token: ChallengeToken | None = Field(None, description=CHALLENGE_TOKEN_DOC)


class Risk(BaseModel):
    score: float
    reasons: list[str]


class PoolPublicOut(BaseModel):
    id: str
    light: Literal["green", "yellow", "red"]


class PoolStaffOut(PoolPublicOut):
    name: str
    kind: Literal["event", "stock"]
    capacity: int
    per_actor_limit: int
    hold_ttl_s: int
    held: int
    confirmed: int
    available: int
    light_thresholds: dict[str, float]
    phone_region: str | None


class PoolCreatedOut(BaseModel):
    pool_id: str


class HoldOut(BaseModel):
    hold_id: str
    pool_id: str
    status: Literal["held"]
    quantity: int
    expires_at: str
    risk: Risk


class HoldStateOut(BaseModel):
    hold_id: str
    pool_id: str
    status: Literal["held", "confirmed", "released", "expired"]
    quantity: int
    expires_at: str | None = None
    actor_key: str | None = None


class ChallengePassOut(BaseModel):
    challenge_id: str
    token: str
    expires_at: str
    scope: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    field: str | None = None
    reasons: list[str] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the problem documents a route can answer with."""
    return {s: {"model": Problem, "content": {"application/problem+json": {}}} for s in statuses}
