"""Employer organisations: companies, schools, ministries whose accounts (role
``employer``) check their employees' sick-leave certificates.

Registry data like facilities: identified by the country's business id (the pack's
``business_id`` rule: KZ BIN, UZ STIR), one organisation per business id (a database
constraint as well). Each write stores one new version (``versions``, type ``Employer``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    PreconditionFailed,
)
from salomat.core.pagination import Page, PageParams
from salomat.country import business_id as bid
from salomat.domains.registry.models import Employer, Territory
from salomat.domains.registry.schemas import EmployerIn, EmployerOut, EmployerPatch
from salomat.domains.registry.service import versions
from salomat.domains.registry.service.facility_changes import _settlement_id
from salomat.domains.registry.service.territory import check_names, expect_version

__all__ = [
    "create_employer",
    "employer_by_business_id",
    "employer_name_of",
    "employer_names",
    "get_employer",
    "list_employers",
    "normalise_business_id",
    "update_employer",
]

RESOURCE = "Employer"


def normalise_business_id(value: str, *, field: str = "business_id") -> str:
    """The business id as stored, checked under the deployed country's rule; ``Invalid``
    naming ``field`` otherwise (the account form names its own field)."""
    return bid.validate_business_id(get_settings().country, value, field=field)


def _taken(business_id: str) -> Conflict:
    return Conflict(
        N_("An employer with the %(name)s %(business_id)s is already registered."),
        params={"name": bid.name(get_settings().country), "business_id": business_id},
        errors=[FieldError("business_id", N_("already registered"))],
    )


async def _outs(session: AsyncSession, rows: Sequence[Employer]) -> list[EmployerOut]:
    settlement_ids = {e.settlement_id for e in rows if e.settlement_id}
    codes: dict[int, str] = {}
    if settlement_ids:
        found = await session.execute(
            select(Territory.id, Territory.code).where(Territory.id.in_(settlement_ids))
        )
        codes = {r.id: r.code for r in found}
    outs = []
    for e in rows:
        out = EmployerOut.model_validate(e)
        out.names = dict(e.names or {})
        out.settlement_code = codes.get(e.settlement_id) if e.settlement_id else None
        outs.append(out)
    return outs


async def _out(session: AsyncSession, employer: Employer) -> EmployerOut:
    return (await _outs(session, [employer]))[0]


async def _get(session: AsyncSession, employer_id: int) -> Employer:
    employer = await session.get(Employer, employer_id)
    if employer is None:
        raise NotFound(N_("Employer %(id)s not found."), params={"id": employer_id})
    return employer


async def get_employer(session: AsyncSession, employer_id: int) -> EmployerOut:
    return await _out(session, await _get(session, employer_id))


async def employer_by_business_id(session: AsyncSession, business_id: str) -> EmployerOut | None:
    """The employer with this business id (as typed: spaces and hyphens dropped), if any."""
    employer = await session.scalar(
        select(Employer).where(Employer.business_id == bid.normalise(business_id.strip()))
    )
    return await _out(session, employer) if employer else None


def employer_name_of(employer_id: Any) -> Any:
    """The name of the employer ``employer_id`` (a column) refers to, as a correlated scalar
    subquery: a caller reading rows with an employer id names it in the same statement."""
    return select(Employer.name).where(Employer.id == employer_id).scalar_subquery()


async def employer_names(
    session: AsyncSession, ids: Iterable[int], lang: str | None = None
) -> dict[int, str]:
    """The name of each of these employers (in ``lang`` where it has one, else its main
    name), one statement; ids with none left out. Audit lists name the organisation an
    employer account acted for this way."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await session.execute(
        select(Employer.id, Employer.name, Employer.names).where(Employer.id.in_(wanted))
    )
    return {r.id: ((r.names or {}).get(lang) if lang else None) or r.name for r in rows}


async def list_employers(
    session: AsyncSession,
    page: PageParams,
    q: str | None = None,
    *,
    active: bool | None = None,
) -> Page[EmployerOut]:
    """By name; ``q`` finds a business id by its first digits or a name by any part of it."""
    where: list[Any] = []
    if q and q.strip():
        text = q.strip()
        digits = bid.normalise(text)
        found = [func.lower(Employer.name).contains(text.lower(), autoescape=True)]
        if digits.isascii() and digits.isdigit():
            found.append(Employer.business_id.startswith(digits, autoescape=True))
        where.append(or_(*found))
    if active is not None:
        where.append(Employer.active.is_(active))
    total = await session.scalar(select(func.count()).select_from(Employer).where(*where))
    rows = await session.scalars(
        select(Employer)
        .where(*where)
        .order_by(Employer.name, Employer.id)
        .limit(page.limit)
        .offset(page.offset)
    )
    return Page[EmployerOut](
        items=await _outs(session, list(rows)),
        total=int(total or 0),
        limit=page.limit,
        offset=page.offset,
    )


async def create_employer(
    session: AsyncSession, data: EmployerIn, *, by: str = "system"
) -> EmployerOut:
    errors: list[FieldError] = []
    number = data.business_id
    try:
        number = normalise_business_id(data.business_id)
    except Invalid as e:
        errors += e.errors
    errors += check_names(data.names)
    settlement_id, more = await _settlement_id(session, data.settlement_code)
    errors += more
    if errors:
        raise Invalid.fields(errors)
    if await session.scalar(select(Employer.id).where(Employer.business_id == number)):
        raise _taken(number)
    now = utcnow()
    employer = Employer(
        business_id=number,
        name=data.name,
        names=dict(data.names),
        settlement_id=settlement_id,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    session.add(employer)
    try:
        await session.flush()
    except IntegrityError as e:  # registered by another request since the check above
        raise _taken(number) from e
    out = await _out(session, employer)
    await versions.record_version(session, RESOURCE, out, action="create", by=by)
    return out


async def update_employer(
    session: AsyncSession,
    employer_id: int,
    patch: EmployerPatch,
    *,
    expected_version: int | None,
    by: str,
) -> EmployerOut:
    """Only the fields sent change; ``If-Match`` as for facilities (values equal to the
    stored ones answer the current version, however old ``expected_version`` is)."""
    employer = await _get(session, employer_id)
    if expected_version is None:
        expect_version(employer.version, expected_version, "employer")
    values = patch.model_dump(exclude_unset=True)
    errors = [
        FieldError(k, N_("cannot be cleared"))
        for k in ("name", "names", "active")
        if k in values and values[k] is None
    ]
    if values.get("names"):
        errors += check_names(values["names"])
    settlement_id = employer.settlement_id
    if "settlement_code" in values:
        settlement_id, more = await _settlement_id(session, values["settlement_code"])
        errors += more
    if errors:
        raise Invalid.fields(errors)
    for key in ("name", "active"):
        if key in values:
            setattr(employer, key, values[key])
    if "names" in values:
        employer.names = dict(values["names"])
    employer.settlement_id = settlement_id
    if versions.unchanged(session, employer):
        return await _out(session, employer)
    expect_version(employer.version, expected_version, "employer")
    employer.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed(
            N_("The employer changed while you edited it; reload it and apply your change again.")
        ) from e
    out = await _out(session, employer)
    await versions.record_version(session, RESOURCE, out, action="update", by=by)
    return out
