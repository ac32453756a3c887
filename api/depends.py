"""What a route is handed: the service and its companions, from the app's state.

``create_app`` puts them on ``app.state``; a route names what it needs as a parameter
(``ledger: LedgerDep``) and FastAPI hands it over. Routes are module-level functions on
module-level routers — never closures made per app — so a route reads as what it does,
and one app's service never leaks into another's (tests build many apps). The getters
are ``async``: a sync dependency would cost every request a hop to the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from access.tokens import AccessStore
from cadreledger.service import Ledger


async def ledger_of(request: Request) -> Ledger:
    found: Ledger = request.app.state.ledger
    return found


async def access_of(request: Request) -> AccessStore | None:
    """The token store, or None when the service is open (no authentication)."""
    found: AccessStore | None = getattr(request.app.state, "access", None)
    return found


LedgerDep = Annotated[Ledger, Depends(ledger_of)]
