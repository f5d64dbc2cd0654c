"""Opening a certificate: own illness, injury, care of a sick child, quarantine, sanatorium
after-care (maternity leave: ``maternity``).

Every field is checked before anything is added, so a refused request stores
nothing; each refusal names its field. The holder's row is held for the
transaction (``registry.require_alive(hold=True)``), so two doctors opening overlapping
certificates for one person at once run one after the other and the second
is refused (409).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Forbidden, Invalid, Msgid
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeavePeriod, VkkDecision
from salomat.domains.sickleave.schemas import CertificateOut, OpenIn, VkkIn
from salomat.domains.sickleave.service.common import (
    new_certificate_out,
    new_check_code,
    new_number,
    open_person,
    write_version,
)
from salomat.domains.sickleave.service.labels import REASON_LABELS
from salomat.domains.sickleave.service.rules import (
    SickLeaveRules,
    days_between,
    granted_as_for_role,
    last_day,
    sick_leave_rules,
)

__all__ = ["check_vkk", "no_overlap", "open_certificate", "require_issuer"]

NUMBER_ATTEMPTS = 5


def require_issuer(principal: Principal, rules: SickLeaveRules) -> str:
    """How the user grants days (doctor | mid_level); refused for a role or a country that
    does not let them issue, and for an account bound to no facility."""
    granted_as = granted_as_for_role(principal.role)
    if granted_as is None or not rules.practitioners[granted_as].may_issue:
        raise Forbidden(N_("Your role may not issue sick-leave certificates in this country."))
    if principal.facility_id is None:
        raise Forbidden(
            N_("Certificates are issued for a facility: your account is bound to none.")
        )
    return granted_as


def _end(
    starts_on: date, ends_on: date | None, days: int | None
) -> tuple[date | None, list[FieldError]]:
    if ends_on is None and days is None:
        return None, [FieldError("ends_on", N_("give the last day or the number of days"))]
    if ends_on is not None and days is not None and last_day(starts_on, days) != ends_on:
        return None, [FieldError("days", N_("does not match the last day given"))]
    end = ends_on if ends_on is not None else last_day(starts_on, days or 1)
    if end < starts_on:
        return None, [
            FieldError(
                "ends_on",
                N_("is before the first day (%(start)s)"),
                {"start": f"{starts_on:%d.%m.%Y}"},
            )
        ]
    return end, []


def check_vkk(
    data: VkkIn, rules: SickLeaveRules, *, today: date, field: str = ""
) -> list[FieldError]:
    at = f"{field}." if field else ""
    errors: list[FieldError] = []
    members = [m.strip() for m in data.members if m.strip()]
    if len(members) < rules.vkk_min_members:
        errors.append(
            FieldError(
                f"{at}members",
                N_("the commission needs at least %(n)s members (the chair included)"),
                {"n": rules.vkk_min_members},
            )
        )
    if data.chair.strip() not in members:
        errors.append(FieldError(f"{at}chair", N_("must be one of the members")))
    if data.decided_on > today:
        errors.append(FieldError(f"{at}decided_on", N_("is in the future")))
    if data.decision == "extend" and data.extend_until is None:
        errors.append(FieldError(f"{at}extend_until", N_("is required for a decision to extend")))
    return errors


async def _check_care(
    session: AsyncSession,
    rules: SickLeaveRules,
    person_id: int,
    child_id: int | None,
    starts_on: date,
) -> list[FieldError]:
    if child_id is None:
        return [FieldError("cared_person_id", N_("name the sick child cared for"))]
    related = await registry.parent_or_guardian(session, person_id, child_id) or (
        await maternal.mother_of_child(session, person_id, child_id)
    )
    if related is None:
        return [FieldError("cared_person_id", N_("is not a child of this person in the registry"))]
    limit = rules.reasons["care"].child_max_age_years
    born = (await registry.birth_dates(session, [child_id])).get(child_id)
    if limit is not None and born is not None and registry.age_on(born, starts_on) >= limit:
        return [
            FieldError(
                "cared_person_id",
                N_("the child is %(age)s; care certificates are for children under %(limit)s"),
                {"age": registry.age_on(born, starts_on), "limit": limit},
            )
        ]
    try:
        await registry.require_alive(session, child_id, starts_on)
    except Exception:
        return [FieldError("cared_person_id", N_("the child's record is closed (death or merge)"))]
    return []


def _check_length(
    rules: SickLeaveRules,
    granted_as: str,
    reason: str,
    diagnosis: str | None,
    total: int,
    vkk_until: date | None,
    end: date,
    cosigned_by: str | None,
    field: str = "ends_on",
) -> list[FieldError]:
    """The whole certificate's length against the practitioner's and the reason's limits."""
    errors: list[FieldError] = []
    longest = rules.max_days(reason, diagnosis)
    if longest is not None and total > longest:
        errors.append(
            FieldError(
                field,
                N_(
                    "the certificate would run %(days)s days, past the longest allowed "
                    "(%(max)s days): refer the person to disability assessment"
                ),
                {"days": total, "max": longest},
            )
        )
        return errors
    alone = rules.practitioners[granted_as].alone_days
    if total > alone and (vkk_until is None or vkk_until < end):
        errors.append(
            FieldError(
                field,
                N_(
                    "a certificate of more than %(limit)s days needs a decision of the medical "
                    "advisory commission (VKK) allowing it to this day: record the decision first"
                ),
                {"limit": alone},
            )
        )
    cosign = rules.practitioners[granted_as].cosign_after_days
    # the commission's decision stands in for the head of department's signature
    if cosign is not None and cosign < total <= alone and not (cosigned_by or "").strip():
        errors.append(
            FieldError(
                "cosigned_by",
                N_("beyond %(days)s days the head of department co-signs: name who did"),
                {"days": cosign},
            )
        )
    return errors


def _start(
    starts_on: date | None, today: date, rules: SickLeaveRules
) -> tuple[date, list[FieldError]]:
    start = starts_on or today
    if start > today:
        return start, [FieldError("starts_on", N_("is in the future"))]
    if (today - start).days > rules.backdate_days:
        return start, [
            FieldError(
                "starts_on",
                N_("may be at most %(days)s days before today"),
                {"days": rules.backdate_days},
            )
        ]
    return start, []


async def no_overlap(
    session: AsyncSession, person_id: int, start: date, end: date, *, other_than: int = 0
) -> None:
    """One certificate for any day: overlapping days are refused (409)."""
    found = await session.scalar(
        select(SickLeaveCertificate.number).where(
            SickLeaveCertificate.id != other_than,
            SickLeaveCertificate.person_id == person_id,
            SickLeaveCertificate.status != "cancelled",
            SickLeaveCertificate.starts_on <= end,
            func.coalesce(SickLeaveCertificate.closed_on, SickLeaveCertificate.ends_on) >= start,
        )
    )
    if found is not None:
        raise Conflict(
            N_(
                "The person already has a certificate for some of these days (%(number)s): "
                "extend or correct it instead."
            ),
            params={"number": found},
            errors=[
                FieldError("starts_on", N_("overlaps certificate %(number)s"), {"number": found})
            ],
        )


async def _insert(
    session: AsyncSession, c: SickLeaveCertificate, today: date
) -> SickLeaveCertificate:
    """Add with a fresh number; a number that collided is drawn again (the unique index)."""
    for attempt in range(1, NUMBER_ATTEMPTS + 1):
        c.number = new_number(today)
        try:
            async with session.begin_nested():
                session.add(c)
                await session.flush()
        except IntegrityError as e:
            if "ux_sick_leave_certificate_pregnancy" in str(e.orig):
                raise Conflict(
                    N_("This pregnancy already has maternity leave."),
                    errors=[FieldError("pregnancy_id", N_("already has maternity leave"))],
                ) from e
            if attempt == NUMBER_ATTEMPTS:
                raise
            continue
        return c
    raise AssertionError("unreachable")


async def _first_period(
    session: AsyncSession,
    principal: Principal,
    c: SickLeaveCertificate,
    *,
    granted_as: str,
    end: date,
    vkk_id: int | None = None,
    cosigned_by: str | None = None,
) -> SickLeavePeriod:
    p = SickLeavePeriod(
        certificate_id=c.id,
        person_id=c.person_id,
        seq=1,
        starts_on=c.starts_on,
        ends_on=end,
        prev_seq=None,
        prev_ends_on=None,
        granted_as=granted_as,
        granted_by=principal.username,
        facility_id=principal.facility_id,
        vkk_decision_id=vkk_id,
        cosigned_by=(cosigned_by or "").strip() or None,
        created_at=utcnow(),
    )
    session.add(p)
    await session.flush()
    return p


async def open_certificate(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: OpenIn,
    *,
    source: str = "local",
    today: date | None = None,
) -> CertificateOut:
    """Open a certificate for a living person in scope; the first period is granted now.

    Refused: out of scope (404), dead (409), overlapping another certificate (409);
    a wrong diagnosis, start, end, child, or a length past the practitioner's limit
    without a VKK decision (422 naming the field).
    """
    rules = sick_leave_rules()
    granted_as = require_issuer(principal, rules)
    await open_person(session, principal, person_id, action="create")
    today = today or date.today()
    await registry.require_alive(session, person_id, hold=True)
    errors: list[FieldError] = []
    diagnosis: str | None = None
    try:
        diagnosis = registry.icd10_cause(data.diagnosis, "diagnosis")
    except Invalid as e:
        errors.extend(e.errors)
    start, errs = _start(data.starts_on, today, rules)
    errors += errs
    end = None
    if not errs:  # a start far in the future has no last day to count to
        end, errs = _end(start, data.ends_on, data.days)
        errors += errs
    rule = rules.reasons[data.reason]
    if rule.kind == "care":
        errors += await _check_care(session, rules, person_id, data.cared_person_id, start)
    elif data.cared_person_id is not None:
        errors.append(
            FieldError("cared_person_id", N_("is only for a certificate to care for a sick child"))
        )
    if rule.vkk_to_open and data.vkk is None:
        errors.append(
            FieldError(
                "vkk",
                N_("%(reason)s is opened on a decision of the commission (VKK)"),
                {"reason": Msgid(REASON_LABELS[data.reason])},
            )
        )
    if data.vkk is not None:
        if not allowed(principal.role, "sick_leave:vkk"):
            raise Forbidden(N_("Your role may not record the commission's (VKK) decisions."))
        errors += check_vkk(data.vkk, rules, today=today, field="vkk")
    if end is not None and not errors:
        vkk_until = (
            data.vkk.extend_until
            if data.vkk is not None and data.vkk.decision == "extend"
            else None
        )
        errors += _check_length(
            rules,
            granted_as,
            data.reason,
            diagnosis,
            days_between(start, end),
            vkk_until,
            end,
            data.cosigned_by,
        )
    if errors:
        raise Invalid.fields(errors)
    assert end is not None
    await no_overlap(session, person_id, start, end)
    now = utcnow()
    c = await _insert(
        session,
        SickLeaveCertificate(
            check_code=new_check_code(),
            person_id=person_id,
            kind=rule.kind,
            reason=data.reason,
            diagnosis=diagnosis,
            cared_person_id=data.cared_person_id if rule.kind == "care" else None,
            status="open",
            starts_on=start,
            ends_on=end,
            facility_id=principal.facility_id,
            issued_by=principal.username,
            duplicate_no=0,
            source=source,
            created_at=now,
            updated_at=now,
        ),
        today,
    )
    vkk_id = None
    decisions: list[VkkDecision] = []
    if data.vkk is not None:
        d = _decision(principal, c, data.vkk)
        session.add(d)
        await session.flush()
        vkk_id = d.id
        decisions.append(d)
    first = await _first_period(
        session,
        principal,
        c,
        granted_as="vkk" if vkk_id is not None else granted_as,
        end=end,
        vkk_id=vkk_id,
        cosigned_by=data.cosigned_by,
    )
    # who opened it is audited by open_person (action create) and kept in the version
    await write_version(session, c, change="opened", by=principal.username, periods=[first])
    return await new_certificate_out(session, c, [first], decisions)


def _decision(principal: Principal, c: SickLeaveCertificate, data: VkkIn) -> VkkDecision:
    members = [m.strip() for m in data.members if m.strip()]
    return VkkDecision(
        certificate_id=c.id,
        person_id=c.person_id,
        decided_on=data.decided_on,
        decision=data.decision,
        extend_until=data.extend_until if data.decision == "extend" else None,
        protocol_number=data.protocol_number.strip(),
        chair=data.chair.strip(),
        members=members,
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        created_at=utcnow(),
    )


def new_decision(principal: Principal, c: SickLeaveCertificate, data: VkkIn) -> VkkDecision:
    return _decision(principal, c, data)
