"""The demo's prescriptions (``prescriptions:`` of ``<CC>/demo.yaml``): a few people's
medicines, prescribed by the demo polyclinic's doctor on the day the demo is loaded, so
the disease-management card shows a hypertension patient's antihypertensive.

Each goes through ``create_prescription`` (the pack's rules decide: a reimbursed one
needs a qualifying diagnosis). Loading again adds nothing: a person who already has an
active prescription of that INN keeps it (the 409 of a second one is skipped).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, Conflict, FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.prescription.schemas import PrescriptionIn
from salomat.domains.prescription.service.prescribing import create_prescription
from salomat.domains.registry import service as registry

__all__ = ["load_demo_prescriptions"]

LOADER = "demo-loader"


def _bad(field: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(f"prescriptions.{field}", message, params)])


async def load_demo_prescriptions(
    session: AsyncSession,
    specs: list[dict[str, Any]],
    person_ids: dict[str, int],
    *,
    facility_code: str,
) -> int:
    """Prescribe the demo's medicines; returns how many were written.

    ``person_ids``: national id -> person id of the people just loaded (others are looked
    up); a wrong entry raises ``Invalid`` naming ``prescriptions[i].<field>``."""
    if not specs:
        return 0
    fid = await registry.facility_id_by_code(session, facility_code)
    if fid is None:
        raise _bad("polyclinic", N_("no facility has code %(code)s"), {"code": facility_code})
    doctor = Principal(
        user_id=0, username=LOADER, role="family_doctor", session_id="cli",
        facility_id=fid, facility_code=facility_code,
    )  # fmt: skip
    made = 0
    for i, spec in enumerate(specs):
        nid = str(spec.get("person", ""))
        person_id = person_ids.get(nid) or await registry.person_id_by_national_id(session, nid)
        if person_id is None:
            raise _bad(f"{i}.person", N_("%(value)s is not a person of the demo"), {"value": nid})
        try:
            data = PrescriptionIn(
                medicine=spec["medicine"],
                diagnosis=spec.get("diagnosis"),
                kind=spec.get("kind", "regular"),
                dose_units=spec.get("dose_units", 1),
                times_per_day=spec.get("times_per_day", 1),
                days=spec.get("days", 30),
                instructions=spec.get("instructions"),
            )
        except (KeyError, ValueError) as e:
            raise _bad(f"{i}", N_("is not a prescription: %(reason)s"), {"reason": str(e)}) from e
        try:
            await create_prescription(session, doctor, person_id, data)
        except Conflict:
            continue  # loaded before: the active one stays
        made += 1
    return made
