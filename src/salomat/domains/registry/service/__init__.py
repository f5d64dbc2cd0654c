"""Registry use cases, one module per registry; import names from here.

Each module lists its public functions in ``__all__``.
"""

from salomat.domains.registry.service.attached_population import *  # noqa: F403
from salomat.domains.registry.service.bulk_reads import *  # noqa: F403
from salomat.domains.registry.service.death_certificate import *  # noqa: F403
from salomat.domains.registry.service.duplicates import *  # noqa: F403
from salomat.domains.registry.service.employers import *  # noqa: F403
from salomat.domains.registry.service.facilities import *  # noqa: F403
from salomat.domains.registry.service.facility_changes import *  # noqa: F403
from salomat.domains.registry.service.facility_sections import *  # noqa: F403
from salomat.domains.registry.service.facility_sites import *  # noqa: F403
from salomat.domains.registry.service.fund_reads import *  # noqa: F403
from salomat.domains.registry.service.insured_person import *  # noqa: F403
from salomat.domains.registry.service.linkage import *  # noqa: F403
from salomat.domains.registry.service.merge import *  # noqa: F403
from salomat.domains.registry.service.pair_review import *  # noqa: F403
from salomat.domains.registry.service.people import *  # noqa: F403
from salomat.domains.registry.service.person_attachment import *  # noqa: F403
from salomat.domains.registry.service.person_correction import *  # noqa: F403
from salomat.domains.registry.service.person_death import *  # noqa: F403
from salomat.domains.registry.service.person_entry import *  # noqa: F403
from salomat.domains.registry.service.person_lists import *  # noqa: F403
from salomat.domains.registry.service.person_registration import *  # noqa: F403
from salomat.domains.registry.service.population import *  # noqa: F403
from salomat.domains.registry.service.practitioners import *  # noqa: F403
from salomat.domains.registry.service.relations import *  # noqa: F403
from salomat.domains.registry.service.row_moves import *  # noqa: F403
from salomat.domains.registry.service.search import *  # noqa: F403
from salomat.domains.registry.service.search_where import *  # noqa: F403
from salomat.domains.registry.service.synth import *  # noqa: F403
from salomat.domains.registry.service.territory import *  # noqa: F403
from salomat.domains.registry.service.territory_import import *  # noqa: F403
from salomat.domains.registry.service.unmerge import *  # noqa: F403
from salomat.domains.registry.service.versions import *  # noqa: F403
from salomat.domains.registry.service.vital_reads import *  # noqa: F403
