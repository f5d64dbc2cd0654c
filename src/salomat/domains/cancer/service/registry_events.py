"""What the registry's events do to the cancer registry: a death closes follow-up and,
when its certificate names a cancer, notifies it; a merge moves the rows; a facility
that follows a patient's cancer up may open her record.

The handlers run in the publisher's transaction (``core.events``): the death and the
registry's change commit or roll back together.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.core.db import utcnow
from salomat.core.policy import Scope, bulk_scope_provider, scope_provider
from salomat.core.security import Principal
from salomat.domains.cancer.models import (
    CancerFollowUp,
    CancerNotification,
    CancerTreatment,
    CancerTumour,
)
from salomat.domains.cancer.service import icdo3
from salomat.domains.cancer.service.notifications import record_death_certificate
from salomat.domains.registry import service as registry

__all__: list[str] = []


def cancer_lines(cause: str, other_causes: tuple[str, ...]) -> list[str]:
    """The certificate's lines the registry takes: every line that names a cancer, one
    per organ (the underlying cause first; two lines of one organ are one report)."""
    out: dict[str, str] = {}
    for code in (cause, *other_causes):
        parsed = icdo3.from_icd10(code)
        if parsed is not None:
            out.setdefault(icdo3.organ(parsed[0]), code)
    return list(out.values())


@events.subscribe(registry.PersonDied)
async def on_death(session: AsyncSession, event: registry.PersonDied) -> None:
    """Vital status of every tumour of the person; a cancer on the certificate becomes
    a notification (a DCO case when nothing else is known of it)."""
    await session.execute(
        update(CancerTumour)
        .where(CancerTumour.person_id == event.person_id)
        .values(
            vital_status="dead",
            # a tumour reported with a date after the registered death (a late pathology
            # report) keeps its date: the death is registered all the same
            death_date=case(
                (CancerTumour.incidence_date > event.deceased_on, CancerTumour.incidence_date),
                else_=event.deceased_on,
            ),
            death_cause=event.cause,
            next_follow_up_on=None,
            updated_at=utcnow(),
            version=CancerTumour.version + 1,
        )
        .execution_options(synchronize_session="fetch")
    )
    for line in cancer_lines(event.cause, tuple(event.other_causes)):
        await record_death_certificate(session, event.person_id, event.deceased_on, line)


_MOVED: dict[str, Any] = {
    "cancer_tumour": CancerTumour,
    "cancer_notification": CancerNotification,
    "cancer_treatment": CancerTreatment,
    "cancer_follow_up": CancerFollowUp,
}


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points tumours, notifications, treatments and follow-up; an unmerge
    moves back exactly what the merge moved. Two records' tumours of one organ stay
    two rows: the registrar's queue is where they are joined (docs/cancer.md)."""
    await registry.move_person_rows(session, event, _MOVED)


@scope_provider
async def followed_up_at_users_facility(
    session: AsyncSession, principal: Principal, person_id: int
) -> Scope | None:
    """The facility that follows a person's cancer up (its oncologists) may open her
    record, as with an open care relationship."""
    if principal.facility_id is None:
        return None
    hit = await session.scalar(
        select(CancerTumour.id)
        .where(
            CancerTumour.person_id == person_id,
            CancerTumour.followed_by_facility_id == principal.facility_id,
        )
        .limit(1)
    )
    return Scope("follows the person's cancer up") if hit is not None else None


@bulk_scope_provider(followed_up_at_users_facility)
async def followed_up_at_users_facility_set(
    session: AsyncSession, principal: Principal, person_ids: list[int]
) -> dict[int, Scope]:
    """The same for many people: one statement per 500 of them."""
    if principal.facility_id is None:
        return {}
    out: dict[int, Scope] = {}
    for i in range(0, len(person_ids), 500):
        for pid in await session.scalars(
            select(CancerTumour.person_id)
            .where(
                CancerTumour.person_id.in_(person_ids[i : i + 500]),
                CancerTumour.followed_by_facility_id == principal.facility_id,
            )
            .distinct()
        ):
            out[pid] = Scope("follows the person's cancer up")
    return out
