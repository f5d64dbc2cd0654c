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

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update
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


#: the columns a computation writes
_WRITTEN = (
    "capitation",
    "capitation_detail",
    "services",
    "pharmacy",
    "total",
    "computed_at",
    "computed_by",
)


@dataclass(frozen=True)
class _Amounts:
    """One provider's month as its settlement states it (minor units)."""

    capitation: Capitation
    services: int
    pending: int
    pharmacy: int

    def values(self, principal: Principal) -> dict[str, Any]:
        return {
            "capitation": self.capitation.amount,
            "capitation_detail": self.capitation.detail,
            "services": self.services,
            "pharmacy": self.pharmacy,
            "total": self.capitation.amount + self.services + self.pharmacy,
            "computed_at": utcnow(),
            "computed_by": principal.username,
        }


def _paid_and_pending() -> tuple[Any, Any]:
    """What a service line pays as things stand, and whether it waits for a decision."""
    paid = case(
        (ClaimLine.status == "entered", ClaimLine.amount_claimed),
        (ClaimLine.status.in_(("accepted", "reduced")), ClaimLine.amount_approved),
        else_=0,
    )
    return paid, case((ClaimLine.status == "flagged", 1), else_=0)


async def _amounts(
    session: AsyncSession, month: date, facility_ids: list[int] | None = None
) -> dict[int, _Amounts]:
    """Every provider's month at once (of ``facility_ids``, each of them even with
    nothing; else every facility with people attached on the month's first day, service
    lines in it, or pharmacy claims for it): three grouped statements."""
    start = month_of(month)
    rules = insurance_rules()
    counts: dict[int, list[registry.AttachedCount]] = defaultdict(list)
    for c in await registry.attached_population(session, start, facility_ids):
        counts[c.facility_id].append(c)
    paid, pending = _paid_and_pending()
    q = (
        select(
            ClaimLine.facility_id,
            func.coalesce(func.sum(paid), 0),
            func.coalesce(func.sum(pending), 0),
        )
        .where(ClaimLine.service_on >= start, ClaimLine.service_on < add_months(start, 1))
        .group_by(ClaimLine.facility_id)
    )
    if facility_ids is not None:
        q = q.where(ClaimLine.facility_id.in_(facility_ids))
    services = {int(f): (int(a), int(n)) for f, a, n in (await session.execute(q)).all()}
    # an open pharmacy claim (still the pharmacy's) pays nothing yet
    approved = case((PharmacyClaim.status != "open", PharmacyClaim.approved), else_=0)
    q = (
        select(PharmacyClaim.facility_id, func.coalesce(func.sum(approved), 0))
        .where(PharmacyClaim.month == start)
        .group_by(PharmacyClaim.facility_id)
    )
    if facility_ids is not None:
        q = q.where(PharmacyClaim.facility_id.in_(facility_ids))
    pharmacy = {int(f): int(a) for f, a in (await session.execute(q)).all()}
    ids = set(facility_ids) if facility_ids is not None else {*counts, *services, *pharmacy}
    return {
        fid: _Amounts(
            capitation_of(rules, counts.get(fid, [])),
            services.get(fid, (0, 0))[0],
            services.get(fid, (0, 0))[1],
            pharmacy.get(fid, 0),
        )
        for fid in sorted(ids)
    }


async def _pending(session: AsyncSession, rows: list[Settlement]) -> dict[int, int]:
    """Flagged lines waiting for a decision, per settlement: one grouped statement a
    month of ``rows``."""
    _, pending = _paid_and_pending()
    out: dict[int, int] = {}
    by_month: dict[date, list[Settlement]] = defaultdict(list)
    for s in rows:
        by_month[s.month].append(s)
    for month, these in by_month.items():
        found = dict(
            (
                await session.execute(
                    select(ClaimLine.facility_id, func.coalesce(func.sum(pending), 0))
                    .where(
                        ClaimLine.facility_id.in_({s.facility_id for s in these}),
                        ClaimLine.service_on >= month,
                        ClaimLine.service_on < add_months(month, 1),
                    )
                    .group_by(ClaimLine.facility_id)
                )
            ).all()
        )
        out.update({s.id: int(found.get(s.facility_id, 0)) for s in these})
    return out


async def _outs(
    session: AsyncSession, rows: list[Settlement], pending: dict[int, int] | None = None
) -> list[SettlementOut]:
    names = await registry.facility_names(session, {s.facility_id for s in rows})
    lang = i18n.current_language()
    pending = dict(pending or {})
    missing = [s for s in rows if s.id not in pending]
    if missing:
        pending.update(await _pending(session, missing))
    out = []
    for s in rows:
        f = names.get(s.facility_id)
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
                pending_lines=pending[s.id],
            )
        )
    return out


async def _lock(
    session: AsyncSession, month: date, facility_ids: list[int] | None
) -> dict[int, Settlement]:
    """The month's settlements (of ``facility_ids``), locked until the transaction ends
    (PostgreSQL ``FOR UPDATE``) in facility order (two computations of a month lock them
    in the same order: one waits, neither deadlocks): a close waits for the computation,
    a computation reads a close that committed first, and a decision or a claim holding
    a row (``closing``, ``FOR SHARE``) is waited for, so the amounts read after the lock
    count it."""
    q = (
        select(Settlement)
        .where(Settlement.month == month)
        .order_by(Settlement.facility_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if facility_ids is not None:
        q = q.where(Settlement.facility_id.in_(facility_ids))
    return {s.facility_id: s for s in (await session.execute(q)).scalars()}


async def _settle(
    session: AsyncSession,
    principal: Principal,
    month: date,
    facility_ids: list[int] | None = None,
    *,
    closed_refused: bool = False,
) -> tuple[list[Settlement], dict[int, int]]:
    """Compute the month's drafts and store them: closed settlements are kept as they
    are (``closed_refused``: ``InvalidState`` instead). Set-wise: the rows locked in one
    statement, then the amounts in three, the rows updated in one and inserted in one
    (in facility order)."""
    start = month_of(month)
    t = Settlement.__table__
    amounts: dict[int, _Amounts] = {}
    for attempt in range(3):
        found = await _lock(session, start, facility_ids)
        # read after the lock: what a decision or claim that held a row committed counts
        amounts = await _amounts(session, start, facility_ids)
        changes: list[dict[str, Any]] = []
        new: list[dict[str, Any]] = []
        for fid, a in sorted(amounts.items()):
            s = found.get(fid)
            if s is not None and s.status == "closed":
                if closed_refused:
                    raise InvalidState(
                        N_("The settlement of %(month)s is closed; it is no longer recomputed."),
                        params={"month": f"{start:%m.%Y}"},
                    )
            elif s is not None:
                changes.append(
                    {"b_id": s.id, **{f"b_{k}": v for k, v in a.values(principal).items()}}
                )
            else:
                new.append(
                    {"facility_id": fid, "month": start, "status": "draft", **a.values(principal)}
                )
        if changes:
            # the rows are locked: the status can't change under this UPDATE (its condition
            # says so again, for a backend without row locks)
            await session.execute(
                update(t)
                .where(t.c.id == bindparam("b_id"), t.c.status == "draft")
                .values({k: bindparam(f"b_{k}", type_=t.c[k].type) for k in _WRITTEN})
                .execution_options(synchronize_session=False),
                changes,
            )
        try:
            if new:
                async with session.begin_nested():
                    await session.execute(insert(t), new)
            break
        except IntegrityError:
            # another computation inserted one of these first: read its row, locked
            if attempt == 2:
                raise Conflict(N_("The settlement is being computed elsewhere; retry.")) from None
    q = (
        select(Settlement)
        .where(Settlement.month == start)
        .order_by(Settlement.facility_id)
        .execution_options(populate_existing=True)
    )
    if facility_ids is not None:
        q = q.where(Settlement.facility_id.in_(facility_ids))
    rows = [s for s in (await session.execute(q)).scalars() if s.facility_id in amounts]
    pending = {s.id: amounts[s.facility_id].pending for s in rows if s.status == "draft"}
    return rows, pending


async def compute_settlement(
    session: AsyncSession, principal: Principal, facility_id: int, month: date
) -> SettlementOut:
    """(Re)compute one provider's draft settlement of ``month``; a closed one is refused
    (409)."""
    if await registry.facility_code(session, facility_id) is None:
        raise NotFound(N_("Facility %(id)s not found."), params={"id": facility_id})
    rows, pending = await _settle(session, principal, month, [facility_id], closed_refused=True)
    s = rows[0]
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(s.id),
        purpose=f"settlement {month_of(month):%Y-%m}",
    )
    return (await _outs(session, [s], pending))[0]


async def compute_settlements(
    session: AsyncSession, principal: Principal, month: date
) -> list[SettlementOut]:
    """Every provider's settlement of ``month``: facilities with people attached on its
    first day, service lines in it, or pharmacy claims for it (closed ones as they
    are)."""
    start = month_of(month)
    done, pending = await _settle(session, principal, start)
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
    """Close a draft: it is computed once more, under its row lock, and closed as it
    then stands (every decision and claim of the month committed before counts; later
    ones are refused, ``closing``); it is no longer recomputed."""
    s = await _load(session, principal, settlement_id)
    await session.flush()
    # the row locked, its amounts computed again (a closed one is kept as it is): a
    # computation, decision or claim holding the row is waited for, and counted
    _, pending = await _settle(session, principal, s.month, [s.facility_id])
    # one conditional UPDATE decides: of two closes at once exactly one changes the row
    done = await session.execute(
        update(Settlement)
        .where(Settlement.id == s.id, Settlement.status == "draft")
        .values(status="closed")
        .execution_options(synchronize_session=False)
    )
    await session.refresh(s)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState(N_("The settlement is already closed."))
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(s.id),
        purpose="settlement closed",
    )
    return (await _outs(session, [s], {s.id: pending.get(s.id, 0)}))[0]


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
