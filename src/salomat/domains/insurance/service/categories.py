"""The state's protected categories (the pack's list): the people the bodies that keep
each list report, for a time. Children and pensioners follow from the register (birth
date and sex) and are never stored: a request to list one is refused.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid
from salomat.core.security import Principal
from salomat.domains.insurance.models import CategoryMember
from salomat.domains.insurance.schemas.contributions import CategoryMemberIn, CategoryMemberOut
from salomat.domains.insurance.service.payers import refuse_universal
from salomat.domains.insurance.service.rules import add_months, insurance_rules
from salomat.domains.registry import service as registry

__all__ = [
    "add_category_member",
    "list_category_members",
    "listed_in_month",
    "listed_periods",
    "listed_query",
    "protected_in_month",
]

RESOURCE = "InsuranceCategory"


async def add_category_member(
    session: AsyncSession, principal: Principal, data: CategoryMemberIn
) -> CategoryMemberOut:
    refuse_universal()
    rules = insurance_rules()
    errors: list[FieldError] = []
    category = rules.categories.get(data.category)
    if category is None:
        errors.append(
            FieldError(
                "category",
                N_("must be one of: %(choices)s"),
                {"choices": ", ".join(c for c, v in rules.categories.items() if not v.derived)},
            )
        )
    elif category.derived:
        errors.append(
            FieldError(
                "category",
                N_("follows from the population register (birth date and sex): not listed"),
            )
        )
    found = await registry.person_ids_by_national_ids(session, [data.national_id])
    if data.national_id not in found:
        errors.append(FieldError("national_id", N_("no person with this national id")))
    if data.end_on is not None and data.end_on < data.start_on:
        errors.append(FieldError("end_on", N_("cannot be before the start")))
    if errors:
        raise Invalid.fields(errors)
    row = CategoryMember(
        person_id=found[data.national_id],
        category=data.category,
        start_on=data.start_on,
        end_on=data.end_on,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as e:
        raise Conflict(
            N_("This person is already listed in this category from that day."),
            errors=[FieldError("start_on", N_("already recorded"))],
        ) from e
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=RESOURCE,
        resource_id=str(row.id),
        patient_id=row.person_id,
    )
    return _out(row, data.national_id)


def _out(row: CategoryMember, national_id: str | None) -> CategoryMemberOut:
    return CategoryMemberOut(
        id=row.id,
        person_id=row.person_id,
        national_id=national_id,
        category=row.category,
        start_on=row.start_on,
        end_on=row.end_on,
    )


async def list_category_members(
    session: AsyncSession,
    principal: Principal,
    *,
    category: str | None = None,
    national_id: str | None = None,
    limit: int = 500,
) -> list[CategoryMemberOut]:
    """Listed members (latest start first), each person shown audited."""
    q = select(CategoryMember)
    if category:
        q = q.where(CategoryMember.category == category)
    if national_id:
        found = await registry.person_ids_by_national_ids(session, [national_id])
        if national_id not in found:
            return []
        q = q.where(CategoryMember.person_id == found[national_id])
    rows = list(
        await session.scalars(
            q.order_by(CategoryMember.start_on.desc(), CategoryMember.id.desc()).limit(limit)
        )
    )
    briefs = await registry.person_briefs(session, [r.person_id for r in rows])
    await audit.record_listing(
        session, principal, [audit.Access(r.person_id) for r in rows], resource_type=RESOURCE
    )
    return [_out(r, getattr(briefs.get(r.person_id), "national_id", None)) for r in rows]


def listed_query(month: date) -> Select[tuple[int]]:
    """The people listed in a category for some day of ``month``, as a SELECT of person
    ids (to leave them out of a count in SQL: no list of ids is sent)."""
    return select(CategoryMember.person_id).where(
        CategoryMember.start_on < add_months(month, 1),
        or_(CategoryMember.end_on.is_(None), CategoryMember.end_on >= month),
    )


async def listed_in_month(
    session: AsyncSession, month: date, person_ids: list[int] | None = None
) -> set[int]:
    """The people listed in a category for some day of ``month`` (of ``person_ids``)."""
    end = add_months(month, 1)
    q = select(CategoryMember.person_id).where(
        CategoryMember.start_on < end,
        or_(CategoryMember.end_on.is_(None), CategoryMember.end_on >= month),
    )
    out: set[int] = set()
    if person_ids is None:
        return {int(p) for p in await session.scalars(q.distinct())}
    wanted = sorted(set(person_ids))
    for i in range(0, len(wanted), 2000):
        out |= {
            int(p)
            for p in await session.scalars(
                q.where(CategoryMember.person_id.in_(wanted[i : i + 2000])).distinct()
            )
        }
    return out


async def protected_in_month(session: AsyncSession, month: date, person_ids: list[int]) -> set[int]:
    """Which of ``person_ids`` the state pays for in ``month``: a derived category (a child
    or a pensioner on the month's first day, by the register) or a listed one."""
    rules = insurance_rules()
    derived = [c for c in rules.categories.values() if c.derived]
    briefs = await registry.person_briefs(session, person_ids)
    out = {
        pid
        for pid, b in briefs.items()
        if any(c.holds(b.birth_date, b.sex, month) for c in derived)
    }
    rest = [p for p in person_ids if p not in out]
    return out | (await listed_in_month(session, month, rest) if rest else set())


async def listed_periods(
    session: AsyncSession, person_ids: list[int]
) -> dict[int, list[tuple[date, date | None]]]:
    """Every listed membership of ``person_ids`` (start, end), one statement per 2,000."""
    out: dict[int, list[tuple[date, date | None]]] = {}
    wanted = sorted(set(person_ids))
    for i in range(0, len(wanted), 2000):
        rows = await session.execute(
            select(CategoryMember.person_id, CategoryMember.start_on, CategoryMember.end_on).where(
                CategoryMember.person_id.in_(wanted[i : i + 2000])
            )
        )
        for pid, start, end in rows:
            out.setdefault(int(pid), []).append((start, end))
    return out
