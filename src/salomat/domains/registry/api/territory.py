"""REST routes of the territory registry (regions, districts, settlements)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Body, Depends, Header, Query, Response

from salomat.core.errors import FieldError, Invalid
from salomat.core.etags import etag, parse_if_match
from salomat.core.pagination import Page, PageParams, page_params
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    ImportReport,
    PopulationIn,
    PopulationOut,
    TerritoryIn,
    TerritoryOut,
    TerritoryPatch,
)

api = router(prefix="/api/v1", tags=["territory"])
Session = DbSession
CSV_BODY = Body(media_type="text/csv", description="a territory CSV (docs/registries.md)")


@api.get(
    "/territory",
    response_model=Page[TerritoryOut],
    dependencies=[Depends(Require("territory:read"))],
)
async def list_territory(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    level: Literal["region", "district", "settlement"] | None = None,
    parent_code: Annotated[str | None, Query(max_length=32)] = None,
    name: Annotated[str | None, Query(min_length=2, max_length=100)] = None,
) -> Page[TerritoryOut]:
    return await service.list_territory(
        session, page, level=level, parent_code=parent_code, name=name
    )


@api.post("/territory", response_model=TerritoryOut, status_code=201)
async def create_territory(
    session: Session,
    data: TerritoryIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("territory:manage"))],
) -> TerritoryOut:
    unit = await service.create_territory(session, data, by=principal.username)
    response.headers["Location"] = f"/api/v1/territory/{unit.code}"
    response.headers["ETag"] = etag(unit.version)
    return unit


@api.post("/territory/import", response_model=ImportReport)
async def import_territory(
    session: Session,
    principal: Annotated[Principal, Depends(Require("territory:manage"))],
    body: Annotated[bytes, CSV_BODY],
    dry_run: bool = False,
) -> ImportReport:
    """All rows or none: a bad row answers 422 naming each line, column and why."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid.fields([FieldError("body", "the CSV must be UTF-8")]) from None
    report = await service.import_territory(session, text, dry_run=dry_run, by=principal.username)
    if report.issues:
        raise Invalid(
            f"{len({i.line for i in report.issues})} line(s) of the file are wrong; "
            "nothing was stored.",
            errors=[FieldError(f"line {i.line}: {i.column}", i.message) for i in report.issues],
        )
    return report


@api.get(
    "/territory/{code}",
    response_model=TerritoryOut,
    dependencies=[Depends(Require("territory:read"))],
)
async def read_territory(session: Session, code: str, response: Response) -> TerritoryOut:
    unit = await service.get_territory(session, code)
    response.headers["ETag"] = etag(unit.version)
    return unit


@api.patch("/territory/{code}", response_model=TerritoryOut)
async def update_territory(
    session: Session,
    code: str,
    patch: TerritoryPatch,
    response: Response,
    principal: Annotated[Principal, Depends(Require("territory:manage"))],
    if_match: Annotated[str | None, Header()] = None,
) -> TerritoryOut:
    unit = await service.update_territory(
        session, code, patch, expected_version=parse_if_match(if_match), by=principal.username
    )
    response.headers["ETag"] = etag(unit.version)
    return unit


@api.get(
    "/territory/{code}/population",
    response_model=PopulationOut,
    dependencies=[Depends(Require("territory:read"))],
)
async def population(
    session: Session,
    code: str,
    year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
) -> PopulationOut:
    """A settlement's population, or the sum over the settlements of a district or region."""
    await service.get_territory(session, code)
    return await service.territory_population(session, code, year)


@api.put(
    "/territory/{code}/population",
    response_model=PopulationOut,
    dependencies=[Depends(Require("territory:manage"))],
)
async def set_population(session: Session, code: str, data: PopulationIn) -> PopulationOut:
    return await service.set_population(session, code, data)
