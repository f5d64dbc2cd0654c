from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Query, Response

from salomat.core.errors import FieldError, Invalid
from salomat.core.pagination import Page, PageParams, page_params
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    FacilityIn,
    FacilityOut,
    PersonIn,
    PersonOut,
    PersonPatch,
    PersonQuery,
)

api = router(prefix="/api/v1", tags=["registry"])
Session = DbSession


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip()
    v = v.removeprefix("W/").strip('"')
    if not v.isdigit():
        raise Invalid.fields([FieldError("If-Match", 'must be an ETag such as W/"3"')])
    return int(v)


@api.get(
    "/facilities",
    response_model=Page[FacilityOut],
    dependencies=[Depends(Require("facility:read"))],
)
async def facilities(
    session: Session, page: Annotated[PageParams, Depends(page_params)]
) -> Page[FacilityOut]:
    return await service.list_facilities(session, page)


@api.post(
    "/facilities",
    response_model=FacilityOut,
    status_code=201,
    dependencies=[Depends(Require("facility:manage"))],
)
async def create_facility(session: Session, data: FacilityIn, response: Response) -> FacilityOut:
    fac = await service.create_facility(session, data)
    response.headers["Location"] = f"/api/v1/facilities/{fac.id}"
    return fac


@api.post("/persons", response_model=PersonOut, status_code=201)
async def register_person(
    session: Session,
    data: PersonIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("person:create"))],
) -> PersonOut:
    person = await service.register_person(session, principal, data)
    response.headers["Location"] = f"/api/v1/persons/{person.id}"
    response.headers["ETag"] = etag(person.version)
    return person


@api.get("/persons", response_model=Page[PersonOut])
async def search_persons(
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:search"))],
    page: Annotated[PageParams, Depends(page_params)],
    national_id: Annotated[str | None, Query(max_length=32)] = None,
    name: Annotated[str | None, Query(min_length=2, max_length=100)] = None,
    birth_date: date | None = None,
) -> Page[PersonOut]:
    q = PersonQuery(national_id=national_id, name=name, birth_date=birth_date)
    return await service.search_persons(session, principal, q, page)


@api.get("/persons/{person_id}", response_model=PersonOut)
async def read_person(
    session: Session,
    person_id: int,
    response: Response,
    principal: Annotated[Principal, Depends(Require("person:read"))],
    purpose: Annotated[str | None, Query(max_length=200)] = None,
) -> PersonOut:
    person = await service.get_person(session, principal, person_id, purpose=purpose)
    response.headers["ETag"] = etag(person.version)
    return person


@api.patch("/persons/{person_id}", response_model=PersonOut)
async def update_person(
    session: Session,
    person_id: int,
    patch: PersonPatch,
    response: Response,
    principal: Annotated[Principal, Depends(Require("person:update"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PersonOut:
    person = await service.update_person(
        session, principal, person_id, patch, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(person.version)
    return person
