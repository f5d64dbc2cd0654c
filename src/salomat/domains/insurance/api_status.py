"""REST API of the insurance fund: status."""

from __future__ import annotations

from salomat.core.uow import router

api = router(prefix="/api/v1", tags=["insurance"])

routers = [api]
