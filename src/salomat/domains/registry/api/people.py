"""REST routes of the person index (master patient index)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Query, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.pagination import Page, PageParams, page_params
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    AttachIn,
    AttachmentOut,
    Candidate,
    DeathIn,
    PersonIn,
    PersonOut,
    PersonPatch,
    PersonQuery,
    PersonVersionOut,
)

api = router(prefix="/api/v1", tags=["people"])
Session = DbSession


@api.post(
    "/persons",
    response_model=PersonOut,
    status_code=201,
    responses={409: {"description": "the id is taken, or candidates need a duplicate_reason"}},
)
async def register_person(
    session: Session,
    data: PersonIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("person:create"))],
) -> PersonOut:
    """Register a person. Likely duplicates come back as 409 with ``candidates``."""
    person = await service.register_person(session, principal, data)
    response.headers["Location"] = f"/api/v1/persons/{person.id}"
    response.headers["ETag"] = etag(person.version)
    return person


@api.post("/persons/candidates", response_model=list[Candidate])
async def duplicate_candidates(
    session: Session,
    data: PersonIn,
    principal: Annotated[Principal, Depends(Require("person:create"))],
) -> list[Candidate]:
    """Who is already registered and may be this person (nothing is stored)."""
    service.check_identity(data.national_id, data.birth_date, data.sex)
    return await service.find_candidates(session, principal, data)


@api.get("/persons", response_model=Page[PersonOut])
async def search_persons(
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:search"))],
    page: Annotated[PageParams, Depends(page_params)],
    national_id: Annotated[str | None, Query(max_length=32)] = None,
    name: Annotated[str | None, Query(min_length=2, max_length=200)] = None,
    family: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    given: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    birth_date: date | None = None,
    sex: Annotated[str | None, Query(pattern="^(male|female)$")] = None,
    attached_to: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[PersonOut]:
    """By national id, or by name in either script (fuzzy), narrowed by birth date and sex."""
    q = PersonQuery(
        national_id=national_id,
        name=name,
        family=family,
        given=given,
        birth_date=birth_date,
        sex=sex,  # type: ignore[arg-type]
        attached_to=attached_to,
    )
    return await service.search_persons(session, principal, q, page)


@api.get("/persons/{person_id}", response_model=PersonOut)
async def read_person(
    session: Session,
    person_id: RowId,
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
    person_id: RowId,
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


@api.post("/persons/{person_id}/attachment", response_model=PersonOut)
async def attach_person(
    session: Session,
    person_id: RowId,
    data: AttachIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("person:update"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PersonOut:
    """Attach to a primary-care facility (and section); the previous attachment ends."""
    person = await service.attach_person(
        session, principal, person_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(person.version)
    return person


@api.get("/persons/{person_id}/attachments", response_model=list[AttachmentOut])
async def attachment_history(
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:read"))],
) -> list[AttachmentOut]:
    return await service.attachment_history(session, principal, person_id)


@api.post("/persons/{person_id}/death", response_model=PersonOut)
async def register_death(
    session: Session,
    person_id: RowId,
    data: DeathIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("person:death"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PersonOut:
    """Date and underlying cause (ICD-10); care programmes refuse new care afterwards."""
    person = await service.register_death(
        session, principal, person_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(person.version)
    return person


@api.get("/persons/{person_id}/history", response_model=list[PersonVersionOut])
async def person_history(
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:read"))],
    page: Annotated[PageParams, Depends(page_params)],
) -> list[PersonVersionOut]:
    """Every version of the record, newest first."""
    return await service.person_history(session, principal, person_id, page)
