"""Sick-leave use cases; import names from here.

``rules``: the pack's limits (pure); ``issuing``: opening certificates and maternity
leave; ``changes``: extend, the VKK's decisions, close, correct, cancel, duplicate;
``reading``: certificates and their versions; ``employers``: the holder's shares, the
employer's view and public verification; ``registry_events``: death, birth and merge.
"""

from salomat.domains.sickleave.service import registry_events as registry_events
from salomat.domains.sickleave.service.analytics import *  # noqa: F403
from salomat.domains.sickleave.service.changes import *  # noqa: F403
from salomat.domains.sickleave.service.common import *  # noqa: F403
from salomat.domains.sickleave.service.demo import *  # noqa: F403
from salomat.domains.sickleave.service.employers import *  # noqa: F403
from salomat.domains.sickleave.service.fhir_support import *  # noqa: F403
from salomat.domains.sickleave.service.issuing import *  # noqa: F403
from salomat.domains.sickleave.service.labels import *  # noqa: F403
from salomat.domains.sickleave.service.maternity import *  # noqa: F403
from salomat.domains.sickleave.service.reading import *  # noqa: F403
from salomat.domains.sickleave.service.rules import *  # noqa: F403
from salomat.domains.sickleave.service.synth import *  # noqa: F403
