"""Route dependencies: who is asking (set by the Guard), and the admin-only check that routers
carry as a whole (`APIRouter(dependencies=[AdminOnly])`), never route by route."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection, Request

from gateway.auth.credentials import Principal


async def signed_in(connection: HTTPConnection) -> Principal:  # async: no thread pool hop
    principal: Principal | None = getattr(connection.state, "principal", None)
    if principal is None:  # the Guard lets no such request through; a second lock costs nothing
        raise HTTPException(status_code=401, detail="log in first")
    return principal


PrincipalDep = Annotated[Principal, Depends(signed_in)]


async def admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise HTTPException(status_code=403, detail="only an admin may do this")
    return principal


SignedIn = Depends(signed_in)
AdminOnly = Depends(admin)


def client_of(request: Request) -> str:
    """The client's address (as uvicorn has it: a trusted proxy's forwarded one, else the peer's)."""
    return request.client.host if request.client else "unknown"
