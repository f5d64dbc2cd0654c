"""Mobile medical teams: the team (its base facility and members), its route over the
settlements of a district that lack a unit (service/routing.py), the visit calendar, and
the visits it records with the people it saw.

Who may do what: a planner (``planning:edit``) forms teams and saves calendars; anyone
with ``planning:read`` sees routes, calendars and visit counts (never who was seen); a
team's nurse or family doctor (``planning:mobile``) records and reads visits of a team of
her own facility only, and only with people in her scope: every person is checked
set-wise (``person_scopes``) and every one is audited (an ``Encounter`` created or read),
the people out of scope are refused by field and their denial audited.

Distances for the routes are always the access estimate (haversine x the pack's detour
factor, ``geo.ESTIMATE``): an imported road graph (service/roads.py) serves the access
report only; the routes do not use it yet.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.policy import person_scopes
from salomat.core.security import Principal
from salomat.core.suppression import SMALL, is_small
from salomat.domains.planning.models_mobile import (
    MobileTeam,
    MobileTeamMember,
    MobileVisit,
    MobileVisitPerson,
    MobileVisitPlan,
)
from salomat.domains.planning.schemas_mobile import (
    PlannedVisitOut,
    RouteDayOut,
    RouteIn,
    RouteOut,
    SeenOut,
    TeamIn,
    TeamOut,
    VisitIn,
    VisitOut,
    VisitSummary,
)
from salomat.domains.planning.service import access as acc
from salomat.domains.planning.service import geo, norms, routing
from salomat.domains.registry import service as registry
from salomat.domains.registry.service import planning_reads as reads

__all__ = [
    "SERVICES",
    "calendar",
    "create_team",
    "get_team",
    "get_visit",
    "list_teams",
    "list_visits",
    "mobile_weekend",
    "plan_team_route",
    "record_visit",
]

#: what a team records for each person it sees (codes; names in the catalog)
SERVICES = ("consultation", "screening", "vaccination", "prescription", "referral")
#: audit kind and purpose of a person seen during a visit
ENCOUNTER = "Encounter"
PURPOSE = "mobile medical team visit"
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def today() -> date:
    return norms.today()


def mobile_weekend() -> tuple[int, ...]:
    """The team's days off (``date.weekday()``): the planning pack's ``mobile.weekend``
    (read once, with the other rules, by ``norms.current()``), else Saturday and Sunday (a
    five-day week of 40 hours, both countries' labour codes)."""
    return norms.current().mobile.weekend


def _invalid(field: str, msgid: str, **params: object) -> Invalid:
    return Invalid.fields([FieldError(field, msgid, params or None)])


def _day(day: date, field: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _invalid(
            field,
            N_("must be between %(first)s and %(last)s"),
            first=FIRST_DAY.isoformat(),
            last=LAST_DAY.isoformat(),
        )
    return day


# --- teams -----------------------------------------------------------------------------


async def _members(session: AsyncSession, team_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {t: [] for t in team_ids}
    if team_ids:
        rows = await session.execute(
            select(MobileTeamMember.team_id, MobileTeamMember.practitioner_id)
            .where(MobileTeamMember.team_id.in_(team_ids))
            .order_by(MobileTeamMember.practitioner_id)
        )
        for t, p in rows:
            out[t].append(p)
    return out


async def _team_out(session: AsyncSession, t: MobileTeam) -> TeamOut:
    members = await _members(session, [t.id])
    return TeamOut(
        id=t.id,
        facility_id=t.facility_id,
        facility_code=await registry.facility_code(session, t.facility_id),
        name=t.name,
        active=t.active,
        members=members[t.id],
    )


async def create_team(session: AsyncSession, principal: Principal, data: TeamIn) -> TeamOut:
    """A team at a facility with its members (practitioners of the registry)."""
    errors = []
    facility_id = await registry.facility_id_by_code(session, data.facility_code)
    if facility_id is None:
        errors.append(
            FieldError(
                "facility_code", N_("%(value)s is not a facility"), {"value": data.facility_code}
            )
        )
    members = list(dict.fromkeys(data.members))
    known = await reads.existing_practitioners(session, data.members)
    for i, pid in enumerate(data.members):
        if pid not in known:
            errors.append(
                FieldError(f"members.{i}", N_("%(value)s is not a practitioner"), {"value": pid})
            )
    if errors:
        raise Invalid.fields(errors)
    assert facility_id is not None
    t = MobileTeam(
        facility_id=facility_id,
        name=data.name,
        active=True,
        created_by=principal.username,
        created_at=datetime.now(UTC),
    )
    session.add(t)
    await session.flush()
    session.add_all(MobileTeamMember(team_id=t.id, practitioner_id=p) for p in members)
    await session.flush()
    return await _team_out(session, t)


async def _team(session: AsyncSession, team_id: int) -> MobileTeam:
    t = await session.get(MobileTeam, team_id)
    if t is None:
        raise NotFound(N_("Mobile team %(id)s not found."), params={"id": team_id})
    return t


async def _own_team(session: AsyncSession, principal: Principal, team_id: int) -> MobileTeam:
    """The team, if it is the user's facility's (else 404: deny by default)."""
    t = await session.get(MobileTeam, team_id)
    if t is None or principal.facility_id is None or t.facility_id != principal.facility_id:
        raise NotFound(N_("Mobile team %(id)s not found."), params={"id": team_id})
    return t


async def get_team(session: AsyncSession, principal: Principal, team_id: int) -> TeamOut:
    del principal  # no person data: the route checked planning:read
    return await _team_out(session, await _team(session, team_id))


async def list_teams(
    session: AsyncSession, principal: Principal, facility_code: str | None = None
) -> list[TeamOut]:
    del principal
    q = select(MobileTeam).order_by(MobileTeam.id)
    if facility_code is not None:
        fid = await registry.facility_id_by_code(session, facility_code)
        if fid is None:
            raise _invalid("facility", N_("%(value)s is not a facility"), value=facility_code)
        q = q.where(MobileTeam.facility_id == fid)
    teams = list((await session.scalars(q)).all())
    members = await _members(session, [t.id for t in teams])
    codes = await reads.facility_codes(session, {t.facility_id for t in teams})
    return [
        TeamOut(
            id=t.id,
            facility_id=t.facility_id,
            facility_code=codes.get(t.facility_id),
            name=t.name,
            active=t.active,
            members=members[t.id],
        )
        for t in teams
    ]


# --- routes and the calendar -----------------------------------------------------------


async def plan_team_route(
    session: AsyncSession,
    principal: Principal,
    team_id: int,
    data: RouteIn,
    *,
    time_limit_s: int = routing.DEFAULT_TIME_LIMIT_S,
) -> RouteOut:
    """The team's route from its base over the territory's settlements that lack a unit
    with premises (or the settlements named), split into working days on the calendar;
    ``save`` replaces the team's planned visits from ``start`` on (those not yet made).
    The search runs in a worker thread (seconds for a district's villages: the event loop
    keeps serving other requests), stopped after ``time_limit_s`` at the latest."""
    from salomat.domains.planning.service.settlements import settlement_rows

    _day(data.start, "start")
    team = await _team(session, team_id)
    rules = acc.access_rules()
    mobile = norms.current().mobile
    base_code = await registry.facility_code(session, team.facility_id)
    facility = await registry.facility_by_code(session, base_code or "")
    base = (
        await registry.territory_by_code(session, facility.settlement_code)
        if facility is not None and facility.settlement_code
        else None
    )
    if base is None or base.latitude is None or base.longitude is None:
        raise _invalid("team", N_("the team's facility has no settlement with coordinates"))
    rows = await settlement_rows(session, principal, data.territory)
    by_code = {r.code: r for r in rows}
    if data.settlements is not None:
        errors = [
            FieldError(
                f"settlements.{i}",
                N_("%(value)s is not a settlement of the territory"),
                {"value": c},
            )
            for i, c in enumerate(data.settlements)
            if c not in by_code
        ]
        if errors:
            raise Invalid.fields(errors)
        chosen = [by_code[c] for c in dict.fromkeys(data.settlements)]
    else:
        chosen = [r for r in rows if all(rules.rank(u) < 0 for u in r.existing_units or ())]
    chosen = [r for r in chosen if r.code != base.code]
    no_coords = sorted(r.code for r in chosen if r.latitude is None or r.longitude is None)
    outside = sorted(
        r.code
        for r in chosen
        if r.code not in no_coords and not rules.inside(r.latitude, r.longitude)
    )
    stops = [r for r in chosen if r.code not in set(no_coords) | set(outside)]
    stops.sort(key=lambda r: r.code)
    if len(stops) > routing.MAX_STOPS:
        field = "territory" if data.settlements is None else "settlements"
        raise _invalid(
            field,
            N_("%(n)s settlements to visit: at most %(max)s a plan (choose a district)"),
            n=len(stops),
            max=routing.MAX_STOPS,
        )
    lat = [base.latitude, *(r.latitude for r in stops)]
    lon = [base.longitude, *(r.longitude for r in stops)]
    matrix = (geo.haversine_matrix_km(lat, lon, lat, lon) * rules.detour_factor).tolist()
    plan = await asyncio.to_thread(
        routing.plan_route,
        matrix,
        service_minutes=mobile.service_minutes,
        speed_kmh=mobile.speed_kmh,
        day_minutes=mobile.day_minutes,
        capacity=data.capacity,
        time_limit_s=time_limit_s,
    )
    cal = routing.visit_calendar(plan, data.start, weekend=mobile_weekend())
    nodes = [None, *stops]
    days = [
        RouteDayOut(
            day=v.day,
            settlements=[nodes[i].code for i in v.team_day.stops],  # type: ignore[union-attr]
            names=[nodes[i].name for i in v.team_day.stops],  # type: ignore[union-attr]
            km=round(v.team_day.km, 2),
            minutes=round(v.team_day.minutes, 1),
            travel_minutes=round(v.team_day.travel_minutes, 1),
            service_minutes=round(v.team_day.service_minutes, 1),
        )
        for v in cal
    ]
    if data.save:
        await _save_calendar(session, principal, team.id, data.start, cal, nodes)
    return RouteOut(
        team_id=team.id,
        territory=data.territory,
        base=base.code,
        method=geo.ESTIMATE,
        km=round(plan.km, 2),
        days=days,
        unreachable=[nodes[i].code for i in plan.unreachable],  # type: ignore[union-attr]
        no_coordinates=no_coords,
        outside_country=outside,
        saved=data.save,
    )


async def _hold_team(session: AsyncSession, team_id: int) -> None:
    """Hold the team's row until the transaction ends (PostgreSQL ``FOR NO KEY UPDATE``,
    as the registry's ``practitioners._hold``), so that two saves of one team's calendar run
    one after the other: the second deletes and reads the plan after the first has
    committed. SQLite has one writer at a time already (SQLAlchemy drops the clause)."""
    await session.execute(
        select(MobileTeam.id).where(MobileTeam.id == team_id).with_for_update(key_share=True)
    )


async def _save_calendar(
    session: AsyncSession,
    principal: Principal,
    team_id: int,
    start: date,
    cal: list[routing.VisitDay],
    nodes: list[Any],
) -> None:
    await _hold_team(session, team_id)
    made = select(MobileVisit.plan_id).where(MobileVisit.plan_id.is_not(None))
    await session.execute(
        delete(MobileVisitPlan).where(
            MobileVisitPlan.team_id == team_id,
            MobileVisitPlan.planned_on >= start,
            MobileVisitPlan.id.not_in(made),
        )
    )
    now = datetime.now(UTC)
    kept = {
        (r[0], r[1])
        for r in (
            await session.execute(
                select(MobileVisitPlan.settlement_id, MobileVisitPlan.planned_on).where(
                    MobileVisitPlan.team_id == team_id, MobileVisitPlan.planned_on >= start
                )
            )
        ).all()
    }
    rows = [
        MobileVisitPlan(
            team_id=team_id,
            settlement_id=nodes[i].id,
            planned_on=v.day,
            sequence=k,
            day_km=round(v.team_day.km, 3),
            day_minutes=round(v.team_day.minutes, 1),
            method=geo.ESTIMATE,
            created_by=principal.username,
            created_at=now,
        )
        for v in cal
        for k, i in enumerate(v.team_day.stops, start=1)
        if (nodes[i].id, v.day) not in kept
    ]
    session.add_all(rows)
    await session.flush()


async def calendar(
    session: AsyncSession, principal: Principal, team_id: int, date_from: date, date_to: date
) -> list[PlannedVisitOut]:
    """The team's planned visits between two days (both included), in order."""
    del principal
    _day(date_from, "from")
    _day(date_to, "to")
    if date_to < date_from:
        raise _invalid("to", N_("is before %(day)s"), day=date_from.isoformat())
    await _team(session, team_id)
    visited = select(MobileVisit.plan_id).where(MobileVisit.plan_id == MobileVisitPlan.id).exists()
    rows = (
        await session.execute(
            select(MobileVisitPlan, visited)
            .where(
                MobileVisitPlan.team_id == team_id,
                MobileVisitPlan.planned_on.between(date_from, date_to),
            )
            .order_by(MobileVisitPlan.planned_on, MobileVisitPlan.sequence)
        )
    ).all()
    names = await _settlements_by_id(session, [p.settlement_id for p, _ in rows])
    return [
        PlannedVisitOut(
            id=p.id,
            team_id=p.team_id,
            settlement=names[p.settlement_id][0],
            settlement_name=names[p.settlement_id][1],
            planned_on=p.planned_on,
            sequence=p.sequence,
            day_km=p.day_km,
            day_minutes=p.day_minutes,
            method=p.method,
            visited=bool(v),
        )
        for p, v in rows
    ]


async def _settlements_by_id(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, tuple[str, str]]:
    """id -> (code, name) of the settlements, in one statement."""
    from salomat.domains.registry.service import planning_reads

    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return await planning_reads.territory_codes_names(session, wanted)


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
    for pid in seen:
        await audit.record(
            session,
            principal,
            action="create",
            resource_type=ENCOUNTER,
            resource_id=f"mobile-visit/{v.id}",
            patient_id=pid,
            purpose=PURPOSE,
            break_glass_grant=scopes[pid].break_glass_grant,
        )
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
    for pid in services:
        if pid in scopes:
            await audit.record(
                session,
                principal,
                action="read",
                resource_type=ENCOUNTER,
                resource_id=f"mobile-visit/{v.id}",
                patient_id=pid,
                purpose=PURPOSE,
                break_glass_grant=scopes[pid].break_glass_grant,
            )
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
