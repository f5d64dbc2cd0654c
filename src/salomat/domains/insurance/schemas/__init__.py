"""The insurance fund's public schemas, one module per use (contributions, status,
claims); import them from here."""

from salomat.domains.insurance.schemas.claims import *  # noqa: F403
from salomat.domains.insurance.schemas.status import *  # noqa: F403
