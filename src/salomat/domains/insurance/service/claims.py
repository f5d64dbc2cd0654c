"""Providers' claims for services (fee-for-service): a facility sends its lines, each
at the pack's tariff, and the immediate control rules look at them as they arrive.

A claim is all or nothing: one bad line (a national id the register doesn't know, a
service in no package, a day in the future or before the person's birth, a day in
another month than the claim's) refuses the whole claim, each wrong field named, and
nothing is stored. The sender's own number (``external_id``) makes a resend harmless:
the same number again answers with the claim stored the first time (the unique index
decides between two sends at once).

A provider (``insurance:claim``, bound to a facility) sees its own facility's claims
only; the fund's analyst (``insurance:review``) sees all. Lines are person-level data:
every read writes one audit row per person shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal, overload

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.audit import Access
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Forbidden, Invalid, NotFound
from salomat.core.policy import allowed
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.insurance.models import ClaimLine, ServiceClaim
from salomat.domains.insurance.schemas.claims import (
    ClaimIn,
    ClaimLineOut,
    ClaimOut,
    ClaimSummary,
    FlagOut,
)
from salomat.domains.insurance.service import control
from salomat.domains.insurance.service.closing import refuse_if_closed
from salomat.domains.insurance.service.labels import (
    CONTROL_RULE_LABELS,
    LINE_STATUS_LABELS,
    label,
    service_name,
)
from salomat.domains.insurance.service.rules import (
    insurance_rules,
    month_of,
    parse_month,
)
from salomat.domains.registry import service as registry

__all__ = [
    "RESOURCE",
    "flag_out",
    "get_claim",
    "line_outs",
    "list_claims",
    "local_today",
    "own_facility",
    "parse_month",
    "submit_claim",
]

RESOURCE = "Claim"
LIST_LIMIT = 500
#: params of a flag's reason that are dates (shown as the page's dates)
_DATES = frozenset({"day", "death"})


def local_today() -> date:
    """Today in the country's time zone (the pack's ``timezone``)."""
    return pack.today(get_settings().country)


def own_facility(principal: Principal) -> int | None:
    """The facility a provider is limited to; None for the fund's analyst (all). Anyone
    else reads nothing (``NotFound`` where it is asked)."""
    if allowed(principal.role, "insurance:review"):
        return None
    if allowed(principal.role, "insurance:claim") and principal.facility_id is not None:
        return principal.facility_id
    return -1


def flag_out(flag: dict[str, Any]) -> FlagOut:
    """A stored flag with its reason in the current language (a service by its name in
    that language; ``params`` keep the stored values, the service's code)."""
    params = dict(flag.get("params") or {})
    shown = {}
    for k, v in params.items():
        if k in _DATES and isinstance(v, str):
            with contextlib.suppress(ValueError):
                v = f"{date.fromisoformat(v):%d.%m.%Y}"
        elif k == "service" and isinstance(v, str):
            v = service_name(v)  # the flag keeps the code; the reader sees the name
        shown[k] = v
    msgid = str(flag.get("reason", ""))
    try:
        reason = i18n.gettext(msgid) % shown
    except (KeyError, ValueError, TypeError):
        try:
            reason = msgid % shown
        except (KeyError, ValueError, TypeError):
            reason = msgid
    rule = str(flag.get("rule", ""))
    return FlagOut(
        rule=rule, rule_label=label(CONTROL_RULE_LABELS, rule), reason=reason, params=params
    )


async def line_outs(session: AsyncSession, lines: Sequence[ClaimLine]) -> list[ClaimLineOut]:
    briefs = await registry.person_briefs(session, [li.person_id for li in lines])
    out = []
    for li in lines:
        b = briefs.get(li.person_id)
        out.append(
            ClaimLineOut(
                id=li.id,
                claim_id=li.claim_id,
                facility_id=li.facility_id,
                person_id=li.person_id,
                national_id=b.national_id if b else None,
                person_name=b.name if b else None,
                service_code=li.service_code,
                service_name=service_name(li.service_code),
                package=li.package,
                service_on=li.service_on,
                quantity=li.quantity,
                amount_claimed=li.amount_claimed,
                amount_approved=li.amount_approved,
                encounter_ref=li.encounter_ref,
                status=li.status,
                status_label=label(LINE_STATUS_LABELS, li.status),
                flags=[flag_out(f) for f in li.flags or []],
                decided_by=li.decided_by,
                decided_at=li.decided_at,
                decision_note=li.decision_note,
            )
        )
    return out


async def audit_people(
    session: AsyncSession,
    principal: Principal,
    person_ids: Sequence[int],
    purpose: str,
    *,
    action: str = "read",
) -> None:
    people = dict.fromkeys(person_ids)
    if not people:
        return
    await audit.record_listing(
        session,
        principal,
        [Access(patient_id=pid, purpose=purpose) for pid in people],
        action=action,
        resource_type=RESOURCE,
    )


async def _claim_out(
    session: AsyncSession, claim: ServiceClaim, *, created: bool = True
) -> tuple[ClaimOut, list[int]]:
    lines = list(
        (
            await session.execute(
                select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.id)
            )
        ).scalars()
    )
    outs = await line_outs(session, lines)
    code = await registry.facility_code(session, claim.facility_id)
    return (
        ClaimOut(
            id=claim.id,
            facility_id=claim.facility_id,
            facility_code=code,
            month=claim.month,
            external_id=claim.external_id,
            status=claim.status,
            submitted_by=claim.submitted_by,
            submitted_at=claim.submitted_at,
            amount_claimed=sum(li.amount_claimed for li in lines),
            lines=outs,
            created=created,
        ),
        [li.person_id for li in lines],
    )


async def _stored(session: AsyncSession, facility_id: int, external_id: str) -> ServiceClaim | None:
    return (
        await session.execute(
            select(ServiceClaim).where(
                ServiceClaim.facility_id == facility_id, ServiceClaim.external_id == external_id
            )
        )
    ).scalar_one_or_none()


async def _resent(session: AsyncSession, principal: Principal, claim: ServiceClaim) -> ClaimOut:
    out, people = await _claim_out(session, claim, created=False)
    await audit_people(session, principal, people, f"insurance claim {claim.id} (sent again)")
    return out


async def submit_claim(
    session: AsyncSession, principal: Principal, data: ClaimIn, *, today: date | None = None
) -> ClaimOut:
    """Store a provider's claim with its lines at the pack's tariffs, and flag its lines
    by the immediate control rules. The same ``external_id`` again: the stored claim."""
    facility_id = principal.facility_id
    if facility_id is None or not allowed(principal.role, "insurance:claim"):
        raise Forbidden(N_("Only a provider's account bound to a facility submits claims."))
    if data.external_id is not None:
        found = await _stored(session, facility_id, data.external_id)
        if found is not None:
            return await _resent(session, principal, found)
    rules = insurance_rules()
    today = today or local_today()
    people = await registry.vitals_by_national_ids(session, [li.national_id for li in data.lines])
    month = month_of(data.lines[0].service_on)
    errors: list[FieldError] = []
    for i, li in enumerate(data.lines):
        at = f"lines.{i}"
        person = people.get(li.national_id)
        if person is None:
            errors.append(
                FieldError(f"{at}.national_id", N_("no person is registered with this national id"))
            )
        svc = rules.services.get(li.service_code)
        if svc is None:
            errors.append(
                FieldError(
                    f"{at}.service_code",
                    N_("%(code)s is not a service of any benefit package"),
                    {"code": li.service_code},
                )
            )
        if li.service_on > today:
            errors.append(FieldError(f"{at}.service_on", N_("is in the future")))
        elif person is not None and li.service_on < person.birth_date:
            errors.append(FieldError(f"{at}.service_on", N_("is before the person's birth")))
        elif month_of(li.service_on) != month:
            errors.append(
                FieldError(
                    f"{at}.service_on",
                    N_("is not in the claim's month (%(month)s): one claim covers one month"),
                    {"month": f"{month:%m.%Y}"},
                )
            )
    if errors:
        raise Invalid.fields(errors)
    # a month whose settlement is closed takes no new lines (the row share-locked until
    # this claim commits: a close waits for it and counts it)
    await refuse_if_closed(session, facility_id, month)
    now = utcnow()
    claim = ServiceClaim(
        facility_id=facility_id,
        month=month,
        external_id=data.external_id,
        status="submitted",
        submitted_by=principal.username,
        submitted_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(claim)
            await session.flush()
    except IntegrityError:
        # the same number sent twice at once: the first stored answers both
        found = (
            await _stored(session, facility_id, data.external_id)
            if data.external_id is not None
            else None
        )
        if found is None:
            raise Conflict(N_("The claim is being stored by another request; retry.")) from None
        return await _resent(session, principal, found)
    for li in data.lines:
        svc = rules.services[li.service_code]
        session.add(
            ClaimLine(
                claim_id=claim.id,
                facility_id=facility_id,
                person_id=people[li.national_id].person_id,
                service_code=svc.code,
                package=svc.package,
                service_on=li.service_on,
                quantity=li.quantity,
                amount_claimed=svc.tariff * li.quantity,
                amount_approved=None,
                encounter_ref=li.encounter_ref,
                status="entered",
                flags=[],
            )
        )
    await session.flush()
    await control.check_claim(session, claim.id, month)
    out, persons = await _claim_out(session, claim)
    await audit_people(session, principal, persons, f"insurance claim {claim.id}", action="create")
    return out


async def _load(session: AsyncSession, principal: Principal, claim_id: int) -> ServiceClaim:
    claim = await session.get(ServiceClaim, claim_id)
    own = own_facility(principal)
    if claim is None or (own is not None and claim.facility_id != own):
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(claim_id),
            detail="no such claim" if claim is None else "another provider's claim",
        )
        raise NotFound(N_("Claim %(id)s not found."), params={"id": claim_id})
    return claim


async def get_claim(session: AsyncSession, principal: Principal, claim_id: int) -> ClaimOut:
    """One claim with its lines and their flags (audited per person)."""
    claim = await _load(session, principal, claim_id)
    out, people = await _claim_out(session, claim)
    await audit_people(session, principal, people, f"insurance claim {claim.id}")
    return out


@overload
async def list_claims(
    session: AsyncSession,
    principal: Principal,
    *,
    month: date | None = None,
    facility_id: int | None = None,
    person_id: int | None = None,
    submitted: tuple[datetime | None, datetime | None] = (None, None),
    external_id: str | None = None,
    limit: int = LIST_LIMIT,
    offset: int = 0,
    counted: Literal[False] = False,
) -> list[ClaimSummary]: ...
@overload
async def list_claims(
    session: AsyncSession,
    principal: Principal,
    *,
    month: date | None = None,
    facility_id: int | None = None,
    person_id: int | None = None,
    submitted: tuple[datetime | None, datetime | None] = (None, None),
    external_id: str | None = None,
    limit: int = LIST_LIMIT,
    offset: int = 0,
    counted: Literal[True],
) -> tuple[list[ClaimSummary], int]: ...
async def list_claims(
    session: AsyncSession,
    principal: Principal,
    *,
    month: date | None = None,
    facility_id: int | None = None,
    person_id: int | None = None,
    submitted: tuple[datetime | None, datetime | None] = (None, None),
    external_id: str | None = None,
    limit: int = LIST_LIMIT,
    offset: int = 0,
    counted: bool = False,
) -> list[ClaimSummary] | tuple[list[ClaimSummary], int]:
    """Claims newest first with their totals (no person data): a provider's own, the
    analyst's all (narrowed to a facility, a month, a span of submission ``[since,
    until)`` or the sender's number); ``person_id``: claims with a line for that person
    (audited on the person). ``offset``/``limit`` page them; ``counted``: also how many
    match in all."""
    q = select(ServiceClaim).order_by(ServiceClaim.submitted_at.desc(), ServiceClaim.id.desc())
    own = own_facility(principal)
    if own is not None:
        q = q.where(ServiceClaim.facility_id == own)
    if facility_id is not None:
        q = q.where(ServiceClaim.facility_id == facility_id)
    if month is not None:
        q = q.where(ServiceClaim.month == month_of(month))
    since, until = submitted
    if since is not None:
        q = q.where(ServiceClaim.submitted_at >= since)
    if until is not None:
        q = q.where(ServiceClaim.submitted_at < until)
    if external_id is not None:
        q = q.where(ServiceClaim.external_id == external_id)
    if person_id is not None:
        q = q.where(
            ServiceClaim.id.in_(select(ClaimLine.claim_id).where(ClaimLine.person_id == person_id))
        )
    total = 0
    if counted:
        total = int(
            (
                await session.execute(select(func.count()).select_from(q.order_by(None).subquery()))
            ).scalar_one()
        )
    claims = list((await session.execute(q.offset(offset).limit(limit))).scalars())
    totals: dict[int, tuple[int, int, int]] = {}
    if claims:
        flagged = func.sum(case((ClaimLine.status == "flagged", 1), else_=0))
        for cid, n, f, amount in await session.execute(
            select(ClaimLine.claim_id, func.count(), flagged, func.sum(ClaimLine.amount_claimed))
            .where(ClaimLine.claim_id.in_([c.id for c in claims]))
            .group_by(ClaimLine.claim_id)
        ):
            totals[cid] = (int(n), int(f or 0), int(amount or 0))
    if person_id is not None:
        await audit_people(
            session, principal, [person_id], "insurance claims of a person", action="search"
        )
    else:
        await audit.record(
            session,
            principal,
            action="search",
            resource_type=RESOURCE,
            detail=f"claims: {len(claims)}",
            purpose="insurance claims (totals, no person data)",
        )
    out = [
        ClaimSummary(
            id=c.id,
            facility_id=c.facility_id,
            month=c.month,
            external_id=c.external_id,
            status=c.status,
            submitted_at=c.submitted_at,
            lines=totals.get(c.id, (0, 0, 0))[0],
            flagged=totals.get(c.id, (0, 0, 0))[1],
            amount_claimed=totals.get(c.id, (0, 0, 0))[2],
        )
        for c in claims
    ]
    return (out, total) if counted else out
