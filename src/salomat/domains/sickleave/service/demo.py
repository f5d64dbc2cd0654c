"""The demo region's sick-leave certificates (the ``sick_leave`` list of a pack's demo.yaml).

Each certificate goes through the same use cases as a doctor's (open, the
commission's decision, extend, close, maternity leave) and the holder's
(share with an employer), so every rule of the pack holds for the demo as it
does for a clinic. The loader acts as a family doctor of the demo polyclinic
(or of the entry's ``at`` facility), named ``cli:demo-load`` in the audit
trail; the holder's share is made as the holder (a citizen principal for that
person), as the portal makes it.

Dates count back from the day of loading: ``starts_days_ago`` is the first day
and every later day is counted from it (``day: 1`` is the first day), so the
doctor opens the certificate on its first day (no backdating) and a closed
certificate's return to work lies in the past. A maternity leave starts on the
day her pregnancy (from the register) reaches ``from_week``. A person who
already has a certificate is left alone (a ``--force`` load adds nothing twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.registry import service as registry
from salomat.domains.sickleave.models import SickLeaveCertificate
from salomat.domains.sickleave.schemas import (
    CertificateOut,
    CloseIn,
    ExtendIn,
    MaternityIn,
    OpenIn,
    VkkIn,
)
from salomat.domains.sickleave.service.changes import (
    close_certificate,
    extend_certificate,
    record_vkk_decision,
)
from salomat.domains.sickleave.service.employers import share_certificate
from salomat.domains.sickleave.service.issuing import open_certificate
from salomat.domains.sickleave.service.maternity import open_maternity

__all__ = ["load_demo_sick_leave"]

LOADER = "cli:demo-load"
#: what an entry's ``then`` may do after opening, in its order
STEPS = ("extend", "vkk", "close", "share")


def _bad(index: int, key: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(f"sick_leave[{index}].{key}", message, params)])


def _named(index: int, e: Invalid) -> Invalid:
    """The service's refusal with each field named inside the demo file's entry."""
    return Invalid.fields(
        [FieldError(f"sick_leave[{index}].{fe.field}", fe.msgid, fe.params) for fe in e.errors]
    )


async def _doctor_at(session: AsyncSession, code: str, index: int) -> Principal:
    facility_id = await registry.facility_id_by_code(session, code)
    if facility_id is None:
        raise _bad(index, "at", N_("no facility has code %(code)s"), {"code": code})
    return Principal(
        user_id=0,
        username=LOADER,
        role="family_doctor",
        session_id="cli",
        facility_id=facility_id,
        facility_code=code,
    )


def _holder(person_id: int) -> Principal:
    return Principal(
        user_id=0, username=LOADER, role="citizen", session_id="cli", person_id=person_id
    )


async def _person(
    session: AsyncSession, person_ids: dict[str, int], national_id: str, index: int, key: str
) -> int:
    found = person_ids.get(national_id) or await registry.person_id_by_national_id(
        session, national_id
    )
    if found is None:
        raise _bad(index, key, N_("no demo person has national id %(id)s"), {"id": national_id})
    return found


async def _has_certificate(session: AsyncSession, person_id: int) -> bool:
    return (
        await session.scalar(
            select(SickLeaveCertificate.id)
            .where(SickLeaveCertificate.person_id == person_id)
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class _Days:
    """``day: n`` of an entry: the n-th day of the certificate (1 is its first)."""

    start: date
    today: date
    index: int

    def __call__(self, n: int, key: str, *, future: bool = False) -> date:
        on = self.start + timedelta(days=int(n) - 1)
        if on > self.today and not future:
            raise _bad(self.index, key, N_("is in the future"))
        return on


def _vkk(spec: dict[str, Any], day: _Days) -> VkkIn:
    return VkkIn(
        decided_on=day(spec["on_day"], "then.vkk.on_day"),
        decision=spec.get("decision", "extend"),
        extend_until=day(spec["until_day"], "then.vkk.until_day", future=True)
        if "until_day" in spec
        else None,
        protocol_number=spec["protocol"],
        chair=spec["chair"],
        members=spec["members"],
    )


async def _steps(
    session: AsyncSession,
    doctor: Principal,
    c: CertificateOut,
    steps: list[dict[str, Any]],
    index: int,
    day: _Days,
) -> CertificateOut:
    for n, step in enumerate(steps):
        [(what, spec)] = step.items()
        if what not in STEPS:
            raise _bad(
                index,
                f"then[{n}]",
                N_("must be one of: %(choices)s"),
                {"choices": ", ".join(STEPS)},
            )
        if what == "extend":
            c = await extend_certificate(
                session,
                doctor,
                c.id,
                ExtendIn(
                    ends_on=day(spec["to_day"], f"then[{n}].extend.to_day", future=True),
                    cosigned_by=spec.get("cosigned_by"),
                ),
                expected_version=c.version,
                today=c.ends_on,  # granted on the last day of the period before
            )
        elif what == "vkk":
            c = await record_vkk_decision(session, doctor, c.id, _vkk(spec, day))
        elif what == "close":
            c = await close_certificate(
                session,
                doctor,
                c.id,
                CloseIn(
                    closure="return_to_work",
                    return_to_work_on=day(spec["return_to_work_day"], f"then[{n}].close"),
                ),
                expected_version=c.version,
            )
        else:
            await share_certificate(session, _holder(c.person_id), c.id, str(spec))
    return c


async def load_demo_sick_leave(
    session: AsyncSession,
    specs: list[dict[str, Any]],
    person_ids: dict[str, int],
    *,
    facility_code: str,
    today: date | None = None,
) -> int:
    """Enter the demo certificates; returns how many were opened.

    ``person_ids``: national id -> person id of the people just loaded (others are
    looked up); ``facility_code``: the demo polyclinic, where the doctor works unless
    an entry names another (``at``). A wrong entry, or one the pack's rules refuse,
    raises ``Invalid`` naming ``sick_leave[i].<field>``.
    """
    today = today or date.today()
    entered = 0
    done: set[int] = set()
    for i, spec in enumerate(specs):
        person_id = await _person(session, person_ids, spec["person"], i, "person")
        if person_id not in done and await _has_certificate(session, person_id):
            continue
        done.add(person_id)
        doctor = await _doctor_at(session, spec.get("at", facility_code), i)
        try:
            if spec["reason"] == "maternity":
                c = await _maternity(session, doctor, person_id, spec, i, today)
                start = c.starts_on
            else:
                start = today - timedelta(days=int(spec["starts_days_ago"]))
                child = spec.get("child")
                c = await open_certificate(
                    session,
                    doctor,
                    person_id,
                    OpenIn(
                        reason=spec["reason"],
                        diagnosis=spec["diagnosis"],
                        starts_on=start,
                        days=spec["days"],
                        cared_person_id=(
                            await _person(session, person_ids, child, i, "child") if child else None
                        ),
                        cosigned_by=spec.get("cosigned_by"),
                    ),
                    today=start,  # opened on its first day
                )

            day = _Days(start, today, i)
            await _steps(session, doctor, c, spec.get("then", []), i, day)
        except Invalid as e:
            if not e.errors or all(fe.field.startswith("sick_leave[") for fe in e.errors):
                raise
            raise _named(i, e) from e
        entered += 1
    return entered


async def _maternity(
    session: AsyncSession,
    doctor: Principal,
    person_id: int,
    spec: dict[str, Any],
    index: int,
    today: date,
) -> CertificateOut:
    """From the day her registered pregnancy reaches ``from_week`` (in the past)."""
    facts = await maternal.maternity_facts(session, person_id)
    if facts is None:
        raise _bad(index, "person", N_("no pregnancy of hers is on the register"))
    start = facts.edd - timedelta(days=280 - int(spec["from_week"]) * 7)
    if start > today:
        raise _bad(index, "from_week", N_("is in the future"))
    return await open_maternity(
        session,
        doctor,
        person_id,
        MaternityIn(pregnancy_id=facts.pregnancy_id, starts_on=start),
        today=start,
    )
