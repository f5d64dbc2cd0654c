"""Standing diagnoses: a clinician reads them and resolves one with a reason.

A diagnosis the rules made at a contact stands on the pregnancy (``standing``)
until this use case resolves it; the pregnancy is then evaluated again, so its
risk level and level of care may fall, and the record says who lowered them,
when and why. The same contacts do not raise it again: only a contact recorded
after the resolution can.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, InvalidState, NotFound
from salomat.core.security import Principal
from salomat.domains.maternal.models import Diagnosis
from salomat.domains.maternal.schemas import DiagnosisOut, DiagnosisResolveIn, PregnancyDetail
from salomat.domains.maternal.service.evaluation import (
    _contacts,
    _diagnoses,
    diagnoses_out,
    evaluate,
)
from salomat.domains.maternal.service.pregnancy import (
    RESOURCE,
    _check_version,
    _detail,
    _open,
)

__all__ = ["list_diagnoses", "resolve_diagnosis"]

#: a diagnosis, in the audit (FHIR's name, as the Condition reads are audited)
CONDITION = "Condition"


async def list_diagnoses(
    session: AsyncSession, principal: Principal, pregnancy_id: int
) -> list[DiagnosisOut]:
    """The pregnancy's diagnoses and findings: standing first, then resolved."""
    p = await _open(session, principal, pregnancy_id, action="read", what=RESOURCE)
    return diagnoses_out(await _diagnoses(session, p.id), await _contacts(session, p.id))


async def resolve_diagnosis(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    diagnosis_id: int,
    data: DiagnosisResolveIn,
    *,
    expected_version: int | None,
) -> PregnancyDetail:
    """Resolve one standing diagnosis with a reason; the pregnancy is evaluated again.

    Resolved already with this reason and note: answered as it is, whatever version was read.
    """
    p = await _open(session, principal, pregnancy_id, action="update", what=RESOURCE)
    d = await session.get(Diagnosis, diagnosis_id)
    if d is None or d.pregnancy_id != p.id:
        raise NotFound(
            N_("Diagnosis %(id)s not found in pregnancy %(pregnancy)s."),
            params={"id": diagnosis_id, "pregnancy": pregnancy_id},
        )
    if (
        expected_version is not None
        and d.status == "resolved"
        and (d.resolution, d.resolution_note) == (data.reason, data.note.strip())
    ):
        return await _detail(session, p)
    _check_version(p, expected_version)
    if d.status != "active":
        raise InvalidState(N_("Diagnosis %(id)s is already resolved."), params={"id": diagnosis_id})
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is closed."), params={"id": pregnancy_id})
    note = data.note.strip()
    if len(note) < 3:
        raise Invalid.fields([FieldError("note", N_("say why, in at least 3 characters"))])
    d.status = "resolved"
    d.resolved_at = utcnow()
    d.resolved_by = principal.username
    d.resolution = data.reason
    d.resolution_note = note
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=CONDITION,
        resource_id=f"{p.id}-{d.family.replace('_', '-')}",
        patient_id=p.person_id,
        purpose="resolve a standing diagnosis",
        detail=f"diagnosis {d.id} ({d.code}) resolved as {data.reason}: {note}"[:500],
    )
    await evaluate(session, p)
    return await _detail(session, p)
