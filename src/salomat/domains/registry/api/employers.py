"""REST routes of the employer registry (administrators; docs/registries.md)."""

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
from salomat.domains.registry.schemas import EmployerIn, EmployerOut, EmployerPatch

api = router(prefix="/api/v1", tags=["employers"])
IfMatch = Annotated[str | None, Header()]


@api.get(
    "/employers",
    response_model=Page[EmployerOut],
    dependencies=[Depends(Require("employer:read"))],
)
async def employers(
    session: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None,
        Query(max_length=300, description="the first digits of a business id, or part of a name"),
    ] = None,
    active: bool | None = None,
) -> Page[EmployerOut]:
    return await service.list_employers(session, page, q, active=active)


@api.post("/employers", response_model=EmployerOut, status_code=201)
async def create_employer(
    session: DbSession,
    data: EmployerIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("employer:manage"))],
) -> EmployerOut:
    employer = await service.create_employer(session, data, by=principal.username)
    response.headers["Location"] = f"/api/v1/employers/{employer.id}"
    response.headers["ETag"] = etag(employer.version)
    return employer


@api.get(
    "/employers/{employer_id}",
    response_model=EmployerOut,
    dependencies=[Depends(Require("employer:read"))],
)
async def read_employer(
    session: DbSession, employer_id: SmallRowId, response: Response
) -> EmployerOut:
    employer = await service.get_employer(session, employer_id)
    response.headers["ETag"] = etag(employer.version)
    return employer


@api.patch("/employers/{employer_id}", response_model=EmployerOut)
async def update_employer(
    session: DbSession,
    employer_id: SmallRowId,
    patch: EmployerPatch,
    response: Response,
    principal: Annotated[Principal, Depends(Require("employer:manage"))],
    if_match: IfMatch = None,
) -> EmployerOut:
    employer = await service.update_employer(
        session,
        employer_id,
        patch,
        expected_version=parse_if_match(if_match),
        by=principal.username,
    )
    response.headers["ETag"] = etag(employer.version)
    return employer
