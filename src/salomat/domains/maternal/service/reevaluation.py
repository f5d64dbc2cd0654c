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
from salomat.domains.maternal.models import AdviceItem, Diagnosis, Pregnancy
from salomat.domains.maternal.service import (
    evaluation,
    external_readings,
    rules,
    standing,
    worklists,
)
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


def _unchanged(
    p: Pregnancy,
    contacts: list[Any],
    diagnoses: list[Diagnosis],
    stored: list[Any],
    today: date,
    country: str,
    external: list[Any] | None = None,
) -> bool:
    """Whether the rules give what is stored: no new standing diagnosis, the same advice
    (rule, code, values, details) and the same risk and care level. Pure: the batch's
    rows are read set-wise by the caller. ``external``: the pregnancy's readings from
    other systems, as ``evaluate`` reads them."""
    facts = preg._facts(p, contacts, today, external or ())
    active, resolved = evaluation._standing_state(diagnoses)
    recorded = evaluation.entry_times(facts, contacts)
    if standing.plan(standing.findings_by_contact(facts), recorded, active, resolved):
        return False
    latest = recorded[-1] if recorded else None
    current = standing.without_resolved(rules.evaluate(facts, country), latest, resolved)
    advice = standing.with_standing(current, active.values())
    if rules.risk(advice, country) != (p.risk_level, p.care_level):
        return False
    old = sorted(_key(a.rule_id, a.code, a.values, a.details) for a in stored)
    new = sorted(
        _key(a.rule_id, a.code, preg._json(a.values), preg._json(a.details)) for a in advice
    )
    return old == new


async def _by_pregnancy(session: AsyncSession, model: Any, ids: list[int], *where: Any) -> dict:
    out: dict[int, list[Any]] = {pid: [] for pid in ids}
    if ids:
        q = select(model).where(model.pregnancy_id.in_(ids), *where).order_by(model.id)
        for row in (await session.execute(q)).scalars():
            out[row.pregnancy_id].append(row)
    return out


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
    country = preg._country()
    ids = [p.id for p in rows]
    # the batch's contacts, other systems' readings, diagnoses and active advice in four
    # reads, not four a woman
    contacts = await worklists._contacts_of(session, ids)
    external = await external_readings.readings_of(session, ids)
    diagnoses = await _by_pregnancy(session, Diagnosis, ids)
    advice = await _by_pregnancy(session, AdviceItem, ids, AdviceItem.active.is_(True))
    risk_changed = updated = 0
    for p in rows:
        if _unchanged(
            p, contacts[p.id], diagnoses[p.id], advice[p.id], today, country, external[p.id]
        ):
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
