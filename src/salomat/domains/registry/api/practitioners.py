"""REST routes of the practitioner registry: practitioners and their roles."""

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
    PractitionerIn,
    PractitionerOut,
    PractitionerPatch,
    PractitionerQuery,
    PractitionerRoleIn,
    PractitionerRoleOut,
    PractitionerRolePatch,
)

api = router(prefix="/api/v1", tags=["practitioners"])
Session = DbSession
IfMatch = Annotated[str | None, Header()]


@api.get(
    "/practitioners",
    response_model=Page[PractitionerOut],
    dependencies=[Depends(Require("practitioner:read"))],
)
async def practitioners(
    session: Session,
    page: Annotated[PageParams, Depends(page_params)],
    name: Annotated[str | None, Query(min_length=2, max_length=100)] = None,
    specialty: Annotated[str | None, Query(max_length=64)] = None,
    facility_code: Annotated[str | None, Query(max_length=32)] = None,
    licence_number: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
) -> Page[PractitionerOut]:
    query = PractitionerQuery(
        name=name,
        specialty=specialty,
        facility_code=facility_code,
        licence_number=licence_number,
        active=active,
    )
    return await service.list_practitioners(session, page, query)


@api.post("/practitioners", response_model=PractitionerOut, status_code=201)
async def create_practitioner(
    session: Session,
    data: PractitionerIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("practitioner:manage"))],
) -> PractitionerOut:
    p = await service.create_practitioner(session, principal, data)
    response.headers["Location"] = f"/api/v1/practitioners/{p.id}"
    response.headers["ETag"] = etag(p.version)
    return p


@api.get(
    "/practitioners/{practitioner_id}",
    response_model=PractitionerOut,
    dependencies=[Depends(Require("practitioner:read"))],
)
async def read_practitioner(
    session: Session, practitioner_id: SmallRowId, response: Response
) -> PractitionerOut:
    p = await service.get_practitioner(session, practitioner_id)
    response.headers["ETag"] = etag(p.version)
    return p


@api.patch("/practitioners/{practitioner_id}", response_model=PractitionerOut)
async def update_practitioner(
    session: Session,
    practitioner_id: SmallRowId,
    patch: PractitionerPatch,
    response: Response,
    principal: Annotated[Principal, Depends(Require("practitioner:manage"))],
    if_match: IfMatch = None,
) -> PractitionerOut:
    p = await service.update_practitioner(
        session, principal, practitioner_id, patch, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(p.version)
    return p


@api.post(
    "/practitioners/{practitioner_id}/roles", response_model=PractitionerRoleOut, status_code=201
)
async def add_role(
    session: Session,
    practitioner_id: SmallRowId,
    data: PractitionerRoleIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("practitioner:manage"))],
) -> PractitionerRoleOut:
    role = await service.add_practitioner_role(session, principal, practitioner_id, data)
    response.headers["ETag"] = etag(role.version)
    return role


@api.patch("/practitioner-roles/{role_id}", response_model=PractitionerRoleOut)
async def update_role(
    session: Session,
    role_id: SmallRowId,
    patch: PractitionerRolePatch,
    response: Response,
    principal: Annotated[Principal, Depends(Require("practitioner:manage"))],
    if_match: IfMatch = None,
) -> PractitionerRoleOut:
    """Change a role, or end it by sending ``end_on``."""
    role = await service.update_practitioner_role(
        session, principal, role_id, patch, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(role.version)
    return role
