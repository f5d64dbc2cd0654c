"""Who pays contributions, and whom an employer employs at which wage.

A payer is an employer of the register (by business id), an individual entrepreneur
(business id), an independent or platform self-employed person (national id), the
state (one payer, code ``STATE``, paying for the protected categories), or the single
aggregate payment (one payer, code ``AGGREGATE``, no expected amount). ``code`` is
what a payment file names in its payer column: the business id, the national id,
``STATE`` or ``AGGREGATE``. A universal scheme (UZ) takes no contributions and so has no payers.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, NotFound
from salomat.core.pagination import Page, PageParams
from salomat.core.security import Principal
from salomat.domains.insurance.models import Employment, Payer
from salomat.domains.insurance.schemas.contributions import (
    EmploymentIn,
    EmploymentOut,
    PayerIn,
    PayerOut,
)
from salomat.domains.insurance.service.rules import MINOR, insurance_rules
from salomat.domains.registry import service as registry

__all__ = [
    "AGGREGATE_CODE",
    "STATE_CODE",
    "create_employment",
    "create_payer",
    "get_payer",
    "list_employment",
    "list_payers",
    "major",
    "minor",
    "payer_by_code",
    "refuse_universal",
]

STATE_CODE = "STATE"
#: the single aggregate payment, collected by the tax authority for the people who pay
#: it, comes as this one payer's lines (kind ``aggregate``), with no expected amount
AGGREGATE_CODE = "AGGREGATE"
RESOURCE = "InsurancePayer"


def minor(amount: Decimal) -> int:
    return int((amount * MINOR).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def major(amount: int | None) -> Decimal:
    return (Decimal(amount or 0) / MINOR).quantize(Decimal("0.01"))


def refuse_universal() -> None:
    """Under a universal scheme everyone is covered and nobody pays contributions."""
    if insurance_rules().universal:
        raise Invalid(
            N_(
                "This country's health insurance is universal: everyone is covered and the "
                "fund takes no contributions."
            )
        )


async def payer_by_code(session: AsyncSession, code: str) -> Payer | None:
    return await session.scalar(select(Payer).where(Payer.code == code.strip()))


async def _person(session: AsyncSession, national_id: str | None, field: str) -> int:
    if not national_id:
        raise Invalid.fields([FieldError(field, N_("is required"))])
    found = await registry.person_ids_by_national_ids(session, [national_id])
    if national_id not in found:
        raise Invalid.fields([FieldError(field, N_("no person with this national id"))])
    return found[national_id]


async def create_payer(session: AsyncSession, principal: Principal, data: PayerIn) -> PayerOut:
    refuse_universal()
    employer_id = person_id = None
    if data.kind == "employer":
        if not data.business_id:
            raise Invalid.fields([FieldError("business_id", N_("is required"))])
        employer = await registry.employer_by_business_id(session, data.business_id)
        if employer is None:
            raise Invalid.fields(
                [FieldError("business_id", N_("no employer with this business id is registered"))]
            )
        code, name, employer_id = employer.business_id, employer.name, employer.id
    elif data.kind == "entrepreneur":
        if not data.business_id:
            raise Invalid.fields([FieldError("business_id", N_("is required"))])
        code = registry.normalise_business_id(data.business_id)
        if not data.name:
            raise Invalid.fields([FieldError("name", N_("is required"))])
        name = data.name
        if data.national_id:
            person_id = await _person(session, data.national_id, "national_id")
    elif data.kind in ("independent", "self_employed"):
        person_id = await _person(session, data.national_id, "national_id")
        code = str(data.national_id)
        brief = (await registry.person_briefs(session, [person_id]))[person_id]
        name = data.name or brief.name
    elif data.kind == "aggregate":
        code, name = AGGREGATE_CODE, data.name or "Single aggregate payment"
    else:
        code, name = STATE_CODE, data.name or "State"
    if await payer_by_code(session, code) is not None:
        raise Conflict(
            N_("A payer with the code %(code)s is already registered."), params={"code": code}
        )
    payer = Payer(
        kind=data.kind,
        code=code,
        name=name,
        employer_id=employer_id,
        person_id=person_id,
        created_at=utcnow(),
    )
    session.add(payer)
    try:
        await session.flush()
    except IntegrityError as e:
        raise Conflict(
            N_("A payer with the code %(code)s is already registered."), params={"code": code}
        ) from e
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=RESOURCE,
        resource_id=str(payer.id),
        patient_id=person_id,
    )
    return PayerOut.model_validate(payer)


async def get_payer(session: AsyncSession, payer_id: int) -> PayerOut:
    payer = await session.get(Payer, payer_id)
    if payer is None:
        raise NotFound(N_("Payer %(id)s not found."), params={"id": payer_id})
    return PayerOut.model_validate(payer)


async def list_payers(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    kind: str | None = None,
    q: str | None = None,
) -> Page[PayerOut]:
    """By kind and code; ``q`` finds a code by its start or a name by any part of it."""
    where = []
    if kind:
        where.append(Payer.kind == kind)
    if q and q.strip():
        text = q.strip()
        where.append(
            Payer.code.startswith(text, autoescape=True)
            | func.lower(Payer.name).contains(text.lower(), autoescape=True)
        )
    total = await session.scalar(select(func.count()).select_from(Payer).where(*where))
    rows = list(
        await session.scalars(
            select(Payer)
            .where(*where)
            .order_by(Payer.kind, Payer.code)
            .limit(page.limit)
            .offset(page.offset)
        )
    )
    people = [audit.Access(p.person_id) for p in rows if p.person_id is not None]
    if people:
        await audit.record_listing(session, principal, people, resource_type=RESOURCE)
    return Page[PayerOut](
        items=[PayerOut.model_validate(p) for p in rows],
        total=int(total or 0),
        limit=page.limit,
        offset=page.offset,
    )


async def create_employment(
    session: AsyncSession, principal: Principal, data: EmploymentIn
) -> EmploymentOut:
    """A person working for an employer payer from ``start_on`` at a monthly wage."""
    refuse_universal()
    errors: list[FieldError] = []
    payer = await payer_by_code(session, data.payer)
    if payer is None:
        errors.append(FieldError("payer", N_("no payer with this code")))
    elif payer.kind != "employer":
        errors.append(FieldError("payer", N_("only an employer employs people")))
    found = await registry.person_ids_by_national_ids(session, [data.national_id])
    if data.national_id not in found:
        errors.append(FieldError("national_id", N_("no person with this national id")))
    if data.end_on is not None and data.end_on < data.start_on:
        errors.append(FieldError("end_on", N_("cannot be before the start")))
    if errors:
        raise Invalid.fields(errors)
    assert payer is not None
    person_id = found[data.national_id]
    row = Employment(
        payer_id=payer.id,
        person_id=person_id,
        start_on=data.start_on,
        end_on=data.end_on,
        monthly_wage=minor(data.monthly_wage),
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as e:
        raise Conflict(
            N_("This employment is already recorded with the same start."),
            errors=[FieldError("start_on", N_("already recorded"))],
        ) from e
    await audit.record(
        session,
        principal,
        action="create",
        resource_type="InsuranceEmployment",
        resource_id=str(row.id),
        patient_id=person_id,
    )
    return _employment_out(row, payer.code, data.national_id)


def _employment_out(row: Employment, code: str, national_id: str | None) -> EmploymentOut:
    return EmploymentOut(
        id=row.id,
        payer_id=row.payer_id,
        payer_code=code,
        person_id=row.person_id,
        national_id=national_id,
        start_on=row.start_on,
        end_on=row.end_on,
        monthly_wage=major(row.monthly_wage),
    )


async def list_employment(
    session: AsyncSession, principal: Principal, payer_id: int, *, limit: int = 500
) -> list[EmploymentOut]:
    """An employer's employees (latest start first), each person audited."""
    payer = await session.get(Payer, payer_id)
    if payer is None:
        raise NotFound(N_("Payer %(id)s not found."), params={"id": payer_id})
    rows = list(
        await session.scalars(
            select(Employment)
            .where(Employment.payer_id == payer_id)
            .order_by(Employment.start_on.desc(), Employment.id.desc())
            .limit(limit)
        )
    )
    briefs = await registry.person_briefs(session, [r.person_id for r in rows])
    await audit.record_listing(
        session,
        principal,
        [audit.Access(r.person_id) for r in rows],
        resource_type="InsuranceEmployment",
    )
    return [
        _employment_out(r, payer.code, getattr(briefs.get(r.person_id), "national_id", None))
        for r in rows
    ]
