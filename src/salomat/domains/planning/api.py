"""REST API of the planning domain (/api/v1/planning/...): filled in below."""

from __future__ import annotations

from salomat.domains.planning import service  # noqa: F401  (its models on the metadata)

routers: list = []
