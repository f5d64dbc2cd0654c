"""Cancer registry use cases; import names from here.

``icdo3``, ``checks``, ``primaries``, ``incidence``, ``rates``: the pure rules (ICD-O-3
tables, the IARC checks, multiple primaries, dates of incidence and basis, rates);
``notifications``: reports in, tumours out; ``tumours``: the record, follow-up, the
queues; ``statistics``: counts, rates and quality indicators.
"""

from salomat.domains.cancer.service import registry_events as registry_events
from salomat.domains.cancer.service.common import *  # noqa: F403
from salomat.domains.cancer.service.demo import *  # noqa: F403
from salomat.domains.cancer.service.fhir_support import *  # noqa: F403
from salomat.domains.cancer.service.notifications import *  # noqa: F403
from salomat.domains.cancer.service.statistics import *  # noqa: F403
from salomat.domains.cancer.service.synth import *  # noqa: F403
from salomat.domains.cancer.service.tumours import *  # noqa: F403
