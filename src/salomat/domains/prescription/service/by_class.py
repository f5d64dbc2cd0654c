"""A person's prescriptions of some medicine classes (WHO ATC prefixes), for pages of
other domains that cannot import this one.

The disease-management card (screening) lists a patient's antihypertensives or
antidiabetics by loading this list into itself in the browser (HTMX): screening and
prescription are siblings in the domain graph, so neither imports the other; the
programme's classes are pack data there, passed here as ATC prefixes.

The same scope check and audit as the patient's prescriptions (``require_person``,
resource type ``MedicationRequest``, a filtered read is a ``search``): out of scope
answers 404 like a missing person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.prescription.models import Medicine, Prescription
from salomat.domains.prescription.schemas import PrescriptionOut
from salomat.domains.prescription.service.prescribing import _open, _out

__all__ = ["ATC_PREFIX", "MAX_ATC_PREFIXES", "atc_prefixes", "prescriptions_by_class"]

#: an ATC code at any of its five levels: C (anatomical group), C09 (therapeutic),
#: C09A (pharmacological), C09AA (chemical), C09AA02 (substance). The first letter is
#: one of the 14 anatomical main groups of the WHO ATC index.
ATC_PREFIX = re.compile(r"^[ABCDGHJLMNPRSV](?:[0-9]{2}(?:[A-Z](?:[A-Z](?:[0-9]{2})?)?)?)?$")
#: more classes than any programme lists; a longer list is a malformed link
MAX_ATC_PREFIXES = 20


def atc_prefixes(raw: Iterable[str]) -> tuple[str, ...]:
    """The prefixes as given (spaces trimmed, any case), in order, each once; any that is
    not an ATC code at one of its levels, none at all, or too many: refused naming ``atc``."""
    out: list[str] = []
    errors: list[FieldError] = []
    for value in raw:
        code = value.strip().upper()
        if not (value.isascii() and ATC_PREFIX.fullmatch(code)):
            errors.append(
                FieldError(
                    "atc",
                    N_("%(value)s is not an ATC code or the start of one (e.g. C09 or C09AA)"),
                    {"value": value[:16]},
                )
            )
        elif code not in out:
            out.append(code)
    if not errors and not out:
        errors.append(FieldError("atc", N_("give at least one ATC code")))
    if len(out) > MAX_ATC_PREFIXES:
        errors.append(FieldError("atc", N_("at most %(max)s ATC codes"), {"max": MAX_ATC_PREFIXES}))
    if errors:
        raise Invalid.fields(errors)
    return tuple(out)


async def prescriptions_by_class(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    atc: Iterable[str] | None,
    *,
    today: date | None = None,
) -> list[PrescriptionOut]:
    """The person's prescriptions whose medicine's ATC code starts with any of ``atc``
    (``None``: of every class): the active ones first (valid today), then the others;
    newest first within each.

    The prefixes are checked before the person is opened, so a malformed list is
    refused (422) without an audit row."""
    prefixes = atc_prefixes(atc) if atc is not None else None
    await _open(
        session,
        principal,
        person_id,
        action="search" if prefixes else "read",
        purpose="prescriptions by medicine class",
    )
    q = (
        select(Prescription, Medicine)
        .join(Medicine, Medicine.id == Prescription.medicine_id)
        .where(Prescription.person_id == person_id)
        .order_by(Prescription.issued_on.desc(), Prescription.id.desc())
    )
    if prefixes:
        q = q.where(or_(*(Medicine.atc.startswith(p) for p in prefixes)))
    rows = (await session.execute(q)).all()
    day = today or date.today()
    items = [_out(p, m) for p, m in rows]
    # _out marks a lapsed active one expired by today's date; a given day decides here
    for item, (p, _m) in zip(items, rows, strict=True):
        if p.status == "active":
            item.status = "active" if p.valid_until >= day else "expired"
    return sorted(items, key=lambda i: i.status != "active")
