"""Pages of the electronic sanatorium: see the package docstring."""

from __future__ import annotations

from salomat.core.uow import router

pages = router(include_in_schema=False)
