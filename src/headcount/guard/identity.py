"""Who the person is: identity keys (keyed hashes) and linking, without risk.

The signals guard (`headcount.guard.signals_guard`) builds on this one.
"""

from __future__ import annotations

import base64
import hmac
from typing import TYPE_CHECKING, Protocol

from headcount.types import ActorInfo, Decision

if TYPE_CHECKING:
    from headcount.privacy.keyring import KeyRing
    from headcount.store.base import Store


class Guard(Protocol):
    def assess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold",
               client: str | None = None) -> Decision:
        """`verb` is "hold" for the ledger, the action's verb for /v1/actions; `client` is the
        API key asking (None: the operator), for findings only some clients' data supports."""
        ...


class IdentityGuard:
    """The guard without signals: who the person is, no risk.

    With a key ring (as the service always has) identities are keyed hashes, so
    no raw identity reaches the store. With a store it links identities: an
    e-mail, phone, device or client id seen together with a known one joins that
    person, so the per-person limit holds for fifty addresses behind one phone.
    IP addresses are not identities (real people share networks); an actor with
    only an IP is keyed by it. The signals guard adds risk and canonical mailboxes.
    """

    LINKED_KINDS = ("id", "email", "tel", "dev")

    def __init__(self, ring: KeyRing | None = None, store: Store | None = None) -> None:
        self.ring = ring
        self.store = store
        #: (ring, its derived pseudonym key, its key id), read and replaced as one tuple
        self._pseudonym: tuple[KeyRing | None, bytes, str] = (None, b"", "")

    def _key(self, kind: str, value: str) -> str:
        """`ring.pseudonym(kind, value)`: the same `kind:keyid:hash`, with the derived key kept
        and the HMAC done in one call (`hmac.digest`, in C); raw `kind:value` without a ring."""
        ring = self.ring
        if not ring:
            return f"{kind}:{value}"
        cached, secret, key_id = self._pseudonym
        if cached is not ring:  # a new ring (rotation, or a test swapping it)
            secret, key_id = ring.derived("pseudonym"), ring.current_id
            self._pseudonym = (ring, secret, key_id)
        mac = hmac.digest(secret, f"{kind}\x1f{value}".encode(), "sha256")
        return f"{kind}:{key_id}:{base64.urlsafe_b64encode(mac[:18]).decode()}"

    def key(self, kind: str, value: str) -> str:
        """The pseudonym of one identifier (as the guard keys it; verification uses it too)."""
        return self._key(kind, value)

    def identities(self, actor: ActorInfo) -> list[str]:
        values = (actor.id, actor.email.lower() if actor.email else None, actor.phone, actor.device)
        return [self._key(kind, v) for kind, v in zip(self.LINKED_KINDS, values, strict=True) if v]

    def person(self, keys: list[str], actor: ActorInfo, now: float) -> str:
        """The person these identity keys belong to (linking them in the store)."""
        if not keys:
            return self._key("ip", actor.ip) if actor.ip else "anonymous"
        if self.store is None:
            return keys[0]
        return self.store.resolve_person(keys) or self.store.link_identities(keys, now)

    async def aperson(self, keys: list[str], actor: ActorInfo, now: float) -> str:
        if not keys or self.store is None:
            return self.person(keys, actor, now)
        store = self.store
        found = await store.aread(lambda: store.resolve_person(keys))
        return found or await store.alink_identities(keys, now)

    def assess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold",
               client: str | None = None) -> Decision:
        return Decision(actor_key=self.person(self.identities(actor), actor, now))

    async def aassess(self, actor: ActorInfo, pool_id: str, now: float, *, verb: str = "hold",
                      client: str | None = None) -> Decision:
        return Decision(actor_key=await self.aperson(self.identities(actor), actor, now))
