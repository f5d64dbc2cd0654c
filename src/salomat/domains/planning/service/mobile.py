"""Mobile medical teams: the team's route over the settlements of a district that lack a
unit (service/routing.py) and the visit calendar. The teams themselves are
service/mobile_teams.py's, the visits and the people seen service/mobile_visits.py's; this
module names every use case of the three (the REST routes and the pages import it).

Who may do what: a planner (``planning:edit``) forms teams and saves calendars; anyone
with ``planning:read`` sees routes, calendars and visit counts (never who was seen); a
team's nurse or family doctor (``planning:mobile``) records and reads visits
(service/mobile_visits.py).

Distances for the routes are always the access estimate (haversine x the pack's detour
factor, ``geo.ESTIMATE``): an imported road graph (service/roads.py) serves the access
report only; the routes do not use it yet.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.i18n import current_language
from salomat.core.security import Principal
from salomat.domains.planning.models_mobile import MobileTeam, MobileVisit, MobileVisitPlan
from salomat.domains.planning.schemas_mobile import (
    PlannedVisitOut,
    RouteDayOut,
    RouteIn,
    RouteOut,
)
from salomat.domains.planning.service import access as acc
from salomat.domains.planning.service import geo, norms, routing
from salomat.domains.planning.service.mobile_teams import (
    _day,
    _invalid,
    _settlements_by_id,
    _team,
    create_team,
    get_team,
    list_teams,
    mobile_weekend,
    today,
)
from salomat.domains.planning.service.mobile_visits import (
    SERVICES,
    get_encounter,
    get_visit,
    list_visits,
    person_encounters,
    record_visit,
    settlement_encounters,
)
from salomat.domains.registry import service as registry

__all__ = [
    "SERVICES",
    "calendar",
    "create_team",
    "get_encounter",
    "get_team",
    "get_visit",
    "list_teams",
    "list_visits",
    "mobile_weekend",
    "person_encounters",
    "plan_team_route",
    "record_visit",
    "settlement_encounters",
    "today",
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
        # the rows are named in the reader's language already; the base is a territory
        place_names={
            base.code: (base.names or {}).get(current_language()) or base.name,
            **{r.code: r.name for r in chosen},
        },
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
