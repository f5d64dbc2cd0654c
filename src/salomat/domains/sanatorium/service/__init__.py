"""Sanatorium use cases; import names from here.

``rules``: the pack's tables and the queue's pure rules; ``catalogue``: beds, periods,
free places; ``referrals``: referring, applying, confirming, correcting, cancelling;
``queue``: positions, waits, the public list; ``offers``: the sweep, offers, bookings;
``stays``: arrivals, discharges, no-shows, vouchers; ``portal``: the citizen's own.
"""

from salomat.domains.sanatorium.service import registry_events as registry_events
from salomat.domains.sanatorium.service.analytics import *  # noqa: F403
from salomat.domains.sanatorium.service.catalogue import *  # noqa: F403
from salomat.domains.sanatorium.service.common import *  # noqa: F403
from salomat.domains.sanatorium.service.demo import *  # noqa: F403
from salomat.domains.sanatorium.service.fhir_support import *  # noqa: F403
from salomat.domains.sanatorium.service.labels import *  # noqa: F403
from salomat.domains.sanatorium.service.offers import *  # noqa: F403
from salomat.domains.sanatorium.service.portal import *  # noqa: F403
from salomat.domains.sanatorium.service.queue import *  # noqa: F403
from salomat.domains.sanatorium.service.referrals import *  # noqa: F403
from salomat.domains.sanatorium.service.rules import *  # noqa: F403
from salomat.domains.sanatorium.service.stays import *  # noqa: F403
from salomat.domains.sanatorium.service.synth import *  # noqa: F403
