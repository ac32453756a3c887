"""What a route is handed: the service and its companions, from the app's state.

``create_app`` puts them on ``app.state``; a route names what it needs as a parameter
(``ledger: LedgerDep``) and FastAPI hands it over. Routes are module-level functions on
module-level routers — never closures made per app — so a route reads as what it does,
and one app's service never leaks into another's (tests build many apps). The getters
are ``async``: a sync dependency would cost every request a hop to the thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from access.tokens import AccessStore
from cadreledger.service import Ledger


def on_state(name: str) -> Any:
    """The dependency that hands a route ``app.state.<name>``, as ``create_app`` put it
    there; its type is the ``Annotated`` one the route names (``HubDep`` …)."""

    async def found(request: Request) -> Any:
        return getattr(request.app.state, name)

    found.__name__ = f"{name}_of"
    return Depends(found)


async def access_of(request: Request) -> AccessStore | None:
    """The token store, or None when the service is open (no authentication)."""
    found: AccessStore | None = getattr(request.app.state, "access", None)
    return found


LedgerDep = Annotated[Ledger, on_state("ledger")]
