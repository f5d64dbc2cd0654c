"""Pages of sick leave; ``web`` is the router ``main`` includes.

One module per audience, each with its own ``pages`` router: the doctor's forms
(``doctor``), the documents (``documents``), the citizen's portal page (``citizen``),
the employer's (``employer``) and the public check (``public``).
"""

from salomat.core.uow import router
from salomat.domains.sickleave.web import analytics, citizen, doctor, documents, employer, public

web = router(include_in_schema=False)
for _module in (doctor, documents, citizen, employer, public, analytics):
    web.include_router(_module.pages)

__all__ = ["web"]
