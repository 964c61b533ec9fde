"""FastAPI dependencies: the ledger and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from headcount.api.auth import KeyVerifier, Principal
from headcount.services.holds import Ledger


async def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger


async def get_principal(request: Request) -> Principal:
    # AuthFirst (middleware) verified the key before the body was read; verified keys are cached
    verifier: KeyVerifier = request.app.state.verifier
    return await verifier.principal(request)


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
