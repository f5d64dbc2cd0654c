"""What the registry's events do to the card: a merge moves it, a correction recounts it.

The registry (below this domain) publishes through ``core.events``; the
handlers run in its transaction, so the registry's change and the card's
stored verdicts commit or roll back together.

- ``PersonRowsMoved`` (merge, unmerge): doses and exemptions move, both
  records are counted again.
- ``PersonCorrected`` (the birth date or sex corrected): the doses are counted
  again from the new birth date, so the stored ``counted_as``, ``valid`` and
  reason that coverage reads in SQL follow the correction (a dose now before
  its minimum age stops counting, one now past its upper age too, and the
  doses after it move back).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.errors import Conflict
from salomat.domains.immunization.models import Dose, Exemption
from salomat.domains.immunization.service.doses import _doses as doses
from salomat.domains.immunization.service.doses import recount
from salomat.domains.registry import service as registry

__all__: list[str] = []

_MOVED: dict[str, type[Dose] | type[Exemption]] = {
    "immunization_dose": Dose,
    "immunization_exemption": Exemption,
}


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points every dose and exemption; an unmerge, exactly the rows it moved.

    Refused when both records hold a dose of the same antigen given on the same
    day: the same dose recorded twice (one must be marked entered in error
    first, as ``record_dose`` refuses it on one card). Otherwise the doses that
    move leave their counted place, and both records are counted again in date
    order: one record's dose 1 and the other's "dose 1" a month later become
    doses 1 and 2 of the survivor (the second flagged for review).
    """
    if event.only is None:
        mine = {
            (d.antigen, d.given_on)
            for d in await doses(session, event.from_id)
            if d.status == "completed"
        }
        theirs = {
            (d.antigen, d.given_on)
            for d in await doses(session, event.to_id)
            if d.status == "completed"
        }
        both = sorted(mine & theirs)
        if both:
            named = ", ".join(f"{a} of {on:%d.%m.%Y}" for a, on in both)
            raise Conflict(
                f"Both records have {named}; mark the duplicate entered in error before merging."
            )
    for key, model in _MOVED.items():
        q = select(model.id).where(model.person_id == event.from_id)
        if event.only is not None:
            ids = event.only.get(key, [])
            if not ids:
                continue
            q = q.where(model.id.in_(ids))
        moved = [int(i) for i in (await session.execute(q)).scalars()]
        if moved:
            values: dict[str, Any] = {"person_id": event.to_id}
            if model is Dose:
                values["counted_as"] = None
            await session.execute(update(model).where(model.id.in_(moved)).values(**values))
            event.moved[key] = moved
    if event.moved:
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Dose | Exemption):
                session.expire(obj)
    if event.moved.get("immunization_dose"):
        births = await registry.birth_dates(session, [event.from_id, event.to_id])
        for person_id, birth in births.items():
            await recount(session, person_id, birth)


@events.subscribe(registry.PersonCorrected)
async def recount_after_correction(session: AsyncSession, event: registry.PersonCorrected) -> None:
    """The birth date was corrected: count the person's doses again from the new one.

    A correction of the sex alone changes no count (the counting does not read it; the
    schedule, computed when asked, leaves HPV out for a boy by itself).
    """
    if event.birth_date != event.previous_birth_date:
        await recount(session, event.person_id, event.birth_date)
