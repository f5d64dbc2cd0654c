"""The maternal pages, by use case; ``web`` is the router ``main`` includes."""

from salomat.domains.maternal.web import birth, citizen, monitoring, record, referrals
from salomat.domains.maternal.web.common import web

__all__ = ["birth", "citizen", "monitoring", "record", "referrals", "web"]
