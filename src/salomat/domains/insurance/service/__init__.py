"""The health-insurance fund's use cases (issue 17, docs/insurance.md)."""

from __future__ import annotations

from salomat.domains.insurance import models as _models  # noqa: F401  (tables on the metadata)
from salomat.domains.insurance.service import labels as labels
from salomat.domains.insurance.service import registry_events as registry_events
from salomat.domains.insurance.service import settled_claims as settled_claims
from salomat.domains.insurance.service.claims import get_claim, list_claims, submit_claim
from salomat.domains.insurance.service.control import run_controls
from salomat.domains.insurance.service.coverage import (
    Covered,
    Membership,
    Paid,
    Status,
    allocate,
    status_on,
)
from salomat.domains.insurance.service.review import decide_line, get_line, review_queue
from salomat.domains.insurance.service.rules import (
    InsuranceRules,
    add_months,
    insurance_rules,
    month_of,
)
from salomat.domains.insurance.service.settlement import (
    close_settlement,
    compute_settlement,
    compute_settlements,
    get_settlement,
    list_settlements,
    record_pharmacy_claim,
    settlement_csv,
)
from salomat.domains.insurance.service.status import (
    InsuredRecord,
    ServiceCoverage,
    coverage_for_people,
    coverage_for_person,
    eligibility_for,
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
    "ServiceCoverage",
    "Status",
    "add_months",
    "allocate",
    "close_settlement",
    "compute_settlement",
    "compute_settlements",
    "coverage_for_people",
    "coverage_for_person",
    "decide_line",
    "eligibility_for",
    "get_claim",
    "get_line",
    "get_settlement",
    "insurance_rules",
    "insurance_status",
    "insured_record",
    "list_claims",
    "list_settlements",
    "month_of",
    "my_insurance",
    "person_insurance",
    "record_pharmacy_claim",
    "review_queue",
    "run_controls",
    "service_eligibility",
    "settlement_csv",
    "status_on",
    "submit_claim",
]
