"""Notifications in, tumours out: every source's report is checked (IARC), kept as it
came, and consolidated into the person's primary tumours by the IARC/IACR 2004 rules;
what the rules cannot place waits for the registrar.

A tumour is rebuilt from all its notifications whenever one joins (``refresh``): its
codes from the most specific and most valid report, its basis the most valid of all,
its date of incidence by the ENCR hierarchy. The person's row is held while her tumours
are read and written, so two reports of one cancer arriving at once make one tumour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Forbidden, Invalid, InvalidState, NotFound
from salomat.core.policy import allowed, require_person
from salomat.core.security import Principal
from salomat.domains.cancer.models import CancerNotification, CancerTreatment, CancerTumour
from salomat.domains.cancer.schemas import (
    DecisionIn,
    NotificationIn,
    NotificationOut,
    NotifyResult,
    StageIn,
)
from salomat.domains.cancer.service import checks, icdo3, incidence, primaries
from salomat.domains.cancer.service.common import (
    cancer_rules,
    next_follow_up,
    notification_out,
    tumour_out,
)
from salomat.domains.registry import service as registry

__all__ = [
    "REGISTRAR_ROLE",
    "SYSTEM",
    "decide_notification",
    "get_notification",
    "notify",
    "record_death_certificate",
    "refresh",
]

#: who confirms rare combinations and decides what the rules cannot
REGISTRAR_ROLE = "cancer_registrar"
#: the reporter of notifications the platform makes itself (death certificates)
SYSTEM = "registry"
_DATE_LEVEL = {"microscopic": 1, "admission": 2, "outpatient": 3, "diagnosis": 4}
#: the ENCR levels of a death: known at autopsy (5) or from the certificate only (6)
DCO_LEVEL = 6
_DECISION_BY_RULES = "rules"
#: the decisions that made a tumour (a replayed report says whether it did)
NEW_PRIMARY_REASONS = frozenset(
    {"first_tumour", "different_organ", "different_histology", "registrar_new_primary"}
)
#: most valid first (IARC): histology of the primary ... clinical, unknown, DCO
_BASIS_RANK = {7: 7, 6: 6, 5: 5, 4: 4, 2: 3, 1: 2, 9: 1, 0: 0}


@dataclass(frozen=True)
class Parsed:
    topography: str
    morphology: icdo3.Morphology
    basis: int


def _message(msgid: str, params: dict[str, Any]) -> str:
    text = i18n.gettext(msgid)
    try:
        return text % params if params else text
    except (KeyError, ValueError, TypeError):
        return msgid % params if params else msgid


def parse_codes(topography: str, morphology: str, basis: int) -> Parsed:
    """The three codes, every wrong one named in one refusal."""
    errors: list[FieldError] = []
    parsed: dict[str, Any] = {}
    for name, fn, value in (
        ("topography", icdo3.topography, topography),
        ("morphology", icdo3.morphology, morphology),
        ("basis", incidence.basis, basis),
    ):
        try:
            parsed[name] = fn(value, name)
        except Invalid as e:
            errors += e.errors
    if errors:
        raise Invalid.fields(errors)
    return Parsed(parsed["topography"], parsed["morphology"], parsed["basis"])


def _check_confirm(principal: Principal | None, confirm: Sequence[str]) -> None:
    if confirm and (principal is None or principal.role != REGISTRAR_ROLE):
        raise Invalid.fields(
            [FieldError("confirm", N_("only the cancer registry confirms a rare combination"))]
        )


async def _tumour_keys(session: AsyncSession, person_id: int) -> list[CancerTumour]:
    return list(
        await session.scalars(
            select(CancerTumour)
            .where(CancerTumour.person_id == person_id)
            .order_by(CancerTumour.incidence_date, CancerTumour.id)
        )
    )


def _histology_rank(n: CancerNotification) -> tuple[int, int, int, datetime]:
    """Which report's morphology the tumour takes: a specific histology over an
    unspecified one (groups 5, 17), then the most valid basis, then invasive over in
    situ, then the latest."""
    group = icdo3.histology_group(n.histology)
    return (0 if group in (5, 17) else 1, _BASIS_RANK[n.basis], n.behaviour, n.received_at)


def _site_rank(n: CancerNotification) -> tuple[int, int, int, datetime]:
    """Which report's topography the tumour takes, chosen apart from the morphology: a
    known site over C80.9 (a biopsy of a metastasis attached to its primary does not make
    the primary's site unknown), a sub-site over .8/.9, then basis, then the latest."""
    return (
        0 if n.topography == primaries.UNKNOWN_PRIMARY else 1,
        0 if n.topography.endswith((".8", ".9")) else 1,
        _BASIS_RANK[n.basis],
        n.received_at,
    )


def confirmation_key(topography: str, morphology: icdo3.Morphology, age: int) -> str:
    """What a confirmation was given for: a later change of the codes or the age asks
    for a new one."""
    return f"{topography}|{morphology.code}|{age}"


async def refresh(
    session: AsyncSession,
    t: CancerTumour,
    facts: registry.PersonFacts,
    *,
    incoming: CancerNotification | None = None,
    strict: bool = False,
    today: date | None = None,
) -> list[checks.Finding]:
    """Rebuild the tumour from its notifications; return the rare checks still open.

    ``incoming``: the report that just joined (its stage, if it has one, is the news; a
    stage the oncologist corrected stays otherwise). ``strict``: refuse codes the checks
    find invalid (a registrar's decision); the death's own path never refuses."""
    notes = list(
        await session.scalars(
            select(CancerNotification).where(
                CancerNotification.tumour_id == t.id,
                CancerNotification.status == "consolidated",
            )
        )
    )
    morph_from = max(notes, key=_histology_rank)
    site_from = max(notes, key=_site_rank)
    morph = icdo3.Morphology(morph_from.histology, morph_from.behaviour)
    topography = site_from.topography
    t.topography, t.histology, t.behaviour = topography, morph.histology, morph.behaviour
    if t.grade in (None, 9):
        # a known grade (1-8) of the most valid report that gives one; 9 is "unknown"
        graded = sorted((n for n in notes if n.grade is not None), key=_histology_rank)
        known = [n.grade for n in graded if n.grade != 9]
        t.grade = known[-1] if known else (9 if graded else t.grade)
    if t.laterality in (None, 9) and site_from.laterality is not None:
        t.laterality = site_from.laterality
    t.icd10 = icdo3.icd10_of(topography, morph)
    t.organ = icdo3.organ(topography)
    t.histology_group = icdo3.histology_group(morph.histology)
    t.basis = incidence.best_basis(n.basis for n in notes)
    t.incidence_date, t.incidence_level = incidence.incidence(
        (n.date_level, n.diagnosed_on) for n in notes
    )
    t.age = registry.age_on(facts.birth_date, t.incidence_date)
    staged = [n for n in notes if n.stage_group or n.tnm_t]
    news = incoming if incoming is not None and incoming in staged else None
    if news is None and staged and not (t.stage_group or t.tnm_t):
        # the stage at diagnosis: the earliest staged report
        news = min(staged, key=lambda n: (n.diagnosed_on, n.received_at))
    if news is not None:
        t.tnm_edition, t.tnm_t, t.tnm_n, t.tnm_m = (
            news.tnm_edition, news.tnm_t, news.tnm_n, news.tnm_m,
        )  # fmt: skip
        t.stage_group = news.stage_group
    if facts.deceased_on is not None:
        t.vital_status, t.death_date = "dead", max(facts.deceased_on, t.incidence_date)
        t.death_cause = facts.death_cause
    contacts = [n.diagnosed_on for n in notes if n.source != "death_certificate"]
    last = max([t.last_contact_on or t.incidence_date, *contacts])
    t.last_contact_on = last
    t.next_follow_up_on = (
        None if t.vital_status == "dead" else next_follow_up(t.incidence_date, last, cancer_rules())
    )
    findings = checks.check(
        sex=facts.sex,
        birth_date=facts.birth_date,
        incidence_date=t.incidence_date,
        death_date=facts.deceased_on,
        topography=topography,
        morphology=morph,
        today=today or date.today(),
    )
    bad = checks.invalid(findings)
    if strict and bad:
        raise Invalid.fields([FieldError(f.field, f.message, f.params) for f in bad])
    key = confirmation_key(topography, morph, t.age)
    confirmed = {c["rule"] for c in t.confirmations or [] if c.get("for", key) == key}
    pending = sorted({f.rule for f in checks.rare(findings)} - confirmed)
    t.pending_checks = pending
    t.status = "to_confirm" if pending else "registered"
    t.updated_at = utcnow()
    return checks.rare(findings)


def _confirmation(
    principal: Principal, rule: str, note: str | None, key: str | None = None
) -> dict[str, Any]:
    out = {"rule": rule, "by": principal.username, "at": utcnow().isoformat(), "note": note}
    if key is not None:
        out["for"] = key
    return out


def _stage_columns(stage: StageIn | None) -> dict[str, Any]:
    if stage is None:
        return {}
    return {
        "tnm_edition": stage.edition or cancer_rules().tnm_edition,
        "tnm_t": stage.t,
        "tnm_n": stage.n,
        "tnm_m": stage.m,
        "stage_group": stage.group,
    }


async def _new_tumour(
    session: AsyncSession,
    n: CancerNotification,
    facts: registry.PersonFacts,
    reason: str,
    followed_by: int | None,
) -> CancerTumour:
    now = utcnow()
    morph = icdo3.Morphology(n.histology, n.behaviour)
    t = CancerTumour(
        person_id=n.person_id,
        topography=n.topography,
        histology=n.histology,
        behaviour=n.behaviour,
        grade=n.grade,
        laterality=n.laterality,
        icd10=icdo3.icd10_of(n.topography, morph),
        organ=icdo3.organ(n.topography),
        histology_group=icdo3.histology_group(n.histology),
        basis=n.basis,
        incidence_date=n.diagnosed_on,
        incidence_level=n.date_level,
        sex=facts.sex,
        age=registry.age_on(facts.birth_date, n.diagnosed_on),
        settlement_id=facts.settlement_id,
        region_id=facts.region_id,
        status="registered",
        pending_checks=[],
        confirmations=[],
        mp_reason=reason,
        vital_status="alive",
        last_contact_on=n.diagnosed_on,
        followed_by_facility_id=followed_by,
        created_at=now,
        updated_at=now,
    )
    session.add(t)
    await session.flush()
    return t


async def _place(
    session: AsyncSession,
    n: CancerNotification,
    facts: registry.PersonFacts,
    *,
    followed_by: int | None,
    confirmations: list[dict[str, Any]],
) -> tuple[CancerTumour | None, primaries.Decision]:
    """Apply the multiple-primary rules: join, make, or leave for the registrar."""
    existing = await _tumour_keys(session, n.person_id)
    decision = primaries.decide(
        [primaries.TumourKey(t.id, t.topography, t.histology) for t in existing],
        primaries.TumourKey(None, n.topography, n.histology),
    )
    n.decision_reason = decision.reason
    if decision.needs_registrar:
        n.status = "to_review"
        await session.flush()
        return None, decision
    if decision.new_primary:
        t = await _new_tumour(session, n, facts, decision.reason, followed_by)
    else:
        t = next(x for x in existing if x.id == decision.tumour_id)
        if t.followed_by_facility_id is None:
            t.followed_by_facility_id = followed_by
    n.status, n.tumour_id = "consolidated", t.id
    n.decided_by, n.decided_at = _DECISION_BY_RULES, utcnow()
    if confirmations:
        t.confirmations = [*(t.confirmations or []), *confirmations]
    await session.flush()
    await session.execute(
        update(CancerTreatment)
        .where(CancerTreatment.notification_id == n.id)
        .values(tumour_id=t.id)
        .execution_options(synchronize_session=False)
    )
    await refresh(session, t, facts, incoming=n)
    await session.flush()
    return t, decision


async def _facts(session: AsyncSession, person_id: int) -> registry.PersonFacts:
    facts = await registry.person_facts(session, person_id)
    if facts is None:
        raise NotFound(N_("Patient %(id)s not found."), params={"id": person_id})
    if facts.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s was merged into %(into)s; update that record."),
            params={"id": person_id, "into": facts.merged_into_id},
        )
    return facts


def _result(
    n: CancerNotification,
    t: CancerTumour | None,
    decision: primaries.Decision,
    principal: Principal,
) -> NotifyResult:
    """What the sender reads back. One who may not read the registry (an obstetrician
    notifies, but has no need to see her patient's other cancers) learns only that the
    report was received: not the tumour, nor which rule placed it."""
    if not allowed(principal.role, "cancer:read"):
        out = notification_out(n)
        out = out.model_copy(update={"tumour_id": None, "decision_reason": None})
        return NotifyResult(
            notification=out,
            tumour=None,
            new_primary=False,
            reason="received",
            message=_message(N_("The cancer registry received the notification."), {}),
        )
    message = _message(decision.message, decision.params)
    return NotifyResult(
        notification=notification_out(n, message if n.status == "to_review" else None),
        tumour=tumour_out(t) if t is not None else None,
        new_primary=decision.new_primary,
        reason=decision.reason,
        message=message,
    )


async def _replay(
    session: AsyncSession, principal: Principal, data: NotificationIn, person_id: int
) -> NotifyResult | None:
    if data.external_system is None and data.external_id is None:
        return None
    if data.external_system is None or data.external_id is None:
        field = "external_system" if data.external_system is None else "external_id"
        raise Invalid.fields(
            [FieldError(field, N_("give both the system and its identifier of the report"))]
        )
    n = await session.scalar(
        select(CancerNotification).where(
            CancerNotification.external_system == data.external_system,
            CancerNotification.external_id == data.external_id,
        )
    )
    if n is None:
        return None
    if n.person_id != person_id:
        raise InvalidState(
            N_("This system's report %(id)s was sent for another patient."),
            params={"id": data.external_id},
        )
    t = await session.get(CancerTumour, n.tumour_id) if n.tumour_id else None
    new = bool(t is not None and n.decision_reason in NEW_PRIMARY_REASONS)
    decision = primaries.Decision(
        new, n.tumour_id, n.decision_reason or "", n.status == "to_review",
        N_("This report was received before; nothing changed."), {},
    )  # fmt: skip
    return _result(n, t, decision, principal)


async def notify(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: NotificationIn,
    *,
    today: date | None = None,
) -> NotifyResult:
    """Take one report: refuse what is invalid (nothing stored), keep it, and place it."""
    today = today or date.today()
    await require_person(
        session, principal, person_id, action="create", resource_type="Condition",
        purpose="cancer notification",
    )  # fmt: skip
    # one writer of a person's tumours at a time; a resend waits for the first and finds it
    await registry.hold_person(session, person_id)
    replay = await _replay(session, principal, data, person_id)
    if replay is not None:
        return replay
    facts = await _facts(session, person_id)
    _check_confirm(principal, data.confirm)
    codes = parse_codes(data.topography, data.morphology, data.basis)
    errors: list[FieldError] = []
    if data.diagnosed_on > today:
        errors.append(FieldError("diagnosed_on", N_("is in the future")))
    if data.date_kind == "microscopic" and codes.basis not in incidence.MICROSCOPIC:
        errors.append(
            FieldError(
                "date_kind",
                N_("a microscopic confirmation needs a microscopic basis (5, 6 or 7)"),
            )
        )
    reported_on = data.reported_on or today
    if reported_on > today:
        errors.append(FieldError("reported_on", N_("is in the future")))
    elif reported_on < data.diagnosed_on:
        errors.append(FieldError("reported_on", N_("is before the date of diagnosis")))
    for i, tr in enumerate(data.treatments):
        if tr.started_on > today:
            errors.append(FieldError(f"treatments.{i}.started_on", N_("is in the future")))
        if tr.ended_on is not None and tr.ended_on < tr.started_on:
            errors.append(FieldError(f"treatments.{i}.ended_on", N_("is before the start")))
        if tr.started_on < facts.birth_date:
            errors.append(FieldError(f"treatments.{i}.started_on", N_("is before the birth date")))
    findings = checks.check(
        sex=facts.sex,
        birth_date=facts.birth_date,
        incidence_date=data.diagnosed_on,
        death_date=facts.deceased_on,
        topography=codes.topography,
        morphology=codes.morphology,
        today=today,
    )
    bad = checks.invalid(findings)
    if errors or bad:
        raise Invalid.fields(errors + [FieldError(f.field, f.message, f.params) for f in bad])
    rare = {f.rule for f in checks.rare(findings)}
    unknown = [r for r in data.confirm if r not in rare]
    if unknown:
        raise Invalid.fields(
            [
                FieldError(
                    "confirm",
                    N_("%(rules)s: no such rare combination in this report"),
                    {"rules": ", ".join(unknown)},
                )
            ]
        )
    now = utcnow()
    n = CancerNotification(
        person_id=person_id,
        source=data.source,
        reported_on=reported_on,
        received_at=now,
        reported_by=principal.username,
        facility_id=principal.facility_id,
        external_system=data.external_system,
        external_id=data.external_id,
        topography=codes.topography,
        histology=codes.morphology.histology,
        behaviour=codes.morphology.behaviour,
        grade=data.grade,
        laterality=data.laterality,
        basis=codes.basis,
        diagnosed_on=data.diagnosed_on,
        date_level=_DATE_LEVEL[data.date_kind],
        note=data.note,
        status="to_review",
        rare_checks=sorted(rare),
        **_stage_columns(data.stage),
    )
    session.add(n)
    await session.flush()
    for tr in data.treatments:
        session.add(
            CancerTreatment(
                person_id=person_id,
                kind=tr.kind,
                started_on=tr.started_on,
                ended_on=tr.ended_on,
                facility_id=principal.facility_id,
                notification_id=n.id,
                recorded_by=principal.username,
                recorded_at=now,
            )
        )
    await session.flush()
    followed_by = principal.facility_id if principal.role == "oncologist" else None
    t, decision = await _place(
        session,
        n,
        facts,
        followed_by=followed_by,
        confirmations=[
            _confirmation(
                principal, r, data.note,
                confirmation_key(
                    codes.topography, codes.morphology,
                    registry.age_on(facts.birth_date, data.diagnosed_on),
                ),
            )
            for r in data.confirm
        ],
    )  # fmt: skip
    return _result(n, t, decision, principal)


async def record_death_certificate(
    session: AsyncSession, person_id: int, deceased_on: date, cause: str
) -> CancerNotification | None:
    """A death whose certificate names a cancer becomes a notification (basis 0, dated
    the death): it joins the person's tumour of that organ, or makes a death certificate
    only case. Never refuses (the death is registered whatever the registry thinks):
    what the checks find invalid waits for the registrar instead."""
    facts_ = await registry.person_facts(session, person_id)
    parsed = icdo3.from_icd10(cause)
    if facts_ is None or parsed is None:
        return None
    topography, morph = parsed
    findings = checks.check(
        sex=facts_.sex,
        birth_date=facts_.birth_date,
        incidence_date=deceased_on,
        death_date=deceased_on,
        topography=topography,
        morphology=morph,
        today=max(deceased_on, date.today()),
    )
    n = CancerNotification(
        person_id=person_id,
        source="death_certificate",
        reported_on=deceased_on,
        received_at=utcnow(),
        reported_by=SYSTEM,
        topography=topography,
        histology=morph.histology,
        behaviour=morph.behaviour,
        basis=0,
        diagnosed_on=deceased_on,
        date_level=DCO_LEVEL,
        icd10=cause,
        status="to_review",
        rare_checks=sorted({f.rule for f in checks.rare(findings)}),
    )
    session.add(n)
    await session.flush()
    if checks.invalid(findings):
        n.decision_reason = "invalid_on_certificate"
        await session.flush()
        return n
    await _place(session, n, facts_, followed_by=None, confirmations=[])
    return n


async def get_notification(
    session: AsyncSession, principal: Principal, notification_id: int
) -> NotificationOut:
    n = await session.get(CancerNotification, notification_id)
    if n is None:
        raise NotFound(N_("Notification %(id)s not found."), params={"id": notification_id})
    try:
        await require_person(
            session, principal, n.person_id, action="read", resource_type="Condition",
            purpose="cancer notification",
        )  # fmt: skip
    except NotFound:
        raise NotFound(
            N_("Notification %(id)s not found."), params={"id": notification_id}
        ) from None
    return notification_out(n)


async def decide_notification(
    session: AsyncSession, principal: Principal, notification_id: int, data: DecisionIn
) -> NotifyResult:
    """The registrar places a notification the rules left to her: with a tumour of the
    person, as a new primary, or set aside; rare combinations she confirms are kept."""
    if principal.role != REGISTRAR_ROLE:
        raise Forbidden(N_("Only the cancer registry decides on a notification."))
    person_id = await session.scalar(
        select(CancerNotification.person_id).where(CancerNotification.id == notification_id)
    )
    if person_id is None:
        raise NotFound(N_("Notification %(id)s not found."), params={"id": notification_id})
    try:
        await require_person(
            session, principal, person_id, action="update", resource_type="Condition",
            purpose="cancer registration",
        )  # fmt: skip
    except NotFound:
        raise NotFound(
            N_("Notification %(id)s not found."), params={"id": notification_id}
        ) from None
    # the person first (as every writer of her tumours), then the notification
    await registry.hold_person(session, person_id)
    n = await session.scalar(
        select(CancerNotification).where(CancerNotification.id == notification_id).with_for_update()
    )
    if n is None or n.person_id != person_id:
        raise NotFound(N_("Notification %(id)s not found."), params={"id": notification_id})
    if n.status != "to_review":
        raise InvalidState(
            N_("Notification %(id)s was already decided."), params={"id": notification_id}
        )
    facts = await _facts(session, n.person_id)
    unknown = [r for r in data.confirm if r not in (n.rare_checks or [])]
    if unknown:
        raise Invalid.fields(
            [
                FieldError(
                    "confirm",
                    N_("%(rules)s: no such rare combination in this report"),
                    {"rules": ", ".join(unknown)},
                )
            ]
        )
    now = utcnow()
    n.decided_by, n.decided_at = principal.username, now
    if data.action == "reject":
        n.status, n.decision_reason = "rejected", "registrar_rejected"
        if data.note:
            n.note = data.note
        # the treatments it reported belong to no tumour of the registry
        await session.execute(
            delete(CancerTreatment).where(
                CancerTreatment.notification_id == n.id, CancerTreatment.tumour_id.is_(None)
            )
        )
        await session.flush()
        decision = primaries.Decision(
            False, None, "registrar_rejected", False, N_("Set aside by the registrar."), {}
        )
        return _result(n, None, decision, principal)
    if data.action == "attach":
        if data.tumour_id is None:
            raise Invalid.fields([FieldError("tumour_id", N_("name the tumour it belongs to"))])
        t = await session.scalar(
            select(CancerTumour).where(CancerTumour.id == data.tumour_id).with_for_update()
        )
        if t is None or t.person_id != n.person_id:
            raise Invalid.fields([FieldError("tumour_id", N_("is not a tumour of this patient"))])
        reason, new = "registrar_attached", False
    else:
        t = await _new_tumour(session, n, facts, "registrar_new_primary", None)
        reason, new = "registrar_new_primary", True
    n.status, n.tumour_id, n.decision_reason = "consolidated", t.id, reason
    if data.confirm:
        key = confirmation_key(
            n.topography,
            icdo3.Morphology(n.histology, n.behaviour),
            registry.age_on(facts.birth_date, n.diagnosed_on),
        )
        t.confirmations = [
            *(t.confirmations or []),
            *(_confirmation(principal, r, data.note, key) for r in data.confirm),
        ]
    await session.flush()
    await session.execute(
        update(CancerTreatment)
        .where(CancerTreatment.notification_id == n.id)
        .values(tumour_id=t.id)
        .execution_options(synchronize_session=False)
    )
    # a registrar's decision never registers what the checks find impossible (a male
    # with C53 from a certificate): she sets such a report aside
    await refresh(session, t, facts, incoming=n, strict=True)
    await session.flush()
    msgid = (
        N_("Registered as a new primary by the registrar.")
        if new
        else N_("Joined to tumour %(id)s by the registrar.")
    )
    return _result(
        n, t, primaries.Decision(new, t.id, reason, False, msgid, {"id": t.id}), principal
    )
