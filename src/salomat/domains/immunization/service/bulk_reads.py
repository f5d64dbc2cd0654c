"""The doses of many people at once, for a bulk export (FHIR Bulk Data, issue 19).

One statement for a page of people (``person_id IN (...)``) instead of one per person.
No scope check and no audit here: the caller has chosen the people by scope, set-wise,
and audits each person it writes (fhir/bulk_export.py, one insert a page).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.immunization.models import Dose
from salomat.domains.immunization.schemas import DoseOut
from salomat.domains.immunization.service.doses import _dose_out, calendar_options

__all__ = ["doses_for_people"]


async def doses_for_people(
    session: AsyncSession,
    person_ids: Sequence[int],
    *,
    since: datetime | None = None,
    include_errors: bool = True,
) -> dict[int, list[DoseOut]]:
    """Each person's doses, oldest first, for the people of ``person_ids`` (one statement).

    ``since``: only doses recorded after it (a bulk export's ``_since``). Doses entered in
    error are included by default (status ``entered-in-error`` in FHIR, so a receiver that
    has the dose learns it was wrong).
    """
    if not person_ids:
        return {}
    q = select(Dose).where(Dose.person_id.in_(sorted(set(person_ids))))
    if since is not None:
        q = q.where(Dose.recorded_at > since)
    if not include_errors:
        q = q.where(Dose.status != "entered_in_error")
    cal = calendar_options()
    out: dict[int, list[DoseOut]] = {}
    for d in (await session.scalars(q.order_by(Dose.person_id, Dose.given_on, Dose.id))).all():
        out.setdefault(d.person_id, []).append(_dose_out(d, cal))
    return out
