"""The shared record's use cases; import names from here
(``from salomat.domains.record import service as record``).

``validation``: what the record checks of a resource and takes from it (``describe``:
the columns beside the body); ``writes``: create (conditional too) and update;
``reads``: read, version read, history, search; ``history``: the versions of many
resources (type- and system-level ``_history``); ``timeline``: the family doctor's view
(``display``: what it shows, taken at write time); ``naming``: identifier systems;
``scope``: the sending facility's scope; ``tokens``: FHIR date intervals and
``system|value``.
"""

from salomat.domains.record.service import registry_events as registry_events
from salomat.domains.record.service import scope as scope
from salomat.domains.record.service.bulk_reads import *  # noqa: F403
from salomat.domains.record.service.common import *  # noqa: F403
from salomat.domains.record.service.history import *  # noqa: F403
from salomat.domains.record.service.naming import *  # noqa: F403
from salomat.domains.record.service.reads import *  # noqa: F403
from salomat.domains.record.service.timeline import *  # noqa: F403
from salomat.domains.record.service.tokens import *  # noqa: F403
from salomat.domains.record.service.validation import *  # noqa: F403
from salomat.domains.record.service.writes import *  # noqa: F403
