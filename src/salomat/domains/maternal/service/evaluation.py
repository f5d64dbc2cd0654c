"""Evaluating a pregnancy: the rules over its history, the diagnoses that stand, the risk.

Split from ``pregnancy`` (the register's use cases), which calls ``evaluate``
after every write; the nightly re-evaluation and the worklists read the same
facts through ``_facts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import PreconditionFailed
from salomat.domains.maternal.models import AdviceItem, AntenatalContact, Diagnosis, Pregnancy
from salomat.domains.maternal.schemas import DiagnosisOut
from salomat.domains.maternal.service import dating, external_readings, rules, standing

__all__ = ["evaluate", "ga_on"]


def _country() -> str:
    return get_settings().country


def _start(p: Pregnancy) -> date:
    """Day 0 of gestation as dated (EDD - 280 days)."""
    return p.edd - timedelta(days=dating.PREGNANCY_DAYS)


def ga_on(p: Pregnancy, day: date) -> int:
    return (day - _start(p)).days


async def _contacts(session: AsyncSession, pregnancy_id: int) -> list[AntenatalContact]:
    rows = await session.execute(
        select(AntenatalContact)
        .where(AntenatalContact.pregnancy_id == pregnancy_id)
        .order_by(AntenatalContact.on, AntenatalContact.id)
    )
    return list(rows.scalars())


async def _save(session: AsyncSession, p: Pregnancy) -> None:
    p.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The pregnancy record changed while you edited it; reload.") from e


def _facts(
    p: Pregnancy, contacts: list[Any], today: date, external: Sequence[Any] = ()
) -> rules.Facts:
    """The rules' facts: the contacts, with other systems' readings (``external``, rows
    of ``ExternalReading``) as readings of their day (``external_readings.merge``)."""

    def readings(*vs: Any) -> tuple[Any, ...]:
        return tuple(v for v in vs if v is not None)

    cf = tuple(
        rules.ContactFacts(
            on=c.on,
            ga_days=c.ga_days,
            systolic=readings(c.systolic_1, c.systolic_2),
            diastolic=readings(c.diastolic_1, c.diastolic_2),
            temperature_c=readings(c.temperature_c_1, c.temperature_c_2),
            pulse=readings(c.pulse_1, c.pulse_2),
            spo2=c.spo2,
            fetal_heart_rate=readings(c.fetal_heart_rate_1, c.fetal_heart_rate_2),
            fetal_heartbeat_absent=c.fetal_heartbeat_absent,
            urine_protein=c.urine_protein,
            haemoglobin_g_l=c.haemoglobin_g_l,
            pallor=c.pallor,
            fasting_glucose_mmol_l=c.fasting_glucose_mmol_l,
            ogtt_1h_mmol_l=c.ogtt_1h_mmol_l,
            ogtt_2h_mmol_l=c.ogtt_2h_mmol_l,
            random_glucose_mmol_l=c.random_glucose_mmol_l,
            danger_signs=frozenset(c.danger_signs or ()),
            symptoms=frozenset(c.symptoms or ()),
            ultrasound_done=c.ultrasound_done,
            hiv_test_done=c.hiv_test_done,
            syphilis_test_done=c.syphilis_test_done,
            hiv_positive=c.hiv_positive,
        )
        for c in contacts
    )
    cf = external_readings.merge(cf, external, lambda day: ga_on(p, day))
    return rules.Facts(
        today=today,
        age_years=p.age_years,
        ga_days=ga_on(p, today),
        gravida=p.gravida,
        parity=p.parity,
        previous_caesarean=p.previous_caesarean,
        previous_pre_eclampsia=p.previous_pre_eclampsia,
        previous_pph=p.previous_pph,
        previous_instrumental_birth=p.previous_instrumental_birth,
        previous_convulsions=p.previous_convulsions,
        previous_severe_tear=p.previous_severe_tear,
        multiple_pregnancy=p.multiple_pregnancy,
        # as the latest contact found it: a presentation changes until term
        abnormal_presentation=bool(contacts and contacts[-1].abnormal_presentation),
        conditions=frozenset(p.conditions or ()),
        contacts=cf,
        first_contact_on=contacts[0].on if contacts else None,
        registered_on=p.registered_on,
    )


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_json(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return value


async def evaluate(
    session: AsyncSession, p: Pregnancy, *, contact_id: int | None = None
) -> list[rules.Advice]:
    """Run the rules over the pregnancy as of today; store the advice and the risk.

    The diagnoses each contact gave stand (``standing``) until a clinician
    resolves them: they join the latest contact's advice, and the risk level and
    level of care come from both. The previous active advice is retired (kept,
    ``active = false``), so the record shows what was advised when.
    """
    contacts = await _contacts(session, p.id)
    external = (await external_readings.readings_of(session, [p.id]))[p.id]
    today = min(date.today(), p.closed_on or date.today())
    country = _country()
    facts = _facts(p, contacts, today, external)
    held, resolved = await _reconcile(session, p, contacts, facts)
    recorded = entry_times(facts, contacts)
    latest = recorded[-1] if recorded else None
    current = standing.without_resolved(rules.evaluate(facts, country), latest, resolved)
    advice = standing.with_standing(current, held)
    risk_level, care_level = rules.risk(advice, country)
    await session.execute(
        update(AdviceItem)
        .where(AdviceItem.pregnancy_id == p.id, AdviceItem.active.is_(True))
        .values(active=False)
    )
    now = utcnow()
    session.add_all(
        AdviceItem(
            pregnancy_id=p.id,
            person_id=p.person_id,
            contact_id=contact_id,
            rule_id=a.rule_id,
            code=a.code,
            values=_json(a.values),
            details=_json(a.details),
            action=a.action,
            urgency=a.urgency,
            source=a.source,
            created_at=now,
            active=True,
        )
        for a in advice
    )
    p.risk_level, p.care_level = risk_level, care_level
    p.evaluated_at = now
    await _save(session, p)
    return advice


def entries(facts: rules.Facts, contacts: Sequence[Any]) -> list[Any]:
    """The contact of each of ``facts.contacts`` (None for a day of other systems' readings
    only), in their order."""
    it = iter(contacts)
    return [None if f.external else next(it) for f in facts.contacts]


def entry_times(facts: rules.Facts, contacts: Sequence[Any]) -> list[datetime]:
    """When each entry of ``facts.contacts`` was known: its contact's recording, or the
    latest taking of another system's reading in it, whichever is later."""
    out = []
    for f, c in zip(facts.contacts, entries(facts, contacts), strict=True):
        times = [s.taken_at for s in f.sources] + ([c.recorded_at] if c is not None else [])
        out.append(max(times))
    return out


async def _diagnoses(session: AsyncSession, pregnancy_id: int) -> list[Diagnosis]:
    rows = await session.scalars(
        select(Diagnosis).where(Diagnosis.pregnancy_id == pregnancy_id).order_by(Diagnosis.id)
    )
    return list(rows)


def _standing_state(rows: list[Diagnosis]) -> tuple[dict[str, Diagnosis], dict[str, datetime]]:
    active = {d.family: d for d in rows if d.status == "active"}
    resolved: dict[str, datetime] = {}
    for d in rows:
        if d.status == "resolved" and d.resolved_at is not None:
            resolved[d.family] = max(resolved.get(d.family, d.resolved_at), d.resolved_at)
    return active, resolved


def _advice_columns(a: rules.Advice) -> dict[str, Any]:
    return {
        "code": a.code,
        "rule_id": a.rule_id,
        "values": _json(a.values),
        "action": a.action,
        "urgency": a.urgency,
        "source": a.source,
    }


async def _reconcile(
    session: AsyncSession, p: Pregnancy, contacts: list[AntenatalContact], facts: rules.Facts
) -> tuple[list[Diagnosis], dict[str, datetime]]:
    """Store what the history gives that the standing diagnoses lack; return those standing
    and when each family was last resolved.

    The pregnancy row is locked first (PostgreSQL, ``FOR NO KEY UPDATE``: the lock an
    update of it takes, which a contact's foreign-key check does not block), so two
    evaluations of one pregnancy at once (a clinician's contact and the nightly job)
    read the diagnoses one after the other: the second sees the first's rows and adds
    none twice, then fails on the pregnancy's version and is retried. SQLite ignores
    the lock (its transactions read before they write): there the unique index
    refuses the second row, and that is answered as a stale version too.
    """
    await session.execute(
        select(Pregnancy.id).where(Pregnancy.id == p.id).with_for_update(key_share=True)
    )
    active, resolved = _standing_state(await _diagnoses(session, p.id))
    changes = standing.plan(
        standing.findings_by_contact(facts), entry_times(facts, contacts), active, resolved
    )
    now = utcnow()
    aligned = entries(facts, contacts)
    for ch in changes:
        # a finding comes from a contact's entry (``findings_by_contact``), never None
        given_by = aligned[ch.contact_index]
        if ch.existing is None:
            first = aligned[ch.first_index]
            d = Diagnosis(
                pregnancy_id=p.id,
                person_id=p.person_id,
                family=ch.family,
                first_contact_id=first.id,
                first_on=first.on,
                contact_id=given_by.id,
                raised_at=now,
                status="active",
                **_advice_columns(ch.advice),
            )
            session.add(d)
            active[ch.family] = d
        else:
            d = ch.existing
            for k, v in _advice_columns(ch.advice).items():
                setattr(d, k, v)
            d.contact_id = given_by.id
    if changes:
        try:
            await session.flush()
        except IntegrityError as e:  # SQLite: another evaluation stored it first
            raise PreconditionFailed(
                "The pregnancy record changed while it was evaluated; reload and retry."
            ) from e
    return list(active.values()), resolved


def diagnoses_out(rows: list[Diagnosis], contacts: list[AntenatalContact]) -> list[DiagnosisOut]:
    """Standing first, then resolved, each oldest first; with the contact's number."""
    number = {c.id: i + 1 for i, c in enumerate(sorted(contacts, key=lambda c: (c.ga_days, c.id)))}
    out = []
    for d in sorted(rows, key=lambda d: (d.status != "active", d.first_on, d.id)):
        o = DiagnosisOut.model_validate(d)
        o.kind = "diagnosis" if d.family in standing.CONDITION_FAMILIES else "finding"
        o.first_contact_number = number.get(d.first_contact_id)
        out.append(o)
    return out
