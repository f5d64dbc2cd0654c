"""Maternity leave from the pregnancy register, by the pack's week and days.

From the pack's week (30; 27 in Kazakhstan's former nuclear-test zones) the pack's
days at once (126; 170 in the zones); a complicated birth or two or more babies
add the pack's extension (to 140; 184), at once when the birth is already on the
register, else when it is recorded (``registry_events.extend_after_birth``). A
birth before the week gives the pack's early-birth days from the birth (UZ: 126
if born alive, 70 if stillborn).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Forbidden, Invalid
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import SickLeaveCertificate
from salomat.domains.sickleave.schemas import CertificateOut, MaternityIn
from salomat.domains.sickleave.service.common import (
    SICK_LEAVE,
    certificate_out,
    new_check_code,
    open_person,
    write_version,
)
from salomat.domains.sickleave.service.issuing import (
    _first_period,
    _insert,
    no_overlap,
    require_issuer,
)
from salomat.domains.sickleave.service.rules import SickLeaveRules, last_day, sick_leave_rules

__all__ = ["maternity_plan", "open_maternity"]


@dataclass(frozen=True)
class _Maternity:
    start: date
    days: int
    extended: bool
    #: a birth before the start week: leave from the birth, which the hospital issues at
    #: discharge (so not held to the backdating limit)
    early: bool = False


def _weeks(days: int) -> str:
    return f"{days // 7}+{days % 7}"


def maternity_plan(
    rules: SickLeaveRules,
    facts: maternal.MaternityFacts,
    starts_on: date | None,
    *,
    zone: bool,
    today: date,
) -> tuple[_Maternity | None, list[FieldError]]:
    """How many days from which day, by the pack's rules (pure)."""
    m = rules.maternity
    week = m.zone_start_week if zone and m.zone_start_week else m.start_week
    days = m.zone_days if zone and m.zone_days else m.days
    complicated = facts.born_on is not None and (
        (facts.birth_mode or "") in m.complicated_birth_modes or facts.babies >= 2
    )
    if facts.status != "current" and facts.born_on is None:
        return None, [
            FieldError(
                "pregnancy_id",
                N_(
                    "the pregnancy ended without a birth on the register: "
                    "it gives no maternity leave"
                ),
            )
        ]
    if (
        facts.born_on is not None
        and facts.birth_ga_days is not None
        and facts.birth_ga_days < week * 7
    ):
        # born before the week leave starts: the pack's days for an early birth, from the birth
        alive = facts.live_births > 0
        early = m.before_start_week_live if alive else m.before_start_week_stillborn
        if early is None:
            return None, [
                FieldError(
                    "pregnancy_id",
                    N_(
                        "the birth was before week %(week)s and this country's rules "
                        "give no leave for it here"
                    ),
                    {"week": week},
                )
            ]
        if starts_on is not None and starts_on != facts.born_on:
            return None, [
                FieldError(
                    "starts_on",
                    N_("leave after an early birth starts on the day of the birth (%(day)s)"),
                    {"day": f"{facts.born_on:%d.%m.%Y}"},
                )
            ]
        return _Maternity(facts.born_on, early, False, early=True), []
    start = starts_on or today
    if facts.born_on is not None and start > facts.born_on:
        return None, [
            FieldError(
                "starts_on",
                N_("is after the birth (%(day)s): maternity leave starts before it"),
                {"day": f"{facts.born_on:%d.%m.%Y}"},
            )
        ]
    ga = facts.ga_days_on(start)
    if ga < week * 7:
        first = facts.edd - timedelta(days=280 - week * 7)
        return None, [
            FieldError(
                "starts_on",
                N_(
                    "maternity leave starts from week %(week)s of pregnancy; on %(day)s she is at "
                    "%(ga)s weeks (week %(week)s is reached on %(first)s)"
                ),
                {
                    "week": week,
                    "day": f"{start:%d.%m.%Y}",
                    "ga": _weeks(ga),
                    "first": f"{first:%d.%m.%Y}",
                },
            )
        ]
    return _Maternity(start, days, complicated), []


async def open_maternity(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: MaternityIn,
    *,
    today: date | None = None,
) -> CertificateOut:
    """Maternity leave for a woman on the pregnancy register, from the pack's week.

    126 days (the pack's) at once; a birth already recorded as complicated or of two or
    more babies adds the pack's extension at once, one recorded later adds it then
    (``on_birth_recorded``).
    """
    rules = sick_leave_rules()
    granted_as = require_issuer(principal, rules)
    if granted_as != "doctor":
        raise Forbidden(
            N_("Maternity leave is issued by a doctor (obstetrician or family doctor).")
        )
    await open_person(session, principal, person_id, action="create", purpose="maternity leave")
    today = today or date.today()
    await registry.require_alive(session, person_id, hold=True)
    facts = await maternal.maternity_facts(session, person_id, data.pregnancy_id)
    errors: list[FieldError] = []
    if facts is None:
        raise Invalid.fields(
            [FieldError("pregnancy_id", N_("no pregnancy of hers is on the register"))]
        )
    zone = bool((data.zone_document or "").strip())
    if zone and rules.maternity.zone_start_week is None:
        errors.append(
            FieldError("zone_document", N_("this country's rules have no nuclear-test-zone leave"))
        )
    plan, errs = maternity_plan(rules, facts, data.starts_on, zone=zone, today=today)
    errors += errs
    if plan is not None and (today - plan.start).days > rules.backdate_days and not plan.early:
        errors.append(
            FieldError(
                "starts_on",
                N_("may be at most %(days)s days before today"),
                {"days": rules.backdate_days},
            )
        )
    if plan is not None and plan.start > today:
        errors.append(FieldError("starts_on", N_("is in the future")))
    if errors:
        raise Invalid.fields(errors)
    assert plan is not None
    end = last_day(plan.start, plan.days)
    await no_overlap(session, person_id, plan.start, end)
    now = utcnow()
    c = await _insert(
        session,
        SickLeaveCertificate(
            check_code=new_check_code(),
            person_id=person_id,
            kind="maternity",
            reason="maternity",
            diagnosis=None,
            pregnancy_id=facts.pregnancy_id,
            zone_document=(data.zone_document or "").strip() or None,
            status="open",
            starts_on=plan.start,
            ends_on=end,
            facility_id=principal.facility_id,
            issued_by=principal.username,
            duplicate_no=0,
            source="local",
            created_at=now,
            updated_at=now,
        ),
        today,
    )
    await _first_period(session, principal, c, granted_as="doctor", end=end)
    await write_version(session, c, change="opened", by=principal.username)
    if plan.extended:
        from salomat.domains.sickleave.service.changes import add_period

        await add_period(
            session,
            c,
            ends_on=c.ends_on + timedelta(days=rules.maternity.extension_days),
            granted_as="birth_record",
            by=principal.username,
            facility_id=principal.facility_id,
            change="extended",
            reason="complicated birth or two or more babies",
        )
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=SICK_LEAVE,
        resource_id=str(c.id),
        patient_id=person_id,
        detail=f"{c.number} maternity {plan.days} days",
    )
    return await certificate_out(session, c)
