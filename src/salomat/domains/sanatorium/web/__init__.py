"""Pages of the electronic sanatorium; ``web`` is the router ``main`` includes.

One module per audience, each with its own ``pages`` router: the referring doctor and
the registry clerk (``doctor``), the sanatorium's staff (``staff``), the citizen's
portal and her voucher (``citizen``), the public free places, queue and voucher check
(``public``), and the ministry's dashboard (``analytics``).
"""

from salomat.core.uow import router
from salomat.domains.sanatorium.web import analytics, citizen, doctor, public, staff

web = router(include_in_schema=False)
for _module in (doctor, staff, citizen, public, analytics):
    web.include_router(_module.pages)

__all__ = ["web"]
