"""A provider's monthly settlement: the per-capita payment of primary care, the service
lines, and the pharmacy claims the e-prescription domain reports.

- **Capitation**: the people attached to the facility on the month's first day (the
  register's attachment history; alive that day), each counted by sex and age in whole
  years that day, times the pack's coefficient of the group, summed, times the pack's
  base rate per person-month, rounded half up to a minor unit once, at the end.
- **Services**: lines of the month's claims. A line no rule flagged counts at its
  claimed amount (accepted by default at settlement: the fund reviews what the rules
  raise); an accepted or reduced line at its approved amount; a rejected line nothing;
  a flagged line only once decided (``pending_lines`` says how many wait).
- **Pharmacy**: the approved amounts of the pharmacy's monthly reimbursement claims,
  as the prescription domain pushed them (``record_pharmacy_claim``, on submission and
  on each reviewed line).

A draft is recomputed as often as asked; a closed settlement is kept as it is.
Settlements carry no person data (counts and sums).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.db import utcnow
from salomat.core.downloads import CsvFile, csv_text
from salomat.core.errors import N_, Conflict, InvalidState, NotFound
from salomat.core.security import Principal
from salomat.domains.insurance.models import ClaimLine, PharmacyClaim, Settlement
from salomat.domains.insurance.schemas.claims import SettlementOut
from salomat.domains.insurance.service.claims import own_facility
from salomat.domains.insurance.service.rules import (
    InsuranceRules,
    add_months,
    insurance_rules,
    month_of,
)
from salomat.domains.registry import service as registry

__all__ = [
    "Capitation",
    "capitation",
    "close_settlement",
    "compute_settlement",
    "compute_settlements",
    "get_settlement",
    "list_settlements",
    "record_pharmacy_claim",
    "settlement_csv",
]

RESOURCE = "Settlement"


# ---- pharmacy claims, pushed by the prescription domain -----------------------------------


async def record_pharmacy_claim(
    session: AsyncSession,
    source_claim_id: int,
    facility_id: int,
    month: date,
    status: str,
    claimed: int,
    approved: int,
) -> None:
    """Keep a pharmacy's monthly claim's totals (minor units) as its domain reports them:
    one row per source claim, updated on every report."""
    values = {
        "facility_id": facility_id,
        "month": month_of(month),
        "status": status,
        "claimed": int(claimed),
        "approved": int(approved),
        "updated_at": utcnow(),
    }
    found = (
        await session.execute(
            select(PharmacyClaim).where(PharmacyClaim.source_claim_id == source_claim_id)
        )
    ).scalar_one_or_none()
    if found is None:
        try:
            async with session.begin_nested():
                session.add(PharmacyClaim(source_claim_id=source_claim_id, **values))
                await session.flush()
            return
        except IntegrityError:
            found = (
                await session.execute(
                    select(PharmacyClaim).where(PharmacyClaim.source_claim_id == source_claim_id)
                )
            ).scalar_one()
    for k, v in values.items():
        setattr(found, k, v)
    await session.flush()


# ---- capitation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Capitation:
    #: minor units
    amount: int
    #: people counted by group, {"0-0/male": 12, ...}
    detail: dict[str, int]
    #: Σ people × coefficient (the weighted population)
    weighted: Decimal


def capitation_of(rules: InsuranceRules, counts: list[registry.AttachedCount]) -> Capitation:
    weighted = Decimal(0)
    detail: dict[str, int] = {}
    for c in counts:
        weighted += c.count * rules.capitation_coefficient(c.sex, c.age)
        key = f"{rules.group_label(c.age)}/{c.sex}"
        detail[key] = detail.get(key, 0) + c.count
    amount = int((weighted * rules.capitation_base).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return Capitation(amount, dict(sorted(detail.items())), weighted)


async def capitation(session: AsyncSession, facility_id: int, month: date) -> Capitation:
    """The per-capita payment of one facility for ``month``."""
    counts = await registry.attached_population(session, month_of(month), [facility_id])
    return capitation_of(insurance_rules(), counts)


# ---- settlements --------------------------------------------------------------------------


async def _services(session: AsyncSession, facility_id: int, month: date) -> tuple[int, int]:
    """What the month's service lines pay, and how many flagged lines wait."""
    start = month_of(month)
    paid = case(
        (ClaimLine.status == "entered", ClaimLine.amount_claimed),
        (ClaimLine.status.in_(("accepted", "reduced")), ClaimLine.amount_approved),
        else_=0,
    )
    pending = case((ClaimLine.status == "flagged", 1), else_=0)
    row = (
        await session.execute(
            select(func.coalesce(func.sum(paid), 0), func.coalesce(func.sum(pending), 0)).where(
                ClaimLine.facility_id == facility_id,
                ClaimLine.service_on >= start,
                ClaimLine.service_on < add_months(start, 1),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def _pharmacy(session: AsyncSession, facility_id: int, month: date) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PharmacyClaim.approved), 0)).where(
            PharmacyClaim.facility_id == facility_id,
            PharmacyClaim.month == month_of(month),
            PharmacyClaim.status != "open",
        )
    )
    return int(total or 0)


async def _outs(
    session: AsyncSession, rows: list[Settlement], pending: dict[int, int] | None = None
) -> list[SettlementOut]:
    names = await registry.facility_names(session, {s.facility_id for s in rows})
    lang = i18n.current_language()
    out = []
    for s in rows:
        f = names.get(s.facility_id)
        if pending is not None and s.id in pending:
            waiting = pending[s.id]
        else:
            waiting = (await _services(session, s.facility_id, s.month))[1]
        out.append(
            SettlementOut(
                id=s.id,
                facility_id=s.facility_id,
                facility_code=f.code if f else None,
                facility_name=(f.names.get(lang) or f.name) if f else None,
                month=s.month,
                capitation=s.capitation,
                capitation_detail={k: int(v) for k, v in (s.capitation_detail or {}).items()},
                services=s.services,
                pharmacy=s.pharmacy,
                total=s.total,
                status=s.status,
                computed_at=s.computed_at,
                computed_by=s.computed_by,
                pending_lines=waiting,
            )
        )
    return out


async def _find(session: AsyncSession, facility_id: int, month: date) -> Settlement | None:
    return (
        await session.execute(
            select(Settlement).where(
                Settlement.facility_id == facility_id, Settlement.month == month
            )
        )
    ).scalar_one_or_none()


async def _compute(
    session: AsyncSession, principal: Principal, facility_id: int, month: date
) -> tuple[Settlement, int]:
    month = month_of(month)
    cap = await capitation(session, facility_id, month)
    services, pending = await _services(session, facility_id, month)
    pharmacy = await _pharmacy(session, facility_id, month)
    values = {
        "capitation": cap.amount,
        "capitation_detail": cap.detail,
        "services": services,
        "pharmacy": pharmacy,
        "total": cap.amount + services + pharmacy,
        "computed_at": utcnow(),
        "computed_by": principal.username,
    }
    s = await _find(session, facility_id, month)
    if s is None:
        try:
            async with session.begin_nested():
                s = Settlement(facility_id=facility_id, month=month, status="draft", **values)
                session.add(s)
                await session.flush()
            return s, pending
        except IntegrityError:
            s = await _find(session, facility_id, month)
            if s is None:
                raise Conflict(N_("The settlement is being computed elsewhere; retry.")) from None
    if s.status == "closed":
        raise InvalidState(
            N_("The settlement of %(month)s is closed; it is no longer recomputed."),
            params={"month": f"{month:%m.%Y}"},
        )
    for k, v in values.items():
        setattr(s, k, v)
    await session.flush()
    return s, pending


async def compute_settlement(
    session: AsyncSession, principal: Principal, facility_id: int, month: date
) -> SettlementOut:
    """(Re)compute one provider's draft settlement of ``month``."""
    if await registry.facility_code(session, facility_id) is None:
        raise NotFound(N_("Facility %(id)s not found."), params={"id": facility_id})
    s, pending = await _compute(session, principal, facility_id, month)
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(s.id),
        purpose=f"settlement {month_of(month):%Y-%m}",
    )
    return (await _outs(session, [s], {s.id: pending}))[0]


async def compute_settlements(
    session: AsyncSession, principal: Principal, month: date
) -> list[SettlementOut]:
    """Every provider's settlement of ``month``: facilities with people attached on its
    first day, service lines in it, or pharmacy claims for it."""
    start = month_of(month)
    ids = {c.facility_id for c in await registry.attached_population(session, start)}
    ids |= set(
        (
            await session.execute(
                select(ClaimLine.facility_id)
                .where(ClaimLine.service_on >= start, ClaimLine.service_on < add_months(start, 1))
                .distinct()
            )
        ).scalars()
    )
    ids |= set(
        (
            await session.execute(
                select(PharmacyClaim.facility_id).where(PharmacyClaim.month == start).distinct()
            )
        ).scalars()
    )
    done: list[Settlement] = []
    pending: dict[int, int] = {}
    for fid in sorted(ids):
        existing = await _find(session, fid, start)
        if existing is not None and existing.status == "closed":
            done.append(existing)
            continue
        s, waiting = await _compute(session, principal, fid, start)
        done.append(s)
        pending[s.id] = waiting
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        detail=f"settlements of {start:%Y-%m}: {len(done)}",
        purpose="monthly settlement",
    )
    return await _outs(session, done, pending)


async def _load(session: AsyncSession, principal: Principal, settlement_id: int) -> Settlement:
    s = await session.get(Settlement, settlement_id)
    own = own_facility(principal)
    if s is None or (own is not None and s.facility_id != own):
        raise NotFound(N_("Settlement %(id)s not found."), params={"id": settlement_id})
    return s


async def get_settlement(
    session: AsyncSession, principal: Principal, settlement_id: int
) -> SettlementOut:
    return (await _outs(session, [await _load(session, principal, settlement_id)]))[0]


async def list_settlements(
    session: AsyncSession,
    principal: Principal,
    *,
    month: date | None = None,
    facility_id: int | None = None,
    limit: int = 500,
) -> list[SettlementOut]:
    q = select(Settlement).order_by(Settlement.month.desc(), Settlement.facility_id)
    own = own_facility(principal)
    if own is not None:
        q = q.where(Settlement.facility_id == own)
    if facility_id is not None:
        q = q.where(Settlement.facility_id == facility_id)
    if month is not None:
        q = q.where(Settlement.month == month_of(month))
    rows = list((await session.execute(q.limit(limit))).scalars())
    return await _outs(session, rows)


async def close_settlement(
    session: AsyncSession, principal: Principal, settlement_id: int
) -> SettlementOut:
    """Close a draft: it is paid as it stands and no longer recomputed."""
    s = await _load(session, principal, settlement_id)
    if s.status == "closed":
        raise InvalidState(N_("The settlement is already closed."))
    s.status = "closed"
    await session.flush()
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(s.id),
        purpose="settlement closed",
    )
    return (await _outs(session, [s]))[0]


def _money(minor: int) -> str:
    return f"{minor / 100:.2f}"


async def settlement_csv(
    session: AsyncSession, principal: Principal, settlement_id: int
) -> CsvFile:
    """The settlement as CSV in the current language: the attached people by group with
    their coefficient, then the three parts and the total (amounts in major units)."""
    s = (await _outs(session, [await _load(session, principal, settlement_id)]))[0]
    rules = insurance_rules()
    _ = i18n.gettext
    header = [_(N_("part")), _(N_("group")), _(N_("people")), _(N_("coefficient")), _(N_("amount"))]
    rows: list[list[object]] = []
    for key, n in s.capitation_detail.items():
        group, sex = key.split("/")
        low = int(group.split("-")[0].rstrip("+"))
        coef = rules.capitation_coefficient(sex, low)
        amount = Decimal(n) * coef * rules.capitation_base
        rows.append(
            [
                _(N_("capitation")),
                f"{group} {_(N_('male') if sex == 'male' else N_('female'))}",
                n,
                f"{coef}",
                f"{amount / 100:.2f}",
            ]
        )
    rows.append(
        [_(N_("capitation")), "", sum(s.capitation_detail.values()), "", _money(s.capitation)]
    )
    rows.append([_(N_("services")), "", "", "", _money(s.services)])
    rows.append([_(N_("pharmacy")), "", "", "", _money(s.pharmacy)])
    rows.append([_(N_("total")), "", "", "", _money(s.total)])
    name = f"settlement-{s.facility_code or s.facility_id}-{s.month:%Y-%m}.csv"
    return CsvFile(name, csv_text(header, rows))
