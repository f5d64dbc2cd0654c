"""Use cases of this domain; import names from here.

``schedule`` is pure (no database): the calendar engine. The other modules
store and read doses and exemptions and list their public names in ``__all__``.
"""

from salomat.domains.immunization.service import schedule as schedule
from salomat.domains.immunization.service.bulk_reads import *  # noqa: F403
from salomat.domains.immunization.service.coverage import *  # noqa: F403
from salomat.domains.immunization.service.demo import *  # noqa: F403
from salomat.domains.immunization.service.demo_cohort import *  # noqa: F403
from salomat.domains.immunization.service.doses import *  # noqa: F403
from salomat.domains.immunization.service.exemptions import *  # noqa: F403
from salomat.domains.immunization.service.labels import *  # noqa: F403
from salomat.domains.immunization.service.registry_events import *  # noqa: F403
from salomat.domains.immunization.service.synth import *  # noqa: F403
from salomat.domains.immunization.service.worklists import *  # noqa: F403
