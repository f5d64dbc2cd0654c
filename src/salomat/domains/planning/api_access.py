"""REST routes of access, scenarios, mobile teams' routes and visits (filled in below)."""

from __future__ import annotations

from salomat.domains.planning import models_mobile  # noqa: F401  (the tables on the metadata)

routers: list = []
