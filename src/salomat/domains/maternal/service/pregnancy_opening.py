"""Registering a pregnancy: dated, the obstetric history recorded, evaluated by the rules.

One current pregnancy per woman is a unique index (``ux_pregnancy_current``);
the check here only makes the usual case's message friendlier.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, InvalidState
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.maternal.models import Pregnancy
from salomat.domains.maternal.schemas import PregnancyDetail, PregnancyIn
from salomat.domains.maternal.service import dating
from salomat.domains.maternal.service.evaluation import evaluate
from salomat.domains.maternal.service.pregnancy import RESOURCE, _codes, _current, _detail
from salomat.domains.registry import service as registry

__all__ = ["open_pregnancy"]

#: age at the LMP outside which a registration is a typing error
AGE_RANGE = (10, 60)


async def open_pregnancy(
    session: AsyncSession, principal: Principal, person_id: int, data: PregnancyIn
) -> PregnancyDetail:
    """Register a pregnancy: dated, history recorded, evaluated by the rules.

    Refused for a man, a woman who has died, an age at the LMP outside 10-60
    years and a woman who already has a current pregnancy (409, with its id).
    """
    await require_person(session, principal, person_id, action="create", resource_type=RESOURCE)
    person = await registry.get_person(
        session, principal, person_id, purpose="pregnancy registration"
    )
    if person.sex != "female":
        raise InvalidState(
            N_(
                "Patient %(id)s is not registered as female: a pregnancy is registered for a woman."
            ),
            params={"id": person_id},
        )
    today = date.today()
    on = data.registered_on or today
    await registry.require_alive(session, person_id, on)

    errors: list[FieldError] = []
    if on > today:
        errors.append(FieldError("registered_on", N_("is in the future")))
    if data.parity >= data.gravida:
        errors.append(
            FieldError(
                "parity",
                N_("must be less than gravida (%(gravida)s): this pregnancy counts"),
                {"gravida": data.gravida},
            )
        )
    if data.stillbirths > data.parity:
        errors.append(
            FieldError("stillbirths", N_("must not exceed parity (%(n)s)"), {"n": data.parity})
        )
    if data.miscarriages > data.gravida - 1 - data.parity:
        errors.append(
            FieldError(
                "miscarriages",
                N_("must not exceed gravida - 1 - parity (%(n)s)"),
                {"n": max(data.gravida - 1 - data.parity, 0)},
            )
        )
    conditions, bad = _codes(data.conditions, "conditions")
    errors += bad
    dated: dating.Dating | None = None
    try:
        dated = dating.date_pregnancy(
            on, data.lmp, data.scan_on, data.ga_days_at_scan, data.fundal_height_cm
        )
    except Invalid as e:
        errors += e.errors
    if dated is not None:
        start = dated.edd - timedelta(days=dating.PREGNANCY_DAYS)
        age = registry.age_on(person.birth_date, start)
        if not AGE_RANGE[0] <= age <= AGE_RANGE[1]:
            field = "lmp" if data.lmp else "scan_on" if data.scan_on else "fundal_height_cm"
            errors.append(
                FieldError(
                    field,
                    N_(
                        "she would have been %(age)s at the start of this pregnancy (born "
                        "%(born)s); expected %(low)s-%(high)s"
                    ),
                    {
                        "age": age,
                        "born": f"{person.birth_date:%d.%m.%Y}",
                        "low": AGE_RANGE[0],
                        "high": AGE_RANGE[1],
                    },
                )
            )
    if errors or dated is None:
        raise Invalid.fields(errors)

    existing = await _current(session, person_id)
    if existing is not None:
        raise _already(existing.id)
    settlement = person.settlement_code
    if settlement is None and principal.facility_id is not None:
        settlement = (await registry.get_facility(session, principal.facility_id)).settlement_code
    now = utcnow()
    p = Pregnancy(
        person_id=person_id,
        status="current",
        registered_on=on,
        age_years=registry.age_on(person.birth_date, on),
        lmp=data.lmp,
        scan_on=data.scan_on,
        ga_days_at_scan=data.ga_days_at_scan,
        fundal_height_cm=data.fundal_height_cm,
        edd=dated.edd,
        dating_method=dated.method,
        suboptimally_dated=dated.suboptimal,
        dating_discrepancy_days=dated.discrepancy_days,
        gravida=data.gravida,
        parity=data.parity,
        previous_caesarean=data.previous_caesarean,
        previous_pre_eclampsia=data.previous_pre_eclampsia,
        previous_pph=data.previous_pph,
        previous_instrumental_birth=data.previous_instrumental_birth,
        previous_convulsions=data.previous_convulsions,
        previous_severe_tear=data.previous_severe_tear,
        stillbirths=data.stillbirths,
        miscarriages=data.miscarriages,
        multiple_pregnancy=data.multiple_pregnancy,
        conditions=conditions,
        facility_id=principal.facility_id,
        settlement_id=(
            await registry.territory_id_by_code(session, settlement) if settlement else None
        ),
        registered_by=principal.username,
        opened_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(p)
    try:
        await session.flush()
    except IntegrityError as e:
        raise _already(None) from e
    await evaluate(session, p)
    return await _detail(session, p)


def _already(pregnancy_id: int | None) -> Conflict:
    return Conflict(
        N_("She already has a current pregnancy; close it (with its outcome) first."),
        errors=[FieldError("person_id", N_("already has a current pregnancy"))],
        extensions={"current_pregnancy_id": pregnancy_id} if pregnancy_id else None,
    )
