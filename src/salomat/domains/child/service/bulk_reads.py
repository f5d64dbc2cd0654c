"""The child passport's growth measurements for a page of people at once (FHIR bulk
export, Patient/$everything). No scope check and no audit here: the caller has chosen
the people by scope and audits each person it writes (fhir/bulk_export.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.child.models import GrowthMeasurement
from salomat.domains.child.schemas import MeasurementOut

__all__ = ["measurements_for_people"]


async def measurements_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[MeasurementOut]]:
    """Each person's measurements, oldest first (as ``list_measurements``), in one
    statement; those entered in error too (their Observations say so). ``since``: those
    recorded, or marked entered in error, after it."""
    if not person_ids:
        return {}
    q = select(GrowthMeasurement).where(GrowthMeasurement.person_id.in_(sorted(set(person_ids))))
    if since is not None:
        q = q.where(
            or_(GrowthMeasurement.recorded_at > since, GrowthMeasurement.error_marked_at > since)
        )
    q = q.order_by(GrowthMeasurement.person_id, GrowthMeasurement.measured_on, GrowthMeasurement.id)
    out: dict[int, list[MeasurementOut]] = {}
    for m in await session.scalars(q):
        out.setdefault(m.person_id, []).append(MeasurementOut.model_validate(m))
    return out
