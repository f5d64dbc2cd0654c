"""REST routes of a child's mothers, fathers and guardians (``person_relation``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Response

from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import RelationEndIn, RelationIn, RelationOut

api = router(prefix="/api/v1", tags=["people"])
Session = DbSession


@api.post("/persons/{person_id}/relations", response_model=RelationOut, status_code=201)
async def add_relation(
    session: Session,
    person_id: RowId,
    data: RelationIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("person:relate"))],
) -> RelationOut:
    """Record the child's mother, father or guardian (``related_person_id``) from a document."""
    rel = await service.add_relation(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/persons/{person_id}/relations"
    return rel


@api.get("/persons/{person_id}/relations", response_model=list[RelationOut])
async def list_relations(
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:read"))],
) -> list[RelationOut]:
    """The person's parents and guardians, and whom they are parent or guardian of."""
    return await service.list_relations(session, principal, person_id)


@api.post("/relations/{relation_id}/end", response_model=RelationOut)
async def end_relation(
    session: Session,
    relation_id: RowId,
    data: RelationEndIn,
    principal: Annotated[Principal, Depends(Require("person:relate"))],
) -> RelationOut:
    """End a relation (a court order ending a guardianship); portal access ends with it."""
    return await service.end_relation(session, principal, relation_id, data)
