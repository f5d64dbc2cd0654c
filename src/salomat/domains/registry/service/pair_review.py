"""Reviewing the duplicate pairs that linkage found: the list, and a pair marked distinct."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, InvalidState, NotFound
from salomat.core.pagination import Page, PageParams
from salomat.core.policy import person_scope
from salomat.core.security import Principal
from salomat.domains.registry.models import DuplicatePair, Merge, Person
from salomat.domains.registry.schemas import DuplicatePairOut, PairStatus, PersonIn
from salomat.domains.registry.service.duplicates import score_pair
from salomat.domains.registry.service.merge import _in_scope
from salomat.domains.registry.service.people import RESOURCE, person_out

__all__ = [
    "list_pairs",
    "mark_distinct",
    "open_pair_people",
]


async def _pair_out(
    session: AsyncSession, pair: DuplicatePair, a: Person, b: Person
) -> DuplicatePairOut:
    score, reasons = score_pair(
        PersonIn.model_construct(
            national_id=a.national_id,
            family_name=a.family_name,
            given_name=a.given_name,
            patronymic=a.patronymic,
            birth_date=a.birth_date,
            sex=a.sex,
        ),
        b,
    )
    merge_id = None
    if pair.status == "merged":
        merge_id = await session.scalar(
            select(Merge.id)
            .where(
                Merge.undone_at.is_(None),
                or_(
                    and_(Merge.survivor_id == a.id, Merge.merged_id == b.id),
                    and_(Merge.survivor_id == b.id, Merge.merged_id == a.id),
                ),
            )
            .order_by(Merge.id.desc())
            .limit(1)
        )
    return DuplicatePairOut(
        id=pair.id,
        merge_id=merge_id,
        person_a=await person_out(session, a),
        person_b=await person_out(session, b),
        probability=pair.probability,
        score=score,
        reasons=reasons,
        status=pair.status,  # type: ignore[arg-type]
        run_id=pair.run_id,
        found_at=pair.found_at,
        reviewed_by=pair.reviewed_by,
        reviewed_at=pair.reviewed_at,
    )


async def list_pairs(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    status: PairStatus = "open",
) -> Page[DuplicatePairOut]:
    """Pairs to review, most likely first; open pairs only between live (unmerged) records.

    Each person shown is audited as a read for the duplicate review.
    """
    pa, pb = aliased(Person), aliased(Person)
    where = [DuplicatePair.status == status]
    if status == "open":
        where += [pa.merged_into_id.is_(None), pb.merged_into_id.is_(None)]
    base = (
        select(DuplicatePair, pa, pb)
        .join(pa, pa.id == DuplicatePair.person_a_id)
        .join(pb, pb.id == DuplicatePair.person_b_id)
        .where(and_(*where))
    )
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = (
        await session.execute(
            base.order_by(DuplicatePair.probability.desc(), DuplicatePair.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    items = []
    for pair, a, b in rows:
        scopes = [await person_scope(session, principal, p.id) for p in (a, b)]
        if None in scopes:
            continue
        for p, scope in zip((a, b), scopes, strict=True):
            assert scope is not None
            await audit.record(
                session,
                principal,
                action="read",
                resource_type=RESOURCE,
                resource_id=str(p.id),
                patient_id=p.id,
                purpose=f"duplicate review ({scope.reason})",
                break_glass_grant=scope.break_glass_grant,
            )
        items.append(await _pair_out(session, pair, a, b))
    return Page[DuplicatePairOut](
        items=items, total=int(total or 0), limit=page.limit, offset=page.offset
    )


async def open_pair_people(session: AsyncSession, pair_id: int) -> tuple[int, int]:
    """The two person ids of an open pair, for a page to check a posted form against.

    No person data is read (nothing to audit); a pair already reviewed is refused as
    ``mark_distinct`` refuses it.
    """
    pair = await session.get(DuplicatePair, pair_id)
    if pair is None:
        raise NotFound(f"Duplicate pair {pair_id} not found.")
    if pair.status != "open":
        raise InvalidState(
            N_("Duplicate pair %(id)s was already reviewed."), params={"id": pair_id}
        )
    return pair.person_a_id, pair.person_b_id


async def mark_distinct(
    session: AsyncSession, principal: Principal, pair_id: int
) -> DuplicatePairOut:
    """A registrar checked: two different people. Later linkage runs leave the pair alone."""
    pair = await session.get(DuplicatePair, pair_id, with_for_update=True)
    if pair is None:
        raise NotFound(f"Duplicate pair {pair_id} not found.")
    if pair.status != "open":
        raise InvalidState(
            N_("Duplicate pair %(id)s was already reviewed."), params={"id": pair_id}
        )
    for pid in (pair.person_a_id, pair.person_b_id):
        await _in_scope(session, principal, pid)
    pair.status, pair.reviewed_by, pair.reviewed_at = "distinct", principal.username, utcnow()
    await session.flush()
    for pid in (pair.person_a_id, pair.person_b_id):
        await audit.record(
            session,
            principal,
            action="update",
            resource_type="DuplicatePair",
            resource_id=str(pair.id),
            patient_id=pid,
            purpose="duplicate review: distinct people",
        )
    a = await session.get(Person, pair.person_a_id)
    b = await session.get(Person, pair.person_b_id)
    assert a is not None
    assert b is not None
    return await _pair_out(session, pair, a, b)
