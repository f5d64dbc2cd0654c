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
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import Boolean, String, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from salomat.core import audit
from salomat.core.security import Principal
from salomat.country import names
from salomat.domains.registry.models import Person
from salomat.domains.registry.schemas import Candidate, PersonIn
from salomat.domains.registry.service.people import (
    _CODES,
    RESOURCE,
    Codes,
    person_out,
    visible,
)
from salomat.domains.registry.service.search import name_similarity, swapped_day_month

__all__ = ["SHOW_FROM", "candidates_unaudited", "find_candidates", "score_pair"]

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


class _Holds(FunctionElement[bool]):
    """``text`` occurs in ``column``: ``LIKE '%text%'`` that no index answers.

    The block it sits in is a birth date's few dozen people; a planner without
    statistics otherwise took the trigram index for it and read every namesake of the
    country (a given name is shared by thousands) to keep the four born that day.
    """

    type = Boolean()
    inherit_cache = True


@compiles(_Holds)
def _holds_default(element: _Holds, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = element.clauses
    return f"instr({compiler.process(column, **kw)}, {compiler.process(value, **kw)}) > 0"


@compiles(_Holds, "postgresql")
def _holds_postgresql(element: _Holds, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = element.clauses
    return f"strpos({compiler.process(column, **kw)}, {compiler.process(value, **kw)}) > 0"


def _holds(column: Any, text: str) -> Any:
    return _Holds(column, literal(text, String))


def _blocks(data: PersonIn) -> tuple[list[Any], list[str]]:
    """The blocks of people worth scoring against ``data`` (see the module's docstring),
    and the name skeletons every candidate's name must match."""
    family = names.skeleton(data.family_name)[:100]
    given = names.skeleton(data.given_name)
    days: list[date] = [data.birth_date]
    swapped = swapped_day_month(data.birth_date)
    if swapped:
        days.append(swapped)
    same_day = Person.birth_date.in_(days)
    # each block carries its own indexed condition (the birth date with each name): as
    # "same day and (family or given)", a planner read "given anywhere in the name" on
    # its own and fetched every namesake in the country to filter them by birth date
    blocks: list[Any] = []
    if family:
        blocks.append(and_(Person.family_key == family, same_day))
    if given:
        blocks.append(and_(same_day, _holds(Person.name_key, given)))
    if not blocks:
        blocks.append(same_day)
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
    return blocks, [t for t in (family, given) if t]


async def candidates_unaudited(
    session: AsyncSession,
    principal: Principal,
    data: PersonIn,
    *,
    national_id_checked: bool = False,
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """``find_candidates`` without writing its audit rows: they are returned, queued to
    survive a rollback (``audit.keep``), for the caller to write in the same transaction
    before it answers (a registration writes them with its create row, in one insert).

    One statement finds the block and the codes each candidate is shown with. Which
    people are merged away is left to Python: a ``merged_into_id IS NULL`` condition
    in SQL let a planner without statistics walk that index over the whole registry.
    """
    pool: dict[int, tuple[Person, Codes]] = {}
    if data.national_id and not national_id_checked:
        same = (
            await session.execute(
                select(Person, *_CODES).where(Person.national_id == data.national_id)
            )
        ).first()
        if same is not None:
            pool[same[0].id] = (same[0], (same[1], same[2], same[3]))
    blocks, tokens = _blocks(data)
    # merged records are left out in SQL too, so they never take a place under the
    # limit; through an expression no index has, so that a planner without statistics
    # still reads by the blocks, not by the merged_into_id index
    found = await session.execute(
        select(Person, *_CODES)
        .where(or_(*blocks), func.coalesce(Person.merged_into_id, 0) == 0)
        .limit(_BLOCK_LIMIT)
    )
    # as the name search does: every name given must match some part of the stored
    # name (twins share the family name and birth date, not the given name)
    for p, *codes in found:
        if not tokens or name_similarity(tokens, p.name_key) > 0:
            pool.setdefault(p.id, (p, (codes[0], codes[1], codes[2])))
    scored = []
    for p, codes in pool.values():
        if p.merged_into_id is not None:
            continue
        score, reasons = score_pair(data, p)
        if score >= SHOW_FROM:
            scored.append((p, codes, score, reasons))
    scored.sort(key=lambda x: (-x[2], x[0].id))
    allowed = {}
    if scored:
        allowed = {p.id: s for p, s in await visible(session, principal, [p for p, *_ in scored])}
    shown = [c for c in scored if c[0].id in allowed][:_MAX]
    rows = audit.listing_rows(
        principal,
        [
            audit.Access(p.id, allowed[p.id].reason, allowed[p.id].break_glass_grant)
            for p, *_ in shown
        ],
        resource_type=RESOURCE,
    )
    audit.keep(session, rows)
    return [
        Candidate(person=await person_out(session, p, codes=codes), score=sc, reasons=r)
        for p, codes, sc, r in shown
    ], rows


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
    found, rows = await candidates_unaudited(
        session, principal, data, national_id_checked=national_id_checked
    )
    await audit.write(session, rows)
    return found
