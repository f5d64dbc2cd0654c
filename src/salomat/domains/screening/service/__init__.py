"""The screening domain's use cases (its public surface with ``schemas``).

``rules`` (the pack), ``measurements`` and ``control`` are pure; ``target_groups``
computes the groups set-wise in SQL; ``visits`` records screenings; ``enrolments`` the
disease-management programmes; ``worklists`` the facility's lists; ``card`` a patient's
programme card and the citizen's screenings due.
"""

from salomat.domains.screening.service.card import due_for, my_screenings_due, programme_card
from salomat.domains.screening.service.control import (
    SugarControl,
    bp_controlled,
    bp_high_risk,
    sugar_control,
)
from salomat.domains.screening.service.demo import load_demo_screening
from salomat.domains.screening.service.eligibility import Eligibility, eligibility
from salomat.domains.screening.service.enrolments import (
    end_enrolment,
    enrol,
    get_enrolment,
    list_enrolments,
    record_dmp_visit,
)
from salomat.domains.screening.service.measurements import (
    Checked,
    check_measurement,
    from_canonical,
    to_canonical,
)
from salomat.domains.screening.service.observations import (
    FollowUpReading,
    get_observation,
    list_observations,
)
from salomat.domains.screening.service.rules import (
    Dmp,
    Edition,
    Programme,
    ScreeningRules,
    add_years,
    age_on,
    screening_rules,
)
from salomat.domains.screening.service.synth import synthesize_screening
from salomat.domains.screening.service.target_groups import (
    birth_bounds,
    due_among,
    interval_cutoff,
    target_group_counts,
)
from salomat.domains.screening.service.visits import get_visit, record_screening
from salomat.domains.screening.service.worklists import (
    dmp_worklist,
    invitation_worklist,
    latest_readings,
)

__all__ = [
    "Checked",
    "Dmp",
    "Edition",
    "Eligibility",
    "FollowUpReading",
    "Programme",
    "ScreeningRules",
    "SugarControl",
    "add_years",
    "age_on",
    "birth_bounds",
    "bp_controlled",
    "bp_high_risk",
    "check_measurement",
    "dmp_worklist",
    "due_among",
    "due_for",
    "eligibility",
    "end_enrolment",
    "enrol",
    "from_canonical",
    "get_enrolment",
    "get_observation",
    "get_visit",
    "interval_cutoff",
    "invitation_worklist",
    "latest_readings",
    "list_enrolments",
    "list_observations",
    "load_demo_screening",
    "my_screenings_due",
    "programme_card",
    "record_dmp_visit",
    "record_screening",
    "screening_rules",
    "sugar_control",
    "synthesize_screening",
    "target_group_counts",
    "to_canonical",
]
