"""REST API of the insurance fund: claims."""

from __future__ import annotations

from salomat.core.uow import router

api = router(prefix="/api/v1", tags=["insurance"])

routers = [api]
