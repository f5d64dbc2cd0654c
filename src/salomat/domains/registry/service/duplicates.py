"""Duplicate candidates at registration: who already registered may be this person.

Looked for: the same national id; similar names across scripts and spelling
variants (skeletons, ``country.names``); the same or day/month-swapped birth
date. Each candidate gets a score from 0 to 1 and the reasons behind it.

Which registered people are scored at all follows the blocks of the batch
linkage (``linkage.py``), so that a registration costs a few indexed reads
however large the registry is: the same or day/month-swapped birth date with
the same family or given name skeleton; the same family skeleton born the
same month; or the same family and given name born within a year either
side. These are exactly the people whose ``score_pair`` can reach
``SHOW_FROM``: a birth date that is neither the same, nor swapped, nor in
the same month scores 0, and then only an identical name reaches 0.6. A
person whose family name was mistyped *and* whose birth date differs is not
found here (their score could not reach ``SHOW_FROM`` anyway). As in the
name search, every name given must match some part of the stored name, so
twins (one family name, one birth date) are not each other's candidates. The nightly
batch deduplication compares more widely. Before, a fuzzy search over every
name ran at each registration: 80 ms at the median with 1M people
(bench/search.py); then every namesake born within a year was scored, which
made a registration at 1M people twice as slow as at 100k.
"""

from __future__ import annotations

import calendar
from datetime import date

from rapidfuzz import fuzz
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.country import names
from salomat.domains.registry.models import Person
from salomat.domains.registry.schemas import Candidate, PersonIn
from salomat.domains.registry.service.people import audit_listing, person_out, visible
from salomat.domains.registry.service.search import name_similarity, swapped_day_month

__all__ = ["SHOW_FROM", "find_candidates", "score_pair"]

#: candidates below this score are not shown
SHOW_FROM = 0.6
_MAX = 10
#: at most this many people are scored (a block is a few dozen even nationally)
_BLOCK_LIMIT = 2000


def _ratio(a: str | None, b: str | None) -> float | None:
    if not a or not b:
        return None
    return fuzz.ratio(names.skeleton(a), names.skeleton(b)) / 100.0


def score_pair(new: PersonIn, old: Person) -> tuple[float, list[str]]:
    """How likely ``old`` is the person ``new`` describes (0-1), and why."""
    reasons: list[str] = []
    if new.national_id and old.national_id == new.national_id:
        return 1.0, ["same national id"]
    family = _ratio(new.family_name, old.family_name) or 0.0
    given = _ratio(new.given_name, old.given_name) or 0.0
    patronymic = _ratio(new.patronymic, old.patronymic)
    if patronymic is None:
        name = 0.55 * family + 0.45 * given
    else:
        name = 0.45 * family + 0.35 * given + 0.20 * patronymic
    if name >= 0.999:
        reasons.append("same name")
    elif name >= 0.75:
        reasons.append("similar name")
    if names.script_of(new.family_name) != old.name_script and name >= 0.75:
        reasons.append("written in the other script")
    if old.birth_date == new.birth_date:
        birth = 1.0
        reasons.append("same birth date")
    elif old.birth_date == swapped_day_month(new.birth_date):
        birth = 0.85
        reasons.append("birth date with day and month swapped")
    elif (
        old.birth_date.year == new.birth_date.year and old.birth_date.month == new.birth_date.month
    ):
        birth = 0.5
        reasons.append("born the same month")
    else:
        birth = 0.0
    score = 0.6 * name + 0.4 * birth
    if old.sex != new.sex:
        score -= 0.25
        reasons.append("other sex")
    if new.national_id and old.national_id and old.national_id != new.national_id:
        score -= 0.3
        reasons.append("another national id")
    return max(0.0, min(1.0, round(score, 3))), reasons


async def find_candidates(
    session: AsyncSession,
    principal: Principal,
    data: PersonIn,
    *,
    national_id_checked: bool = False,
) -> list[Candidate]:
    """Registered people who may be the one in ``data``, best first (audited as a search).

    ``national_id_checked``: the caller already knows no one holds the national id.
    """
    pool: dict[int, Person] = {}
    if data.national_id and not national_id_checked:
        same = await session.scalar(select(Person).where(Person.national_id == data.national_id))
        if same is not None:
            pool[same.id] = same
    family = names.skeleton(data.family_name)[:100]
    given = names.skeleton(data.given_name)
    days: list[date] = [data.birth_date]
    swapped = swapped_day_month(data.birth_date)
    if swapped:
        days.append(swapped)
    same_day = Person.birth_date.in_(days)
    if family or given:
        by_name = []
        if family:
            by_name.append(Person.family_key == family)
        if given:
            # skeletons are [a-z] only: nothing to escape
            by_name.append(Person.name_key.like(f"%{given}%"))
        same_day = and_(same_day, or_(*by_name))
    blocks = [same_day]
    if family:
        born = data.birth_date
        last = calendar.monthrange(born.year, born.month)[1]
        # born the same month: with a similar enough name the score can reach SHOW_FROM
        blocks.append(
            and_(
                Person.family_key == family,
                Person.birth_date.between(born.replace(day=1), born.replace(day=last)),
            )
        )
        if given:
            # any other birth date within a year scores 0 for it: only the same family and
            # given name can still reach SHOW_FROM (a 1M registry holds hundreds of one
            # family name in three years; scoring them all cost 30 ms a registration)
            blocks.append(
                and_(
                    Person.family_key == family,
                    Person.name_key.like(f"{family} {given}%"),
                    Person.birth_date.between(
                        date(max(born.year - 1, 1), 1, 1), date(born.year + 1, 12, 31)
                    ),
                )
            )
    found = await session.scalars(
        select(Person).where(Person.merged_into_id.is_(None), or_(*blocks)).limit(_BLOCK_LIMIT)
    )
    # as the name search does: every name given must match some part of the stored
    # name (twins share the family name and birth date, not the given name)
    tokens = [t for t in (family, given) if t]
    for p in found:
        if not tokens or name_similarity(tokens, p.name_key) > 0:
            pool.setdefault(p.id, p)
    scored = []
    for p in pool.values():
        if p.merged_into_id is not None:
            continue
        score, reasons = score_pair(data, p)
        if score >= SHOW_FROM:
            scored.append((p, score, reasons))
    scored.sort(key=lambda x: (-x[1], x[0].id))
    allowed = {p.id: s for p, s in await visible(session, principal, [p for p, _, _ in scored])}
    shown = [(p, sc, r) for p, sc, r in scored if p.id in allowed][:_MAX]
    await audit_listing(session, principal, [(p, allowed[p.id]) for p, _, _ in shown])
    return [
        Candidate(person=await person_out(session, p), score=sc, reasons=r) for p, sc, r in shown
    ]
