"""Recording an antenatal contact, which re-evaluates the rules over the whole pregnancy."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, InvalidState
from salomat.core.security import Principal
from salomat.domains.maternal.models import AntenatalContact, Pregnancy
from salomat.domains.maternal.schemas import ContactIn, PregnancyDetail
from salomat.domains.maternal.service import dating, rules
from salomat.domains.maternal.service.evaluation import _save, _start, evaluate, ga_on
from salomat.domains.maternal.service.pregnancy import (
    CONTACT,
    _check_version,
    _codes,
    _detail,
    _open,
    weeks,
)
from salomat.domains.registry import service as registry

__all__ = ["record_contact"]

#: impossible values (not abnormal ones: those are what the rules are for)
LIMITS: dict[str, tuple[float, float, str]] = {
    "systolic_1": (50, 300, "mmHg"),
    "systolic_2": (50, 300, "mmHg"),
    "diastolic_1": (20, 200, "mmHg"),
    "diastolic_2": (20, 200, "mmHg"),
    "temperature_c_1": (30, 45, "°C"),
    "temperature_c_2": (30, 45, "°C"),
    "pulse_1": (20, 250, "/min"),
    "pulse_2": (20, 250, "/min"),
    "spo2": (50, 100, "%"),
    "fetal_heart_rate_1": (50, 250, "/min"),
    "fetal_heart_rate_2": (50, 250, "/min"),
    "fundal_height_cm": (5, 50, "cm"),
    "weight_kg": (25, 250, "kg"),
    "height_cm": (100, 220, "cm"),
    "haemoglobin_g_l": (20, 250, "g/L"),
    "fasting_glucose_mmol_l": (1, 40, "mmol/L"),
    "ogtt_1h_mmol_l": (1, 40, "mmol/L"),
    "ogtt_2h_mmol_l": (1, 40, "mmol/L"),
    "random_glucose_mmol_l": (1, 40, "mmol/L"),
}


def _check_contact(p: Pregnancy, data: ContactIn, on: date) -> list[FieldError]:
    errors: list[FieldError] = []
    values = data.model_dump()
    for field, (low, high, unit) in LIMITS.items():
        v = values.get(field)
        if v is not None and not low <= v <= high:
            errors.append(
                FieldError(
                    field,
                    N_("%(value)s %(unit)s is impossible (expected %(low)s-%(high)s)"),
                    {"value": f"{v:g}", "unit": unit, "low": low, "high": high},
                )
            )
    for n in (1, 2):
        s, d = values[f"systolic_{n}"], values[f"diastolic_{n}"]
        if (s is None) != (d is None):
            missing = f"diastolic_{n}" if d is None else f"systolic_{n}"
            errors.append(FieldError(missing, N_("give both values of a blood-pressure reading")))
        elif s is not None and d is not None and d >= s:
            errors.append(
                FieldError(f"diastolic_{n}", N_("must be below the systolic (%(s)s)"), {"s": s})
            )
    if values["systolic_2"] is not None and values["systolic_1"] is None:
        errors.append(FieldError("systolic_1", N_("the second reading needs a first one")))
    if on > date.today():
        errors.append(FieldError("on", N_("is in the future")))
    start = _start(p)
    if on < start:
        errors.append(
            FieldError(
                "on",
                N_("is before this pregnancy began (dated from %(day)s)"),
                {"day": f"{start:%d.%m.%Y}"},
            )
        )
    elif ga_on(p, on) > dating.MAX_GA_DAYS:
        errors.append(
            FieldError(
                "on",
                N_(
                    "gestational age would be %(ga)s, over %(max)s weeks: check the date or "
                    "the pregnancy's dating"
                ),
                {"ga": weeks(ga_on(p, on)), "max": dating.MAX_GA_DAYS // 7},
            )
        )
    return errors


async def record_contact(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    data: ContactIn,
    *,
    expected_version: int | None,
) -> PregnancyDetail:
    """Record one antenatal contact and re-evaluate the rules over the whole pregnancy."""
    p = await _open(session, principal, pregnancy_id, action="create", what=CONTACT)
    _check_version(p, expected_version)
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is closed."), params={"id": pregnancy_id})
    on = data.on or date.today()
    errors = _check_contact(p, data, on)
    danger, bad = _codes(data.danger_signs, "danger_signs")
    known = ", ".join(sorted(rules.DANGER_SIGNS))
    bad += [
        FieldError(
            "danger_signs",
            N_("%(code)s is not a danger sign (known: %(known)s)"),
            {"code": d, "known": known},
        )
        for d in danger
        if d not in rules.DANGER_SIGNS
    ]
    symptoms, bad2 = _codes(data.symptoms, "symptoms")
    errors += bad + bad2
    if errors:
        raise Invalid.fields(errors)
    await registry.require_alive(session, p.person_id, on)
    values = data.model_dump(exclude={"on", "danger_signs", "symptoms"})
    contact = AntenatalContact(
        pregnancy_id=p.id,
        person_id=p.person_id,
        on=on,
        ga_days=ga_on(p, on),
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
        danger_signs=danger,
        symptoms=symptoms,
        **values,
    )
    session.add(contact)
    await _save(session, p)
    await evaluate(session, p, contact_id=contact.id)
    return await _detail(session, p)
