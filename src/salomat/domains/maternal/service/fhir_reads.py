"""Reads by the ids FHIR uses (a contact, an advice item, a diagnosis) rather than by pregnancy.

Each loads the row only to learn its pregnancy, then goes through the pregnancy
module's ``_open`` (scope check and audit row): out of scope is 404 like missing.

Diagnoses (FHIR Condition) are the standing diagnoses the rules made (``standing``,
one row per diagnosis until a clinician resolves it) and the chronic conditions
recorded at registration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import NotFound
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.maternal.models import AdviceItem, AntenatalContact, Diagnosis, Pregnancy
from salomat.domains.maternal.schemas import AdviceOut, ConditionOut, ContactOut
from salomat.domains.maternal.service import standing
from salomat.domains.maternal.service.evaluation import _diagnoses
from salomat.domains.maternal.service.pregnancy import (
    CONTACT,
    RESOURCE,
    _contact_out,
    _open,
)

__all__ = ["DIAGNOSES", "get_advice_item", "get_condition", "get_contact", "list_conditions"]

#: a diagnosis, in the audit
CONDITION = "Condition"
#: the advice codes (``rules``) that are diagnoses, and the diagnosis each belongs to: a
#: change of severity (anaemia -> severe_anaemia) is the same diagnosis, not a new one
DIAGNOSES: dict[str, str] = {
    code: fam for code, fam in standing.FAMILY_OF.items() if fam in standing.CONDITION_FAMILIES
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
    """Her diagnoses in this pregnancy: the standing ones the rules made, then recorded ones.

    A rule-made diagnosis is its ``antenatal_diagnosis`` row (``standing``): active
    until a clinician resolves it, its onset the day of the contact that first gave
    it. One still standing when the pregnancy closed stops on the closing day: these
    are diagnoses of the pregnancy, and the rules do not run after it.
    """
    active_advice = list(
        (
            await session.execute(
                select(AdviceItem)
                .where(AdviceItem.pregnancy_id == p.id, AdviceItem.active.is_(True))
                .order_by(AdviceItem.id)
            )
        ).scalars()
    )
    return conditions_of(p, await _diagnoses(session, p.id), active_advice)


def conditions_of(
    p: Pregnancy, diagnoses: Iterable[Diagnosis], active_advice: Iterable[AdviceItem]
) -> list[ConditionOut]:
    """``_conditions`` from rows already read (the pregnancy's diagnoses in id order and its
    active advice): a bulk export reads them for a page of people at once."""
    rows = [d for d in diagnoses if d.family in standing.CONDITION_FAMILIES]
    evidence = {a.code: a.id for a in active_advice}
    out = []
    first_of: dict[str, int] = {}
    for d in rows:
        first_of.setdefault(d.family, d.id)
    for d in rows:
        active = d.status == "active"
        abatement: datetime | date | None = d.resolved_at
        if active and p.status == "closed":
            active, abatement = False, p.closed_on
        # stable ids: the family's first diagnosis in the pregnancy is ``<family>``; one
        # raised again after a clinician resolved it is a new Condition, ``<family>-<row>``
        key = d.family if first_of[d.family] == d.id else f"{d.family}-{d.id}"
        out.append(
            ConditionOut(
                id=_condition_id(p.id, key, registered=False),
                pregnancy_id=p.id,
                person_id=p.person_id,
                code=d.family,
                origin="rules",
                advice_code=d.code,
                advice_id=evidence.get(d.code),
                rule_id=d.rule_id,
                rule_source=d.source,
                active=active,
                onset=d.first_on,
                abatement=abatement,
                recorded=d.raised_at,
                contact_id=d.first_contact_id,
                resolution=d.resolution,
                resolution_note=d.resolution_note,
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
    if not dash or not (head.isascii() and head.isdigit()) or len(head) > 18:
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
