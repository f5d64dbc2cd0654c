"""The demo region's screening section (``screening:`` in the pack's demo.yaml): a few
screenings of the demo people, enrolments in the disease-management programmes and
follow-up visits with blood pressures and sugars, so that the card's trend and every
worklist have someone on them. ``day`` is an offset from today (``-30``: a month
ago), ``next`` the next visit's.

Loaded once: when the demo loader has recorded a screening or an enrolment of any of
the section's people, nothing more is loaded.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.screening.models import DmpEnrolment, ScreeningVisit
from salomat.domains.screening.schemas import (
    DmpVisitIn,
    EnrolmentIn,
    MeasurementIn,
    ScreeningVisitIn,
)
from salomat.domains.screening.service import common
from salomat.domains.screening.service.enrolments import enrol, record_dmp_visit
from salomat.domains.screening.service.visits import record_screening

__all__ = ["load_demo_screening"]

SECTION = "screening"
LOADER = "cli:demo-load"


def _bad(key: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(f"{SECTION}.{key}", message, params)])


def _named(key: str, e: SalomatError) -> SalomatError:
    if isinstance(e, Invalid) and e.errors:
        return Invalid.fields(
            [FieldError(f"{SECTION}.{key}.{fe.field}", fe.msgid, fe.params) for fe in e.errors]
        )
    return type(e)(
        e.msgid, params=e.params, errors=[FieldError(f"{SECTION}.{key}", e.msgid, e.params)]
    )


def _measurements(step: dict[str, Any]) -> list[MeasurementIn]:
    out = []
    if "bp" in step:
        s, d = step["bp"]
        out.append(MeasurementIn(kind="bp", systolic=int(s), diastolic=int(d)))
    for kind in ("glucose_fasting", "hba1c", "cholesterol"):
        if kind in step:
            v, unit = step[kind]
            out.append(MeasurementIn(kind=kind, value=float(v), unit=str(unit)))
    if "bmi" in step:
        out.append(MeasurementIn(kind="bmi", value=float(step["bmi"]), unit="kg/m2"))
    for kind in ("smoking", "cytology", "hpv", "mammography", "fobt"):
        if kind in step:
            out.append(MeasurementIn(kind=kind, code=str(step[kind])))
    return out


async def load_demo_screening(
    session: AsyncSession,
    spec: dict[str, Any],
    person_ids: dict[str, int],
    *,
    facility_code: str,
    today: date | None = None,
) -> int:
    """Load the section's steps; returns how many it recorded (0 when already loaded)."""
    if not spec:
        return 0
    named = {
        person_ids[str(step[k])]
        for step in spec.get("steps", [])
        for k in ("screen", "enrol", "visit")
        if k in step and str(step[k]) in person_ids
    }
    for table in (ScreeningVisit, DmpEnrolment):
        loaded = select(table.id).where(
            table.recorded_by == LOADER, table.person_id.in_(sorted(named))
        )
        if named and await session.scalar(loaded.limit(1)) is not None:
            return 0
    today = today or common.today()
    fid = await registry.facility_id_by_code(session, facility_code)
    if fid is None:
        raise _bad("polyclinic", N_("no facility has code %(code)s"), {"code": facility_code})
    doctor = Principal(
        user_id=0, username=LOADER, role="family_doctor", session_id="cli",
        facility_id=fid, facility_code=facility_code,
    )  # fmt: skip
    enrolments: dict[tuple[int, str], int] = {}
    made = 0
    for k, step in enumerate(spec.get("steps", [])):
        key = f"steps.{k}"
        kind = next((x for x in ("screen", "enrol", "visit") if x in step), None)
        if kind is None:
            raise _bad(key, N_("must be a screen, enrol or visit step"))
        nid = str(step[kind])
        person_id = person_ids.get(nid) or await registry.person_id_by_national_id(session, nid)
        if person_id is None:
            raise _bad(key, N_("no demo person has national id %(id)s"), {"id": nid})
        offset = step.get("day")
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise _bad(f"{key}.day", N_("must be a number of days"))
        day = today + timedelta(days=offset)
        try:
            if kind == "screen":
                await record_screening(
                    session, doctor, person_id,
                    ScreeningVisitIn(
                        programme=step["programme"], performed_on=day,
                        result=step.get("result", "normal"),
                        next_step=step.get("next_step", "none"),
                        measurements=_measurements(step),
                    ),
                )  # fmt: skip
            elif kind == "enrol":
                e = await enrol(
                    session, doctor, person_id,
                    EnrolmentIn(
                        programme=step["programme"], diagnosis_code=str(step["diagnosis"]),
                        enrolled_on=day, prior_mi_stroke=step.get("prior_mi_stroke"),
                    ),
                )  # fmt: skip
                enrolments[(person_id, e.programme)] = e.id
            else:
                eid = enrolments.get((person_id, str(step["programme"])))
                if eid is None:
                    raise _bad(
                        key, N_("the person is not enrolled in %(p)s"), {"p": step["programme"]}
                    )
                nxt = step.get("next")
                due = today + timedelta(days=nxt) if isinstance(nxt, int) else None
                await record_dmp_visit(
                    session, doctor, eid,
                    DmpVisitIn(
                        visited_on=day, measurements=_measurements(step),
                        next_visit_due=due,
                    ),
                )  # fmt: skip
        except Invalid as e:
            if e.errors and e.errors[0].field.startswith(f"{SECTION}."):
                raise
            raise _named(key, e) from None
        except SalomatError as e:
            raise _named(key, e) from None
        made += 1
    return made
