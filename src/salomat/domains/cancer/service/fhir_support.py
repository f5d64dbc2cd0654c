"""What the FHIR adapter needs beyond the REST views (fhir/cancer_api.py).

A tumour as FHIR is a ``Condition`` whose ``identifier`` lists the report ids other
systems gave when they submitted it (``NotificationIn.external_system`` /
``external_id``): a system that sent a report finds what the registry made of it by
that identifier, as a FHIR client expects of a resource it created. ``TumourOut`` does
not carry them, so the reads here add them. Every read opens the person's record
exactly as ``get_tumour`` and ``person_tumours`` do (scope check and audit; out of
scope answers 404 like a missing tumour); a search by a report's identifier that names
a tumour out of scope finds nothing, and the refusal is audited with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.policy import person_scope, require_person
from salomat.core.security import Principal
from salomat.domains.cancer.models import CancerNotification, CancerTumour
from salomat.domains.cancer.schemas import TumourOut
from salomat.domains.cancer.service.common import load_tumour, tumour_out

__all__ = [
    "FhirTumour",
    "fhir_find_tumour",
    "fhir_record",
    "fhir_tumour",
    "fhir_tumours",
    "fhir_tumours_by_identifier",
    "tumours_for_people",
]

#: searches by a report's identifier without its system read at most this many reports
MAX_MATCHES = 100


@dataclass(frozen=True)
class FhirTumour:
    tumour: TumourOut
    #: (system, value) of each report another system sent of it, in the order received
    identifiers: tuple[tuple[str, str], ...]


async def _identifiers(
    session: AsyncSession, tumour_ids: Sequence[int]
) -> dict[int, tuple[tuple[str, str], ...]]:
    if not tumour_ids:
        return {}
    rows = await session.execute(
        select(
            CancerNotification.tumour_id,
            CancerNotification.external_system,
            CancerNotification.external_id,
        )
        .where(
            CancerNotification.tumour_id.in_(tumour_ids),
            CancerNotification.status == "consolidated",
            CancerNotification.external_system.is_not(None),
            CancerNotification.external_id.is_not(None),
        )
        .order_by(CancerNotification.received_at, CancerNotification.id)
    )
    out: dict[int, list[tuple[str, str]]] = {}
    for tid, system, value in rows:
        out.setdefault(int(tid), []).append((system, value))
    return {k: tuple(v) for k, v in out.items()}


async def _records(session: AsyncSession, tumours: Sequence[CancerTumour]) -> list[FhirTumour]:
    found = await _identifiers(session, [t.id for t in tumours])
    return [FhirTumour(tumour_out(t), found.get(t.id, ())) for t in tumours]


async def fhir_tumour(session: AsyncSession, principal: Principal, tumour_id: int) -> FhirTumour:
    """One tumour (audited; out of scope is 404 like a missing one)."""
    t = await load_tumour(session, principal, tumour_id)
    return (await _records(session, [t]))[0]


async def fhir_tumours(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[FhirTumour]:
    """A person's tumours in order of incidence, audited as one read (as
    ``person_tumours``)."""
    await require_person(
        session, principal, person_id, action="read", resource_type="Condition",
        purpose="cancer registry",
    )  # fmt: skip
    rows = await session.scalars(
        select(CancerTumour)
        .where(CancerTumour.person_id == person_id)
        .order_by(CancerTumour.incidence_date, CancerTumour.id)
    )
    return await _records(session, list(rows))


async def fhir_tumours_by_identifier(
    session: AsyncSession, principal: Principal, value: str, system: str | None = None
) -> list[FhirTumour]:
    """The tumours that reports with this identifier joined (``system`` None: any
    system's). A report still waiting for the registrar, or set aside, names none. Each
    tumour in scope is read (audited); one out of scope is left out, its refusal audited."""
    q = select(CancerNotification.tumour_id, CancerNotification.person_id).where(
        CancerNotification.external_id == value,
        CancerNotification.status == "consolidated",
    )
    if system is not None:
        q = q.where(CancerNotification.external_system == system)
    rows = (await session.execute(q.order_by(CancerNotification.id).limit(MAX_MATCHES))).all()
    out: list[FhirTumour] = []
    seen: set[int] = set()
    for tumour_id, person_id in rows:
        if tumour_id is None or tumour_id in seen:
            continue
        seen.add(tumour_id)
        if (rec := await _in_scope(session, principal, tumour_id, person_id)) is not None:
            out.append(rec)
    return out


async def fhir_find_tumour(
    session: AsyncSession, principal: Principal, tumour_id: int
) -> FhirTumour | None:
    """A search by the tumour's id (``_id``): None when there is none or it is out of
    scope (the refusal audited, as above)."""
    person_id = await session.scalar(
        select(CancerTumour.person_id).where(CancerTumour.id == tumour_id)
    )
    if person_id is None:
        return None
    return await _in_scope(session, principal, tumour_id, person_id)


async def _in_scope(
    session: AsyncSession, principal: Principal, tumour_id: int, person_id: int
) -> FhirTumour | None:
    """The tumour read (audited), or None with its refusal written now: a search that
    finds nothing answers 200, and the rows ``require_person`` keeps for a refusal are
    written only when the request fails."""
    if await person_scope(session, principal, person_id) is None:
        await audit.record(
            session,
            principal,
            action="denied",
            resource_type="Condition",
            resource_id=str(tumour_id),
            patient_id=person_id,
            outcome="failure",
            detail="outside the user's scope",
        )
        return None
    return await fhir_tumour(session, principal, tumour_id)


async def fhir_record(session: AsyncSession, written: TumourOut) -> FhirTumour:
    """The tumour a notification the caller has just sent joined or made (``notify``
    checked scope and audited it): no second audit row."""
    t = await session.get(CancerTumour, written.id)
    assert t is not None
    return (await _records(session, [t]))[0]


async def tumours_for_people(
    session: AsyncSession, person_ids: Sequence[int], *, since: datetime | None = None
) -> dict[int, list[FhirTumour]]:
    """Each person's tumours in order of incidence (as ``fhir_tumours``), for a page of
    people in two statements (the tumours, the reports' identifiers): a bulk export or
    Patient/$everything, whose caller chose the people by scope and audits each person it
    writes (no scope check or audit here). ``since``: the tumours changed after it
    (``cancer_tumour.updated_at``)."""
    if not person_ids:
        return {}
    q = select(CancerTumour).where(CancerTumour.person_id.in_(sorted(set(person_ids))))
    if since is not None:
        q = q.where(CancerTumour.updated_at > since)
    rows = list(
        await session.scalars(
            q.order_by(CancerTumour.person_id, CancerTumour.incidence_date, CancerTumour.id)
        )
    )
    out: dict[int, list[FhirTumour]] = {}
    for rec in await _records(session, rows):
        out.setdefault(rec.tumour.person_id, []).append(rec)
    return out
