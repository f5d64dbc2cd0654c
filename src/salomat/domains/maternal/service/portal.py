"""The citizen's own pregnancy record, for the portal: her pregnancies in plain terms.

Only the logged-in citizen's own record (``principal.person_id``): one
``require_person`` read per opening (purpose "citizen portal: pregnancy"), as
the other portal pages write it, so the opening shows in her "who opened my
record" like any other. What she reads: how far she is today and when the baby
is expected, the contacts she had and the next one due, her measurements, the
diagnoses that stand (their codes; the page explains each in plain words),
where she is referred and where she plans to give birth, with whom to call.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.maternal.models import Pregnancy, Referral
from salomat.domains.maternal.schemas import (
    BirthOut,
    ContactOut,
    DiagnosisOut,
    PregnancyOut,
    ReferralOut,
)
from salomat.domains.maternal.service import birth as births
from salomat.domains.maternal.service import pregnancy as preg
from salomat.domains.maternal.service import rules
from salomat.domains.maternal.service.referrals import _outs as referral_outs
from salomat.domains.registry import service as registry

__all__ = ["MyFacility", "MyNextContact", "MyPregnancy", "MyPregnancyReferral", "my_pregnancies"]

PURPOSE = "citizen portal: pregnancy"


class MyFacility(BaseModel):
    """A facility as she needs it: its name (in each language) and its phone."""

    code: str
    name: str
    names: dict[str, str] = {}
    phone: str | None = None


class MyNextContact(BaseModel):
    """The next antenatal contact of the schedule (WHO ANC.S.01) that is not done."""

    number: int
    ga_weeks: int
    due_on: date
    #: ``due``, ``overdue`` or ``upcoming``
    status: str


class MyPregnancyReferral(BaseModel):
    referral: ReferralOut
    to: MyFacility


class MyPregnancy(BaseModel):
    """One of her pregnancies, the current one first."""

    pregnancy: PregnancyOut
    contacts: list[ContactOut]
    next_contact: MyNextContact | None
    #: the diagnoses and findings that stand (resolved ones are left out)
    diagnoses: list[DiagnosisOut]
    referrals: list[MyPregnancyReferral]
    #: where she registered and is seen (whom to call)
    facility: MyFacility | None
    #: her planned place of birth
    birth_place: MyFacility | None
    birth: BirthOut | None
    #: the country's emergency number (the maternal pack's ``emergency_phone``)
    emergency_phone: str | None


async def _facility(
    session: AsyncSession, cache: dict[int, MyFacility], facility_id: int | None
) -> MyFacility | None:
    if facility_id is None:
        return None
    if facility_id not in cache:
        f = await registry.get_facility(session, facility_id)
        cache[facility_id] = MyFacility(code=f.code, name=f.name, names=f.names, phone=f.phone)
    return cache[facility_id]


def _next_contact(
    p: Pregnancy, contacts: list, today: date, maternal: dict
) -> MyNextContact | None:
    if p.status != "current":
        return None
    facts = preg._facts(p, contacts, today)
    for due in rules._schedule(facts, maternal):
        if due.status in ("due", "overdue", "upcoming"):
            return MyNextContact(
                number=due.number, ga_weeks=due.ga_weeks, due_on=due.due_on, status=due.status
            )
    return None


async def my_pregnancies(
    session: AsyncSession, principal: Principal, *, today: date | None = None
) -> list[MyPregnancy]:
    """Her pregnancies, the current one first, then the others newest first.

    A citizen account not linked to a person has none; no other person is ever read.
    """
    if principal.person_id is None:
        return []
    me = principal.person_id
    await require_person(
        session, principal, me, action="read", resource_type=preg.RESOURCE, purpose=PURPOSE
    )
    today = today or date.today()
    maternal = pack.load(preg._country(), "maternal")
    rows = list(
        await session.scalars(
            select(Pregnancy)
            .where(Pregnancy.person_id == me)
            .order_by(Pregnancy.edd.desc(), Pregnancy.id.desc())
        )
    )
    rows.sort(key=lambda p: p.status != "current")  # stable: the current one first
    facilities: dict[int, MyFacility] = {}
    out = []
    for p in rows:
        detail = await preg._detail(session, p)
        contacts = await preg._contacts(session, p.id)
        refs = await referral_outs(
            session,
            list(
                await session.scalars(
                    select(Referral).where(Referral.pregnancy_id == p.id).order_by(Referral.id)
                )
            ),
        )
        referrals = []
        for r in refs:
            to = await _facility(session, facilities, r.to_facility_id)
            assert to is not None
            referrals.append(MyPregnancyReferral(referral=r, to=to))
        b = await births._birth(session, p.id)
        out.append(
            MyPregnancy(
                pregnancy=preg._out(p),
                contacts=detail.contacts,
                next_contact=_next_contact(p, contacts, today, maternal),
                diagnoses=[d for d in detail.diagnoses if d.status == "active"],
                referrals=referrals,
                facility=await _facility(session, facilities, p.facility_id),
                birth_place=await _facility(session, facilities, p.planned_birth_facility_id),
                birth=await births._birth_out(session, b) if b is not None else None,
                emergency_phone=maternal.get("emergency_phone"),
            )
        )
    return out
