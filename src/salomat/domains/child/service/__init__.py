"""Use cases of this domain; import names from here.

``growth`` computes the WHO z-scores (its ``assess`` is pure); ``records`` stores
well-child visits and the newborn record; ``passport`` reads everything together.
"""

from salomat.domains.child.service.growth import *  # noqa: F403
from salomat.domains.child.service.passport import *  # noqa: F403
from salomat.domains.child.service.records import *  # noqa: F403
from salomat.domains.child.service.synth import *  # noqa: F403
