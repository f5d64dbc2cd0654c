"""Registry schemas, one module per registry; import names from here."""

from salomat.domains.registry.schemas.duplicates import *  # noqa: F403
from salomat.domains.registry.schemas.employers import *  # noqa: F403
from salomat.domains.registry.schemas.facilities import *  # noqa: F403
from salomat.domains.registry.schemas.people import *  # noqa: F403
from salomat.domains.registry.schemas.practitioners import *  # noqa: F403
from salomat.domains.registry.schemas.relations import *  # noqa: F403
from salomat.domains.registry.schemas.synth import *  # noqa: F403
from salomat.domains.registry.schemas.territory import *  # noqa: F403
