"""Maternal use cases; import names from here.

``dating`` and ``rules`` are pure (no database); ``pregnancy`` reads the
register, ``pregnancy_opening``, ``pregnancy_contacts`` and ``pregnancy_closing``
write it, ``pregnancy_merge`` follows the registry's merges. Each module lists
its public names in ``__all__``.
"""

from salomat.domains.maternal.service import dating as dating
from salomat.domains.maternal.service import rules as rules
from salomat.domains.maternal.service.birth import *  # noqa: F403
from salomat.domains.maternal.service.bulk_reads import *  # noqa: F403
from salomat.domains.maternal.service.dashboard import *  # noqa: F403
from salomat.domains.maternal.service.demo import *  # noqa: F403
from salomat.domains.maternal.service.diagnoses import *  # noqa: F403
from salomat.domains.maternal.service.external_observations import *  # noqa: F403
from salomat.domains.maternal.service.fhir_reads import *  # noqa: F403
from salomat.domains.maternal.service.leave_facts import *  # noqa: F403
from salomat.domains.maternal.service.portal import *  # noqa: F403
from salomat.domains.maternal.service.pregnancy import *  # noqa: F403
from salomat.domains.maternal.service.pregnancy_closing import *  # noqa: F403
from salomat.domains.maternal.service.pregnancy_contacts import *  # noqa: F403
from salomat.domains.maternal.service.pregnancy_merge import *  # noqa: F403
from salomat.domains.maternal.service.pregnancy_opening import *  # noqa: F403
from salomat.domains.maternal.service.reevaluation import *  # noqa: F403
from salomat.domains.maternal.service.referrals import *  # noqa: F403
from salomat.domains.maternal.service.synth import *  # noqa: F403
from salomat.domains.maternal.service.triage import *  # noqa: F403
from salomat.domains.maternal.service.vital_reads import *  # noqa: F403
from salomat.domains.maternal.service.worklists import *  # noqa: F403
