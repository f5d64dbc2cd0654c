"""REST routes of duplicate review: pairs found by the batch linkage, merge, undo."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from salomat.core.pagination import Page, PageParams, page_params
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    DuplicatePairOut,
    MergeIn,
    MergeOut,
    PairStatus,
    UnmergeIn,
)

api = router(prefix="/api/v1", tags=["duplicates"])
Merger = Annotated[Principal, Depends(Require("person:merge"))]


@api.get("/duplicates", response_model=Page[DuplicatePairOut])
async def list_pairs(
    session: DbSession,
    principal: Merger,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[PairStatus, Query()] = "open",
) -> Page[DuplicatePairOut]:
    """Pairs to review, most likely first, with both people, Splink's probability and why."""
    return await service.list_pairs(session, principal, page, status)


@api.post("/duplicates/{pair_id}/distinct", response_model=DuplicatePairOut)
async def mark_distinct(session: DbSession, pair_id: RowId, principal: Merger) -> DuplicatePairOut:
    """Two different people: later linkage runs leave the pair alone."""
    return await service.mark_distinct(session, principal, pair_id)


@api.post(
    "/persons/{survivor_id}/merge",
    response_model=MergeOut,
    responses={
        409: {"description": "different national ids or sex, already merged, death mismatch"},
        412: {"description": "a record changed since the versions sent"},
    },
)
async def merge_persons(
    session: DbSession, survivor_id: RowId, data: MergeIn, principal: Merger
) -> MergeOut:
    """Merge ``merged_id`` into this person, who keeps the id; every record is re-pointed."""
    return await service.merge_persons(
        session,
        principal,
        survivor_id,
        data.merged_id,
        data.reason,
        expected_versions=(data.survivor_version, data.merged_version),
    )


@api.get("/merges/{merge_id}", response_model=MergeOut)
async def read_merge(session: DbSession, merge_id: RowId, principal: Merger) -> MergeOut:
    return await service.get_merge(session, merge_id)


@api.post("/merges/{merge_id}/undo", response_model=MergeOut)
async def undo_merge(
    session: DbSession, merge_id: RowId, data: UnmergeIn, principal: Merger
) -> MergeOut:
    """Undo a merge exactly; refused when the survivor changed in what the merge filled."""
    return await service.unmerge(session, principal, merge_id, data.reason)
