"""Pages of the insurance fund; ``web`` is the router ``main`` includes."""

from salomat.core.uow import router
from salomat.domains.insurance.web import eligibility, fund, portal

web = router(include_in_schema=False)
web.include_router(eligibility.pages)
web.include_router(fund.pages)
web.include_router(portal.pages)

__all__ = ["web"]
