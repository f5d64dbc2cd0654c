"""REST API of the planning domain (/api/v1/planning/...): filled in below."""

from __future__ import annotations

from salomat.domains.planning import models  # noqa: F401  (the tables on the metadata)

routers: list = []
