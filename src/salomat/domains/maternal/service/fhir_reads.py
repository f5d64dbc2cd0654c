"""Reads by the ids FHIR uses (a contact, an advice item, a diagnosis) rather than by pregnancy.

Each loads the row only to learn its pregnancy, then goes through the pregnancy
module's ``_open`` (scope check and audit row): out of scope is 404 like missing.

Diagnoses (FHIR Condition) are derived, not stored: the advice items that are
diagnoses, grouped per pregnancy and diagnosis over every evaluation (the advice
is re-created at each), and the chronic conditions recorded at registration.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.maternal.models import AdviceItem, AntenatalContact, Pregnancy
from salomat.domains.maternal.schemas import AdviceOut, ConditionOut, ContactOut
from salomat.domains.maternal.service.pregnancy import (
    CONTACT,
    RESOURCE,
    _contact_out,
    _contacts,
    _open,
)

__all__ = ["DIAGNOSES", "get_advice_item", "get_condition", "get_contact", "list_conditions"]

#: a diagnosis, in the audit
CONDITION = "Condition"
#: the advice codes (``rules``) that are diagnoses, and the diagnosis each belongs to: a
#: change of severity (anaemia -> severe_anaemia) is the same diagnosis, not a new one
DIAGNOSES: dict[str, str] = {
    "hypertension": "hypertension",
    "severe_hypertension": "hypertension",
    "severe_pre_eclampsia": "severe_pre_eclampsia",
    "gestational_diabetes": "gestational_diabetes",
    "diabetes_in_pregnancy": "diabetes_in_pregnancy",
    "anaemia": "anaemia",
    "moderate_anaemia": "anaemia",
    "severe_anaemia": "anaemia",
}
#: FHIR ids are at most 64 characters
_ID_MAX = 64


async def get_contact(session: AsyncSession, principal: Principal, contact_id: int) -> ContactOut:
    """One antenatal contact (a FHIR Encounter and its Observations)."""
    c = await session.get(AntenatalContact, contact_id)
    if c is None:
        await audit.denied(
            session,
            principal,
            resource_type=CONTACT,
            resource_id=str(contact_id),
            detail="no such contact",
        )
        raise NotFound(f"Contact {contact_id} not found.")
    try:
        await _open(session, principal, c.pregnancy_id, action="read", what=CONTACT)
    except NotFound:
        raise NotFound(f"Contact {contact_id} not found.") from None
    return _contact_out(c)


async def get_advice_item(
    session: AsyncSession, principal: Principal, advice_id: int
) -> tuple[int, AdviceOut]:
    """One advice item, active or retired, with the person it is about."""
    a = await session.get(AdviceItem, advice_id)
    if a is None:
        await audit.denied(
            session,
            principal,
            resource_type="DetectedIssue",
            resource_id=str(advice_id),
            detail="no such advice",
        )
        raise NotFound(f"Advice {advice_id} not found.")
    try:
        await _open(session, principal, a.pregnancy_id, action="read", what=RESOURCE)
    except NotFound:
        raise NotFound(f"Advice {advice_id} not found.") from None
    return a.person_id, AdviceOut.model_validate(a)


# ---- diagnoses (FHIR Condition) --------------------------------------------------------


def _condition_id(pregnancy_id: int, key: str, *, registered: bool) -> str:
    """Stable: the pregnancy and the diagnosis (or recorded condition) code."""
    rid = f"{pregnancy_id}-{'reg-' if registered else ''}{key.replace('_', '-')}"
    if len(rid) > _ID_MAX:  # a long free-text condition code: a digest keeps it stable
        rid = f"{pregnancy_id}-reg-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    return rid


async def _conditions(session: AsyncSession, p: Pregnancy) -> list[ConditionOut]:
    """Her diagnoses in this pregnancy: the rules' first (by first given), then recorded ones.

    Active while the latest evaluation gave it. It stopped at the first evaluation
    after its last advice row. Evaluations are seen by their traces: each contact's
    ``recorded_at`` (``record_contact`` stores the contact, then evaluates), the
    ``created_at`` of every advice row (the nightly re-evaluation stores only changes),
    and the pregnancy's ``evaluated_at``; one that left none of these (no advice at all,
    no contact, not the last) is invisible, and the date is then a later one. A diagnosis still
    active when the pregnancy closed stops on the closing day: these are diagnoses
    of the pregnancy, and the rules do not run after it.
    """
    rows = list(
        (
            await session.execute(
                select(AdviceItem)
                .where(AdviceItem.pregnancy_id == p.id)
                .order_by(AdviceItem.created_at, AdviceItem.id)
            )
        ).scalars()
    )
    groups: dict[str, list[AdviceItem]] = {}
    for a in rows:
        if a.code in DIAGNOSES:
            groups.setdefault(DIAGNOSES[a.code], []).append(a)
    evaluations = sorted(
        {c.recorded_at for c in await _contacts(session, p.id)}
        | {a.created_at for a in rows}
        | ({p.evaluated_at} if p.evaluated_at is not None else set())
    )
    out = []
    for key, items in groups.items():
        first, last = items[0], items[-1]
        active = last.active
        abatement: datetime | date | None = None
        if not active:
            abatement = next((t for t in evaluations if t > last.created_at), None)
        elif p.status == "closed":
            active, abatement = False, p.closed_on
        out.append(
            ConditionOut(
                id=_condition_id(p.id, key, registered=False),
                pregnancy_id=p.id,
                person_id=p.person_id,
                code=key,
                origin="rules",
                advice_code=last.code,
                advice_id=last.id,
                rule_id=last.rule_id,
                rule_source=last.source,
                active=active,
                onset=first.created_at,
                abatement=abatement,
                recorded=first.created_at,
                contact_id=first.contact_id,
            )
        )
    out += [
        ConditionOut(
            id=_condition_id(p.id, code, registered=True),
            pregnancy_id=p.id,
            person_id=p.person_id,
            code=code,
            origin="registration",
            active=True,
            recorded=p.opened_at,
        )
        for code in p.conditions or ()
    ]
    return out


async def get_condition(
    session: AsyncSession, principal: Principal, condition_id: str
) -> ConditionOut:
    """One diagnosis by its FHIR id (``<pregnancy id>-...``); audited as a Condition read."""
    missing = NotFound(f"Condition {condition_id} not found.")
    head, dash, _ = condition_id.partition("-")
    if not dash or not head.isdigit() or len(head) > 18:
        await audit.denied(
            session,
            principal,
            resource_type=CONDITION,
            resource_id=condition_id[:64],
            detail="no such condition",
        )
        raise missing
    try:
        p = await _open(session, principal, int(head), action="read", what=CONDITION)
    except NotFound:
        raise missing from None
    for c in await _conditions(session, p):
        if c.id == condition_id:
            return c
    raise missing


async def list_conditions(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[ConditionOut]:
    """Her diagnoses, newest pregnancy first; one audit row per pregnancy opened."""
    ids = list(
        (
            await session.execute(
                select(Pregnancy.id)
                .where(Pregnancy.person_id == person_id)
                .order_by(Pregnancy.edd.desc(), Pregnancy.id.desc())
            )
        ).scalars()
    )
    if not ids:  # still a scope check (and an audit row): out of scope is 404
        await require_person(session, principal, person_id, action="read", resource_type=CONDITION)
        return []
    out: list[ConditionOut] = []
    for pid in ids:
        try:
            p = await _open(session, principal, pid, action="read", what=CONDITION)
        except NotFound:
            raise NotFound(f"Patient {person_id} not found.") from None
        out += await _conditions(session, p)
    return out
