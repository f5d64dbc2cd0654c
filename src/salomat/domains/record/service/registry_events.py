"""What a merge of two records of one person does to the shared record: the resources
follow the person (an unmerge moves back exactly those). The bodies stay as their
senders sent them: a ``subject`` naming the merged record still names the same person,
whose registry record points to the survivor."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.domains.record.models import RecordResource
from salomat.domains.registry import service as registry

__all__: list[str] = []


@registry.on_person_rows_moved
async def move_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    await registry.move_person_rows(session, event, {"record_resource": RecordResource})
