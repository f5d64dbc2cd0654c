"""Mobile medical teams' visits: recorded with the people seen and the services given,
read back by the team (REST) and, as one FHIR Encounter per person seen, by whoever may
read that person's encounters (fhir/mobile_encounter.py).

A team's nurse or family doctor (``planning:mobile``) records and reads visits of a team
of her own facility only, and only with people in her scope: every person is checked
set-wise (``person_scopes``) and every one is audited (an ``Encounter`` created or read),
the people out of scope are refused by field and their denial audited. The encounters are
read by person, by id or by settlement from any facility, always within the reader's
scope, each one shown audited.

Every audit row about a person seen names her encounter, ``mobile-<visit>-<person>`` (the
FHIR id), whether the visit was recorded (``create``) or read (``read``, by the team's REST
read of the visit or over FHIR): one person's rows of one visit share one id. The visit
as a whole has no audit row of its own; its id is in each of its people's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.policy import Scope, person_scopes
from salomat.core.security import Principal
from salomat.core.suppression import SMALL, is_small
from salomat.domains.planning.models_mobile import (
    MobileTeam,
    MobileVisit,
    MobileVisitPerson,
    MobileVisitPlan,
)
from salomat.domains.planning.schemas_mobile import (
    SeenOut,
    VisitIn,
    VisitOut,
    VisitSummary,
)
from salomat.domains.planning.service.mobile_teams import (
    FIRST_DAY,
    LAST_DAY,
    _day,
    _invalid,
    _own_team,
    _settlements_by_id,
    _team,
    today,
)
from salomat.domains.registry import service as registry

__all__ = [
    "SERVICES",
    "EncounterQuery",
    "MobileEncounter",
    "audit_encounters",
    "encounter_id",
    "get_encounter",
    "get_visit",
    "list_visits",
    "person_encounters",
    "record_visit",
    "search_encounters",
    "settlement_encounters",
]

#: what a team records for each person it sees (codes; names in the catalog)
SERVICES = ("consultation", "screening", "vaccination", "prescription", "referral")
#: audit kind and purpose of a person seen during a visit
ENCOUNTER = "Encounter"
PURPOSE = "mobile medical team visit"


# --- visits ----------------------------------------------------------------------------


async def record_visit(
    session: AsyncSession, principal: Principal, team_id: int, data: VisitIn
) -> VisitOut:
    """Record a visit of the user's facility's team with the people seen and the services
    given. Every person must be in the user's scope (checked set-wise; each one audited)."""
    team = await _own_team(session, principal, team_id)
    errors: list[FieldError] = []
    if data.visited_on > today():
        errors.append(FieldError("visited_on", N_("is in the future")))
    elif data.visited_on < FIRST_DAY:
        errors.append(FieldError("visited_on", N_("is before %(day)s"), {"day": "1900-01-01"}))
    place = await registry.territory_by_code(session, data.settlement)
    if place is None or place.level != "settlement":
        errors.append(
            FieldError(
                "settlement", N_("%(value)s is not a settlement"), {"value": data.settlement}
            )
        )
    if data.plan_id is not None:
        p = await session.get(MobileVisitPlan, data.plan_id)
        if p is None or p.team_id != team.id or (place is not None and p.settlement_id != place.id):
            errors.append(
                FieldError("plan_id", N_("is not this team's planned visit to the settlement"))
            )
    seen: dict[int, int] = {}
    for i, s in enumerate(data.people):
        if s.person_id in seen:
            errors.append(FieldError(f"people.{i}.person_id", N_("is listed twice")))
        seen.setdefault(s.person_id, i)
        for j, code in enumerate(s.services):
            if code not in SERVICES:
                errors.append(
                    FieldError(
                        f"people.{i}.services.{j}",
                        N_("%(value)s is not a service of a mobile team (%(services)s)"),
                        {"value": code, "services": ", ".join(SERVICES)},
                    )
                )
    scopes = await person_scopes(session, principal, list(seen))
    for pid, i in seen.items():
        if pid not in scopes:
            await audit.denied(
                session,
                principal,
                resource_type=ENCOUNTER,
                resource_id=str(pid),
                patient_id=pid,
                detail="outside the user's scope",
            )
            errors.append(FieldError(f"people.{i}.person_id", N_("no such person in your scope")))
    if errors:
        raise Invalid.fields(errors)
    assert place is not None
    v = MobileVisit(
        team_id=team.id,
        settlement_id=place.id,
        visited_on=data.visited_on,
        plan_id=data.plan_id,
        notes=data.notes,
        recorded_by=principal.username,
        created_at=datetime.now(UTC),
    )
    session.add(v)
    await session.flush()
    session.add_all(
        MobileVisitPerson(visit_id=v.id, person_id=s.person_id, service=code)
        for s in data.people
        for code in dict.fromkeys(s.services)
    )
    await _audit(session, principal, "create", [(v.id, pid) for pid in seen], scopes)
    await session.flush()
    return VisitOut(
        id=v.id,
        team_id=team.id,
        settlement=place.code,
        settlement_name=place.name,
        visited_on=v.visited_on,
        plan_id=v.plan_id,
        notes=v.notes,
        recorded_by=v.recorded_by,
        people=[
            SeenOut(person_id=s.person_id, services=list(dict.fromkeys(s.services)))
            for s in data.people
        ],
    )


async def get_visit(session: AsyncSession, principal: Principal, visit_id: int) -> VisitOut:
    """A visit of the user's facility's team with the people seen: only the people in the
    user's scope are shown, each read audited."""
    v = await session.get(MobileVisit, visit_id)
    if v is None:
        raise NotFound(N_("Mobile visit %(id)s not found."), params={"id": visit_id})
    try:
        await _own_team(session, principal, v.team_id)
    except NotFound:
        raise NotFound(N_("Mobile visit %(id)s not found."), params={"id": visit_id}) from None
    rows = (
        await session.execute(
            select(MobileVisitPerson.person_id, MobileVisitPerson.service)
            .where(MobileVisitPerson.visit_id == v.id)
            .order_by(MobileVisitPerson.id)
        )
    ).all()
    services: dict[int, list[str]] = {}
    for pid, code in rows:
        services.setdefault(pid, []).append(code)
    scopes = await person_scopes(session, principal, list(services))
    await _audit(session, principal, "read", [(v.id, p) for p in services if p in scopes], scopes)
    names = await _settlements_by_id(session, [v.settlement_id])
    return VisitOut(
        id=v.id,
        team_id=v.team_id,
        settlement=names[v.settlement_id][0],
        settlement_name=names[v.settlement_id][1],
        visited_on=v.visited_on,
        plan_id=v.plan_id,
        notes=v.notes,
        recorded_by=v.recorded_by,
        people=[SeenOut(person_id=p, services=s) for p, s in services.items() if p in scopes],
    )


async def list_visits(
    session: AsyncSession, principal: Principal, team_id: int, date_from: date, date_to: date
) -> list[VisitSummary]:
    """The team's visits between two days with the number of people seen and of each
    service: counts only, no person (a planner's view). A visit's counts name a village
    and a day, so for anyone but the team's own facility the small-count rule applies
    (``core.suppression``): a count of 1 to 4 is shown as "<5" (the people seen and each
    service; no total of the services is published, so no complement is needed)."""
    _day(date_from, "from")
    _day(date_to, "to")
    if date_to < date_from:
        raise _invalid("to", N_("is before %(day)s"), day=date_from.isoformat())
    team = await _team(session, team_id)
    own = principal.facility_id is not None and principal.facility_id == team.facility_id
    visits = list(
        (
            await session.scalars(
                select(MobileVisit)
                .where(
                    MobileVisit.team_id == team_id,
                    MobileVisit.visited_on.between(date_from, date_to),
                )
                .order_by(MobileVisit.visited_on, MobileVisit.id)
            )
        ).all()
    )
    ids = [v.id for v in visits]
    people: dict[int, int] = {}
    services: dict[int, Counter[str]] = {i: Counter() for i in ids}
    if ids:
        for vid, n in await session.execute(
            select(
                MobileVisitPerson.visit_id, func.count(func.distinct(MobileVisitPerson.person_id))
            )
            .where(MobileVisitPerson.visit_id.in_(ids))
            .group_by(MobileVisitPerson.visit_id)
        ):
            people[vid] = n
        for vid, code, n in await session.execute(
            select(MobileVisitPerson.visit_id, MobileVisitPerson.service, func.count())
            .where(MobileVisitPerson.visit_id.in_(ids))
            .group_by(MobileVisitPerson.visit_id, MobileVisitPerson.service)
        ):
            services[vid][code] = n
    names = await _settlements_by_id(session, [v.settlement_id for v in visits])
    return [
        VisitSummary(
            id=v.id,
            team_id=v.team_id,
            settlement=names[v.settlement_id][0],
            settlement_name=names[v.settlement_id][1],
            visited_on=v.visited_on,
            people=_shown(people.get(v.id, 0), own),
            services={k: _shown(n, own) for k, n in services[v.id].items()},
        )
        for v in visits
    ]


def _shown(n: int, own: bool) -> int | str:
    """A count as published: exact for the team's own facility, else "<5" for 1 to 4."""
    return n if own or not is_small(n) else SMALL


# --- the people seen as encounters (FHIR) ---------------------------------------------


@dataclass(frozen=True)
class MobileEncounter:
    """One person seen during one visit: what a FHIR Encounter says of it (``id``:
    ``mobile-<visit>-<person>``)."""

    visit_id: int
    person_id: int
    team_id: int
    #: the team's base facility (the Encounter's serviceProvider)
    facility_id: int
    settlement_id: int
    settlement_code: str
    settlement_name: str
    visited_on: date
    #: the services given, in the order recorded (codes of SERVICES)
    services: tuple[str, ...]
    recorded_at: datetime

    @property
    def id(self) -> str:
        return encounter_id(self.visit_id, self.person_id)


async def _encounters(session: AsyncSession, *where: Any) -> list[MobileEncounter]:
    """The encounters (one per visit and person) of the rows ``where`` selects, by day,
    then visit, then person: one statement for the rows, one for the settlements."""
    rows = (
        await session.execute(
            select(
                MobileVisit.id,
                MobileVisitPerson.person_id,
                MobileVisit.team_id,
                MobileTeam.facility_id,
                MobileVisit.settlement_id,
                MobileVisit.visited_on,
                MobileVisit.created_at,
                MobileVisitPerson.service,
            )
            .join(MobileVisitPerson, MobileVisitPerson.visit_id == MobileVisit.id)
            .join(MobileTeam, MobileTeam.id == MobileVisit.team_id)
            .where(*where)
            .order_by(
                MobileVisit.visited_on,
                MobileVisit.id,
                MobileVisitPerson.person_id,
                MobileVisitPerson.id,
            )
        )
    ).all()
    grouped: dict[tuple[int, int], list[Any]] = {}
    for r in rows:
        grouped.setdefault((r[0], r[1]), []).append(r)
    names = await _settlements_by_id(session, [r[4] for r in rows])
    return [
        MobileEncounter(
            visit_id=vid,
            person_id=pid,
            team_id=rs[0][2],
            facility_id=rs[0][3],
            settlement_id=rs[0][4],
            settlement_code=names[rs[0][4]][0],
            settlement_name=names[rs[0][4]][1],
            visited_on=rs[0][5],
            services=tuple(dict.fromkeys(r[7] for r in rs)),
            recorded_at=rs[0][6],
        )
        for (vid, pid), rs in grouped.items()
    ]


def _missing_encounter(visit_id: int, person_id: int) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."),
        params={"resource": "Encounter", "id": encounter_id(visit_id, person_id)},
    )


def encounter_id(visit_id: int, person_id: int) -> str:
    """The id of a person's encounter during a visit: the FHIR id and every audit row's."""
    return f"mobile-{visit_id}-{person_id}"


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    pairs: Sequence[tuple[int, int]],
    scopes: dict[int, Scope],
) -> None:
    """One ``action`` row per (visit, person), naming her encounter, in one batched insert
    (nothing when there is none)."""
    if not pairs:
        return
    await audit.record_listing(
        session,
        principal,
        [
            audit.Access(
                patient_id=pid,
                purpose=PURPOSE,
                break_glass_grant=scopes[pid].break_glass_grant,
                resource_id=encounter_id(vid, pid),
            )
            for vid, pid in pairs
        ],
        action=action,
        resource_type=ENCOUNTER,
    )


async def get_encounter(
    session: AsyncSession, principal: Principal, visit_id: int, person_id: int
) -> MobileEncounter:
    """A person seen during a visit, from any facility, if the person is in the reader's
    scope (else 404 like a missing one, the refusal audited); the read audited."""
    found = await _encounters(
        session, MobileVisit.id == visit_id, MobileVisitPerson.person_id == person_id
    )
    if not found:
        raise _missing_encounter(visit_id, person_id)
    scopes = await person_scopes(session, principal, [person_id])
    if person_id not in scopes:
        await audit.denied(
            session,
            principal,
            resource_type=ENCOUNTER,
            resource_id=found[0].id,
            patient_id=person_id,
            detail="outside the user's scope",
        )
        raise _missing_encounter(visit_id, person_id)
    await _audit(session, principal, "read", [(visit_id, person_id)], scopes)
    return found[0]


@dataclass(frozen=True)
class EncounterQuery:
    """What a search of the encounters asks; each filter given narrows it."""

    person_id: int | None = None
    settlement_id: int | None = None
    #: the visit days, both included
    first: date = FIRST_DAY
    last: date = LAST_DAY
    #: (visit, person) of the ids asked for
    ids: tuple[tuple[int, int], ...] | None = None
    #: the page: None for all of them
    limit: int | None = None
    offset: int = 0


async def search_encounters(
    session: AsyncSession,
    principal: Principal,
    q: EncounterQuery,
    *,
    audit_reads: bool = True,
) -> tuple[int, list[MobileEncounter]]:
    """The encounters ``q`` asks for of the people in the reader's scope (checked
    set-wise; the others left out unnamed, as a search does), oldest first: (how many,
    the page ``q.limit``/``q.offset`` asks for), counted and paged in SQL. Each encounter
    of the page is audited as a ``read``, once, in one batched insert.

    A search by ``person_id`` is refused 404 when she is out of scope (the refusal
    audited) and is itself audited as a ``search`` on her.

    ``audit_reads=False`` leaves the page's reads unaudited: only for a caller that shows
    part of the page among other registers' resources and then audits exactly what it
    shows with ``audit_encounters`` (the shared record's merged search by patient)."""
    where: list[Any] = [MobileVisit.visited_on.between(q.first, q.last)]
    if q.settlement_id is not None:
        where.append(MobileVisit.settlement_id == q.settlement_id)
    if q.ids is not None:
        if not q.ids:
            return 0, []
        where.append(tuple_(MobileVisitPerson.visit_id, MobileVisitPerson.person_id).in_(q.ids))
    if q.person_id is not None:
        scopes = await _person_in_scope(session, principal, q.person_id)
        where.append(MobileVisitPerson.person_id == q.person_id)
    else:
        seen = (
            await session.scalars(
                select(MobileVisitPerson.person_id)
                .join(MobileVisit, MobileVisit.id == MobileVisitPerson.visit_id)
                .where(*where)
                .distinct()
            )
        ).all()
        scopes = await person_scopes(session, principal, list(seen))
        if not scopes:
            return 0, []
        where.append(MobileVisitPerson.person_id.in_(sorted(scopes)))
    pairs = (
        select(MobileVisit.visited_on, MobileVisit.id, MobileVisitPerson.person_id)
        .join(MobileVisitPerson, MobileVisitPerson.visit_id == MobileVisit.id)
        .where(*where)
        .distinct()
    )
    total = (await session.execute(select(func.count()).select_from(pairs.subquery()))).scalar_one()
    paged = pairs.order_by(MobileVisit.visited_on, MobileVisit.id, MobileVisitPerson.person_id)
    if q.limit is not None:
        paged = paged.limit(q.limit).offset(q.offset)
    elif q.offset:
        paged = paged.offset(q.offset)
    page = [(vid, pid) for _, vid, pid in (await session.execute(paged)).all()]
    if not page:
        return int(total), []
    found = await _encounters(
        session, tuple_(MobileVisit.id, MobileVisitPerson.person_id).in_(page)
    )
    if audit_reads:
        await _audit(session, principal, "read", page, scopes)
    return int(total), found


async def audit_encounters(
    session: AsyncSession, principal: Principal, pairs: Sequence[tuple[int, int]]
) -> None:
    """Audit as a ``read`` each encounter (visit, person) a caller of
    ``search_encounters(audit_reads=False)`` showed, once, in one batched insert; one
    found out of the reader's scope meanwhile is left out (it was not hers to show)."""
    pairs = list(dict.fromkeys(pairs))
    scopes = await person_scopes(session, principal, [p for _, p in pairs])
    await _audit(session, principal, "read", [(v, p) for v, p in pairs if p in scopes], scopes)


async def _person_in_scope(
    session: AsyncSession, principal: Principal, person_id: int
) -> dict[int, Scope]:
    """The person's scope (a search of her encounters audited as a ``search``), else 404
    with the refusal audited."""
    scopes = await person_scopes(session, principal, [person_id])
    if person_id not in scopes:
        await audit.denied(
            session,
            principal,
            resource_type=ENCOUNTER,
            resource_id=str(person_id),
            patient_id=person_id,
            detail="outside the user's scope",
        )
        raise NotFound(
            N_("%(resource)s %(id)s not found."), params={"resource": "Patient", "id": person_id}
        )
    await audit.record(
        session,
        principal,
        action="search",
        resource_type=ENCOUNTER,
        patient_id=person_id,
        purpose=PURPOSE,
        break_glass_grant=scopes[person_id].break_glass_grant,
    )
    return scopes


async def person_encounters(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[MobileEncounter]:
    """Every visit that saw the person, oldest first, if she is in the reader's scope
    (else 404, the refusal audited); the search and each encounter (all are returned, to
    be shown) audited."""
    return (await search_encounters(session, principal, EncounterQuery(person_id=person_id)))[1]


async def settlement_encounters(
    session: AsyncSession,
    principal: Principal,
    settlement_id: int,
    first: date,
    last: date,
    *,
    limit: int,
    offset: int,
) -> tuple[int, list[MobileEncounter]]:
    """The encounters of visits to a settlement between two days (both included) of the
    people in the reader's scope, oldest first: (how many, the page), each one on the page
    audited (``search_encounters``)."""
    q = EncounterQuery(
        settlement_id=settlement_id, first=first, last=last, limit=limit, offset=offset
    )
    return await search_encounters(session, principal, q)


# --- the registry's merges -------------------------------------------------------------


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A merge re-points the people seen during visits to the surviving record (a
    service the survivor already has in that visit stays hers); an unmerge moves back
    exactly what the merge moved."""
    await registry.move_person_rows(
        session,
        event,
        {"mobile_visit_person": MobileVisitPerson},
        {"mobile_visit_person": ("visit_id", "service")},
    )
