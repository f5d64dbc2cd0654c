"""Liveness and readiness for load balancers and operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from salomat import __version__
from salomat.core.policy import PUBLIC
from salomat.core.uow import get_session, router

health = router(tags=["operations"])


@health.get("/healthz", dependencies=[Depends(PUBLIC)])
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@health.get("/readyz", dependencies=[Depends(PUBLIC)])
async def readyz(session: Annotated[AsyncSession, Depends(get_session)]) -> JSONResponse:
    try:
        await session.execute(text("SELECT 1"))
    except Exception as e:  # any driver error means "not ready"
        return JSONResponse(
            {"status": "unavailable", "database": type(e).__name__}, status_code=503
        )
    return JSONResponse({"status": "ready", "database": session.get_bind().dialect.name})
