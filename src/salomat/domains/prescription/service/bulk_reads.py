"""The prescriptions of many people at once, for a bulk export or Patient/$everything
(issue 19).

One statement for a page of people (``person_id IN (...)``, with each prescription's
medicine). No scope check and no audit here: the caller has chosen the people by scope,
set-wise, and audits each person it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.prescription.models import Dispensing, Medicine, Prescription
from salomat.domains.prescription.schemas import DispensingOut, PrescriptionOut
from salomat.domains.prescription.service.dispensing import _outs
from salomat.domains.prescription.service.prescribing import _out

__all__ = ["dispensings_for_people", "prescriptions_for_people"]


async def prescriptions_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[PrescriptionOut]]:
    """Each person's prescriptions, oldest first (``since``: only those changed after it)."""
    if not person_ids:
        return {}
    q = (
        select(Prescription, Medicine)
        .join(Medicine, Medicine.id == Prescription.medicine_id)
        .where(Prescription.person_id.in_(sorted(set(person_ids))))
    )
    if since is not None:
        q = q.where(Prescription.updated_at > since)
    q = q.order_by(Prescription.person_id, Prescription.issued_on, Prescription.id)
    out: dict[int, list[PrescriptionOut]] = {}
    for p, m in (await session.execute(q)).all():
        out.setdefault(p.person_id, []).append(_out(p, m))
    return out


async def dispensings_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[DispensingOut]]:
    """Each person's dispensings, oldest first, in three statements (the dispensings, their
    prescriptions, the medicines given). A dispensing is never changed once made:
    ``since`` keeps those made after it (``dispensed_at``)."""
    if not person_ids:
        return {}
    q = select(Dispensing).where(Dispensing.person_id.in_(sorted(set(person_ids))))
    if since is not None:
        q = q.where(Dispensing.dispensed_at > since)
    rows = list(
        (
            await session.scalars(
                q.order_by(Dispensing.person_id, Dispensing.dispensed_at, Dispensing.id)
            )
        ).all()
    )
    if not rows:
        return {}
    rxs = {
        r.id: r
        for r in await session.scalars(
            select(Prescription).where(
                Prescription.id.in_(sorted({d.prescription_id for d in rows}))
            )
        )
    }
    out: dict[int, list[DispensingOut]] = {}
    for d in await _outs(session, rows, rxs):
        out.setdefault(d.person_id, []).append(d)
    return out
