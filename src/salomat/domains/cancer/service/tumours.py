"""The tumour record and its follow-up: reading, correcting, confirming rare
combinations, first treatments, follow-up contacts, the oncologist's worklist and the
registrar's work queue."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Forbidden, Invalid, InvalidState
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.cancer.models import (
    CancerFollowUp,
    CancerNotification,
    CancerTreatment,
    CancerTumour,
)
from salomat.domains.cancer.schemas import (
    ConfirmIn,
    FollowUpIn,
    FollowUpOut,
    QueueItem,
    TreatmentIn,
    TreatmentOut,
    TumourDetail,
    TumourOut,
    TumourPatch,
    WorklistItem,
)
from salomat.domains.cancer.service.common import (
    cancer_rules,
    load_tumour,
    next_follow_up,
    notification_out,
    tumour_out,
)
from salomat.domains.cancer.service.notifications import (
    REGISTRAR_ROLE,
    _confirmation,
    _facts,
    _message,
    refresh,
)
from salomat.domains.registry import service as registry

#: the kind of facility that follows cancer patients up (the packs' oncology dispensary)
FOLLOW_UP_KIND = "oncology_centre"

__all__ = [
    "add_follow_up",
    "add_treatment",
    "confirm_checks",
    "count_open_work",
    "follow_up_worklist",
    "get_tumour",
    "person_tumours",
    "registrar_queue",
    "update_tumour",
]


def _expect_version(t: CancerTumour, expected: int | None) -> None:
    if expected is not None and expected != t.version:
        from salomat.core.errors import PreconditionFailed

        raise PreconditionFailed(
            N_("Tumour %(id)s was changed by someone else (version %(v)s); reload it."),
            params={"id": t.id, "v": t.version},
        )


async def get_tumour(session: AsyncSession, principal: Principal, tumour_id: int) -> TumourDetail:
    """The whole record: codes, stage, checks, notifications, treatments, follow-up."""
    t = await load_tumour(session, principal, tumour_id)
    notes = await session.scalars(
        select(CancerNotification)
        .where(CancerNotification.tumour_id == t.id)
        .order_by(CancerNotification.received_at, CancerNotification.id)
    )
    treatments = await session.scalars(
        select(CancerTreatment)
        .where(CancerTreatment.tumour_id == t.id)
        .order_by(CancerTreatment.started_on, CancerTreatment.id)
    )
    follow_ups = await session.scalars(
        select(CancerFollowUp)
        .where(CancerFollowUp.tumour_id == t.id)
        .order_by(CancerFollowUp.contact_on.desc(), CancerFollowUp.id.desc())
    )
    return TumourDetail(
        **tumour_out(t).model_dump(),
        notifications=[notification_out(n) for n in notes],
        treatments=[TreatmentOut.model_validate(x) for x in treatments],
        follow_ups=[FollowUpOut.model_validate(x) for x in follow_ups],
    )


async def person_tumours(
    session: AsyncSession, principal: Principal, person_id: int
) -> list[TumourOut]:
    """A person's primary tumours, in order of incidence (audited as one read)."""
    await require_person(
        session, principal, person_id, action="read", resource_type="Condition",
        purpose="cancer registry",
    )  # fmt: skip
    rows = await session.scalars(
        select(CancerTumour)
        .where(CancerTumour.person_id == person_id)
        .order_by(CancerTumour.incidence_date, CancerTumour.id)
    )
    return [tumour_out(t) for t in rows]


async def update_tumour(
    session: AsyncSession,
    principal: Principal,
    tumour_id: int,
    data: TumourPatch,
    *,
    expected_version: int | None,
) -> TumourOut:
    """Grade, laterality, stage and the following facility; other codes come from the
    notifications (send a corrected one)."""
    t = await load_tumour(session, principal, tumour_id, action="update", lock=True)
    _expect_version(t, expected_version)
    fields = data.model_fields_set
    if "grade" in fields:
        t.grade = data.grade
    if "laterality" in fields:
        t.laterality = data.laterality
    if "stage" in fields:
        s = data.stage
        t.tnm_edition = (s.edition or cancer_rules().tnm_edition) if s else None
        t.tnm_t, t.tnm_n, t.tnm_m = (s.t, s.n, s.m) if s else (None, None, None)
        t.stage_group = s.group if s else None
    if "followed_by_facility_code" in fields:
        # who follows a patient up gives that facility scope over her record: the
        # registry names it, and only an oncology centre
        if principal.role != REGISTRAR_ROLE:
            raise Forbidden(N_("Only the cancer registry names the facility that follows up."))
        code = data.followed_by_facility_code
        facility = await registry.facility_by_code(session, code) if code else None
        if code and facility is None:
            raise Invalid.fields(
                [FieldError("followed_by_facility_code", N_("no facility has this code"))]
            )
        if facility is not None and facility.kind != FOLLOW_UP_KIND:
            raise Invalid.fields(
                [
                    FieldError(
                        "followed_by_facility_code",
                        N_("%(code)s is not an oncology centre"),
                        {"code": code},
                    )
                ]
            )
        t.followed_by_facility_id = facility.id if facility is not None else None
    t.updated_at = utcnow()
    await session.flush()
    return tumour_out(t)


async def confirm_checks(
    session: AsyncSession,
    principal: Principal,
    tumour_id: int,
    data: ConfirmIn,
    *,
    expected_version: int | None = None,
) -> TumourOut:
    """The registrar confirms rare combinations; the confirmation (who, when, why) is
    kept with the tumour for good, and a tumour with none left counts."""
    if principal.role != REGISTRAR_ROLE:
        raise Forbidden(N_("Only the cancer registry confirms a rare combination."))
    t = await load_tumour(
        session, principal, tumour_id, action="update", purpose="cancer registration", lock=True
    )
    _expect_version(t, expected_version)
    pending = set(t.pending_checks or [])
    unknown = [r for r in data.rules if r not in pending]
    if unknown:
        raise Invalid.fields(
            [
                FieldError(
                    "rules",
                    N_("%(rules)s: not waiting for a confirmation on this tumour"),
                    {"rules": ", ".join(unknown)},
                )
            ]
        )
    t.confirmations = [
        *(t.confirmations or []),
        *(_confirmation(principal, r, data.note) for r in data.rules),
    ]
    facts = await _facts(session, t.person_id)
    await refresh(session, t, facts)
    await session.flush()
    return tumour_out(t)


async def add_treatment(
    session: AsyncSession, principal: Principal, tumour_id: int, data: TreatmentIn
) -> TreatmentOut:
    t = await load_tumour(
        session, principal, tumour_id, action="update", purpose="treatment", lock=True
    )
    errors = []
    today = date.today()
    if data.started_on > today:
        errors.append(FieldError("started_on", N_("is in the future")))
    if data.ended_on is not None and data.ended_on < data.started_on:
        errors.append(FieldError("ended_on", N_("is before the start")))
    if data.started_on < t.incidence_date - timedelta(days=366):
        errors.append(FieldError("started_on", N_("is more than a year before the diagnosis")))
    if errors:
        raise Invalid.fields(errors)
    x = CancerTreatment(
        tumour_id=t.id,
        person_id=t.person_id,
        kind=data.kind,
        started_on=data.started_on,
        ended_on=data.ended_on,
        facility_id=principal.facility_id,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(x)
    if data.started_on > t.last_contact_on:
        _contact(t, data.started_on)
    await session.flush()
    return TreatmentOut.model_validate(x)


def _contact(t: CancerTumour, day: date) -> None:
    t.last_contact_on = day
    if t.vital_status == "alive":
        t.next_follow_up_on = next_follow_up(t.incidence_date, day, cancer_rules())
    t.updated_at = utcnow()


async def add_follow_up(
    session: AsyncSession, principal: Principal, tumour_id: int, data: FollowUpIn
) -> FollowUpOut:
    """A contact with the patient alive: the last contact moves, the next falls due by
    the pack's schedule."""
    t = await load_tumour(
        session, principal, tumour_id, action="update", purpose="follow-up", lock=True
    )
    errors = []
    if data.contact_on > date.today():
        errors.append(FieldError("contact_on", N_("is in the future")))
    if data.contact_on < t.incidence_date:
        errors.append(FieldError("contact_on", N_("is before the date of incidence")))
    if t.death_date is not None and data.contact_on > t.death_date:
        errors.append(FieldError("contact_on", N_("is after the death")))
    if errors:
        raise Invalid.fields(errors)
    f = CancerFollowUp(
        tumour_id=t.id,
        person_id=t.person_id,
        contact_on=data.contact_on,
        disease_status=data.disease_status,
        facility_id=principal.facility_id,
        note=data.note,
        recorded_by=principal.username,
        recorded_at=utcnow(),
    )
    session.add(f)
    if data.contact_on >= t.last_contact_on:
        _contact(t, data.contact_on)
    await session.flush()
    return FollowUpOut.model_validate(f)


async def follow_up_worklist(
    session: AsyncSession,
    principal: Principal,
    *,
    due_by: date | None = None,
    limit: int = 200,
) -> list[WorklistItem]:
    """Living patients the user's facility follows up whose next contact is due (the
    most overdue first); each row shown is audited."""
    if principal.facility_id is None:
        raise InvalidState(N_("Your account is not bound to a facility."))
    due_by = due_by or date.today()
    rows = list(
        await session.scalars(
            select(CancerTumour)
            .where(
                CancerTumour.followed_by_facility_id == principal.facility_id,
                CancerTumour.vital_status == "alive",
                CancerTumour.next_follow_up_on <= due_by,
            )
            .order_by(CancerTumour.next_follow_up_on, CancerTumour.id)
            .limit(limit)
        )
    )
    briefs = await registry.person_briefs(session, [t.person_id for t in rows])
    out = []
    for t in rows:
        b = briefs[t.person_id]
        assert t.next_follow_up_on is not None
        out.append(
            WorklistItem(
                tumour_id=t.id,
                person_id=t.person_id,
                person_name=b.name,
                birth_date=b.birth_date,
                icd10=t.icd10,
                incidence_date=t.incidence_date,
                last_contact_on=t.last_contact_on,
                next_follow_up_on=t.next_follow_up_on,
                overdue_days=(due_by - t.next_follow_up_on).days,
            )
        )
    await audit.record_listing(
        session,
        principal,
        [audit.Access(x.person_id, "cancer follow-up") for x in out],
        action="read",
        resource_type="Condition",
    )
    return out


_REVIEW_TEXT = {
    "unknown_primary_site": N_(
        "A tumour of unknown primary site in a patient with a known cancer: "
        "a metastasis of it, or a new primary?"
    ),
    "several_candidates": N_("It could belong to more than one of the patient's tumours."),
    "invalid_on_certificate": N_(
        "The death certificate's cause does not fit the patient (sex or age): check it."
    ),
}


async def registrar_queue(
    session: AsyncSession, principal: Principal, *, limit: int = 200
) -> list[QueueItem]:
    """The cancer registry's work: notifications to place, tumours to confirm (oldest
    first); each patient shown is audited."""
    if principal.role != REGISTRAR_ROLE:
        raise Forbidden(N_("Only the cancer registry works the registration queue."))
    notes = list(
        await session.scalars(
            select(CancerNotification)
            .where(CancerNotification.status == "to_review")
            .order_by(CancerNotification.received_at, CancerNotification.id)
            .limit(limit)
        )
    )
    tumours = list(
        await session.scalars(
            select(CancerTumour)
            .where(CancerTumour.status == "to_confirm")
            .order_by(CancerTumour.created_at, CancerTumour.id)
            .limit(limit)
        )
    )
    items = [
        QueueItem(
            kind="to_review",
            person_id=n.person_id,
            notification_id=n.id,
            topography=n.topography,
            morphology=f"{n.histology}/{n.behaviour}",
            received_at=n.received_at,
            reason=n.decision_reason or "",
            message=_message(_REVIEW_TEXT.get(n.decision_reason or "", ""), {})
            if n.decision_reason in _REVIEW_TEXT
            else "",
            checks=list(n.rare_checks or []),
        )
        for n in notes
    ] + [
        QueueItem(
            kind="to_confirm",
            person_id=t.person_id,
            tumour_id=t.id,
            topography=t.topography,
            morphology=f"{t.histology}/{t.behaviour}",
            received_at=t.created_at,
            reason="rare",
            message="",
            checks=list(t.pending_checks or []),
        )
        for t in tumours
    ]
    await audit.record_listing(
        session,
        principal,
        [audit.Access(pid, "cancer registration") for pid in sorted({i.person_id for i in items})],
        action="read",
        resource_type="Condition",
    )
    return items


async def count_open_work(session: AsyncSession) -> dict[str, int]:
    """How much waits for the registry (its page's header)."""
    review = await session.scalar(
        select(func.count()).where(CancerNotification.status == "to_review")
    )
    confirm = await session.scalar(select(func.count()).where(CancerTumour.status == "to_confirm"))
    return {"to_review": int(review or 0), "to_confirm": int(confirm or 0)}
