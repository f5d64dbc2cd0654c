"""The demo children's doses (the ``immunizations`` list of a pack's demo.yaml).

Each entry names a child by national id, the facility where the doses were
given (``at``), the doses as ``antigen: [date, ...]`` (numbered 1, 2, ... in
order; ``null`` skips a number that was missed) or ``antigen: {4: date}``
(explicit numbers), and optionally a ``refusal`` (``antigen``: null for every
vaccine, ``starts_on``, ``reason``). Dates are fixed: the demo children have fixed
birth dates. The child's doses are counted in date order as the register
counts them (``schedule.count_doses``: the place each fills, valid or not and
why) and stored with ``source = 'demo'`` as the IT operator who enters paper
records would store them; a child who already has a dose is left alone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid
from salomat.domains.immunization.models import Dose, Exemption
from salomat.domains.immunization.service import schedule
from salomat.domains.registry import service as registry

__all__ = ["load_demo_immunizations"]

LOADER = "cli:demo-load"


def _bad(index: int, key: str, message: str) -> Invalid:
    return Invalid.fields([FieldError(f"immunizations[{index}].{key}", message)])


def _numbered(index: int, antigen: str, value: Any) -> list[tuple[int, date]]:
    if isinstance(value, list):
        pairs = [(n, d) for n, d in enumerate(value, 1) if d is not None]
    elif isinstance(value, dict):
        pairs = [(int(n), d) for n, d in value.items()]
    else:
        raise _bad(index, f"doses.{antigen}", "give a list of dates or {dose number: date}")
    for _, d in pairs:
        if not isinstance(d, date):
            raise _bad(index, f"doses.{antigen}", f"{d!r} is not a date (YYYY-MM-DD)")
    return pairs


async def load_demo_immunizations(
    session: AsyncSession, specs: list[dict[str, Any]], *, today: date | None = None
) -> int:
    """Enter the demo doses and refusals; returns how many doses were entered."""
    today = today or date.today()
    country = get_settings().country
    entered = 0
    for i, spec in enumerate(specs):
        person_id = await registry.person_id_by_national_id(session, spec["child"])
        if person_id is None:
            raise _bad(i, "child", f"no demo person has national id {spec['child']}")
        if await session.scalar(select(Dose.id).where(Dose.person_id == person_id).limit(1)):
            continue
        facility_id = await registry.facility_id_by_code(session, spec["at"])
        if facility_id is None:
            raise _bad(i, "at", f"no facility has code {spec['at']}")
        birth = (await registry.birth_dates(session, [person_id]))[person_id]
        now = utcnow()
        cal = schedule.calendar(country)
        pairs = [
            (antigen, n, d)
            for antigen, value in spec.get("doses", {}).items()
            for n, d in _numbered(i, antigen, value)
        ]
        given: list[schedule.GivenDose] = []
        for antigen, n, on in sorted(pairs, key=lambda x: (x[2], x[0], x[1])):
            if on > today or on < birth:
                raise _bad(i, f"doses.{antigen}", f"{on} is not between the birth and today")
            if not cal.accepts(antigen, n):
                raise _bad(i, f"doses.{antigen}", f"the calendar has no dose {n}")
            given.append(schedule.GivenDose(antigen, n, on))
        for g, verdict in zip(given, schedule.count_doses(birth, given, cal), strict=True):
            assert verdict is not None
            session.add(
                Dose(
                    person_id=person_id,
                    antigen=g.antigen,
                    dose_number=g.dose_number,
                    counted_as=verdict.counted_as,
                    given_on=g.given_on,
                    facility_id=facility_id,
                    valid=verdict.valid,
                    invalid_reason=verdict.reason,
                    status="completed",
                    source="demo",
                    recorded_by=LOADER,
                    recorded_at=now,
                )
            )
            entered += 1
        if r := spec.get("refusal"):
            session.add(
                Exemption(
                    person_id=person_id,
                    kind="refusal",
                    antigen=r.get("antigen"),
                    reason=r["reason"],
                    starts_on=r["starts_on"],
                    facility_id=facility_id,
                    recorded_by=LOADER,
                    recorded_at=now,
                )
            )
    await session.flush()
    return entered
