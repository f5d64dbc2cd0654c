"""Referrals: a doctor's (indication, profile, category, contraindications), a citizen's
own application and its confirmation, corrections of the category (a change of order,
logged with its reason), cancellation.

Every field is checked before anything is added, so a refused request stores nothing;
each refusal names its field. A contraindication is never refused silently: the answer
names it, and a clinician's attestation overrides it. A person has one referral at a
time (a partial unique index); the person's row is held while one is made.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Forbidden, Invalid, InvalidState, Msgid
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium.models import (
    SanatoriumOffer,
    SanatoriumQueueEvent,
    SanatoriumReferral,
)
from salomat.domains.sanatorium.schemas import (
    ConfirmIn,
    QueueEventOut,
    ReferralIn,
    ReferralOut,
    ReorderIn,
    SelfApplyIn,
)
from salomat.domains.sanatorium.service.common import (
    REFERRAL,
    last_stay_end,
    log_event,
    new_number,
    open_referral,
    referrals_out,
    require_facility,
)
from salomat.domains.sanatorium.service.labels import REFERRAL_STATUS_LABELS
from salomat.domains.sanatorium.service.rules import (
    SanatoriumRules,
    entitled_from,
    local_today,
    sanatorium_rules,
)

__all__ = [
    "CONTRAINDICATION_LABELS",
    "cancel_referral",
    "confirm_indication",
    "get_referral",
    "list_person_referrals",
    "refer",
    "referral_events",
    "reorder",
    "self_apply",
    "without_clinical",
]

NUMBER_ATTEMPTS = 5

#: the pack's contraindication labels, as a person reads them
CONTRAINDICATION_LABELS = {
    "infection": N_("an infection until isolation ends"),
    "active_tuberculosis": N_("active tuberculosis"),
    "sti": N_("a sexually transmitted infection"),
    "contagious_skin_eye": N_("a contagious skin or eye disease"),
    "parasitic": N_("a parasitic disease"),
    "malignant": N_("a malignant neoplasm"),
    "uncertain_neoplasm": N_("a neoplasm of uncertain nature (a signed waiver is needed)"),
    "acute_disease": N_("an acute disease"),
    "mental_substance": N_("a psychotic or substance-use disorder"),
    "needs_assessment": N_("a condition the sanatorium must assess first"),
}


def _label(label: str) -> Msgid | str:
    known = CONTRAINDICATION_LABELS.get(label)
    return Msgid(known) if known else label


def _check_category(rules: SanatoriumRules, category: str) -> list[FieldError]:
    if category not in rules.categories:
        return [FieldError("category", N_("is not an entitlement category of this country"))]
    return []


async def _entitlement(
    session: AsyncSession,
    rules: SanatoriumRules,
    person_id: int,
    category: str,
    declared: date | None,
    today: date,
) -> tuple[date | None, date | None, list[FieldError]]:
    """(end of the last stay, entitled from, errors): not entitled today is refused with
    the day the person will be."""
    if declared is not None and declared > today:
        return None, None, [FieldError("last_stay_ended_on", N_("is in the future"))]
    ours = await last_stay_end(session, person_id)
    last = max((d for d in (ours, declared) if d is not None), default=None)
    cat = rules.categories.get(category)
    if cat is None:
        return last, None, []
    since = entitled_from(cat, last)
    if since is not None and since > today:
        return (
            last,
            since,
            [
                FieldError(
                    "category",
                    N_(
                        "the person is entitled again from %(date)s: every %(years)s years, "
                        "counted from the end of the last stay (%(ended)s)"
                    ),
                    {
                        "date": f"{since:%d.%m.%Y}",
                        "years": cat.every_years,
                        "ended": f"{last:%d.%m.%Y}" if last else "",
                    },
                )
            ],
        )
    return last, since, []


def _clinical(
    rules: SanatoriumRules,
    indication_raw: str,
    profile: str | None,
    conditions_raw: list[str],
    attestation: str | None,
    *,
    child: bool,
) -> tuple[str | None, str | None, list[str], list[str], list[FieldError]]:
    """(indication, profile, conditions, warnings, errors) from the pack's tables."""
    errors: list[FieldError] = []
    indication: str | None = None
    try:
        indication = registry.icd10_cause(indication_raw, "indication")
    except Invalid as e:
        errors += e.errors
    conditions: list[str] = []
    for i, raw in enumerate(conditions_raw):
        try:
            conditions.append(registry.icd10_cause(raw, f"conditions.{i}"))
        except Invalid as e:
            errors += e.errors
    if indication is None:
        return None, None, conditions, [], errors
    indicated = rules.indicated_profiles(indication, child=child)
    if not indicated:
        errors.append(
            FieldError(
                "indication",
                N_("%(code)s is not an indication for sanatorium treatment in this country"),
                {"code": indication},
            )
        )
        return indication, None, conditions, [], errors
    if profile is None:
        profile = "paediatric" if child and "paediatric" in indicated else indicated[0]
    elif profile not in rules.profiles:
        errors.append(FieldError("profile", N_("is not a treatment profile of this country")))
    elif profile not in indicated:
        errors.append(
            FieldError(
                "profile",
                N_("does not treat %(code)s: give one of %(profiles)s"),
                {
                    "code": indication,
                    "profiles": ", ".join(
                        rules.profile_name(code, i18n.current_language()) for code in indicated
                    ),
                },
            )
        )
    if profile == "paediatric" and not child:
        errors.append(
            FieldError(
                "profile",
                N_("is for children under %(age)s"),
                {"age": rules.child_age_below},
            )
        )
    warnings: list[str] = []
    attested = bool((attestation or "").strip())
    checked = [("indication", indication)] + [
        (f"conditions.{i}", c) for i, c in enumerate(conditions)
    ]
    for field, code in checked:
        rule = rules.contraindicated(code, profile or "")
        if rule is None:
            continue
        if rule.action == "warn":
            warnings.append(f"warn:{rule.label}:{code}")
        elif attested:
            warnings.append(f"override:{rule.label}:{code}")
        else:
            errors.append(
                FieldError(
                    field,
                    N_(
                        "%(code)s is a contraindication (%(what)s): a clinician may attest an "
                        "override, or the person is not referred"
                    ),
                    {"code": code, "what": _label(rule.label)},
                )
            )
    return indication, profile, conditions, warnings, errors


async def _insert(session: AsyncSession, r: SanatoriumReferral) -> SanatoriumReferral:
    """Add with a fresh number (drawn again on a collision); a second active referral of
    the person is refused (409 naming the one she has)."""
    for attempt in range(1, NUMBER_ATTEMPTS + 1):
        r.number = new_number()
        try:
            async with session.begin_nested():
                session.add(r)
                await session.flush()
        except IntegrityError as e:
            if "ux_sanatorium_referral_active" in str(e.orig):
                await _already(session, r.person_id)
            if attempt == NUMBER_ATTEMPTS:
                raise
            continue
        return r
    raise AssertionError("unreachable")


async def _already(session: AsyncSession, person_id: int) -> None:
    number = await session.scalar(
        select(SanatoriumReferral.number).where(
            SanatoriumReferral.person_id == person_id,
            SanatoriumReferral.status.in_(
                ("pending_indication", "referred", "queued", "offered", "booked", "arrived")
            ),
        )
    )
    if number is not None:
        raise Conflict(
            N_("The person already has a sanatorium referral in progress (%(number)s)."),
            params={"number": number},
        )


async def _region(session: AsyncSession, rules: SanatoriumRules, facility_id: int | None) -> str:
    if not rules.queue_by_region or facility_id is None:
        return ""
    return (await registry.facility_regions(session, [facility_id])).get(facility_id) or ""


async def _is_child(
    session: AsyncSession, rules: SanatoriumRules, person_id: int, today: date
) -> bool:
    born = (await registry.birth_dates(session, [person_id])).get(person_id)
    return born is not None and registry.age_on(born, today) < rules.child_age_below


async def refer(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: ReferralIn,
    *,
    source: str = "local",
    today: date | None = None,
) -> ReferralOut:
    """A doctor refers a living person in scope. Queued at once (tier of the category),
    or, for a direct category (after-care), waiting for the doctor to book a place.

    Refused: out of scope (404), dead (409), another referral in progress (409); a wrong
    indication, profile, category, a contraindication nobody attested, or a person not
    yet entitled (422 naming the field)."""
    rules = sanatorium_rules()
    facility_id = require_facility(principal)
    await require_person(session, principal, person_id, action="create", resource_type=REFERRAL)
    today = today or local_today()
    await registry.require_alive(session, person_id, hold=True)
    await _already(session, person_id)
    child = await _is_child(session, rules, person_id, today)
    indication, profile, conditions, warnings, errors = _clinical(
        rules, data.indication, data.profile, data.conditions, data.attestation, child=child
    )
    errors += _check_category(rules, data.category)
    last, since, errs = await _entitlement(
        session, rules, person_id, data.category, data.last_stay_ended_on, today
    )
    errors += errs
    if errors:
        raise Invalid(N_("The referral could not be made."), errors=errors)
    assert profile is not None
    assert indication is not None
    cat = rules.categories[data.category]
    now = utcnow()
    overridden = any(w.startswith("override:") for w in warnings)
    r = SanatoriumReferral(
        person_id=person_id,
        profile=profile,
        region=await _region(session, rules, facility_id),
        category=data.category,
        tier=cat.tier,
        direct=cat.direct,
        indication=indication,
        conditions=conditions,
        attestation=(data.attestation or "").strip() or None if overridden else None,
        attested_by=principal.username if overridden else None,
        warnings=warnings,
        last_stay_ended_on=last,
        entitled_from=since,
        status="referred" if cat.direct else "queued",
        applied_at=now,
        facility_id=facility_id,
        referred_by=principal.username,
        source=source,
        created_at=now,
        updated_at=now,
    )
    await _insert(session, r)
    await log_event(
        session,
        r,
        "referred" if r.direct else "joined",
        principal.username,
        detail={"tier": r.tier, "category": r.category, "direct": r.direct},
    )
    return (await referrals_out(session, [r]))[0]


async def self_apply(
    session: AsyncSession, principal: Principal, data: SelfApplyIn, *, today: date | None = None
) -> ReferralOut:
    """A citizen's own application where the pack allows it: it waits for a doctor of her
    polyclinic to confirm the indication; her place in line counts from now."""
    rules = sanatorium_rules()
    if not rules.self_application:
        raise Forbidden(N_("In this country an application is made by a doctor's referral."))
    if principal.person_id is None:
        raise Forbidden(N_("Your account is linked to no person."))
    person_id = data.person_id or principal.person_id
    if person_id != principal.person_id:
        # a parent or guardian applies for her child (the citizen scope says whose)
        await require_person(
            session,
            principal,
            person_id,
            action="read",
            resource_type=REFERRAL,
            purpose="citizen portal: sanatorium application",
        )
    today = today or local_today()
    await registry.require_alive(session, person_id, hold=True)
    await _already(session, person_id)
    errors: list[FieldError] = []
    if data.profile not in rules.profiles:
        errors.append(FieldError("profile", N_("is not a treatment profile of this country")))
    elif data.profile == "paediatric" and not await _is_child(session, rules, person_id, today):
        errors.append(
            FieldError(
                "profile", N_("is for children under %(age)s"), {"age": rules.child_age_below}
            )
        )
    errors += _check_category(rules, data.category)
    if data.category in rules.categories and rules.categories[data.category].direct:
        errors.append(
            FieldError("category", N_("is referred by the hospital's doctor, not applied for"))
        )
    last, since, errs = await _entitlement(
        session, rules, person_id, data.category, data.last_stay_ended_on, today
    )
    errors += errs
    if errors:
        raise Invalid(N_("The application could not be made."), errors=errors)
    attached = (await registry.attached_facility_ids(session, [person_id])).get(person_id)
    now = utcnow()
    r = SanatoriumReferral(
        person_id=person_id,
        profile=data.profile,
        region=await _region(session, rules, attached),
        category=data.category,
        tier=rules.categories[data.category].tier,
        direct=False,
        indication=None,
        conditions=[],
        warnings=[],
        last_stay_ended_on=last,
        entitled_from=since,
        status="pending_indication",
        applied_at=now,
        facility_id=attached,
        referred_by=None,
        source="portal",
        created_at=now,
        updated_at=now,
    )
    await _insert(session, r)
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=REFERRAL,
        resource_id=str(r.id),
        patient_id=person_id,
        purpose="citizen portal: sanatorium application",
    )
    await log_event(session, r, "joined", principal.username, detail={"tier": r.tier})
    return (await referrals_out(session, [r]))[0]


async def confirm_indication(
    session: AsyncSession, principal: Principal, referral_id: int, data: ConfirmIn
) -> ReferralOut:
    """A doctor confirms a self-application's indication: it then stands in the queue
    from the time the person applied."""
    rules = sanatorium_rules()
    require_facility(principal)
    r = await open_referral(session, principal, referral_id, action="update", hold=True)
    if r.status != "pending_indication":
        raise InvalidState(
            N_("Referral %(number)s does not wait for a doctor's confirmation."),
            params={"number": r.number},
        )
    today = local_today()
    child = await _is_child(session, rules, r.person_id, today)
    indication, _profile, conditions, warnings, errors = _clinical(
        rules, data.indication, r.profile, data.conditions, data.attestation, child=child
    )
    # the category the person declared is checked against her document here: until a
    # doctor confirms it, a self-application stands in no queue
    category = data.category or r.category
    errors += _check_category(rules, category)
    if not errors and rules.categories[category].direct:
        errors.append(
            FieldError("category", N_("is referred by the hospital's doctor, not applied for"))
        )
    since = None
    if not errors:
        _, since, errs = await _entitlement(
            session, rules, r.person_id, category, r.last_stay_ended_on, today
        )
        errors += errs
    if errors:
        raise Invalid(N_("The indication could not be confirmed."), errors=errors)
    declared = r.category
    r.category = category
    r.tier = rules.categories[category].tier
    r.entitled_from = since
    overridden = any(w.startswith("override:") for w in warnings)
    r.indication = indication
    r.conditions = conditions
    r.warnings = warnings
    r.attestation = (data.attestation or "").strip() or None if overridden else None
    r.attested_by = principal.username if overridden else None
    r.referred_by = principal.username
    r.status = "queued"
    r.updated_at = utcnow()
    await session.flush()
    await log_event(
        session,
        r,
        "indication_confirmed",
        principal.username,
        detail={"declared_category": declared, "confirmed_category": category, "tier": r.tier},
    )
    return (await referrals_out(session, [r]))[0]


async def reorder(
    session: AsyncSession, principal: Principal, referral_id: int, data: ReorderIn
) -> ReferralOut:
    """A corrected category moves the entry to its tier; the log keeps why."""
    rules = sanatorium_rules()
    r = await open_referral(session, principal, referral_id, action="update", hold=True)
    errors = _check_category(rules, data.category)
    if not errors and rules.categories[data.category].direct:
        errors.append(FieldError("category", N_("is not queued: a doctor books it directly")))
    if errors:
        raise Invalid(N_("The category could not be changed."), errors=errors)
    if r.status not in ("pending_indication", "queued", "offered"):
        raise InvalidState(
            N_("Referral %(number)s no longer stands in a queue."), params={"number": r.number}
        )
    cat = rules.categories[data.category]
    since = entitled_from(cat, r.last_stay_ended_on)
    before = {
        "category": r.category,
        "tier": r.tier,
        "entitled_from": r.entitled_from.isoformat() if r.entitled_from else None,
    }
    r.category = data.category
    r.tier = cat.tier
    r.entitled_from = since
    r.updated_at = utcnow()
    await session.flush()
    await log_event(
        session,
        r,
        "reordered",
        principal.username,
        reason=data.reason,
        detail={
            "before": before,
            "after": {
                "category": r.category,
                "tier": r.tier,
                "entitled_from": since.isoformat() if since else None,
            },
        },
    )
    return without_clinical((await referrals_out(session, [r]))[0])


def without_clinical(out: ReferralOut) -> ReferralOut:
    """The queue entry as the registry clerk sees it: no indication, conditions,
    warnings, attestation or discharge summary (she corrects categories, not care)."""
    return out.model_copy(
        update={
            "indication": None,
            "conditions": [],
            "warnings": [],
            "attestation": None,
            "attested_by": None,
            "stay": out.stay.model_copy(update={"indication": None, "summary": None})
            if out.stay
            else None,
        }
    )


async def cancel_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    reason: str,
    *,
    r: SanatoriumReferral | None = None,
) -> ReferralOut:
    """Leave the queue (or give up a booked place before arrival): an open offer is
    withdrawn and a booked bed freed, for the next in line."""
    from salomat.domains.sanatorium.service.stays import cancel_stay_of

    if r is None:
        r = await open_referral(session, principal, referral_id, action="update", hold=True)
    if r.status not in ("pending_indication", "referred", "queued", "offered", "booked"):
        raise InvalidState(
            N_("Referral %(number)s cannot be cancelled: it is %(status)s."),
            params={"number": r.number, "status": Msgid(REFERRAL_STATUS_LABELS[r.status])},
        )
    now = utcnow()
    await session.execute(
        update(SanatoriumOffer)
        .where(SanatoriumOffer.referral_id == r.id, SanatoriumOffer.status == "open")
        .values(status="withdrawn", decided_at=now, decided_by=principal.username)
    )
    if r.status == "booked":
        await cancel_stay_of(session, r, reason)
    r.status = "cancelled"
    r.cancel_reason = reason
    r.updated_at = now
    await session.flush()
    await log_event(session, r, "cancelled", principal.username, reason=reason)
    return (await referrals_out(session, [r]))[0]


async def get_referral(
    session: AsyncSession, principal: Principal, referral_id: int
) -> ReferralOut:
    from salomat.domains.sanatorium.service.queue import with_position

    r = await open_referral(session, principal, referral_id, action="read")
    return await with_position(session, r, (await referrals_out(session, [r]))[0])


async def list_person_referrals(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[ReferralOut]:
    await require_person(session, principal, person_id, action="read", resource_type=REFERRAL)
    rows = await session.scalars(
        select(SanatoriumReferral)
        .where(SanatoriumReferral.person_id == person_id)
        .order_by(SanatoriumReferral.id.desc())
    )
    return await referrals_out(session, list(rows))


async def referral_events(
    session: AsyncSession, principal: Principal, referral_id: int
) -> list[QueueEventOut]:
    """The entry's log: every change with its reason (append-only)."""
    r = await open_referral(session, principal, referral_id, action="read")
    return await events_of(session, r.id)


async def events_of(session: AsyncSession, referral_id: int) -> list[QueueEventOut]:
    rows = await session.scalars(
        select(SanatoriumQueueEvent)
        .where(SanatoriumQueueEvent.referral_id == referral_id)
        .order_by(SanatoriumQueueEvent.id)
    )
    return [
        QueueEventOut(kind=e.kind, reason=e.reason, detail=dict(e.detail or {}), at=e.at)
        for e in rows
    ]
