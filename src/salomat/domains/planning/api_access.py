"""REST routes of access to primary care, the planner's scenarios, and the mobile medical
teams (routes, visit calendar, visits) under /api/v1/planning/ (docs/planning.md).

Access and scenarios are aggregates of places (``planning:read``); a region's road
network is imported by a planner (``planning:edit``, as the census: no person's data, so
nothing to audit); a team is formed and a
calendar saved by a planner (``planning:edit``); a visit with the people seen is recorded
and read by a team's nurse or family doctor (``planning:mobile``) of the team's facility,
each person checked against her scope and audited. Bad input is a 422 naming the field.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Path, Query, Request, Response

from salomat.core.errors import N_, Forbidden
from salomat.core.params import RowId, SmallRowId
from salomat.core.policy import Require, permitted
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.planning.schemas_mobile import (
    PlannedVisitOut,
    RouteIn,
    RouteOut,
    ScenarioIn,
    TeamIn,
    TeamOut,
    VisitIn,
    VisitOut,
    VisitSummary,
)
from salomat.domains.planning.service import access as acc
from salomat.domains.planning.service import mobile, roads

api = router(prefix="/api/v1/planning", tags=["planning"])
routers = [api]

Reader = Annotated[Principal, Depends(Require("planning:read"))]
Editor = Annotated[Principal, Depends(Require("planning:edit"))]
Recorder = Annotated[Principal, Depends(Require("planning:mobile"))]
Territory = Annotated[str, Query(min_length=1, max_length=32)]
Edition = Annotated[str | None, Query(max_length=32)]
From = Annotated[date, Query(alias="from")]
To = Annotated[date, Query(alias="to")]

_BAD = {422: {"description": "a field is wrong (each named)"}}


@api.get("/access", response_model=acc.AccessReport, responses=_BAD)
async def access_report(
    session: DbSession, principal: Reader, territory: Territory, edition: Edition = None
) -> acc.AccessReport:
    """From every settlement of the territory, the nearest unit of each level (km,
    minutes, method ``road`` or ``estimate``), and the population beyond the pack's access
    threshold with its share. Settlements without coordinates (or outside the country)
    are listed, not measured; those without a census figure are counted apart."""
    return await acc.access(session, principal, territory, edition_code=edition)


_OSM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/xml": {"schema": {"type": "string"}},
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@api.put(
    "/regions/{code}/roads",
    response_model=roads.RoadImport,
    openapi_extra=_OSM_BODY,
    responses={
        413: {"description": "the body is over the server's limit (SALOMAT_MAX_BODY_BYTES)"},
        422: {
            "description": "``region``: not a region; ``file``: not OpenStreetMap XML (or a "
            ".osm.pbf), no roads, a road's node missing or outside the country, over the "
            "unpacked size; nothing is stored and a previous import is kept"
        },
    },
)
async def import_roads(
    request: Request,
    session: DbSession,
    principal: Editor,
    code: Annotated[str, Path(min_length=1, max_length=32)],
) -> roads.RoadImport:
    """Replace the region's road network with an OpenStreetMap extract: the body is the
    ``.osm`` XML, or that XML gzipped (``.osm.gz``). Access measures along it from then on
    (method ``road``). A large extract is imported with ``salomat planning import-roads``."""
    return await roads.import_bytes(session, await request.body(), code)


@api.post("/scenario", response_model=acc.ScenarioReport, responses=_BAD)
async def scenario(session: DbSession, principal: Reader, data: ScenarioIn) -> acc.ScenarioReport:
    """ "Open a FAP in X": the territory before and with the proposed units: who gains
    access, the population and share beyond the threshold before and after, the gaps
    closed and left."""
    proposed = [acc.ProposedUnit(p.settlement, p.unit) for p in data.proposed]
    return await acc.scenario(
        session, principal, data.territory, proposed, edition_code=data.edition
    )


@api.get("/mobile-teams", response_model=list[TeamOut], responses=_BAD)
async def list_teams(
    session: DbSession,
    principal: Reader,
    facility: Annotated[str | None, Query(max_length=32)] = None,
) -> list[TeamOut]:
    return await mobile.list_teams(session, principal, facility)


@api.post("/mobile-teams", response_model=TeamOut, status_code=201, responses=_BAD)
async def create_team(
    session: DbSession, principal: Editor, data: TeamIn, response: Response
) -> TeamOut:
    t = await mobile.create_team(session, principal, data)
    response.headers["Location"] = f"/api/v1/planning/mobile-teams/{t.id}"
    return t


@api.get("/mobile-teams/{team_id}", response_model=TeamOut)
async def read_team(session: DbSession, principal: Reader, team_id: SmallRowId) -> TeamOut:
    return await mobile.get_team(session, principal, team_id)


@api.post("/mobile-teams/{team_id}/route", response_model=RouteOut, responses=_BAD)
async def plan_route(
    session: DbSession, principal: Reader, team_id: SmallRowId, data: RouteIn
) -> RouteOut:
    """The team's route over the territory's settlements that lack a unit (or those
    named), split into working days of the pack on the calendar from ``start``; with
    ``save`` (a planner) it becomes the team's visit calendar."""
    if data.save and not permitted(principal, "planning:edit"):
        raise Forbidden(N_("Saving a visit calendar needs the planning:edit permission."))
    return await mobile.plan_team_route(session, principal, team_id, data)


@api.get("/mobile-teams/{team_id}/calendar", response_model=list[PlannedVisitOut])
async def calendar(
    session: DbSession, principal: Reader, team_id: SmallRowId, date_from: From, date_to: To
) -> list[PlannedVisitOut]:
    return await mobile.calendar(session, principal, team_id, date_from, date_to)


@api.get("/mobile-teams/{team_id}/visits", response_model=list[VisitSummary])
async def list_visits(
    session: DbSession, principal: Reader, team_id: SmallRowId, date_from: From, date_to: To
) -> list[VisitSummary]:
    """The team's visits with the number of people seen and of each service (no person)."""
    return await mobile.list_visits(session, principal, team_id, date_from, date_to)


@api.post(
    "/mobile-teams/{team_id}/visits", response_model=VisitOut, status_code=201, responses=_BAD
)
async def record_visit(
    session: DbSession, principal: Recorder, team_id: SmallRowId, data: VisitIn, response: Response
) -> VisitOut:
    """Record a visit of the user's facility's team: the settlement, the day, the people
    seen (each in the user's scope) and the services given."""
    v = await mobile.record_visit(session, principal, team_id, data)
    response.headers["Location"] = f"/api/v1/planning/mobile-visits/{v.id}"
    return v


@api.get("/mobile-visits/{visit_id}", response_model=VisitOut)
async def read_visit(session: DbSession, principal: Recorder, visit_id: RowId) -> VisitOut:
    return await mobile.get_visit(session, principal, visit_id)
