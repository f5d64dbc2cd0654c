"""Synchronous in-process events: how a lower domain triggers a higher one.

Handlers run in the publisher's transaction, so the event and its effects
commit or roll back together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class ResourceChanged:
    """A resource another system may be told of was created or changed (its FHIR type and
    id as the FHIR API serves it, and the person it is about): the subscriptions' trigger,
    published by any domain."""

    resource_type: str
    resource_id: str
    person_id: int | None = None


Handler = Callable[[AsyncSession, Any], Awaitable[None]]
_handlers: dict[type, list[Handler]] = defaultdict(list)


def subscribe(event_type: type) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if fn not in _handlers[event_type]:
            _handlers[event_type].append(fn)
        return fn

    return register


async def publish(session: AsyncSession, event: Any) -> None:
    for fn in list(_handlers.get(type(event), ())):
        await fn(session, event)
