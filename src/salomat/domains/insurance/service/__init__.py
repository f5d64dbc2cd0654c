"""The health-insurance fund's use cases (issue 17, docs/insurance.md)."""

from __future__ import annotations

from salomat.domains.insurance import models as _models  # noqa: F401  (tables on the metadata)
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

__all__ = [
    "Covered",
    "InsuranceRules",
    "Membership",
    "Paid",
    "Status",
    "add_months",
    "allocate",
    "insurance_rules",
    "month_of",
    "status_on",
]
