"""Verification: a person proves they control an e-mail address or phone number.

headcount issues a short code for the identifier; the client delivers it through
its own channel (its mailer, its SMS provider) and reports what the person typed.
A confirmed identifier is *verified*: it starts a person of its own (holds someone
else made by typing it before stay with that someone), linking on it is strong,
and a request that names it without its owner's device is charged apart
(`claims_verified`), so nobody can spend a verified person's limit by typing their
address. Verification never appears in the action log: it says nothing about risk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from headcount.signals import analyze_email, analyze_phone
from headcount.store.base import Store
from headcount.store.graph import Verification

Kind = Literal["email", "phone"]


class VerificationError(ValueError):
    """Why a verification cannot be issued or confirmed; `field` names the request field."""

    def __init__(self, field: str, code: str, detail: str) -> None:
        super().__init__(detail)
        self.field, self.code = field, code


@dataclass(frozen=True)
class VerificationService:
    store: Store
    #: the guard's pseudonym of (kind, canonical value): the same key a hold uses
    key: Callable[[str, str], str]
    #: where national-format numbers are read; None: only international numbers (no guessed country)
    default_region: str | None = None
    clock: Callable[[], float] = time.time

    def identity(self, kind: Kind, value: str) -> str:
        """The identity key a hold with this value would carry, or an error naming `value`."""
        if kind == "email":
            e = analyze_email(value)
            if not e.valid:
                raise VerificationError("value", "invalid-email", "not a valid e-mail address")
            return self.key("email", e.canonical or value.strip().lower())
        p = analyze_phone(value, self.default_region)
        if not p.valid or not p.e164:
            raise VerificationError("value", "invalid-phone", "not a valid phone number" + (
                "" if self.default_region else " (national numbers need HEADCOUNT_DEFAULT_REGION; send +country)"))
        return self.key("tel", p.e164)

    def issue(self, kind: Kind, value: str) -> Verification:
        return self.store.issue_verification(self.identity(kind, value), self.clock())

    def confirm(self, verification_id: str, code: str) -> Verification:
        result = self.store.confirm_verification(verification_id, code, self.clock())
        if isinstance(result, Verification):
            return result
        detail = {"unknown": "no such verification", "expired": "the code expired: issue a new one",
                  "spent": "too many wrong codes: issue a new one", "wrong_code": "the code does not match"}
        raise VerificationError("code" if result == "wrong_code" else "verification_id", result.replace("_", "-"),
                                detail.get(result, result))
