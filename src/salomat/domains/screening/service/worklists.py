"""The facility's worklists: invitations due (the target groups), and the DMP patients
overdue, uncontrolled, or overdue at high risk.

Invitations page through the registry's attached people of the programme's age band
(one family-doctor section or all), and keep, one statement per page, those due and not
under dynamic observation for an excluding condition. The DMP lists start from the open
enrolments assigned to the user's facility; each patient shown needs a scope (attached
or in care here, or a grant: ``policy.person_scopes``, set-wise) and is audited as shown.

High risk follows Simple's overdue definition: at least 30 days overdue and the last
blood pressure >= 180/110, or a prior heart attack or stroke and >= 140/90, or the last
sugar uncontrolled (Simple's lenient threshold: HbA1c >= 9 per cent, fasting glucose
>= 200 mg/dL). A prior heart attack or stroke is known only when the enrolment records
it (``prior_mi_stroke``): the platform does not read other records' history for it, so
patients whose history was not asked and whose BP is >= 140/90 are counted in a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.policy import Scope, person_scopes
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, ScreeningObservation
from salomat.domains.screening.schemas import DmpRow, InvitationRow, Worklist
from salomat.domains.screening.service import common
from salomat.domains.screening.service.control import bp_controlled, bp_high_risk, sugar_control
from salomat.domains.screening.service.target_groups import birth_bounds, due_among

__all__ = ["LatestReadings", "dmp_worklist", "invitation_worklist", "latest_readings"]

PAGE = 2000
SCOPE_REASON = "attached to the user's facility"
KINDS = ("invitations", "overdue", "uncontrolled", "high_risk")


def _section(section: str | None) -> str | None:
    code = (section or "").strip() or None
    if code is not None and len(code) > 16:
        raise Invalid.fields([FieldError("section", N_("is longer than 16 characters"))])
    return "" if code == "-" else code


async def invitation_worklist(
    session: AsyncSession,
    principal: Principal,
    day: date,
    *,
    programme: str | None = None,
    section: str | None = None,
) -> Worklist:
    """Who to invite on ``day``: per inviting programme, the attached people of its target
    group who are due; never screened first, then the longest overdue."""
    common.report_day(day)
    fid = common.facility_of(principal)
    r = common.rules()
    edition = r.edition(day)
    if programme:
        programmes = [r.programme(programme, day)]
    else:
        programmes = [p for p in edition.programmes.values() if p.invites]
    section_code = _section(section)
    programmes = [p for p in programmes if p.invites]
    bands = {p.code: birth_bounds(p, day) for p in programmes}
    # one read of the attached people for every programme: the widest age band, each
    # programme keeping its own ages and sex
    froms = [f for f, _ in bands.values()]
    tos = [t for _, t in bands.values()]
    born_from = None if None in froms else min(froms)  # type: ignore[type-var]
    born_to = None if None in tos else max(tos)  # type: ignore[type-var]
    rows: list[InvitationRow] = []
    after = 0
    while programmes:
        page = await registry.attached_people(
            session, fid, born_from=born_from, born_to=born_to,
            section_code=section_code, after_id=after, limit=PAGE,
        )  # fmt: skip
        if not page:
            break
        after = page[-1].id
        for p in programmes:
            lo, hi = bands[p.code]
            fitting = [
                a
                for a in page
                if (p.sex == "any" or a.sex == p.sex)
                and (lo is None or a.birth_date >= lo)
                and (hi is None or a.birth_date <= hi)
            ]
            due = await due_among(session, [a.id for a in fitting], p, day)
            for a in fitting:
                d = due.get(a.id)
                if d is None:
                    continue
                rows.append(
                    InvitationRow(
                        person_id=a.id,
                        name=" ".join(x for x in (a.family_name, a.given_name, a.patronymic) if x),
                        birth_date=a.birth_date,
                        sex=a.sex,
                        phone=a.phone,
                        address=a.address,
                        section_code=a.section_code,
                        programme=p.code,
                        last_on=d.last_on,
                        due_on=d.due_on,
                    )
                )
        if len(page) < PAGE:
            break
    rows.sort(key=lambda x: (x.due_on is not None, x.due_on or day, x.name, x.person_id))
    await audit.record_listing(
        session,
        principal,
        [audit.Access(pid, SCOPE_REASON) for pid in dict.fromkeys(x.person_id for x in rows)],
        action="search",
        resource_type="Patient",
    )
    return Worklist(
        kind="invitations", facility_code=principal.facility_code, on=day, section=section,
        invitations=rows,
    )  # fmt: skip


@dataclass
class LatestReadings:
    bp: Any = None
    hba1c: Any = None
    glucose_fasting: Any = None


async def latest_readings(
    session: AsyncSession, person_ids: list[int], day: date
) -> dict[int, LatestReadings]:
    """The latest BP, HbA1c and fasting glucose of each person on or before ``day``, in
    one statement (a window over the readings)."""
    out: dict[int, LatestReadings] = {}
    if not person_ids:
        return out
    o = ScreeningObservation
    rank = (
        func.row_number()
        .over(partition_by=(o.person_id, o.kind), order_by=(o.observed_on.desc(), o.id.desc()))
        .label("rank")
    )
    for i in range(0, len(person_ids), PAGE):
        inner = (
            select(
                o.person_id,
                o.kind,
                o.observed_on,
                o.systolic,
                o.diastolic,
                o.value,
                o.value_entered,
                o.unit_entered,
                rank,
            )
            .where(
                o.person_id.in_(person_ids[i : i + PAGE]),
                o.kind.in_(("bp", "hba1c", "glucose_fasting")),
                o.observed_on <= day,
            )
            .subquery()
        )
        for row in await session.execute(select(inner).where(inner.c.rank == 1)):
            setattr(out.setdefault(row.person_id, LatestReadings()), row.kind, row)
    return out


async def _scopes(session: AsyncSession, principal: Principal, ids: list[int]) -> dict[int, Scope]:
    """Which of ``ids`` the user may see, and why: ``policy.person_scopes``, every scope
    rule asked once for all of them (attached or in care here, a cancer follow-up here, a
    break-the-glass grant), so the worklist's statements do not grow with its length.
    Deny by default: a person no rule covers is left out."""
    return await person_scopes(session, principal, ids)


async def dmp_worklist(
    session: AsyncSession,
    principal: Principal,
    kind: str,
    day: date,
    *,
    programme: str | None = None,
) -> Worklist:
    """``overdue`` (the next visit date has passed), ``uncontrolled`` (the latest BP or
    sugar reading above the target) or ``high_risk`` (Simple's overdue high-risk rule)."""
    if kind not in KINDS[1:]:
        raise Invalid.fields(
            [FieldError("kind", N_("is not one of: %(kinds)s"), {"kinds": ", ".join(KINDS)})]
        )
    common.report_day(day)
    fid = common.facility_of(principal)
    r = common.rules()
    edition = r.edition(day)
    if programme:
        r.dmp(programme, day)
    q = select(DmpEnrolment).where(
        DmpEnrolment.facility_id == fid,
        DmpEnrolment.enrolled_on <= day,
        or_(DmpEnrolment.ended_on.is_(None), DmpEnrolment.ended_on > day),
    )
    if programme:
        q = q.where(DmpEnrolment.programme == programme)
    if kind in ("overdue", "high_risk"):
        q = q.where(DmpEnrolment.next_visit_due < day)
    enrolments = list(
        await session.scalars(q.order_by(DmpEnrolment.next_visit_due, DmpEnrolment.id))
    )
    ids = sorted({e.person_id for e in enrolments})
    scopes = await _scopes(session, principal, ids)
    enrolments = [e for e in enrolments if e.person_id in scopes]
    readings = await latest_readings(session, sorted(scopes), day)
    briefs = await registry.person_briefs(session, sorted(scopes))
    overdue_days = int(edition.high_risk.get("overdue_days", 30))
    rows: list[DmpRow] = []
    unknown_history = 0
    for e in enrolments:
        lr = readings.get(e.person_id, LatestReadings())
        days = (day - e.next_visit_due).days if e.next_visit_due else 0
        reasons: list[str] = []
        bp_text = sugar_text = None
        bp_uncontrolled = False
        if lr.bp is not None:
            bp_text = f"{lr.bp.systolic}/{lr.bp.diastolic}"
            bp_uncontrolled = not bp_controlled(edition, lr.bp.systolic, lr.bp.diastolic)
        sugar_bad = sugar_lenient_bad = False
        for k in ("hba1c", "glucose_fasting"):
            s = getattr(lr, k)
            if s is not None and s.value is not None:
                c = sugar_control(r, edition, k, s.value)
                sugar_text = sugar_text or f"{s.value_entered} {s.unit_entered}"
                sugar_bad = sugar_bad or not c.controlled
                sugar_lenient_bad = sugar_lenient_bad or not c.lenient_controlled
        if kind == "uncontrolled":
            if bp_uncontrolled:
                reasons.append("bp")
            if sugar_bad:
                reasons.append("sugar")
            if not reasons:
                continue
        elif kind == "high_risk":
            if days < overdue_days:
                continue
            if lr.bp is not None:
                if bp_high_risk(edition, lr.bp.systolic, lr.bp.diastolic, prior_event=False):
                    reasons.append("bp_180_110")
                elif bp_high_risk(edition, lr.bp.systolic, lr.bp.diastolic, prior_event=True):
                    if e.prior_mi_stroke:
                        reasons.append("prior_event_bp")
                    elif e.prior_mi_stroke is None:
                        unknown_history += 1
            if sugar_lenient_bad:
                reasons.append("sugar")
            if not reasons:
                continue
        b = briefs.get(e.person_id)
        rows.append(
            DmpRow(
                person_id=e.person_id,
                name=b.name if b else str(e.person_id),
                birth_date=b.birth_date if b else day,
                phone=None,
                enrolment_id=e.id,
                programme=e.programme,
                next_visit_due=e.next_visit_due,
                days_overdue=max(days, 0),
                last_bp=bp_text,
                last_bp_on=lr.bp.observed_on if lr.bp is not None else None,
                last_sugar=sugar_text,
                reasons=reasons,
            )
        )
    await audit.record_listing(
        session,
        principal,
        [
            audit.Access(pid, scopes[pid].reason, scopes[pid].break_glass_grant)
            for pid in dict.fromkeys(x.person_id for x in rows)
        ],
        action="search",
        resource_type=common.ENROLMENT,
    )
    notes = []
    if kind == "high_risk" and unknown_history:
        notes.append(
            i18n.gettext(
                N_(
                    "%(n)s overdue patients have a blood pressure of 140/90 or more and no "
                    "recorded history of heart attack or stroke: ask, they may be at high risk."
                )
            )
            % {"n": unknown_history}
        )
    return Worklist(
        kind=kind,  # type: ignore[arg-type]
        facility_code=principal.facility_code,
        on=day,
        patients=rows,
        notes=notes,
    )
