"""Changing a certificate: extend, the commission's decision, close, correct, cancel, duplicate.

Each change flushes the certificate under its version (If-Match; a stale one is
412) and writes a ``SickLeaveVersion`` with the certificate as it became.
An extension adds the next period of the chain; the database refuses a second
period n+1 (``uq_sick_leave_period_seq``), so of two doctors extending at once
one succeeds and the other gets 409 or 412, never two overlapping periods.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    InvalidState,
    Msgid,
    PreconditionFailed,
)
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import SickLeaveCertificate, SickLeavePeriod, VkkDecision
from salomat.domains.sickleave.schemas import (
    CertificateOut,
    CloseIn,
    CorrectIn,
    ExtendIn,
    ReasonIn,
    VkkIn,
)
from salomat.domains.sickleave.service.common import (
    SICK_LEAVE,
    certificate_out,
    check_version,
    new_check_code,
    periods_of,
    scoped,
    write_version,
)
from salomat.domains.sickleave.service.issuing import (
    _check_length,
    check_vkk,
    new_decision,
    no_overlap,
    require_issuer,
)
from salomat.domains.sickleave.service.labels import STATUS_LABELS
from salomat.domains.sickleave.service.rules import days_between, last_day, sick_leave_rules

__all__ = [
    "add_period",
    "cancel_certificate",
    "close_certificate",
    "correct_certificate",
    "extend_certificate",
    "record_vkk_decision",
    "reissue_duplicate",
]


def _changed_meanwhile(number: str) -> Conflict:
    return Conflict(
        N_("Sick-leave certificate %(number)s was changed meanwhile; reload it."),
        params={"number": number},
    )


def _require_open(c: SickLeaveCertificate) -> None:
    if c.status != "open":
        raise InvalidState(
            N_("The certificate is %(status)s; only an open certificate can be changed this way."),
            params={"status": Msgid(STATUS_LABELS[c.status])},
        )


async def _flush(session: AsyncSession, c: SickLeaveCertificate) -> None:
    number = c.number  # a failed flush expires the row: name it from what was read
    try:
        await session.flush()
    except StaleDataError:
        raise PreconditionFailed(
            N_("Sick-leave certificate %(number)s changed meanwhile; reload it."),
            params={"number": number},
        ) from None


async def add_period(
    session: AsyncSession,
    c: SickLeaveCertificate,
    *,
    ends_on: date,
    granted_as: str,
    by: str,
    facility_id: int | None,
    change: str,
    reason: str | None = None,
    vkk_decision_id: int | None = None,
    cosigned_by: str | None = None,
) -> SickLeavePeriod:
    """The next period of the chain, from the day after the last one to ``ends_on``."""
    number = c.number  # a failed flush expires the row: name it from what was read
    periods = await periods_of(session, c.id)
    last = periods[-1]
    p = SickLeavePeriod(
        certificate_id=c.id,
        person_id=c.person_id,
        seq=last.seq + 1,
        starts_on=last.ends_on + timedelta(days=1),
        ends_on=ends_on,
        prev_seq=last.seq,
        prev_ends_on=last.ends_on,
        granted_as=granted_as,
        granted_by=by,
        facility_id=facility_id,
        vkk_decision_id=vkk_decision_id,
        cosigned_by=(cosigned_by or "").strip() or None,
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(p)
            await session.flush()
    except IntegrityError as e:
        # another period n+1 won the race (uq_sick_leave_period_seq)
        raise _changed_meanwhile(number) from e
    c.ends_on = ends_on
    try:
        await write_version(session, c, change=change, by=by, reason=reason, periods=[*periods, p])
    except StaleDataError:
        raise PreconditionFailed(
            N_("Sick-leave certificate %(number)s changed meanwhile; reload it."),
            params={"number": number},
        ) from None
    return p


async def _latest_extension(
    session: AsyncSession, c: SickLeaveCertificate, decision_id: int | None
) -> VkkDecision | None:
    q = select(VkkDecision).where(
        VkkDecision.certificate_id == c.id, VkkDecision.decision == "extend"
    )
    if decision_id is not None:
        q = q.where(VkkDecision.id == decision_id)
    else:
        q = q.order_by(VkkDecision.extend_until.desc(), VkkDecision.id.desc())
    return (await session.execute(q.limit(1))).scalar_one_or_none()


async def extend_certificate(
    session: AsyncSession,
    principal: Principal,
    certificate_id: int,
    data: ExtendIn,
    *,
    expected_version: int | None,
    today: date | None = None,
) -> CertificateOut:
    """A further period. Past the practitioner's limit it needs the commission's decision
    allowing the new end (422 naming ``ends_on`` until one is recorded). ``today``: the
    day it is granted (the demo loader's past days)."""
    rules = sick_leave_rules()
    granted_as = require_issuer(principal, rules)
    c = await scoped(session, principal, certificate_id, action="update")
    check_version(c, expected_version)
    _require_open(c)
    start = c.ends_on + timedelta(days=1)
    if c.kind == "maternity":
        if granted_as != "doctor":
            raise Forbidden(
                N_("Maternity leave is issued by a doctor (obstetrician or family doctor).")
            )
        if not data.complicated_birth:
            raise Invalid.fields(
                [
                    FieldError(
                        "complicated_birth",
                        N_(
                            "maternity leave is extended only for a complicated birth "
                            "or two or more babies"
                        ),
                    )
                ]
            )
        if len(await periods_of(session, c.id)) > 1:
            raise InvalidState(N_("This maternity leave has already been extended."))
        await add_period(
            session,
            c,
            ends_on=last_day(start, rules.maternity.extension_days),
            granted_as=granted_as,
            by=principal.username,
            facility_id=principal.facility_id,
            change="extended",
            reason="complicated birth (attested)",
        )
        return await certificate_out(session, c)
    if data.ends_on is None and data.days is None:
        raise Invalid.fields([FieldError("ends_on", N_("give the last day or the number of days"))])
    end = data.ends_on if data.ends_on is not None else last_day(start, data.days or 1)
    if data.ends_on is not None and data.days is not None and last_day(start, data.days) != end:
        raise Invalid.fields([FieldError("days", N_("does not match the last day given"))])
    if end < start:
        raise Invalid.fields(
            [
                FieldError(
                    "ends_on",
                    N_("must be after the current last day (%(end)s)"),
                    {"end": f"{c.ends_on:%d.%m.%Y}"},
                )
            ]
        )
    if ((today or date.today()) - start).days > rules.backdate_days:
        raise Invalid.fields(
            [
                FieldError(
                    "ends_on",
                    N_(
                        "the certificate ended on %(end)s, more than %(days)s days ago: "
                        "open a new one"
                    ),
                    {"end": f"{c.ends_on:%d.%m.%Y}", "days": rules.backdate_days},
                )
            ]
        )
    await registry.require_alive(session, c.person_id, hold=True)
    await no_overlap(session, c.person_id, start, end, other_than=c.id)
    decision = await _latest_extension(session, c, data.vkk_decision_id)
    if data.vkk_decision_id is not None and decision is None:
        raise Invalid.fields(
            [FieldError("vkk_decision_id", N_("is not a decision to extend this certificate"))]
        )
    total = days_between(c.starts_on, end)
    errors = _check_length(
        rules,
        granted_as,
        c.reason,
        c.diagnosis,
        total,
        decision.extend_until if decision is not None else None,
        end,
        data.cosigned_by,
    )
    if errors:
        raise Invalid.fields(errors)
    needs_vkk = total > rules.practitioners[granted_as].alone_days
    await add_period(
        session,
        c,
        ends_on=end,
        granted_as="vkk" if needs_vkk else granted_as,
        by=principal.username,
        facility_id=principal.facility_id,
        change="extended",
        vkk_decision_id=decision.id if needs_vkk and decision is not None else None,
        cosigned_by=data.cosigned_by,
    )
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=SICK_LEAVE,
        resource_id=str(c.id),
        patient_id=c.person_id,
        detail=f"{c.number} extended to {end.isoformat()}",
    )
    return await certificate_out(session, c)


async def record_vkk_decision(
    session: AsyncSession,
    principal: Principal,
    certificate_id: int,
    data: VkkIn,
    *,
    today: date | None = None,
) -> CertificateOut:
    """Record the commission's decision (to extend to a day, or to refer to disability
    assessment) with its protocol number, chair and members."""
    rules = sick_leave_rules()
    if principal.facility_id is None:
        raise Forbidden(
            N_("Certificates are issued for a facility: your account is bound to none.")
        )
    c = await scoped(session, principal, certificate_id, action="update")
    _require_open(c)
    today = today or date.today()
    errors = check_vkk(data, rules, today=today)
    if data.decided_on < c.starts_on:
        errors.append(FieldError("decided_on", N_("is before the certificate's first day")))
    if data.decision == "extend" and data.extend_until is not None:
        if data.extend_until <= c.ends_on:
            errors.append(
                FieldError(
                    "extend_until",
                    N_("must be after the current last day (%(end)s)"),
                    {"end": f"{c.ends_on:%d.%m.%Y}"},
                )
            )
        longest = rules.max_days(c.reason, c.diagnosis)
        total = days_between(c.starts_on, data.extend_until)
        if longest is not None and total > longest:
            errors.append(
                FieldError(
                    "extend_until",
                    N_(
                        "the certificate would run %(days)s days, past the longest allowed "
                        "(%(max)s days): refer the person to disability assessment"
                    ),
                    {"days": total, "max": longest},
                )
            )
    if errors:
        raise Invalid.fields(errors)
    session.add(new_decision(principal, c, data))
    await write_version(
        session, c, change="vkk", by=principal.username, reason=data.protocol_number
    )
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=SICK_LEAVE,
        resource_id=str(c.id),
        patient_id=c.person_id,
        detail=f"{c.number} VKK {data.decision} {data.protocol_number}",
    )
    return await certificate_out(session, c)


async def close_certificate(
    session: AsyncSession,
    principal: Principal,
    certificate_id: int,
    data: CloseIn,
    *,
    expected_version: int | None,
) -> CertificateOut:
    """Back to work on a day (at most the day after the last period), or referred to
    disability assessment on a day (on the commission's decision to refer)."""
    rules = sick_leave_rules()
    require_issuer(principal, rules)
    c = await scoped(session, principal, certificate_id, action="update")
    check_version(c, expected_version)
    _require_open(c)
    if data.closure == "return_to_work":
        back = data.return_to_work_on
        if back is None:
            raise Invalid.fields([FieldError("return_to_work_on", N_("is required"))])
        if back <= c.starts_on or back > c.ends_on + timedelta(days=1):
            raise Invalid.fields(
                [
                    FieldError(
                        "return_to_work_on",
                        N_(
                            "must be after the first day (%(start)s) and at most the day "
                            "after the last (%(next)s)"
                        ),
                        {
                            "start": f"{c.starts_on:%d.%m.%Y}",
                            "next": f"{c.ends_on + timedelta(days=1):%d.%m.%Y}",
                        },
                    )
                ]
            )
        c.return_to_work_on = back
        c.closed_on = back - timedelta(days=1)
    else:
        on = data.referred_on
        if on is None:
            raise Invalid.fields([FieldError("referred_on", N_("is required"))])
        if not c.starts_on <= on <= c.ends_on:
            raise Invalid.fields(
                [FieldError("referred_on", N_("must be within the certificate's days"))]
            )
        referred = await session.scalar(
            select(VkkDecision.id).where(
                VkkDecision.certificate_id == c.id, VkkDecision.decision == "refer_disability"
            )
        )
        if referred is None:
            raise Invalid.fields(
                [
                    FieldError(
                        "closure",
                        N_(
                            "a referral to disability assessment needs the commission's "
                            "(VKK) decision: record it first"
                        ),
                    )
                ]
            )
        c.closed_on = on
    c.status = "closed"
    c.closure = data.closure
    await _flush(session, c)
    await write_version(session, c, change="closed", by=principal.username)
    return await certificate_out(session, c)


def _same_facility(principal: Principal, c: SickLeaveCertificate) -> None:
    if c.issued_by != principal.username and principal.facility_id != c.facility_id:
        raise Forbidden(
            N_("Only the issuing doctor or a clinician of the issuing facility may do this.")
        )


async def correct_certificate(
    session: AsyncSession,
    principal: Principal,
    certificate_id: int,
    data: CorrectIn,
    *,
    expected_version: int | None,
) -> CertificateOut:
    """A correction is a new version with its reason: the diagnosis, or an earlier last day."""
    require_issuer(principal, sick_leave_rules())
    c = await scoped(session, principal, certificate_id, action="update")
    check_version(c, expected_version)
    _same_facility(principal, c)
    if c.status == "cancelled":
        raise InvalidState(N_("A cancelled certificate cannot be corrected."))
    errors: list[FieldError] = []
    if data.diagnosis is not None:
        if c.kind == "maternity":
            errors.append(FieldError("diagnosis", N_("maternity leave has no diagnosis")))
        else:
            try:
                c.diagnosis = registry.icd10_cause(data.diagnosis, "diagnosis")
            except Invalid as e:
                errors.extend(e.errors)
    last = None
    if data.ends_on is not None:
        last = (await periods_of(session, c.id))[-1]
        if c.status != "open":
            errors.append(
                FieldError("ends_on", N_("only an open certificate's last day can be corrected"))
            )
        elif not last.starts_on <= data.ends_on < last.ends_on:
            errors.append(
                FieldError(
                    "ends_on",
                    N_(
                        "must be within the last period, before its last day (%(start)s to %(end)s)"
                    ),
                    {"start": f"{last.starts_on:%d.%m.%Y}", "end": f"{last.ends_on:%d.%m.%Y}"},
                )
            )
    if data.diagnosis is None and data.ends_on is None:
        errors.append(
            FieldError("diagnosis", N_("nothing to correct: give the diagnosis or the last day"))
        )
    if errors:
        await session.refresh(c)
        raise Invalid.fields(errors)
    if last is not None and data.ends_on is not None:
        last.ends_on = data.ends_on
        c.ends_on = data.ends_on
    await _flush(session, c)
    await write_version(session, c, change="corrected", by=principal.username, reason=data.reason)
    return await certificate_out(session, c)


async def cancel_certificate(
    session: AsyncSession,
    principal: Principal,
    certificate_id: int,
    data: ReasonIn,
    *,
    expected_version: int | None,
) -> CertificateOut:
    """Cancelled with a reason (issued in error): kept, with every version, never deleted."""
    require_issuer(principal, sick_leave_rules())
    c = await scoped(session, principal, certificate_id, action="update")
    _same_facility(principal, c)
    reason = data.reason.strip()
    if c.status == "cancelled" and c.cancel_reason == reason:
        return await certificate_out(session, c)  # the same request again
    check_version(c, expected_version)
    if c.status == "cancelled":
        raise InvalidState(N_("The certificate is already cancelled."))
    c.status = "cancelled"
    c.cancel_reason = reason
    await _flush(session, c)
    await write_version(session, c, change="cancelled", by=principal.username, reason=reason)
    return await certificate_out(session, c)


async def reissue_duplicate(
    session: AsyncSession,
    principal: Principal,
    certificate_id: int,
    data: ReasonIn,
    *,
    expected_version: int | None,
) -> CertificateOut:
    """A duplicate for a lost certificate: a new check code (the lost copy's stops
    verifying), the duplicate's number counted, the same certificate otherwise."""
    require_issuer(principal, sick_leave_rules())
    c = await scoped(session, principal, certificate_id, action="update")
    check_version(c, expected_version)
    if c.status == "cancelled":
        raise InvalidState(N_("A cancelled certificate has no duplicate."))
    c.duplicate_no += 1
    c.check_code = new_check_code()
    await _flush(session, c)
    await write_version(
        session, c, change="duplicate", by=principal.username, reason=data.reason.strip()
    )
    return await certificate_out(session, c)
