"""Identifier systems (FHIR NamingSystem): an identifier another system gives a resource
is kept only under a system registered here, or one of the platform's own.

Registering a system is a decision that its identifiers name things one-to-one (the
record refuses a second resource of a type with the same identifier), so it is the
administrator's (``record:naming``); anyone logged in may read the list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, NotFound
from salomat.core.security import Principal
from salomat.country import national_id, pack
from salomat.domains.record.models import RecordNamingSystem
from salomat.domains.record.schemas import NamingSystemIn, NamingSystemOut

__all__ = [
    "builtin_systems",
    "get_naming_system",
    "list_naming_systems",
    "naming_system_bodies",
    "register_naming_system",
]


def builtin_systems() -> list[NamingSystemOut]:
    """The platform's own systems: the deployed country's national id (the system the
    FHIR Patient uses) and any the pack lists under ``record.identifier_systems``."""
    country = get_settings().country
    out = [
        NamingSystemOut(
            id=None,
            name=national_id.name(country),
            url=national_id.system_uri(country),
            description=None,
            responsible=None,
            status="active",
            builtin=True,
            created_at=None,
        )
    ]
    extra = (pack.load(country).get("record") or {}).get("identifier_systems") or []
    for item in extra:
        out.append(
            NamingSystemOut(
                id=None,
                name=str(item.get("name") or item["url"]),
                url=str(item["url"]),
                description=item.get("description"),
                responsible=item.get("responsible"),
                status="active",
                builtin=True,
                created_at=None,
            )
        )
    return out


async def known_systems(session: AsyncSession, urls: Iterable[str]) -> set[str]:
    """Which of ``urls`` are built in or registered (one statement)."""
    wanted = set(urls)
    if not wanted:
        return set()
    builtin = {b.url for b in builtin_systems()} & wanted
    rest = wanted - builtin
    if not rest:
        return builtin
    rows = await session.scalars(
        select(RecordNamingSystem.url).where(
            RecordNamingSystem.url.in_(sorted(rest)), RecordNamingSystem.status == "active"
        )
    )
    return builtin | set(rows)


def _out(row: RecordNamingSystem) -> NamingSystemOut:
    return NamingSystemOut(
        id=row.id,
        name=row.name,
        url=row.url,
        description=row.description,
        responsible=row.responsible,
        status=row.status,
        builtin=False,
        created_at=row.created_at,
    )


def _taken(url: str) -> Conflict:
    return Conflict(
        N_("The identifier system %(url)s is registered already."),
        params={"url": url},
        errors=[FieldError("url", N_("This system is registered already."))],
    )


async def register_naming_system(
    session: AsyncSession,
    principal: Principal,
    data: NamingSystemIn,
    *,
    body: dict[str, Any] | None = None,
) -> NamingSystemOut:
    """``data`` registered; ``body``, when given, is the FHIR NamingSystem it was read
    from (without id and the server's meta), kept as sent and returned by
    ``naming_system_bodies``."""
    if data.url in {b.url for b in builtin_systems()}:
        raise _taken(data.url)
    if await session.scalar(
        select(RecordNamingSystem.id).where(RecordNamingSystem.url == data.url)
    ):
        raise _taken(data.url)
    row = RecordNamingSystem(
        name=data.name,
        url=data.url,
        kind="identifier",
        description=data.description,
        responsible=data.responsible,
        status="active",
        created_by=principal.username,
        created_at=utcnow(),
        body=None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as e:  # registered meanwhile by another request
        raise _taken(data.url) from e
    return _out(row)


async def get_naming_system(session: AsyncSession, naming_system_id: int) -> NamingSystemOut:
    row = await session.get(RecordNamingSystem, naming_system_id)
    if row is None:
        raise NotFound(N_("NamingSystem %(id)s not found."), params={"id": naming_system_id})
    return _out(row)


async def naming_system_bodies(
    session: AsyncSession, naming_system_ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The NamingSystem resources kept as their registrars sent them, by id (one
    statement); a system registered without one is left out."""
    wanted = sorted(set(naming_system_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(RecordNamingSystem.id, RecordNamingSystem.body).where(
            RecordNamingSystem.id.in_(wanted), RecordNamingSystem.body.is_not(None)
        )
    )
    return {i: json.loads(b) for i, b in rows}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_naming_systems(
    session: AsyncSession, *, url: str | None = None, name: str | None = None
) -> list[NamingSystemOut]:
    """The built-in systems first, then the registered ones by name. ``url`` matches
    exactly; ``name`` as FHIR string search does: the name starts with it, any case."""
    q = select(RecordNamingSystem)
    if url is not None:
        q = q.where(RecordNamingSystem.url == url)
    if name is not None:
        q = q.where(
            func.lower(RecordNamingSystem.name).like(_escape_like(name.lower()) + "%", escape="\\")
        )
    rows = await session.scalars(q.order_by(RecordNamingSystem.name, RecordNamingSystem.id))
    builtin = [
        b
        for b in builtin_systems()
        if (url is None or b.url == url)
        and (name is None or b.name.lower().startswith(name.lower()))
    ]
    return builtin + [_out(r) for r in rows]
