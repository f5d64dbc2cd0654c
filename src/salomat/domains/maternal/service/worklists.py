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
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import Forbidden
from salomat.core.policy import NATIONAL_PERSON_SCOPE, Role, Scope, person_scope
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.maternal.models import AntenatalContact, Pregnancy, Referral
from salomat.domains.maternal.schemas import WorklistReason, WorklistRow
from salomat.domains.maternal.service import pregnancy as preg
from salomat.domains.maternal.service import rules
from salomat.domains.maternal.service.pregnancy_opening import AGE_RANGE
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
    p: Pregnancy,
    contacts: list[Any],
    accepted_level: int,
    today: date,
    maternal_pack: dict[str, Any],
) -> list[WorklistReason]:
    out: list[WorklistReason] = []
    facts = preg._facts(p, contacts, today)
    # ``rules.schedule`` with the pack read once per list, not copied once per woman
    for due in rules._schedule(facts, maternal_pack):
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


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


async def _contacts_of(session: AsyncSession, pregnancy_ids: list[int]) -> dict[int, list[Any]]:
    """Each pregnancy's contacts in ``preg._contacts``'s order, a chunk of pregnancies a read.

    Plain rows with every column (``preg._facts`` reads attributes only): building
    thousands of ORM objects cost more than the read itself.
    """
    out: dict[int, list[Any]] = {pid: [] for pid in pregnancy_ids}
    columns = AntenatalContact.__table__.c
    for chunk in _chunks(pregnancy_ids):
        for c in await session.execute(
            select(*columns)
            .where(columns.pregnancy_id.in_(chunk))
            .order_by(columns.pregnancy_id, columns.on, columns.id)
        ):
            out[c.pregnancy_id].append(c)
    return out


async def _scopes(
    session: AsyncSession, principal: Principal, person_ids: list[int]
) -> dict[int, Scope]:
    """``person_scope`` of each woman, without asking once per woman.

    For a facility's staff the registry's rule (attached here, or in care
    here) is the only one that gives a scope without a break-the-glass grant,
    so whoever it covers gets its reason from ``registry.facility_scopes``
    in a few statements; only the women it does not cover (registered or
    seen here, since gone elsewhere) are asked one by one, for a grant.
    """
    out: dict[int, Scope] = {}
    rest = person_ids
    role = principal.role
    if (
        principal.facility_id is not None
        and role != Role.citizen
        and role not in NATIONAL_PERSON_SCOPE
    ):
        out = await registry.facility_scopes(session, principal.facility_id, person_ids)
        rest = [pid for pid in person_ids if pid not in out]
    for pid in rest:
        scope = await person_scope(session, principal, pid)
        if scope is not None:
            out[pid] = scope
    return out


async def antenatal_worklist(session: AsyncSession, principal: Principal) -> list[WorklistRow]:
    """The women of the user's facility who need something done, earliest EDD first.

    A fixed number of statements whatever the number of women: the
    pregnancies in one read (the women attached here joined in SQL), then
    scopes, accepted referrals and contacts for all of them at once.
    """
    if principal.facility_id is None:
        raise Forbidden("The worklist is a facility's; your account has none.")
    fid = principal.facility_id
    today = date.today()
    seen_here = select(AntenatalContact.pregnancy_id).where(AntenatalContact.facility_id == fid)
    # women of child-bearing age (10-60, ``pregnancy_opening.AGE_RANGE``) attached here, wherever
    # their pregnancy was registered; a generous band: her pregnancy's own checks decided
    # her age, this only narrows the read
    low, high = AGE_RANGE
    attached = registry.attached_ids_query(
        fid,
        sex="female",
        born_from=today - timedelta(days=366 * (high + 1)),
        born_to=today - timedelta(days=365 * low),
    )
    found = await session.scalars(
        select(Pregnancy).where(
            Pregnancy.status == "current",
            or_(
                Pregnancy.facility_id == fid,
                Pregnancy.id.in_(seen_here),
                Pregnancy.person_id.in_(attached),
            ),
        )
    )
    pregnancies = sorted(found, key=lambda p: (p.edd, p.id))
    scopes = await _scopes(session, principal, [p.person_id for p in pregnancies])
    pregnancies = [p for p in pregnancies if p.person_id in scopes]
    ids = [p.id for p in pregnancies]
    accepted: dict[int, int] = {}
    for chunk in _chunks(ids):
        accepted.update(await _accepted_levels(session, chunk))
    contacts = await _contacts_of(session, ids)
    maternal_pack = pack.load(preg._country(), "maternal")
    out: list[WorklistRow] = []
    shown: list[audit.Access] = []
    for p in pregnancies:
        reasons = _reasons(p, contacts[p.id], accepted.get(p.id, 0), today, maternal_pack)
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
