"""Use cases of this domain; import names from here.

``who`` computes the WHO z-scores as WHO Anthro does (pure); ``growth`` applies
the conventions around them (its ``assess`` is pure), records measurements and
marks them entered in error; ``records`` stores
well-child visits and the newborn record; ``milestones`` reads the pack's list of
developmental milestones a visit records; ``schedule`` the pack's well-child visit
schedule (named in every language) and a child's visits against it; ``passport``
reads everything together.
"""

from salomat.domains.child.service.bulk_reads import *  # noqa: F403
from salomat.domains.child.service.growth import *  # noqa: F403
from salomat.domains.child.service.milestones import *  # noqa: F403
from salomat.domains.child.service.passport import *  # noqa: F403
from salomat.domains.child.service.records import *  # noqa: F403
from salomat.domains.child.service.schedule import *  # noqa: F403
from salomat.domains.child.service.synth import *  # noqa: F403
from salomat.domains.child.service.who import *  # noqa: F403
