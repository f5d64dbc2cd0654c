"""The referral inbox as the receiving obstetrician triages it: who she is and how urgent.

A referral that is still ``sent`` does not put the woman in the receiving
facility's scope (only accepting opens a care relationship there), yet its
clinician must know whom they are accepting: her name and age, how far the
pregnancy is today, its risk, the standing diagnoses behind the referral and
how urgent the most urgent advice is. ``referrals.inbox`` writes one audit row
per woman listed (purpose "referral to the user's facility") before anything
of hers is read here; the rest of her record stays closed until the referral
is accepted.

Only while the referral is live (``referrals.LIVE``): once it is cancelled,
declined or returned the receiving facility's access to her ends (as in
``referrals._open``), so such a row carries the referral alone (status, dates,
kind, the reason as sent, the sender) and nothing of her, neither who she is
nor her pregnancy today, and is not audited as an access to her.
"""

from __future__ import annotations

from datetime import date
from typing import get_args

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.core.user_names import user_names
from salomat.domains.maternal.models import AdviceItem, Diagnosis, Pregnancy
from salomat.domains.maternal.schemas import ContactOut, PregnancyOut, ReferralOut
from salomat.domains.maternal.service import anc_facts
from salomat.domains.maternal.service import pregnancy as preg
from salomat.domains.maternal.service.referrals import LIVE, get_referral, inbox
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityOut, PersonOut

__all__ = ["URGENCY_ORDER", "InboxItem", "ReferralDocument", "referral_document", "triage_inbox"]

#: most urgent first: the rules' ``Urgency`` (``anc_facts``), in its declared order
URGENCY_ORDER: tuple[str, ...] = get_args(anc_facts.Urgency)


class InboxItem(BaseModel):
    """One referral with what the receiving clinician needs to triage it.

    Her facts are filled in only while the referral is live (``live``); for a
    cancelled, declined or returned one they are all None (``diagnoses`` empty).
    """

    referral: ReferralOut
    #: the referral is sent, accepted or seen: the facility may still see her
    live: bool = True
    family_name: str | None = None
    given_name: str | None = None
    patronymic: str | None = None
    birth_date: date | None = None
    age_years: int | None = None
    #: today (or on the day the pregnancy ended)
    ga_days: int | None = None
    edd: date | None = None
    pregnancy_status: str | None = None
    risk_level: str | None = None
    care_level: int | None = None
    #: codes of her standing diagnoses and findings (``standing``), most urgent first
    diagnoses: list[str] = []
    #: the most urgent of her active advice, None without any
    urgency: str | None = None
    from_facility_name: str | None = None
    from_facility_names: dict[str, str] = {}
    from_facility_phone: str | None = None
    #: the referring clinician's full name (``referral.sent_by`` is the username)
    sent_by_name: str | None = None


def _most_urgent(urgencies: list[str]) -> str | None:
    ranked = sorted(u for u in urgencies if u in URGENCY_ORDER)
    return min(ranked, key=URGENCY_ORDER.index) if ranked else None


async def triage_inbox(
    session: AsyncSession, principal: Principal, facility_code: str, *, status: str | None
) -> list[InboxItem]:
    """``referrals.inbox`` (same scope and audit) with each woman's triage facts.

    The facts only for live referrals; ended ones come with the referral alone.
    """
    refs = await inbox(session, principal, facility_code, status=status)
    if not refs:
        return []
    live = [r for r in refs if r.status in LIVE]
    person_ids = sorted({r.person_id for r in live})
    people = {
        p.id: await registry.person_out(session, p, codes=codes)
        for p, codes in await registry.people_with_codes(session, person_ids)
    }
    pregnancy_ids = sorted({r.pregnancy_id for r in live})
    pregnancies = {
        p.id: preg._out(p)
        for p in await session.scalars(select(Pregnancy).where(Pregnancy.id.in_(pregnancy_ids)))
    }
    diagnoses: dict[int, list[tuple[str, str]]] = {pid: [] for pid in pregnancy_ids}
    for d in await session.scalars(
        select(Diagnosis)
        .where(Diagnosis.pregnancy_id.in_(pregnancy_ids), Diagnosis.status == "active")
        .order_by(Diagnosis.id)
    ):
        diagnoses[d.pregnancy_id].append((d.urgency, d.code))
    urgencies: dict[int, list[str]] = {pid: [] for pid in pregnancy_ids}
    for pid, urgency in await session.execute(
        select(AdviceItem.pregnancy_id, AdviceItem.urgency).where(
            AdviceItem.pregnancy_id.in_(pregnancy_ids), AdviceItem.active.is_(True)
        )
    ):
        urgencies[pid].append(urgency)
    senders = {r.from_facility_id for r in refs if r.from_facility_id is not None}
    facilities = {fid: await registry.get_facility(session, fid) for fid in senders}
    names = await user_names(session, (r.sent_by for r in refs))
    today = date.today()
    items = []
    for r in refs:
        sender = facilities.get(r.from_facility_id) if r.from_facility_id else None
        by = {
            "from_facility_name": sender.name if sender else None,
            "from_facility_names": dict(sender.names) if sender else {},
            "from_facility_phone": sender.phone if sender else None,
            "sent_by_name": names.get(r.sent_by),
        }
        if r.status not in LIVE:
            items.append(InboxItem(referral=r, live=False, **by))
            continue
        person, p = people[r.person_id], pregnancies[r.pregnancy_id]
        ranked = sorted(
            diagnoses[p.id],
            key=lambda d: URGENCY_ORDER.index(d[0]) if d[0] in URGENCY_ORDER else 99,
        )
        items.append(
            InboxItem(
                referral=r,
                family_name=person.family_name,
                given_name=person.given_name,
                patronymic=person.patronymic,
                birth_date=person.birth_date,
                age_years=registry.age_on(person.birth_date, today),
                ga_days=p.ga_days,
                edd=p.edd,
                pregnancy_status=p.status,
                risk_level=p.risk_level,
                care_level=p.care_level,
                diagnoses=[code for _, code in ranked],
                urgency=_most_urgent(urgencies[p.id] + [u for u, _ in ranked]),
                **by,
            )
        )
    return items


class ReferralDocument(BaseModel):
    """A referral as the printed document shows it to the facility that receives her."""

    referral: ReferralOut
    person: PersonOut
    age_years: int
    pregnancy: PregnancyOut
    #: her latest antenatal contact, if any
    last_contact: ContactOut | None
    contacts: int
    #: codes of her standing diagnoses and findings, most urgent first
    diagnoses: list[str]
    urgency: str | None
    sender: FacilityOut | None
    receiver: FacilityOut
    #: the referring clinician's full name (``referral.sent_by`` is the username)
    sent_by_name: str | None = None


async def referral_document(
    session: AsyncSession, principal: Principal, referral_id: int
) -> ReferralDocument:
    """The referral with what a receiving facility needs to know of her and the pregnancy.

    Read as ``get_referral`` reads it (its scope and audit): the receiving facility
    while the referral is live, anyone else with her in scope; else ``NotFound``.
    """
    r = await get_referral(session, principal, referral_id)
    [(row, codes)] = await registry.people_with_codes(session, [r.person_id])
    person = await registry.person_out(session, row, codes=codes)
    p = await session.get(Pregnancy, r.pregnancy_id)
    assert p is not None
    detail = await preg._detail(session, p)
    active = [d for d in detail.diagnoses if d.status == "active"]
    active.sort(key=lambda d: URGENCY_ORDER.index(d.urgency))
    urgencies = [a.urgency for a in detail.advice] + [d.urgency for d in active]
    return ReferralDocument(
        referral=r,
        person=person,
        age_years=registry.age_on(person.birth_date, date.today()),
        pregnancy=preg._out(p),
        last_contact=max(detail.contacts, key=lambda c: (c.on, c.id), default=None),
        contacts=len(detail.contacts),
        diagnoses=[d.code for d in active],
        urgency=_most_urgent(urgencies),
        sender=(
            await registry.get_facility(session, r.from_facility_id) if r.from_facility_id else None
        ),
        receiver=await registry.get_facility(session, r.to_facility_id),
        sent_by_name=(await user_names(session, [r.sent_by])).get(r.sent_by),
    )
