"""Pages of the insurance fund; ``web`` is the router ``main`` includes."""

from salomat.core.uow import router

web = router(include_in_schema=False)

__all__ = ["web"]
