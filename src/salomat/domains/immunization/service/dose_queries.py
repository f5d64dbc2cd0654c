"""Recorded doses as a subquery, for a higher domain's set-wise figures in SQL.

No row leaves the database here and no audit row is written (aggregate callers).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from salomat.domains.immunization.models import Dose

__all__ = ["given_doses_query"]


def given_doses_query(antigen: str, up_to: date) -> Any:
    """The doses of ``antigen`` given on or before ``up_to`` (``person_id``, ``given_on``):
    completed and valid; a dose entered in error or given too early is left out."""
    return (
        select(Dose.person_id.label("person_id"), Dose.given_on.label("given_on"))
        .where(
            Dose.antigen == antigen,
            Dose.status == "completed",
            Dose.valid.is_(True),
            Dose.given_on <= up_to,
        )
        .subquery("given")
    )
