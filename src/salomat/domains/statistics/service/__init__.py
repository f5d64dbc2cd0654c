"""Statistics use cases; import names from here.

``calc`` is pure arithmetic (rates, intervals, SDG 3.4.1, the life table);
``catalogue`` reads the indicator definitions and the pack's targets; ``aggregate``
computes a period's indicators; ``job`` runs it nightly and on demand; ``values`` reads
values, trends and the CSV (masked) for the API, FHIR and the pages.
"""

from salomat.domains.statistics.service import calc as calc
from salomat.domains.statistics.service.aggregate import *  # noqa: F403
from salomat.domains.statistics.service.catalogue import *  # noqa: F403
from salomat.domains.statistics.service.job import *  # noqa: F403
from salomat.domains.statistics.service.pages import *  # noqa: F403
from salomat.domains.statistics.service.values import *  # noqa: F403
