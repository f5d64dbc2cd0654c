"""Referrals of pregnant women to a screening or perinatal centre, and the birth plan.

A referral goes ``sent -> accepted -> seen -> returned`` (with a conclusion),
or ``sent -> declined``; the sending facility may cancel it while it is
``sent`` or ``accepted`` (a reason required, kept in ``conclusion``).
Sending needs the woman in the sender's scope; the destination is given by
code or, by default, the nearest open facility of the sender's region that
can take her (a screening centre, or a facility whose perinatal level is
at least the level required). Only staff of the receiving facility act on
it; accepting opens a care relationship there
(``kind="referral"``) so its clinicians can read her record, returning,
declining or cancelling closes it. Every transition needs If-Match and is audited.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit, events
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    FieldError,
    Forbidden,
    Invalid,
    InvalidState,
    Msgid,
    NotFound,
    PreconditionFailed,
)
from salomat.core.geo import haversine_km
from salomat.core.pagination import PageParams
from salomat.core.policy import allowed, require_person
from salomat.core.security import Principal
from salomat.domains.maternal.models import Referral
from salomat.domains.maternal.schemas import (
    BirthPlanIn,
    PregnancyDetail,
    ReferralCancelIn,
    ReferralIn,
    ReferralOut,
    ReferralUpdateIn,
)
from salomat.domains.maternal.service import pregnancy as preg
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityOut, FacilityQuery

__all__ = [
    "ACCEPTED",
    "accept_referral",
    "cancel_referral",
    "decline_referral",
    "get_referral",
    "inbox",
    "list_referrals",
    "mark_seen",
    "plan_birth",
    "return_referral",
    "send_referral",
]

#: FHIR's name for a referral, in the audit
RESOURCE = "ServiceRequest"
#: the facility type of a screening centre (in both packs)
SCREENING_KIND = "screening_centre"
#: statuses in which the receiving facility has taken her on
ACCEPTED = ("accepted", "seen", "returned")
#: statuses in which the receiving facility reads the referral without her in its scope
LIVE = ("sent", "accepted", "seen")
#: status -> (statuses it may come from, timestamp column)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "accepted": (("sent",), "accepted_at"),
    "declined": (("sent",), "declined_at"),
    "seen": (("accepted",), "seen_at"),
    "returned": (("seen",), "returned_at"),
    # by the sending facility, before the woman is seen there
    "cancelled": (("sent", "accepted"), "cancelled_at"),
}
_REGION_SCAN = PageParams(limit=1000, offset=0)


# ---- facilities ------------------------------------------------------------------------


async def _region_of(session: AsyncSession, settlement_code: str | None) -> str | None:
    code = settlement_code
    while code is not None:
        t = await registry.get_territory(session, code)
        if t.level == "region":
            return t.code
        code = t.parent_code
    return None


async def _coordinates(
    session: AsyncSession, settlement_code: str | None
) -> tuple[float, float] | None:
    if settlement_code is None:
        return None
    t = await registry.get_territory(session, settlement_code)
    if t.latitude is None or t.longitude is None:
        return None
    return t.latitude, t.longitude


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (core.geo)."""
    return haversine_km(*a, *b)


Why = tuple[str, dict[str, object]]


def _suitable(f: FacilityOut, kind: str, level: int | None) -> Why | None:
    """Why ``f`` cannot take this referral, as a msgid and its params (None: it can)."""
    if not f.is_open:
        return N_("%(code)s is closed"), {"code": f.code}
    if kind == "screening":
        if f.kind == SCREENING_KIND:
            return None
        return N_("%(code)s is not a screening centre"), {"code": f.code}
    allowed = registry.facility_types().get(f.kind, {}).get("perinatal_level") or []
    if f.perinatal_level is None or f.perinatal_level not in allowed:
        return N_("%(code)s gives no perinatal care"), {"code": f.code}
    if level is not None and f.perinatal_level < level:
        return (
            N_("%(code)s gives level %(has)s care; level %(level)s is required"),
            {"code": f.code, "has": f.perinatal_level, "level": level},
        )
    return None


def _no_facility(code: str) -> Why:
    return N_("no facility has code %(code)s"), {"code": code}


async def _nearest(
    session: AsyncSession, sender: FacilityOut, kind: str, level: int | None
) -> FacilityOut | None:
    region = await _region_of(session, sender.settlement_code)
    if region is None:
        return None
    page = await registry.list_facilities(
        session, _REGION_SCAN, FacilityQuery(territory_code=region, is_open=True)
    )
    here = await _coordinates(session, sender.settlement_code)
    ranked: list[tuple[float, int, str, FacilityOut]] = []
    for f in page.items:
        if f.id == sender.id or _suitable(f, kind, level) is not None:
            continue
        there = await _coordinates(session, f.settlement_code)
        distance = _km(here, there) if here and there else math.inf
        # nearest first; at equal distance the lowest sufficient level
        ranked.append((distance, f.perinatal_level or 0, f.code, f))
    ranked.sort(key=lambda r: r[:3])
    return ranked[0][3] if ranked else None


# ---- reading ---------------------------------------------------------------------------


async def _outs(session: AsyncSession, rows: list[Referral]) -> list[ReferralOut]:
    codes: dict[int, str] = {}
    outs = []
    for r in rows:
        out = ReferralOut.model_validate(r)
        for fid in {r.to_facility_id, r.from_facility_id} - {None, *codes}:
            assert fid is not None
            codes[fid] = (await registry.get_facility(session, fid)).code
        out.to_facility_code = codes[r.to_facility_id]
        out.from_facility_code = codes.get(r.from_facility_id) if r.from_facility_id else None
        outs.append(out)
    return outs


async def _out(session: AsyncSession, r: Referral) -> ReferralOut:
    return (await _outs(session, [r]))[0]


async def _load(session: AsyncSession, principal: Principal, referral_id: int) -> Referral:
    r = await session.get(Referral, referral_id)
    if r is None:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(referral_id),
            detail="no such referral",
        )
        raise NotFound(N_("Referral %(id)s not found."), params={"id": referral_id})
    return r


async def _open(
    session: AsyncSession, principal: Principal, referral_id: int, *, action: str
) -> Referral:
    """Receiving staff while the referral is live; others when she is in scope.

    Receiving staff are those of the destination who may receive referrals
    (``referral:receive``); its other staff (a nurse, a family doctor) read
    it like anyone else, as does everyone once it is cancelled, declined or
    returned: only when she is in their scope (a 404 otherwise).
    """
    r = await _load(session, principal, referral_id)
    if (
        principal.facility_id is not None
        and principal.facility_id == r.to_facility_id
        and r.status in LIVE
        and allowed(principal.role, "referral:receive")
    ):
        await audit.record(
            session,
            principal,
            action=action,
            resource_type=RESOURCE,
            resource_id=str(r.id),
            patient_id=r.person_id,
            purpose="referral to the user's facility",
        )
        return r
    try:
        await require_person(session, principal, r.person_id, action=action, resource_type=RESOURCE)
    except NotFound:
        raise NotFound(N_("Referral %(id)s not found."), params={"id": referral_id}) from None
    return r


async def get_referral(
    session: AsyncSession, principal: Principal, referral_id: int
) -> ReferralOut:
    return await _out(session, await _open(session, principal, referral_id, action="read"))


async def list_referrals(
    session: AsyncSession, principal: Principal, pregnancy_id: int
) -> list[ReferralOut]:
    """The referrals of one pregnancy, oldest first."""
    await preg._open(session, principal, pregnancy_id, action="read", what=RESOURCE)
    rows = await session.scalars(
        select(Referral).where(Referral.pregnancy_id == pregnancy_id).order_by(Referral.id)
    )
    return await _outs(session, list(rows))


async def inbox(
    session: AsyncSession, principal: Principal, facility_code: str, *, status: str | None
) -> list[ReferralOut]:
    """Referrals to a facility, for its own staff (others: 404, as for a missing one)."""
    facility_id = await registry.facility_id_by_code(session, facility_code)
    if facility_id is None or facility_id != principal.facility_id:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            detail=f"inbox of {facility_code}: not the user's facility",
        )
        raise NotFound(N_("Facility %(code)s not found."), params={"code": facility_code})
    q = select(Referral).where(Referral.to_facility_id == facility_id)
    if status is not None:
        q = q.where(Referral.status == status)
    rows = list(await session.scalars(q.order_by(Referral.sent_at, Referral.id)))
    # an ended referral no longer lets the facility see her: listed without her, not audited
    await audit.record_listing(
        session,
        principal,
        [
            audit.Access(r.person_id, "referral to the user's facility")
            for r in rows
            if r.status in LIVE
        ],
        action="search",
        resource_type=RESOURCE,
    )
    return await _outs(session, rows)


# ---- writing ---------------------------------------------------------------------------


async def send_referral(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    data: ReferralIn,
    *,
    sent_at: datetime | None = None,
) -> ReferralOut:
    """Refer her: to the facility named, or to the nearest suitable one in the region.

    ``sent_at`` is for loading history (the demo region, paper referrals entered
    later); the API and the web never pass it.
    """
    p = await preg._open(session, principal, pregnancy_id, action="create", what=RESOURCE)
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is closed."), params={"id": pregnancy_id})
    if principal.facility_id is None:
        raise Forbidden(N_("Referrals are sent from a facility; your account has none."))
    level: int | None = None
    if data.kind == "perinatal":
        level = data.required_level or p.care_level or 1
    elif data.required_level is not None:
        raise Invalid.fields([FieldError("required_level", N_("only for a perinatal referral"))])
    sender = await registry.get_facility(session, principal.facility_id)
    if data.to_facility_code:
        target = await registry.facility_by_code(session, data.to_facility_code)
        why = (
            _no_facility(data.to_facility_code)
            if target is None
            else _suitable(target, data.kind, level)
        )
        if why is not None or target is None:
            msgid, params = why or _no_facility(data.to_facility_code)
            raise Invalid.fields([FieldError("to_facility_code", msgid, params)])
    else:
        target = await _nearest(session, sender, data.kind, level)
        if target is None:
            error = (
                FieldError(
                    "to_facility_code",
                    N_("no open screening centre in your facility's region: name one"),
                )
                if data.kind == "screening"
                else FieldError(
                    "to_facility_code",
                    N_("no open level %(level)s facility in your facility's region: name one"),
                    {"level": level},
                )
            )
            raise Invalid.fields([error])
    now = utcnow()
    r = Referral(
        pregnancy_id=p.id,
        person_id=p.person_id,
        from_facility_id=principal.facility_id,
        to_facility_id=target.id,
        kind=data.kind,
        required_level=level,
        reason=data.reason,
        status="sent",
        sent_by=principal.username,
        updated_by=principal.username,
        sent_at=sent_at or now,
        updated_at=sent_at or now,
    )
    session.add(r)
    await session.flush()
    await events.publish(session, events.ResourceChanged("ServiceRequest", str(r.id), r.person_id))
    return await _out(session, r)


def _check_version(r: Referral, expected: int | None) -> None:
    if expected is None:
        raise PreconditionFailed(N_("Send If-Match with the version you read (its ETag)."))
    if expected != r.version:
        raise PreconditionFailed(
            N_(
                "The referral changed since you read it (version %(version)s, you sent "
                "%(sent)s); reload and retry."
            ),
            params={"version": r.version, "sent": expected},
        )


async def _move(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    to: str,
    *,
    expected_version: int | None,
    conclusion: str | None = None,
) -> Referral:
    r = await _load(session, principal, referral_id)
    # the sender cancels; the receiving facility does everything else
    side, facility_id = (
        ("sending", r.from_facility_id) if to == "cancelled" else ("receiving", r.to_facility_id)
    )
    if principal.facility_id is None or principal.facility_id != facility_id:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(r.id),
            patient_id=r.person_id,
            detail=f"not the {side} facility",
        )
        raise NotFound(N_("Referral %(id)s not found."), params={"id": referral_id})
    if expected_version is not None and r.status == to and conclusion in (None, r.conclusion):
        # the same step again (a retry whose answer was lost, a button pressed twice): the
        # referral as it is, whatever version was read; nothing changes, nothing is stale
        return r
    _check_version(r, expected_version)
    sources, stamp = TRANSITIONS[to]
    if r.status not in sources:
        raise InvalidState(
            N_("Referral %(id)s is already %(status)s and can no longer become %(to)s."),
            params={"id": r.id, "status": Msgid(r.status), "to": Msgid(to)},
        )
    if to == "returned" and not conclusion:
        raise Invalid.fields(
            [FieldError("conclusion", N_("a returned referral needs a conclusion"))]
        )
    if to == "cancelled" and not conclusion:
        raise Invalid.fields([FieldError("reason", N_("say why the referral is cancelled"))])
    now = utcnow()
    if to == "accepted":
        rel = await registry.open_care_relationship(
            session, r.person_id, r.to_facility_id, kind="referral", source=f"referral {r.id}"
        )
        r.care_relationship_id = rel.id
    elif to in ("returned", "declined", "cancelled") and r.care_relationship_id is not None:
        await registry.close_care_relationship(session, r.care_relationship_id)
    if conclusion is not None:
        r.conclusion = conclusion
    r.status = to
    setattr(r, stamp, now)
    r.updated_at, r.updated_by = now, principal.username
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed(N_("The referral changed while you edited it; reload.")) from e
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(r.id),
        patient_id=r.person_id,
        purpose=f"referral {to}",
    )
    await events.publish(session, events.ResourceChanged("ServiceRequest", str(r.id), r.person_id))
    return r


async def accept_referral(
    session: AsyncSession, principal: Principal, referral_id: int, *, expected_version: int | None
) -> ReferralOut:
    """The receiving facility takes her on: its clinicians may now open her record."""
    r = await _move(session, principal, referral_id, "accepted", expected_version=expected_version)
    return await _out(session, r)


async def mark_seen(
    session: AsyncSession, principal: Principal, referral_id: int, *, expected_version: int | None
) -> ReferralOut:
    r = await _move(session, principal, referral_id, "seen", expected_version=expected_version)
    return await _out(session, r)


async def return_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    data: ReferralUpdateIn,
    *,
    expected_version: int | None,
) -> ReferralOut:
    """Back to primary care with a conclusion; the care relationship closes."""
    r = await _move(
        session,
        principal,
        referral_id,
        "returned",
        expected_version=expected_version,
        conclusion=data.conclusion,
    )
    return await _out(session, r)


async def decline_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    data: ReferralUpdateIn,
    *,
    expected_version: int | None,
) -> ReferralOut:
    r = await _move(
        session,
        principal,
        referral_id,
        "declined",
        expected_version=expected_version,
        conclusion=data.conclusion,
    )
    return await _out(session, r)


async def cancel_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: int,
    data: ReferralCancelIn,
    *,
    expected_version: int | None,
) -> ReferralOut:
    """The sender withdraws it before she is seen: an accepting facility loses her record.

    The reason is kept in ``conclusion`` (the field the receiving facility
    fills only when returning or declining, which a cancelled referral never is).
    """
    r = await _move(
        session,
        principal,
        referral_id,
        "cancelled",
        expected_version=expected_version,
        conclusion=data.reason,
    )
    return await _out(session, r)


# ---- birth plan ------------------------------------------------------------------------


async def plan_birth(
    session: AsyncSession,
    principal: Principal,
    pregnancy_id: int,
    data: BirthPlanIn,
    *,
    expected_version: int | None,
) -> PregnancyDetail:
    """Record the planned place of birth: an open facility that gives perinatal care.

    The place already planned, sent again: the pregnancy as it is, whatever version was
    read (nothing changes, so nothing is stale)."""
    p = await preg._open(session, principal, pregnancy_id, action="update", what=preg.RESOURCE)
    target = await registry.facility_by_code(session, data.facility_code)
    if target is not None and p.status == "current" and p.planned_birth_facility_id == target.id:
        return await preg._detail(session, p)
    preg._check_version(p, expected_version)
    if p.status != "current":
        raise InvalidState(N_("Pregnancy %(id)s is closed."), params={"id": pregnancy_id})
    why = (
        _no_facility(data.facility_code)
        if target is None
        else _suitable(target, "perinatal", p.care_level)
    )
    if why is not None or target is None:
        msgid, params = why or _no_facility(data.facility_code)
        raise Invalid.fields([FieldError("facility_code", msgid, params)])
    p.planned_birth_facility_id = target.id
    await preg._save(session, p)
    return await preg._detail(session, p)
