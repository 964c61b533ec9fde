"""Challenges: a risky request may go through once the person passes a test.

When the policy puts a decision in a challenge band, the request is refused with a
challenge `{id, expires_at}`. The client app puts its own test to the person (a
CAPTCHA, an SMS code: headcount does not care which); once passed, the client's
backend calls `pass_challenge(id)` and gets a token. The retried request carries
the token and gets the band the policy gives a passed challenge, once.

The token is `ct1.<challenge id>.<key id>.<mac>`: an HMAC under the key ring binds
it to the person and the scope (`pool:<id>` or `action:<verb>`), so a forged or
altered token is refused without a database round trip. The store spends it
(one conditional UPDATE), so "once" holds across every server process. A replay
of the request that spent it (the same Idempotency-Key and body) still passes,
so that the ledger can answer it from its idempotency record.

A token is only looked at when the policy asks for a challenge: a request that
now scores normal does not spend it, and a denied one is denied whatever it brings.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from headcount.privacy.keyring import KeyRing, KeyRingError
from headcount.store.base import ChallengeRecord, Store
from headcount.types import Decision, IdempotencyKey

TOKEN_PREFIX = "ct1"
MAX_TOKEN_LENGTH = 300


class Refusal(enum.StrEnum):
    """Why a token did not count (a reason code in the answer)."""

    INVALID = "challenge_token_invalid"  # malformed, forged, unknown, or not passed yet
    MISMATCH = "challenge_token_mismatch"  # another person's, or for another pool or verb
    EXPIRED = "challenge_token_expired"
    USED = "challenge_token_used"


class PassError(enum.StrEnum):
    NOT_FOUND = "not_found"
    EXPIRED = "expired"  # not passed in time, or the token ran out unused
    USED = "used"


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class ChallengeRequired:
    """The request must come back with a token; `refused` says why the one it brought did not count."""

    challenge: Challenge
    decision: Decision
    refused: Refusal | None = None

    @property
    def reasons(self) -> list[str]:
        extra = [self.refused.value] if self.refused else []
        return [*self.decision.reasons, *extra, "challenge"]


@dataclass(frozen=True, slots=True)
class Pass:
    token: str
    expires_at: float
    scope: str


def request_ref(idem: IdempotencyKey | None) -> str | None:
    """A digest naming one request (its caller, Idempotency-Key and body), or None."""
    if idem is None:
        return None
    return hashlib.sha256(f"{idem.scope}\x1f{idem.key}\x1f{idem.request_hash}".encode()).hexdigest()


class ChallengeService:
    def __init__(
        self,
        store: Store,
        ring: KeyRing,
        ttl_s: float = 600,
        token_ttl_s: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.ring = ring
        self.ttl_s = ttl_s
        self.token_ttl_s = token_ttl_s
        self.clock = clock

    # tokens ---------------------------------------------------------------------------
    def _mac(self, record: ChallengeRecord, key_id: str) -> str:
        message = f"{record.id}\x1f{record.actor_key}\x1f{record.scope}".encode()
        digest = hmac.new(self.ring.derived("challenge", key_id), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def _token(self, record: ChallengeRecord) -> str:
        return f"{TOKEN_PREFIX}.{record.id}.{self.ring.current_id}.{self._mac(record, self.ring.current_id)}"

    @staticmethod
    def _parse(token: str) -> tuple[str, str, str] | None:
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != TOKEN_PREFIX or len(token) > MAX_TOKEN_LENGTH:
            return None
        return parts[1], parts[2], parts[3]

    # the three steps ------------------------------------------------------------------
    def issue(self, decision: Decision, scope: str, now: float) -> Challenge:
        record = ChallengeRecord(
            id=f"ch_{secrets.token_urlsafe(18)}", actor_key=decision.actor_key, scope=scope,
            score=decision.score, reasons=decision.reasons, created_at=now, expires_at=now + self.ttl_s,
        )
        self.store.create_challenge(record)
        return Challenge(record.id, record.expires_at)

    def pass_challenge(self, challenge_id: str, now: float | None = None) -> Pass | PassError:
        """Mark a challenge passed (the client's backend saw the person pass its test).

        Passing again before the token is spent returns the same token, so a
        client may retry this call safely.
        """
        now = self.clock() if now is None else now
        record = self.store.pass_challenge(challenge_id, now, self.token_ttl_s)
        if record is None:
            return PassError.NOT_FOUND
        if record.redeemed_at is not None:
            return PassError.USED
        if record.passed_at is None or record.token_expires_at is None or record.token_expires_at <= now:
            return PassError.EXPIRED
        return Pass(self._token(record), record.token_expires_at, record.scope)

    def redeem(self, token: str, actor_key: str, scope: str, now: float, ref: str | None = None) -> Refusal | None:
        """Spend a token for this person and scope; None when it counts."""
        parsed = self._parse(token)
        if parsed is None:
            return Refusal.INVALID
        challenge_id, key_id, mac = parsed
        record = self.store.get_challenge(challenge_id)
        if record is None or record.passed_at is None:
            return Refusal.INVALID
        try:
            genuine = hmac.compare_digest(mac, self._mac(record, key_id))
        except KeyRingError:  # signed under a key rotated out since
            return Refusal.INVALID
        if not genuine:
            return Refusal.INVALID
        if record.actor_key != actor_key or record.scope != scope:
            return Refusal.MISMATCH
        if self.store.redeem_challenge(challenge_id, actor_key, scope, now, ref):
            return None
        spent = self.store.get_challenge(challenge_id)
        return Refusal.USED if spent is not None and spent.redeemed_at is not None else Refusal.EXPIRED

    def resolve(
        self, decision: Decision, scope: str, token: str | None, now: float, idem: IdempotencyKey | None = None
    ) -> Decision | ChallengeRequired:
        """What a challenge decision becomes: the passed band (a good token) or a new challenge."""
        if not decision.challenge or decision.passed is None:
            return decision
        refused = None
        if token is not None:
            refused = self.redeem(token, decision.actor_key, scope, now, request_ref(idem))
            if refused is None:
                return replace(decision.passed, reasons=(*decision.passed.reasons, "challenge_passed"))
        return ChallengeRequired(self.issue(decision, scope, now), decision, refused)
