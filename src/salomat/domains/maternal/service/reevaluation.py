"""The nightly re-evaluation of current pregnancies.

Advice changes with time alone: a scheduled contact becomes overdue, the
HIV and syphilis tests fall due again at 29 weeks, an ultrasound stops
being useful at 24. ``evaluate`` runs only when the record changes, so a
woman not seen for weeks would keep her last contact's advice; the CLI
command ``salomat maternal reevaluate`` runs this over every current
pregnancy, batch by batch (keyset on the id), each batch one unit of work.

A pregnancy whose advice and risk come out as they are stored is left
alone: no new advice rows, no new version (an open form's If-Match stays
valid), no audit row. Only a changed one is stored through ``evaluate``
and audited as an update by the job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.domains.maternal.models import AdviceItem, Pregnancy
from salomat.domains.maternal.service import evaluation, rules, standing
from salomat.domains.maternal.service import pregnancy as preg

__all__ = ["ReevaluationBatch", "count_current", "reevaluate_current"]

#: who the audit names for the job's writes
JOB = "job:maternal-reevaluate"


@dataclass(frozen=True)
class ReevaluationBatch:
    #: the id to continue after; None when no current pregnancy was left
    last_id: int | None
    evaluated: int
    #: of those, how many changed risk level
    risk_changed: int
    #: how many got a new advice set (risk changed or not)
    updated: int


def _key(rule_id: str, code: str, values: Any, details: Any) -> tuple[str, str, str, str]:
    dump = json.dumps
    return rule_id, code, dump(values, sort_keys=True), dump(details, sort_keys=True)


async def count_current(session: AsyncSession) -> int:
    """How many pregnancies are current (for a progress bar)."""
    q = select(func.count()).select_from(Pregnancy).where(Pregnancy.status == "current")
    return int(await session.scalar(q) or 0)


async def _unchanged(session: AsyncSession, p: Pregnancy, today: date) -> bool:
    facts = preg._facts(p, await preg._contacts(session, p.id), today)
    if await evaluation.would_change(session, p, facts):
        return False
    country = preg._country()
    held = await evaluation.standing_of(session, p.id)
    advice = standing.with_standing(rules.evaluate(facts, country), held)
    if rules.risk(advice, country) != (p.risk_level, p.care_level):
        return False
    stored = await session.scalars(
        select(AdviceItem).where(AdviceItem.pregnancy_id == p.id, AdviceItem.active.is_(True))
    )
    old = sorted(_key(a.rule_id, a.code, a.values, a.details) for a in stored)
    new = sorted(
        _key(a.rule_id, a.code, preg._json(a.values), preg._json(a.details)) for a in advice
    )
    return old == new


async def reevaluate_current(
    session: AsyncSession, *, after_id: int = 0, limit: int = 500
) -> ReevaluationBatch:
    """Re-run the rules as of today over the next ``limit`` current pregnancies (by id)."""
    rows = list(
        await session.scalars(
            select(Pregnancy)
            .where(Pregnancy.status == "current", Pregnancy.id > after_id)
            .order_by(Pregnancy.id)
            .limit(limit)
        )
    )
    today = date.today()
    risk_changed = updated = 0
    for p in rows:
        if await _unchanged(session, p, today):
            continue
        before = p.risk_level
        await preg.evaluate(session, p)
        updated += 1
        risk_changed += int(p.risk_level != before)
        await audit.record(
            session,
            None,
            action="update",
            resource_type=preg.RESOURCE,
            resource_id=str(p.id),
            patient_id=p.person_id,
            purpose="nightly re-evaluation of the antenatal advice",
            username=JOB,
        )
    return ReevaluationBatch(rows[-1].id if rows else None, len(rows), risk_changed, updated)
