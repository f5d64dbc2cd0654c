"""The antenatal worklist of a primary-care facility (family doctor, patronage nurse).

Women with a current pregnancy attached to the user's facility, or registered
or seen there and still in its scope (in its care), listed when at least one
of these holds, each row naming why:

- ``contact_due`` / ``contact_overdue``: a scheduled contact (``rules.schedule``);
- ``high_risk_no_referral``: high risk and no perinatal referral accepted at
  the required level of care (accepted, seen or returned);
- ``no_birth_place``: 36 weeks or more and no planned place of birth.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import Forbidden
from salomat.core.policy import person_scope
from salomat.core.security import Principal
from salomat.domains.maternal.models import AntenatalContact, Pregnancy, Referral
from salomat.domains.maternal.schemas import WorklistReason, WorklistRow
from salomat.domains.maternal.service import pregnancy as preg
from salomat.domains.maternal.service import rules
from salomat.domains.maternal.service.referrals import ACCEPTED
from salomat.domains.registry import service as registry

__all__ = ["antenatal_worklist"]

#: from this gestational age a planned place of birth is expected
BIRTH_PLAN_FROM_DAYS = 36 * 7


async def _accepted_levels(session: AsyncSession, pregnancy_ids: list[int]) -> dict[int, int]:
    """The highest level of care of an accepted perinatal referral, per pregnancy."""
    if not pregnancy_ids:
        return {}
    rows = await session.execute(
        select(Referral.pregnancy_id, Referral.required_level).where(
            Referral.pregnancy_id.in_(pregnancy_ids),
            Referral.kind == "perinatal",
            Referral.status.in_(ACCEPTED),
        )
    )
    out: dict[int, int] = {}
    for pid, level in rows:
        out[pid] = max(out.get(pid, 0), level or 0)
    return out


def _reasons(
    p: Pregnancy, contacts: list[AntenatalContact], accepted_level: int, today: date
) -> list[WorklistReason]:
    out: list[WorklistReason] = []
    facts = preg._facts(p, contacts, today)
    for due in rules.schedule(facts, preg._country()):
        if due.status in ("due", "overdue"):
            out.append(
                WorklistReason(
                    code=f"contact_{due.status}",
                    detail=f"the {due.ga_weeks}-week contact, due {due.due_on:%d.%m.%Y}",
                )
            )
    required = p.care_level or 1
    if p.risk_level == "high" and accepted_level < required:
        out.append(
            WorklistReason(
                code="high_risk_no_referral",
                detail=f"high risk; no referral to level {required} care accepted",
            )
        )
    ga = preg.ga_on(p, today)
    if ga >= BIRTH_PLAN_FROM_DAYS and p.planned_birth_facility_id is None:
        out.append(
            WorklistReason(
                code="no_birth_place", detail=f"{preg.weeks(ga)}: no planned place of birth"
            )
        )
    return out


#: ids per IN list (SQLite allows a few thousand bound parameters)
_CHUNK = 500


async def _attached_women(session: AsyncSession, facility_id: int, today: date) -> list[int]:
    """Women of child-bearing age (10-60, ``pregnancy.AGE_RANGE``) attached to the facility."""
    low, high = preg.AGE_RANGE
    # a generous band: her pregnancy's own checks decided her age; this only narrows the read
    born_from = today - timedelta(days=366 * (high + 1))
    born_to = today - timedelta(days=365 * low)
    out: list[int] = []
    after = 0
    while page := await registry.attached_people(
        session, facility_id, born_from=born_from, born_to=born_to, after_id=after, limit=2000
    ):
        out += [p.id for p in page if p.sex == "female"]
        after = page[-1].id
    return out


async def antenatal_worklist(session: AsyncSession, principal: Principal) -> list[WorklistRow]:
    """The women of the user's facility who need something done, earliest EDD first."""
    if principal.facility_id is None:
        raise Forbidden("The worklist is a facility's; your account has none.")
    fid = principal.facility_id
    seen_here = select(AntenatalContact.pregnancy_id).where(AntenatalContact.facility_id == fid)
    found = {
        p.id: p
        for p in await session.scalars(
            select(Pregnancy).where(
                Pregnancy.status == "current",
                or_(Pregnancy.facility_id == fid, Pregnancy.id.in_(seen_here)),
            )
        )
    }
    # and the women attached here, wherever their pregnancy was registered
    women = await _attached_women(session, fid, date.today())
    for i in range(0, len(women), _CHUNK):
        for p in await session.scalars(
            select(Pregnancy).where(
                Pregnancy.status == "current", Pregnancy.person_id.in_(women[i : i + _CHUNK])
            )
        ):
            found[p.id] = p
    pregnancies = sorted(found.values(), key=lambda p: (p.edd, p.id))
    scopes = {}
    for p in pregnancies:
        scope = await person_scope(session, principal, p.person_id)
        if scope is not None:
            scopes[p.person_id] = scope
    pregnancies = [p for p in pregnancies if p.person_id in scopes]
    accepted = await _accepted_levels(session, [p.id for p in pregnancies])
    today = date.today()
    out: list[WorklistRow] = []
    shown: list[audit.Access] = []
    for p in pregnancies:
        contacts = await preg._contacts(session, p.id)
        reasons = _reasons(p, contacts, accepted.get(p.id, 0), today)
        if not reasons:
            continue
        ga = preg.ga_on(p, today)
        out.append(
            WorklistRow(
                pregnancy_id=p.id,
                person_id=p.person_id,
                ga_days=ga,
                ga_weeks=preg.weeks(ga),
                edd=p.edd,
                risk_level=p.risk_level,  # type: ignore[arg-type]
                care_level=p.care_level,
                reasons=reasons,
            )
        )
        scope = scopes[p.person_id]
        shown.append(audit.Access(p.person_id, scope.reason, scope.break_glass_grant))
    await audit.record_listing(
        session, principal, shown, action="search", resource_type=preg.RESOURCE
    )
    return out
