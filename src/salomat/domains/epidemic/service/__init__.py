"""Epidemic surveillance's services (docs/epidemic.md). The modules listed here are pure:
they compute on numpy arrays of daily counts and never open a database. The others
(notifications, capacity, counts, situation, alerts, revaccination_sql/_due/_report,
demo, synth) read and write the database and call these.

- ``rt``: Rt by Cori et al. 2013 as EpiEstim computes it, regions × days at once;
- ``forecast``: renewal projections of cases, admissions and occupied beds, as ranges;
- ``matrix``: zones by the pack's rule editions;
- ``revaccination``: coverage against both denominators and the target;
- ``distributions``: serial interval, delays, length of stay and their validator;
- ``rules``: the country pack's ``epidemic.yaml``, read and checked once.
"""

from salomat.domains.epidemic.service.distributions import (
    discr_si,
    serial_interval_from_gamma,
    validate_pmf,
    validate_serial_interval,
)
from salomat.domains.epidemic.service.forecast import (
    BedProjection,
    CaseProjection,
    HospitalParameters,
    admissions,
    first_day_above,
    occupancy,
    project_beds,
    project_cases,
    renewal,
)
from salomat.domains.epidemic.service.matrix import (
    Edition,
    EditionError,
    ZoneResult,
    evaluate,
    incidence_per_100k,
    parse_edition,
)
from salomat.domains.epidemic.service.revaccination import (
    Coverage,
    coverage,
    coverage_of_persons,
)
from salomat.domains.epidemic.service.rt import Prior, RtSeries, estimate_rt, infectiousness
from salomat.domains.epidemic.service.rules import EpidemicPack, epidemic_pack

__all__ = [
    "BedProjection",
    "CaseProjection",
    "Coverage",
    "Edition",
    "EditionError",
    "EpidemicPack",
    "HospitalParameters",
    "Prior",
    "RtSeries",
    "ZoneResult",
    "admissions",
    "coverage",
    "coverage_of_persons",
    "discr_si",
    "epidemic_pack",
    "estimate_rt",
    "evaluate",
    "first_day_above",
    "incidence_per_100k",
    "infectiousness",
    "occupancy",
    "parse_edition",
    "project_beds",
    "project_cases",
    "renewal",
    "serial_interval_from_gamma",
    "validate_pmf",
    "validate_serial_interval",
]
