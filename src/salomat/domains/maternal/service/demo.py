"""The demo region's pregnancies (the ``pregnancies`` list of a pack's demo.yaml).

Each one is entered through the same use cases as a clinician's (register,
contacts, referral, birth or closure), so the rules evaluate it and the
dashboard and worklists show it. Dates count back from the day of loading:
``lmp_weeks_ago`` fixes the pregnancy, every other date is a gestational age
in weeks (``ga``) from that LMP. The loader acts as the IT operator who enters
paper records (DESIGN.md): a registry-scope account bound, for each step, to
the facility where it happened.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.core.errors import FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.maternal.models import Pregnancy
from salomat.domains.maternal.schemas import (
    BabyIn,
    BirthIn,
    CloseIn,
    ContactIn,
    PregnancyIn,
    ReferralIn,
)
from salomat.domains.maternal.service import (
    birth,
    pregnancy,
    pregnancy_closing,
    pregnancy_contacts,
    pregnancy_opening,
    referrals,
)
from salomat.domains.registry import service as registry

__all__ = ["load_demo_pregnancies"]

#: what a contact measured when the demo file says nothing else: a normal pressure
DEFAULT_CONTACT: dict[str, Any] = {"systolic_1": 110, "diastolic_1": 70}
_HISTORY = (
    "gravida",
    "parity",
    "previous_caesarean",
    "previous_pre_eclampsia",
    "previous_pph",
    "stillbirths",
    "miscarriages",
    "multiple_pregnancy",
    "conditions",
)


def _bad(index: int, key: str, message: str) -> Invalid:
    return Invalid.fields([FieldError(f"pregnancies[{index}].{key}", message)])


async def _acting_at(session: AsyncSession, code: str, index: int, key: str) -> Principal:
    facility_id = await registry.facility_id_by_code(session, code)
    if facility_id is None:
        raise _bad(index, key, f"no facility has code {code}")
    return Principal(
        user_id=0,
        username="cli:demo-load",
        role="registrar",
        session_id="cli",
        facility_id=facility_id,
        facility_code=code,
    )


async def _has_pregnancy(session: AsyncSession, person_id: int) -> bool:
    return (
        await session.scalar(select(Pregnancy.id).where(Pregnancy.person_id == person_id).limit(1))
        is not None
    )


async def load_demo_pregnancies(
    session: AsyncSession, specs: list[dict[str, Any]], *, today: date | None = None
) -> int:
    """Enter the demo pregnancies; a woman who already has one is left alone.

    Returns how many were entered. A wrong entry raises ``Invalid`` naming
    ``pregnancies[i].<key>``.
    """
    today = today or date.today()
    entered = 0
    done: set[int] = set()
    for i, spec in enumerate(specs):
        person_id = await registry.person_id_by_national_id(session, spec["woman"])
        if person_id is None:
            raise _bad(i, "woman", f"no demo person has national id {spec['woman']}")
        if person_id not in done and await _has_pregnancy(session, person_id):
            continue
        done.add(person_id)
        lmp = today - timedelta(weeks=spec["lmp_weeks_ago"])

        def at(ga: float, key: str, lmp: date = lmp, i: int = i) -> date:
            day = lmp + timedelta(days=round(ga * 7))
            if day > today:
                raise _bad(i, key, f"gestational age {ga} weeks falls after today")
            return day

        clinic = await _acting_at(session, spec["at"], i, "at")
        history = {k: spec[k] for k in _HISTORY if k in spec}
        detail = await pregnancy_opening.open_pregnancy(
            session,
            clinic,
            person_id,
            PregnancyIn(
                registered_on=at(spec["registered_ga"], "registered_ga"), lmp=lmp, **history
            ),
        )
        for n, c in enumerate(spec.get("contacts", [])):
            values = {**DEFAULT_CONTACT, **{k: v for k, v in c.items() if k != "ga"}}
            detail = await pregnancy_contacts.record_contact(
                session,
                clinic,
                detail.id,
                ContactIn(on=at(c["ga"], f"contacts[{n}].ga"), **values),
                expected_version=detail.version,
            )
        if ref := spec.get("referral"):
            sent = await referrals.send_referral(
                session,
                clinic,
                detail.id,
                ReferralIn(kind=ref["kind"], reason=ref["reason"], to_facility_code=ref.get("to")),
                sent_at=utcnow() - timedelta(hours=ref["hours_ago"]),
            )
            if ref.get("status", "sent") == "accepted":
                receiver = await _acting_at(session, sent.to_facility_code, i, "referral.to")
                await referrals.accept_referral(
                    session, receiver, sent.id, expected_version=sent.version
                )
        version = (await pregnancy.get_pregnancy(session, clinic, detail.id)).version
        if b := spec.get("birth"):
            where = await _acting_at(session, b["at"], i, "birth.at")
            await birth.record_birth(
                session,
                where,
                detail.id,
                BirthIn(
                    born_on=at(b["ga"], "birth.ga"),
                    mode=b["mode"],
                    babies=[BabyIn(**baby) for baby in b["babies"]],
                ),
                expected_version=version,
            )
        elif c := spec.get("close"):
            await pregnancy_closing.close_pregnancy(
                session,
                clinic,
                detail.id,
                CloseIn(outcome=c["outcome"], closed_on=at(c["ga"], "close.ga")),
                expected_version=version,
            )
        entered += 1
    return entered
