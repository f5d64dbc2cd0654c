"""Epidemic pages (issue 23): placeholder router, filled by the pages' commit."""

from __future__ import annotations

from salomat.core.uow import router

web = router(include_in_schema=False)
