"""Data steps of the maternal migrations that need the rules (pure code, a sync connection).

Tables are reflected from the database as the migration finds it, so a column
added by a later revision does not break an older revision's step.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.domains.maternal.service import rules, standing
from salomat.domains.maternal.service.evaluation import _facts, _json

__all__ = ["backfill_standing"]

_BATCH = 500


def _kept_from_earlier_rules(
    changes: list[standing.Change], earlier: list[Any], contacts: list[Any]
) -> list[rules.Advice]:
    """What the rules before this revision advised and the replay does not give: kept.

    The earlier rules over-classified some women (pressure components mixed across
    readings; protein ++ with no severe feature called severe pre-eclampsia). Dropping
    what they said would lower a risk level with no clinician seeing it, so a family the
    replay lacks is added from the stored advice, and one the replay gives milder is
    raised to the stored code; a clinician resolves it (ruled out) if it was wrong.
    Changes ``changes`` in place; returns the advice it kept (for the risk).
    """
    by_family = {ch.family: ch for ch in changes}
    kept: list[rules.Advice] = []
    for a in earlier:
        family = standing.FAMILY_OF[a.code]
        old = rules.Advice(
            a.rule_id,
            a.code,
            {**(a.values or {}), "stored_by_earlier_rules": True},
            a.action,
            a.urgency,
            a.source,
        )
        ch = by_family.get(family)
        given = next((i for i, c in enumerate(contacts) if c.id == a.contact_id), len(contacts) - 1)
        if ch is None:
            ch = standing.Change(family, old, given, given)
            changes.append(ch)
            by_family[family] = ch
            kept.append(old)
        elif standing.severity(a.code) > standing.severity(ch.advice.code):
            ch.advice, ch.contact_index = old, given
            kept.append(old)
    return kept


def backfill_standing(conn: sa.Connection, only: list[int] | None = None) -> tuple[int, int]:
    """Replay every pregnancy's contacts; store the diagnoses that stand; raise the risk.

    A pregnancy that has diagnosis rows already is left alone, so a second run stores
    nothing twice. ``only`` limits it to those pregnancy ids. Returns (pregnancies whose
    risk level or level of care was raised, diagnoses stored).
    """
    md = sa.MetaData()
    preg = sa.Table("pregnancy", md, autoload_with=conn)
    contact = sa.Table("antenatal_contact", md, autoload_with=conn)
    diagnosis = sa.Table("antenatal_diagnosis", md, autoload_with=conn)
    advice = sa.Table("antenatal_advice", md, autoload_with=conn)
    country = get_settings().country
    levels = rules.RISK_LEVELS
    raised = stored = 0
    after = 0
    now = utcnow()
    while True:
        q = sa.select(preg).where(preg.c.id > after)
        if only is not None:
            q = q.where(preg.c.id.in_(only))
        batch = list(conn.execute(q.order_by(preg.c.id).limit(_BATCH)))
        if not batch:
            return raised, stored
        after = batch[-1].id
        done = set(
            conn.execute(
                sa.select(diagnosis.c.pregnancy_id).where(
                    diagnosis.c.pregnancy_id.in_([p.id for p in batch])
                )
            ).scalars()
        )
        batch = [p for p in batch if p.id not in done]
        by_preg: dict[int, list[Any]] = {p.id: [] for p in batch}
        for c in conn.execute(
            sa.select(contact)
            .where(contact.c.pregnancy_id.in_(list(by_preg) or [0]))
            .order_by(contact.c.on, contact.c.id)
        ):
            by_preg[c.pregnancy_id].append(c)
        earlier: dict[int, list[Any]] = {pid: [] for pid in by_preg}
        for a in conn.execute(
            sa.select(advice)
            .where(advice.c.pregnancy_id.in_(list(by_preg) or [0]), advice.c.active.is_(True))
            .order_by(advice.c.id)
        ):
            if a.code in standing.FAMILY_OF:
                earlier[a.pregnancy_id].append(a)
        rows: list[dict[str, Any]] = []
        for p in batch:
            contacts = by_preg[p.id]
            if not contacts:
                continue
            today = min(date.today(), p.closed_on or date.today())
            facts = _facts(p, contacts, today)
            changes = standing.plan(
                standing.findings_by_contact(facts), [c.recorded_at for c in contacts], {}, {}
            )
            kept = _kept_from_earlier_rules(changes, earlier[p.id], contacts)
            for ch in changes:
                first, given_by = contacts[ch.first_index], contacts[ch.contact_index]
                a = ch.advice
                rows.append(
                    {
                        "pregnancy_id": p.id,
                        "person_id": p.person_id,
                        "family": ch.family,
                        "code": a.code,
                        "rule_id": a.rule_id,
                        "values": _json(a.values),
                        "action": a.action,
                        "urgency": a.urgency,
                        "source": a.source,
                        "first_contact_id": first.id,
                        "first_on": first.on,
                        "contact_id": given_by.id,
                        "raised_at": now,
                        "status": "active",
                    }
                )
            if not changes:
                continue
            level, care = rules.risk([ch.advice for ch in changes] + kept, country)
            old_level = p.risk_level if p.risk_level in levels else "low"
            new_level = max(old_level, level, key=levels.index)
            new_care = max(p.care_level or 1, care)
            if (new_level, new_care) != (p.risk_level, p.care_level):
                conn.execute(
                    preg.update()
                    .where(preg.c.id == p.id)
                    .values(risk_level=new_level, care_level=new_care)
                )
                raised += 1
        if rows:
            conn.execute(diagnosis.insert(), rows)
            stored += len(rows)
