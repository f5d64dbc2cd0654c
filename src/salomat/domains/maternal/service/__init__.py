"""Maternal use cases; import names from here.

``dating`` and ``rules`` are pure (no database); ``pregnancy`` stores the
register, the contacts and the advice, and lists its public names in ``__all__``.
"""

from salomat.domains.maternal.service import dating as dating
from salomat.domains.maternal.service import rules as rules
from salomat.domains.maternal.service.birth import *  # noqa: F403
from salomat.domains.maternal.service.dashboard import *  # noqa: F403
from salomat.domains.maternal.service.demo import *  # noqa: F403
from salomat.domains.maternal.service.diagnoses import *  # noqa: F403
from salomat.domains.maternal.service.fhir_reads import *  # noqa: F403
from salomat.domains.maternal.service.portal import *  # noqa: F403
from salomat.domains.maternal.service.pregnancy import *  # noqa: F403
from salomat.domains.maternal.service.reevaluation import *  # noqa: F403
from salomat.domains.maternal.service.referrals import *  # noqa: F403
from salomat.domains.maternal.service.synth import *  # noqa: F403
from salomat.domains.maternal.service.triage import *  # noqa: F403
from salomat.domains.maternal.service.worklists import *  # noqa: F403
