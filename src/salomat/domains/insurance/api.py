"""REST API of the insurance fund (docs/insurance.md); one module per use."""

from salomat.domains.insurance import api_claims, api_contributions, api_status

routers = [*api_contributions.routers, *api_status.routers, *api_claims.routers]

__all__ = ["routers"]
