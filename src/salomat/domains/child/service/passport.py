"""The electronic mother-and-child health passport: one read model over three domains.

For a child under 18: identity (registry), the birth and the mother when the
baby was born in the system (maternal), the newborn record, the growth
measurements with their z-scores (those entered in error marked, and left out
of the trend), the well-child visits against the country
pack's schedule, and the vaccination card (immunization). For a woman: her
pregnancies, births and postnatal contacts (maternal). Every part is read
through its own domain's service, so each is scope-checked and audited there;
a part the user may not open (the mother's record, for a nurse who holds only
the child) is left out rather than failing the whole page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import NotFound
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.domains.child.schemas import (
    BirthSummary,
    MotherSide,
    PassportOut,
    PersonSummary,
    PregnancyHistory,
)
from salomat.domains.child.service.growth import _measurements, zscore_trend
from salomat.domains.child.service.records import _visits, get_newborn
from salomat.domains.child.service.schedule import visit_schedule, well_child_schedule
from salomat.domains.immunization import service as immunization
from salomat.domains.immunization.schemas import CardOut
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PersonOut

__all__ = [
    "CHILD_UNTIL_YEARS",
    "birth_summary",
    "get_passport",
    "my_children",
]

#: the child sections apply under this age
CHILD_UNTIL_YEARS = 18


def _summary(p: Any) -> PersonSummary:
    return PersonSummary(
        id=p.id,
        family_name=p.family_name,
        given_name=p.given_name,
        patronymic=p.patronymic,
        birth_date=p.birth_date,
        sex=p.sex,
        deceased_on=p.deceased_on,
        merged_into_id=getattr(p, "merged_into_id", None),
    )


async def birth_summary(
    session: AsyncSession, principal: Principal, person_id: int
) -> BirthSummary | None:
    """The baby's birth and mother, when born in the system (the mother's name when in scope)."""
    birth = await maternal.birth_of_baby(session, principal, person_id)
    if birth is None:
        return None
    baby = next(b for b in birth.babies if b.person_id == person_id)
    out = BirthSummary(
        birth=birth,
        mother=None,
        mother_person_id=birth.person_id,
        birth_order=baby.birth_order,
        multiple=len(birth.babies) > 1,
    )
    try:
        mother = await registry.get_person(
            session, principal, birth.person_id, purpose="child health passport: the mother"
        )
        out.mother = _summary(mother)
        if allowed(principal.role, "pregnancy:read"):
            p = await maternal.get_pregnancy(session, principal, birth.pregnancy_id)
            out.risk_level, out.gravida, out.parity = p.risk_level, p.gravida, p.parity
            out.antenatal_contacts = len(p.contacts)
    except NotFound:
        pass  # the mother is not in the user's scope: her id only
    return out


async def _mother_side(
    session: AsyncSession, principal: Principal, person_id: int
) -> MotherSide | None:
    pregnancies = await maternal.list_pregnancies(session, principal, person_id)
    if not pregnancies:
        return None
    out = MotherSide(pregnancies=[])
    for p in pregnancies:
        h = PregnancyHistory(pregnancy=p)
        if p.outcome in ("live_birth", "stillbirth"):
            try:
                h.birth = await maternal.get_birth(session, principal, p.id)
                h.postnatal = await maternal.list_postnatal_contacts(session, principal, p.id)
            except NotFound:
                pass  # closed with a birth outcome but no birth record
        if h.birth is not None:
            for b in h.birth.babies:
                if b.person_id is None:
                    continue
                try:
                    child = await registry.get_person(
                        session, principal, b.person_id, purpose="mother's passport: her child"
                    )
                except NotFound:
                    continue
                out.children.append(_summary(child))
        out.pregnancies.append(h)
    return out


async def _card(session: AsyncSession, principal: Principal, person_id: int) -> CardOut | None:
    if not allowed(principal.role, "immunization:read"):
        return None
    return await immunization.get_card(session, principal, person_id)


async def get_passport(
    session: AsyncSession, principal: Principal, person_id: int, *, on: date | None = None
) -> PassportOut:
    """The passport of one person (out of scope: ``NotFound``, as for a missing one)."""
    person = await registry.get_person(
        session, principal, person_id, purpose="child health passport"
    )
    today = on or date.today()
    as_of = min(today, person.deceased_on) if person.deceased_on else today
    is_child = registry.age_on(person.birth_date, as_of) < CHILD_UNTIL_YEARS
    out = PassportOut(
        person=_summary(person),
        as_of=as_of,
        age_days=(as_of - person.birth_date).days,
        is_child=is_child,
    )
    if is_child:
        out.birth = await birth_summary(session, principal, person_id)
        out.newborn = await get_newborn(session, principal, person_id)
        out.measurements = await _measurements(session, person_id)
        out.trend = zscore_trend(out.measurements)
        out.visits = await _visits(session, person_id)
        out.schedule = visit_schedule(person.birth_date, out.visits, as_of)
        schedule = well_child_schedule()
        out.schedule_source = schedule.source
        out.schedule_source_names = dict(schedule.source_names)
        out.vaccinations = await _card(session, principal, person_id)
        out.vaccinations_href = f"/patients/{person_id}/immunizations"
    if person.sex == "female" and (
        allowed(principal.role, "pregnancy:read") or principal.person_id == person_id
    ):
        out.mother = await _mother_side(session, principal, person_id)
    return out


async def my_children(session: AsyncSession, principal: Principal) -> list[PersonOut]:
    """The citizen portal's list: her or his children under 18, oldest first.

    Born to her in the system (maternal birth record) or linked in the registry
    as mother, father or guardian. Each is read through the registry, so the
    read is scope-checked and audited on the child's record.
    """
    ids = list(
        dict.fromkeys(
            [
                *await maternal.children_of(session, principal),
                *await registry.children_of(session, principal),
            ]
        )
    )
    born = await registry.birth_dates(session, ids)
    ids.sort(key=lambda pid: (born.get(pid, date.max), pid))
    return [
        await registry.get_person(session, principal, child_id, purpose="citizen portal")
        for child_id in ids
    ]
