"""Pages of the insurance fund; ``web`` is the router ``main`` includes."""

from salomat.core.uow import router
from salomat.domains.insurance.web import claims, eligibility, fund, portal, review

web = router(include_in_schema=False)
web.include_router(claims.pages)
web.include_router(eligibility.pages)
web.include_router(fund.pages)
web.include_router(portal.pages)
web.include_router(review.pages)

__all__ = ["web"]
