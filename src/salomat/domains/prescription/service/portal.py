"""The citizen portal's prescriptions: her own and her young children's, never anyone else's.

Whose: the citizen's own record, and her children under 18 as the registry
and the birth records know them (the same people the citizen scope of
``core.policy`` lets her open). Each person's list is opened through
``require_person``, so it is scope-checked and audited on that record.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.prescription.models import Dispensing, Medicine, Prescription
from salomat.domains.prescription.schemas import MyDispensing, MyPrescriptionOut
from salomat.domains.registry import service as registry

__all__ = ["my_prescriptions"]


def _medicine(m: Medicine) -> str:
    return f"{m.trade_name or m.inn} {m.strength}"


async def _children(session: AsyncSession, principal: Principal) -> list[int]:
    ids = [
        *await maternal.children_of(session, principal),
        *await registry.children_of(session, principal),
    ]
    return [i for i in dict.fromkeys(ids) if i != principal.person_id]


async def my_prescriptions(
    session: AsyncSession, principal: Principal, *, today: date | None = None
) -> list[MyPrescriptionOut]:
    """The citizen's prescriptions (then her children's), newest first, with where dispensed."""
    if principal.person_id is None:
        return []
    today = today or date.today()
    people = [principal.person_id, *await _children(session, principal)]
    out: list[MyPrescriptionOut] = []
    for person_id in people:
        await require_person(
            session,
            principal,
            person_id,
            action="read",
            resource_type="MedicationRequest",
            purpose="citizen portal: prescriptions",
        )
        rows = (
            await session.execute(
                select(Prescription, Medicine)
                .join(Medicine, Medicine.id == Prescription.medicine_id)
                .where(Prescription.person_id == person_id)
                .order_by(Prescription.issued_on.desc(), Prescription.id.desc())
            )
        ).all()
        if not rows:
            continue
        given = (
            await session.execute(
                select(Dispensing, Medicine)
                .join(Medicine, Medicine.id == Dispensing.medicine_id)
                .where(Dispensing.prescription_id.in_([p.id for p, _ in rows]))
                .order_by(Dispensing.dispensed_at)
            )
        ).all()
        pharmacies: dict[int, str] = {}
        for d, _ in given:
            if d.facility_id not in pharmacies:
                pharmacies[d.facility_id] = (
                    await registry.get_facility(session, d.facility_id)
                ).name
        for p, m in rows:
            status = p.status
            if status == "active" and p.valid_until < today:
                status = "expired"
            out.append(
                MyPrescriptionOut(
                    id=p.id,
                    code=p.code,
                    person_id=p.person_id,
                    inn=p.inn,
                    medicine=_medicine(m),
                    status=status,
                    issued_on=p.issued_on,
                    valid_until=p.valid_until,
                    quantity_units=p.quantity_units,
                    dispensed_units=p.dispensed_units,
                    remaining_units=p.quantity_units - p.dispensed_units,
                    unit=m.unit,
                    instructions=p.instructions,
                    reimbursed=p.reimbursed,
                    dispensings=[
                        MyDispensing(
                            dispensed_at=d.dispensed_at,
                            pharmacy=pharmacies[d.facility_id],
                            medicine=_medicine(dm),
                            units=d.units,
                            copayment=d.copayment,
                        )
                        for d, dm in given
                        if d.prescription_id == p.id
                    ],
                )
            )
    return out
