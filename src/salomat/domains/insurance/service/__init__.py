"""The health-insurance fund's use cases (issue 17, docs/insurance.md)."""

from __future__ import annotations

from salomat.domains.insurance import models as _models  # noqa: F401  (tables on the metadata)
from salomat.domains.insurance.service import labels as labels
from salomat.domains.insurance.service import registry_events as registry_events
from salomat.domains.insurance.service.coverage import (
    Covered,
    Membership,
    Paid,
    Status,
    allocate,
    status_on,
)
from salomat.domains.insurance.service.rules import (
    InsuranceRules,
    add_months,
    insurance_rules,
    month_of,
)
from salomat.domains.insurance.service.status import (
    InsuredRecord,
    coverage_for_person,
    insurance_status,
    insured_record,
    my_insurance,
    person_insurance,
    service_eligibility,
)

__all__ = [
    "Covered",
    "InsuranceRules",
    "InsuredRecord",
    "Membership",
    "Paid",
    "Status",
    "add_months",
    "allocate",
    "coverage_for_person",
    "insurance_rules",
    "insurance_status",
    "insured_record",
    "month_of",
    "my_insurance",
    "person_insurance",
    "service_eligibility",
    "status_on",
]
