"""REST routes of the planning domain (/api/v1/planning/...): the pack's norm editions,
settlements with their population and gap, the gap list by district with its cost,
staffing against filled FTE, and the census import. Aggregates and registry places only,
no person's data: ``planning:read`` reads, ``planning:edit`` imports (docs/planning.md).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.params import SmallRowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.planning import service
from salomat.domains.planning.schemas import (
    BandOut,
    CensusImportOut,
    DistrictGapsOut,
    GapReportOut,
    NormEditionOut,
    NormsOut,
    PostRatioOut,
    ScenarioOut,
    ScenarioSaveIn,
    SettlementOut,
    StaffingEditionOut,
    StaffingLineOut,
    StaffingOut,
    UnitOut,
)
from salomat.domains.planning.service import norms, scenarios

api = router(prefix="/api/v1/planning", tags=["planning"])
routers = [api]

Reader = Annotated[Principal, Depends(Require("planning:read"))]
Editor = Annotated[Principal, Depends(Require("planning:edit"))]
Territory = Annotated[
    str | None,
    Query(
        max_length=32,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="a region, district or settlement code (none: the whole country)",
    ),
]
Edition = Annotated[
    str | None,
    Query(max_length=32, pattern=r"^[A-Za-z0-9._-]+$", description="a norm edition's code"),
]
On = Annotated[date | None, Query(description="the day (default today)")]

_INVALID = {422: {"description": "a field is wrong (each named): an unknown territory or edition"}}


def _language() -> str:
    return i18n.current_language()


def settlement_out(r: service.SettlementRow) -> SettlementOut:
    lang = _language()
    return SettlementOut(
        code=r.code,
        name=r.names.get(lang) or r.name,
        names=r.names,
        district_code=r.district_code,
        district_name=r.district_name,
        is_rural=r.is_rural,
        latitude=r.latitude,
        longitude=r.longitude,
        population=r.census_population,
        population_source=r.source_text(),
        population_as_of=r.census_as_of,
        population_origin=r.population_origin,
        attached=r.attached,
        required_unit=r.required_unit,
        existing_units=sorted(r.existing_units),
        gap=r.gap,
        cost=r.cost,
        above_range=r.above_range,
        visiting_worker=r.visiting_worker,
    )


@api.get("/norms", response_model=NormsOut)
async def read_norms(principal: Reader, on: On = None) -> NormsOut:
    """The pack's units, norm editions (bands with their units, source and dates), staffing
    editions, access threshold and unit costs; ``in_force`` marks the editions of ``on``."""
    rules = norms.current()
    day = on or norms.today()
    lang = _language()
    current, staff = rules.edition(on=day), rules.staffing_edition(on=day)
    return NormsOut(
        country=rules.country,
        units=[
            UnitOut(code=u.code, level=u.level, name=u.name(lang), names=dict(u.names))
            for u in sorted(rules.units.values(), key=lambda u: u.level)
        ],
        facility_units=dict(rules.facility_units),
        editions=[
            NormEditionOut(
                code=e.code,
                title=e.name(lang),
                source=e.source,
                valid_from=e.valid_from,
                in_force=e.code == current.code,
                bands=[BandOut(**asdict(b)) for b in e.bands],
            )
            for e in rules.editions
        ],
        staffing=[
            StaffingEditionOut(
                code=s.code,
                title=s.name(lang),
                source=s.source,
                valid_from=s.valid_from,
                in_force=s.code == staff.code,
                brigade_population=s.brigade_population,
                per_population=[PostRatioOut(**asdict(p)) for p in s.per_population],
                per_unit={u: dict(p) for u, p in s.per_unit.items()},
            )
            for s in rules.staffing
        ],
        access_threshold_km=rules.access.threshold_km,
        access_threshold_level=rules.access.threshold_level,
        detour_factor=rules.access.detour_factor,
        currency=rules.currency,
        unit_costs=dict(rules.unit_costs),
        cost_source=rules.cost_source,
        costs_illustrative=rules.costs_illustrative,
    )


@api.get("/settlements", response_model=list[SettlementOut], responses=_INVALID)
async def list_settlements(
    session: DbSession,
    principal: Reader,
    territory: Territory = None,
    edition: Edition = None,
    on: On = None,
) -> list[SettlementOut]:
    """Every settlement of the territory: population (census figure with its source and
    date, else the registry's table) beside the registry's attached count, the unit the
    norm edition requires, the units it has, the gap and its cost."""
    rows = await service.settlement_rows(session, principal, territory, edition_code=edition, on=on)
    return [settlement_out(r) for r in rows]


def _district(d: service.DistrictGaps) -> DistrictGapsOut:
    return DistrictGapsOut(**{k: v for k, v in asdict(d).items()})


@api.get("/gaps", response_model=GapReportOut, responses=_INVALID)
async def read_gaps(
    session: DbSession,
    principal: Reader,
    territory: Territory = None,
    edition: Edition = None,
    on: On = None,
) -> GapReportOut:
    """The settlements whose required unit is missing, by district, with the cost of
    closing each gap (the pack's unit costs, UNVERIFIED until sourced)."""
    report = await service.gap_report(session, principal, territory, edition_code=edition, on=on)
    return GapReportOut(
        territory=report.territory_code,
        edition=report.edition.code,
        edition_source=report.edition.source,
        currency=report.currency,
        cost_source=report.cost_source,
        costs_illustrative=report.costs_illustrative,
        districts=[_district(d) for d in report.districts],
        total=_district(report.total),
        gaps=[settlement_out(r) for r in report.gaps],
        above_range=[settlement_out(r) for r in report.above_range],
        visiting_worker=[settlement_out(r) for r in report.visiting_worker],
    )


def _line(x: service.StaffingLine) -> StaffingLineOut:
    return StaffingLineOut(**asdict(x))


@api.get("/staffing", response_model=StaffingOut, responses=_INVALID)
async def read_staffing(
    session: DbSession,
    principal: Reader,
    territory: Territory = None,
    on: On = None,
    staffing_edition: Edition = None,
) -> StaffingOut:
    """Posts required (the pack's ratios per population and per unit, ceil per district
    and settlement type) against the FTE filled, by district, rural/urban and position,
    with the territory's total (none: the country's)."""
    r = await service.staffing(session, principal, territory, on=on, edition_code=staffing_edition)
    return StaffingOut(
        territory=r.territory_code,
        edition=r.edition.code,
        edition_source=r.edition.source,
        on=r.on,
        population=r.population,
        children=r.children,
        children_unknown_settlements=r.children_unknown_settlements,
        children_unknown_population=r.children_unknown_population,
        brigades=r.brigades,
        by_district=[_line(x) for x in r.by_district],
        by_rurality=[_line(x) for x in r.by_rurality],
        by_position=[_line(x) for x in r.by_position],
        total=_line(r.total),
    )


_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@api.post(
    "/census",
    response_model=CensusImportOut,
    status_code=201,
    openapi_extra=_CSV_BODY,
    responses={
        422: {
            "description": "lines refused, each named as lines.<line>.<column> (the header "
            "is line 1): an unknown settlement, a negative population, a missing or wrong "
            "date, coordinates outside the country; nothing is stored"
        }
    },
)
async def import_census(request: Request, session: DbSession, principal: Editor) -> CensusImportOut:
    """Census figures as CSV (text/csv): ``code,population,as_of,source`` and optionally
    ``latitude,longitude``; comma or semicolon separated, lines starting with # skipped.
    All lines or none; a figure for a settlement and date already kept is replaced."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid.fields([FieldError("file", N_("The file is not UTF-8 text"))]) from e
    if "\x00" in text:
        raise Invalid.fields([FieldError("file", N_("The file is not UTF-8 text"))])
    report = await service.import_census_csv(session, principal, text)
    if report.issues:
        raise Invalid.fields(
            [
                FieldError(f"lines.{i.line}.{i.field}", i.msg.msgid, i.msg.params)
                for i in report.issues[:200]
            ]
        )
    return CensusImportOut(
        lines=report.lines,
        imported=report.imported,
        replaced=report.replaced,
        coordinates=report.coordinates,
    )


def _scenario(s: scenarios.SavedScenario) -> ScenarioOut:
    return ScenarioOut(**asdict(s))


@api.post(
    "/scenarios",
    response_model=ScenarioOut,
    status_code=201,
    responses={
        422: {
            "description": "an unknown territory or edition; a proposal /scenario would "
            "refuse: a settlement not of the territory or without coordinates in the "
            "country, a unit without premises or unknown (named proposed.<i>.settlement / "
            ".unit)"
        }
    },
)
async def save_scenario(
    session: DbSession, data: ScenarioSaveIn, response: Response, principal: Editor
) -> ScenarioOut:
    """Keep a scenario ("open a FAP in X"): its territory, edition and proposed units. Post
    them to ``/scenario`` to compare with the network of the day."""
    s = await scenarios.save_scenario(
        session,
        principal,
        territory=data.territory,
        name=data.name,
        edition=data.edition,
        proposed=[(p.settlement, p.unit) for p in data.proposed],
    )
    response.headers["Location"] = f"/api/v1/planning/scenarios/{s.id}"
    return _scenario(s)


@api.get("/scenarios", response_model=list[ScenarioOut], responses=_INVALID)
async def list_scenarios(
    session: DbSession, principal: Reader, territory: Territory = None
) -> list[ScenarioOut]:
    """The saved scenarios (of a territory), newest first."""
    return [_scenario(s) for s in await scenarios.list_scenarios(session, principal, territory)]


@api.get("/scenarios/{scenario_id}", response_model=ScenarioOut)
async def read_scenario(
    session: DbSession, scenario_id: SmallRowId, principal: Reader
) -> ScenarioOut:
    return _scenario(await scenarios.get_scenario(session, principal, scenario_id))


@api.delete("/scenarios/{scenario_id}", status_code=204, response_class=Response)
async def delete_scenario(session: DbSession, scenario_id: SmallRowId, principal: Editor) -> None:
    await scenarios.delete_scenario(session, principal, scenario_id)
