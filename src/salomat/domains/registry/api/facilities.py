"""REST routes of the facility registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.pagination import Page, PageParams, page_params
from salomat.core.params import SmallRowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    FacilityClose,
    FacilityIn,
    FacilityOut,
    FacilityPatch,
    FacilityQuery,
    SectionIn,
    SectionOut,
)

api = router(prefix="/api/v1", tags=["facilities"])
Session = DbSession
IfMatch = Annotated[str | None, Header()]


@api.get(
    "/facilities",
    response_model=Page[FacilityOut],
    dependencies=[Depends(Require("facility:read"))],
)
async def facilities(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    code: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    territory_code: Annotated[str | None, Query(max_length=32)] = None,
    parent_code: Annotated[str | None, Query(max_length=32)] = None,
    is_open: bool | None = None,
) -> Page[FacilityOut]:
    query = FacilityQuery(
        code=code,
        kind=kind,
        territory_code=territory_code,
        parent_code=parent_code,
        is_open=is_open,
    )
    return await service.list_facilities(session, page, query)


@api.post("/facilities", response_model=FacilityOut, status_code=201)
async def create_facility(
    session: Session,
    data: FacilityIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("facility:manage"))],
) -> FacilityOut:
    fac = await service.create_facility(session, data, by=principal.username)
    response.headers["Location"] = f"/api/v1/facilities/{fac.id}"
    response.headers["ETag"] = etag(fac.version)
    return fac


@api.get(
    "/facilities/{facility_id}",
    response_model=FacilityOut,
    dependencies=[Depends(Require("facility:read"))],
)
async def read_facility(
    session: Session, facility_id: SmallRowId, response: Response
) -> FacilityOut:
    fac = await service.get_facility(session, facility_id)
    response.headers["ETag"] = etag(fac.version)
    return fac


@api.patch("/facilities/{facility_id}", response_model=FacilityOut)
async def update_facility(
    session: Session,
    facility_id: SmallRowId,
    patch: FacilityPatch,
    response: Response,
    principal: Annotated[Principal, Depends(Require("facility:manage"))],
    if_match: IfMatch = None,
) -> FacilityOut:
    fac = await service.update_facility(
        session,
        facility_id,
        patch,
        expected_version=parse_if_match(if_match),
        by=principal.username,
    )
    response.headers["ETag"] = etag(fac.version)
    return fac


@api.post("/facilities/{facility_id}/close", response_model=FacilityOut)
async def close_facility(
    session: Session,
    facility_id: SmallRowId,
    data: FacilityClose,
    response: Response,
    principal: Annotated[Principal, Depends(Require("facility:manage"))],
    if_match: IfMatch = None,
) -> FacilityOut:
    fac = await service.close_facility(
        session,
        facility_id,
        data.closed_on,
        expected_version=parse_if_match(if_match),
        by=principal.username,
    )
    response.headers["ETag"] = etag(fac.version)
    return fac


@api.post("/facilities/{facility_id}/reopen", response_model=FacilityOut)
async def reopen_facility(
    session: Session,
    facility_id: SmallRowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("facility:manage"))],
    if_match: IfMatch = None,
) -> FacilityOut:
    fac = await service.reopen_facility(
        session, facility_id, expected_version=parse_if_match(if_match), by=principal.username
    )
    response.headers["ETag"] = etag(fac.version)
    return fac


@api.get(
    "/facilities/{facility_id}/sections",
    response_model=list[SectionOut],
    dependencies=[Depends(Require("facility:read"))],
)
async def sections(session: Session, facility_id: SmallRowId) -> list[SectionOut]:
    return await service.list_sections(session, facility_id)


@api.post(
    "/facilities/{facility_id}/sections",
    response_model=SectionOut,
    status_code=201,
    dependencies=[Depends(Require("facility:manage"))],
)
async def create_section(session: Session, facility_id: SmallRowId, data: SectionIn) -> SectionOut:
    return await service.create_section(session, facility_id, data)
