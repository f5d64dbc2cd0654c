"""Pages of sick leave: the doctor's forms, the commission's, the holder's and the employer's."""

from __future__ import annotations

from salomat.core.uow import router

web = router(include_in_schema=False)
