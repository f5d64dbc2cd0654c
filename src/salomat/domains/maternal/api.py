"""REST routes of the pregnancy register (antenatal care)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Response

from salomat.core.errors import FieldError, Invalid
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import (
    AdviceOut,
    CloseIn,
    ContactIn,
    PregnancyDetail,
    PregnancyIn,
    PregnancyOut,
)

api = router(prefix="/api/v1", tags=["maternal"])
routers = [api]


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip().removeprefix("W/").strip('"')
    if not v.isdigit():
        raise Invalid.fields([FieldError("If-Match", 'must be an ETag such as W/"3"')])
    return int(v)


@api.post(
    "/persons/{person_id}/pregnancies",
    response_model=PregnancyDetail,
    status_code=201,
    responses={409: {"description": "she already has a current pregnancy, has died, or is male"}},
)
async def open_pregnancy(
    session: DbSession,
    person_id: int,
    data: PregnancyIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> PregnancyDetail:
    """Register a pregnancy: dated (LMP, ultrasound or fundal height) and evaluated."""
    p = await service.open_pregnancy(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/pregnancies/{p.id}"
    response.headers["ETag"] = etag(p.version)
    return p


@api.get("/persons/{person_id}/pregnancies", response_model=list[PregnancyOut])
async def list_pregnancies(
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> list[PregnancyOut]:
    """Her pregnancies, the newest first."""
    return await service.list_pregnancies(session, principal, person_id)


@api.get("/pregnancies/{pregnancy_id}", response_model=PregnancyDetail)
async def read_pregnancy(
    session: DbSession,
    pregnancy_id: int,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> PregnancyDetail:
    """With its contacts, its active advice and its risk level; the ETag is for If-Match."""
    p = await service.get_pregnancy(session, principal, pregnancy_id)
    response.headers["ETag"] = etag(p.version)
    return p


@api.post("/pregnancies/{pregnancy_id}/contacts", response_model=PregnancyDetail, status_code=201)
async def record_contact(
    session: DbSession,
    pregnancy_id: int,
    data: ContactIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:contact"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PregnancyDetail:
    """Record an antenatal contact; the answer is the pregnancy re-evaluated."""
    p = await service.record_contact(
        session, principal, pregnancy_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["Location"] = f"/api/v1/pregnancies/{p.id}"
    response.headers["ETag"] = etag(p.version)
    return p


@api.post("/pregnancies/{pregnancy_id}/close", response_model=PregnancyDetail)
async def close_pregnancy(
    session: DbSession,
    pregnancy_id: int,
    data: CloseIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PregnancyDetail:
    """Record the outcome; a new pregnancy may then be registered."""
    p = await service.close_pregnancy(
        session, principal, pregnancy_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(p.version)
    return p


@api.get("/pregnancies/{pregnancy_id}/advice", response_model=list[AdviceOut])
async def pregnancy_advice(
    session: DbSession,
    pregnancy_id: int,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
    retired: bool = False,
) -> list[AdviceOut]:
    """The active advice; ``retired=true`` adds what earlier evaluations advised."""
    return await service.list_advice(session, principal, pregnancy_id, retired=retired)
