"""Pages of the cancer registry; ``web`` is the router ``main`` includes.

One module per use: the clinician's notification (``clinician``), the registry's work
queue (``registrar``), the tumour record with its forms (``tumour``) and the
oncologist's follow-up worklist (``worklist``).
"""

from salomat.core.uow import router
from salomat.domains.cancer.web import clinician, registrar, statistics, tumour, worklist

web = router(include_in_schema=False)
for _module in (clinician, registrar, tumour, worklist):
    web.include_router(_module.pages)
web.include_router(statistics.pages)

__all__ = ["web"]
