"""The pregnancy register read for a page of people at once (FHIR bulk export,
Patient/$everything): no scope check and no audit here; the caller checked who may
export whom and audits each person it writes (fhir/bulk_export.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.maternal.models import (
    AdviceItem,
    AntenatalContact,
    Diagnosis,
    Pregnancy,
    Referral,
)
from salomat.domains.maternal.schemas import (
    AdviceOut,
    ConditionOut,
    PregnancyDetail,
    ReferralOut,
)
from salomat.domains.maternal.service.evaluation import diagnoses_out
from salomat.domains.maternal.service.fhir_reads import conditions_of
from salomat.domains.maternal.service.pregnancy import _contact_out, _out
from salomat.domains.registry import service as registry

__all__ = ["PregnancyRecord", "pregnancies_for_people", "referrals_for_people"]


@dataclass
class PregnancyRecord:
    """A pregnancy as its FHIR reads answer it: the detail (contacts, active advice,
    diagnoses) and its Conditions."""

    detail: PregnancyDetail
    conditions: list[ConditionOut] = field(default_factory=list)


async def pregnancies_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[PregnancyRecord]]:
    """Each person's pregnancies, newest first (as ``list_pregnancies``), in four
    statements whatever the number of people: pregnancies, contacts, active advice,
    diagnoses.

    ``since``: only pregnancies changed after it (``pregnancy.updated_at``, which every
    write to the pregnancy moves: a contact, a re-evaluation, a resolved diagnosis, the
    closing); such a pregnancy comes with all its contacts, advice and diagnoses.
    """
    if not person_ids:
        return {}
    q = select(Pregnancy).where(Pregnancy.person_id.in_(sorted(set(person_ids))))
    if since is not None:
        q = q.where(Pregnancy.updated_at > since)
    rows = list(
        (
            await session.scalars(
                q.order_by(Pregnancy.person_id, Pregnancy.edd.desc(), Pregnancy.id.desc())
            )
        ).all()
    )
    if not rows:
        return {}
    ids = [p.id for p in rows]
    contacts: dict[int, list[AntenatalContact]] = {}
    for c in await session.scalars(
        select(AntenatalContact)
        .where(AntenatalContact.pregnancy_id.in_(ids))
        .order_by(AntenatalContact.pregnancy_id, AntenatalContact.on, AntenatalContact.id)
    ):
        contacts.setdefault(c.pregnancy_id, []).append(c)
    advice: dict[int, list[AdviceItem]] = {}
    for a in await session.scalars(
        select(AdviceItem)
        .where(AdviceItem.pregnancy_id.in_(ids), AdviceItem.active.is_(True))
        .order_by(AdviceItem.pregnancy_id, AdviceItem.id)
    ):
        advice.setdefault(a.pregnancy_id, []).append(a)
    diagnoses: dict[int, list[Diagnosis]] = {}
    for d in await session.scalars(
        select(Diagnosis)
        .where(Diagnosis.pregnancy_id.in_(ids))
        .order_by(Diagnosis.pregnancy_id, Diagnosis.id)
    ):
        diagnoses.setdefault(d.pregnancy_id, []).append(d)
    out: dict[int, list[PregnancyRecord]] = {}
    for p in rows:
        cs, ads, ds = contacts.get(p.id, []), advice.get(p.id, []), diagnoses.get(p.id, [])
        detail = PregnancyDetail.model_validate(_out(p).model_dump())
        detail.contacts = [_contact_out(c) for c in cs]
        detail.advice = [AdviceOut.model_validate(a) for a in ads]
        detail.diagnoses = diagnoses_out(ds, cs)
        out.setdefault(p.person_id, []).append(PregnancyRecord(detail, conditions_of(p, ds, ads)))
    return out


async def referrals_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[ReferralOut]]:
    """Each woman's referrals (a FHIR ServiceRequest each), newest pregnancy first and
    each pregnancy's oldest first (as the ServiceRequest search by patient), in two
    statements: the referrals with their pregnancy's order, the facilities' codes.
    ``since``: those changed after it (``antenatal_referral.updated_at``)."""
    if not person_ids:
        return {}
    q = (
        select(Referral)
        .join(Pregnancy, Pregnancy.id == Referral.pregnancy_id)
        .where(Referral.person_id.in_(sorted(set(person_ids))))
    )
    if since is not None:
        q = q.where(Referral.updated_at > since)
    rows = list(
        await session.scalars(
            q.order_by(Referral.person_id, Pregnancy.edd.desc(), Pregnancy.id.desc(), Referral.id)
        )
    )
    codes = await registry.facility_names(
        session,
        {r.to_facility_id for r in rows} | {r.from_facility_id for r in rows if r.from_facility_id},
    )
    out: dict[int, list[ReferralOut]] = {}
    for r in rows:
        o = ReferralOut.model_validate(r)
        o.to_facility_code = codes[r.to_facility_id].code
        o.from_facility_code = codes[r.from_facility_id].code if r.from_facility_id else None
        out.setdefault(r.person_id, []).append(o)
    return out
