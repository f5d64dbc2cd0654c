"""The demo insurance fund (the ``insurance`` section of a pack's demo.yaml).

Everything goes through the use cases the fund's analyst and a provider use
(``create_payer``, ``create_employment``, ``add_category_member``,
``import_contributions``, ``submit_claim``), so the pack's rates, the advance rule, the
arrears-first allocation and the control rules decide what the demo shows, as they would
in the fund. The loader is named ``cli:demo-load`` in the audit trail.

The section (contributory scheme only, except ``claims``):

- ``payers``: ``{kind: employer, business_id}`` (a registry employer of the demo),
  ``{kind: independent | entrepreneur, national_id}``, ``{kind: state}``;
- ``employment``: ``{payer, national_id, start (days), wage}`` (wage in major units);
- ``categories``: ``{national_id, category, start (days)}``: a listed protected category;
- ``contributions``: ``{payer, national_id, kinds, from, to}``: one line of each kind for
  every month from ``from`` to ``to`` (months counted from the month of loading: -1 is
  the last one), at the pack's amount for the kind (the employment's wage for wage-based
  kinds), paid on the 15th of the next month (an employer, the state) or the 10th of the
  month itself (a person paying for themself), never after the day of loading; with
  ``advance: true`` one payment on the 10th of the month ``paid`` for the twelve months
  after it (the rule since 05.09.2022);
- ``claims``: ``{facility, external_id, lines: [{national_id, service, day (days), ...}]}``,
  submitted by a registrar of the facility: the immediate control rules flag what they
  find (a service after death, to an uninsured person, the same service twice a day);
  ``month_day: [m, d]`` instead of ``day``: the d-th of the month m months from this one;
- ``settlement: {month}``: every provider's draft settlement of that month (months from
  this one), computed by the fund's analyst (capitation counts the people attached on
  the month's first day: the demo loader attaches its people from the first day of last
  month, so last month's settlement has both capitation and the claims' lines).

Days and months count from the day of loading. Loaded whole or not at all: a database
that already has an insurance claim is left alone (a ``--force`` load adds nothing
twice).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.insurance.models import ServiceClaim
from salomat.domains.insurance.schemas.claims import ClaimIn, ClaimLineIn
from salomat.domains.insurance.schemas.contributions import (
    CategoryMemberIn,
    ContributionLineIn,
    ContributionsIn,
    EmploymentIn,
    PayerIn,
)
from salomat.domains.insurance.service.categories import add_category_member
from salomat.domains.insurance.service.claims import submit_claim
from salomat.domains.insurance.service.contributions import import_contributions
from salomat.domains.insurance.service.payers import (
    STATE_CODE,
    create_employment,
    major,
    payer_by_code,
)
from salomat.domains.insurance.service.payers import create_payer as _create_payer
from salomat.domains.insurance.service.rules import add_months, insurance_rules, month_of
from salomat.domains.insurance.service.settlement import compute_settlements
from salomat.domains.registry import service as registry

__all__ = ["load_demo_insurance"]

LOADER = "cli:demo-load"
SECTION = "insurance"
#: what a provider's claim is submitted as (insurance:claim)
CLAIM_ROLE = "registrar"


def _today() -> date:
    """The day of loading: today in the pack's time zone, the day the fund's services
    answer for (one seam: a test holds it across midnight)."""
    return pack.today(get_settings().country)


def _principal(role: str, facility: tuple[int, str] | None = None) -> Principal:
    return Principal(
        user_id=0,
        username=LOADER,
        role=role,
        session_id="cli",
        facility_id=facility[0] if facility else None,
        facility_code=facility[1] if facility else None,
    )


def _named(key: str, e: SalomatError) -> SalomatError:
    """The service's refusal with each field named inside the demo file's entry."""
    if isinstance(e, Invalid) and e.errors:
        return Invalid.fields(
            [FieldError(f"{SECTION}.{key}.{fe.field}", fe.msgid, fe.params) for fe in e.errors]
        )
    return type(e)(
        e.msgid, params=e.params, errors=[FieldError(f"{SECTION}.{key}", e.msgid, e.params)]
    )


def _code(p: dict[str, Any]) -> str:
    if p["kind"] == "state":
        return STATE_CODE
    return str(p.get("business_id") or p.get("national_id"))


async def _payers(session: AsyncSession, fund: Principal, spec: list[dict[str, Any]]) -> None:
    for k, p in enumerate(spec):
        if await payer_by_code(session, _code(p)) is not None:
            continue
        data = PayerIn(
            kind=p["kind"],
            business_id=p.get("business_id"),
            national_id=p.get("national_id"),
            name=p.get("name"),
        )
        try:
            await _create_payer(session, fund, data)
        except SalomatError as e:
            raise _named(f"payers.{k}", e) from None


def _paid_on(month: date, kind: str, today: date) -> date:
    rules = insurance_rules()
    if kind in rules.arrears_first_kinds:
        day = month + timedelta(days=9)
    else:
        day = add_months(month, 1) + timedelta(days=14)
    return min(day, today)


def _amount(kind: str, month: date, wage: int | None) -> int | None:
    """The pack's amount; a year it has no figures for yet takes its latest year's (an
    advance reaching into next year)."""
    rules = insurance_rules()
    found = rules.expected(kind, month, wage)
    if found is None and rules.minimum_wage:
        latest = max(rules.minimum_wage)
        found = rules.expected(kind, month.replace(year=min(month.year, latest)), wage)
    return found


async def _contributions(
    session: AsyncSession,
    fund: Principal,
    spec: list[dict[str, Any]],
    wages: dict[tuple[str, str], Decimal],
    today: date,
) -> int:
    rules = insurance_rules()
    this = month_of(today)
    lines: list[ContributionLineIn] = []
    for k, c in enumerate(spec):
        payer, nid = str(c["payer"]), str(c["national_id"])
        kinds = list(c.get("kinds") or [c.get("kind")])
        if c.get("advance"):
            paid_month = add_months(this, int(c["paid"]))
            paid = min(paid_month + timedelta(days=9), today)
            months = [add_months(paid_month, n) for n in range(1, rules.advance_months + 1)]
        else:
            months = [add_months(this, n) for n in range(int(c["from"]), int(c["to"]) + 1)]
            paid = None
        for m in months:
            for kind in kinds:
                wage = wages.get((payer, nid))
                amount = _amount(kind, m, int(wage * 100) if wage is not None else None)
                if amount is None:
                    raise Invalid.fields(
                        [
                            FieldError(
                                f"{SECTION}.contributions.{k}",
                                N_("the pack sets no amount for %(kind)s in %(month)s"),
                                {"kind": kind, "month": f"{m:%Y-%m}"},
                            )
                        ]
                    )
                lines.append(
                    ContributionLineIn(
                        payer=payer,
                        national_id=nid,
                        month=f"{m:%Y-%m}",
                        amount=str(major(amount)),
                        paid_on=(paid or _paid_on(m, kind, today)).isoformat(),
                        kind=kind,
                    )
                )
    if not lines:
        return 0
    try:
        result = await import_contributions(session, fund, ContributionsIn(lines=lines))
    except SalomatError as e:
        raise _named("contributions", e) from None
    return int(result.added) if hasattr(result, "added") else len(lines)


async def _claims(session: AsyncSession, spec: list[dict[str, Any]], today: date) -> int:
    made = 0
    for k, c in enumerate(spec):
        code = str(c["facility"])
        fid = await registry.facility_id_by_code(session, code)
        if fid is None:
            raise Invalid.fields(
                [
                    FieldError(
                        f"{SECTION}.claims.{k}.facility",
                        N_("no facility has code %(code)s"),
                        {"code": code},
                    )
                ]
            )
        lines = [
            ClaimLineIn(
                national_id=str(li["national_id"]),
                service_code=str(li["service"]),
                service_on=today + timedelta(days=int(li["day"])),
                quantity=int(li.get("quantity", 1)),
                encounter_ref=li.get("encounter"),
            )
            for li in c["lines"]
        ]
        try:
            await submit_claim(
                session,
                _principal(CLAIM_ROLE, (fid, code)),
                ClaimIn(external_id=c.get("external_id"), lines=lines),
                today=today,
            )
        except SalomatError as e:
            raise _named(f"claims.{k}", e) from None
        made += 1
    return made


def _claim_days_in_one_month(spec: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """Days given as ``month_day: [m, d]`` (the d-th of the month m months from this one)
    become day offsets: a demo claim's lines fall in one month whatever the day of loading."""
    out = []
    for c in spec:
        lines = []
        for li in c["lines"]:
            li = dict(li)
            if "month_day" in li:
                m, d = li.pop("month_day")
                on = add_months(month_of(today), int(m)) + timedelta(days=int(d) - 1)
                li["day"] = (min(on, today) - today).days
            lines.append(li)
        out.append({**c, "lines": lines})
    return out


async def load_demo_insurance(
    session: AsyncSession,
    spec: dict[str, Any],
    person_ids: dict[str, int] | None = None,
    *,
    today: date | None = None,
) -> int:
    """Load the section; returns the claims it submitted (0 when already loaded)."""
    if not spec:
        return 0
    if await session.scalar(select(ServiceClaim.id).limit(1)) is not None:
        return 0
    today = today or _today()
    rules = insurance_rules()
    fund = _principal("insurance_analyst")
    if not rules.universal:
        await _payers(session, fund, spec.get("payers", []))
        wages: dict[tuple[str, str], Decimal] = {}
        for k, e in enumerate(spec.get("employment", [])):
            wage = Decimal(str(e["wage"]))
            data = EmploymentIn(
                payer=str(e["payer"]),
                national_id=str(e["national_id"]),
                start_on=today + timedelta(days=int(e["start"])),
                monthly_wage=wage,
            )
            try:
                await create_employment(session, fund, data)
            except SalomatError as ex:
                raise _named(f"employment.{k}", ex) from None
            wages[(str(e["payer"]), str(e["national_id"]))] = wage
        for k, c in enumerate(spec.get("categories", [])):
            data_c = CategoryMemberIn(
                national_id=str(c["national_id"]),
                category=str(c["category"]),
                start_on=today + timedelta(days=int(c["start"])),
                end_on=today + timedelta(days=int(c["end"])) if c.get("end") else None,
            )
            try:
                await add_category_member(session, fund, data_c)
            except SalomatError as ex:
                raise _named(f"categories.{k}", ex) from None
        await _contributions(session, fund, spec.get("contributions", []), wages, today)
    made = await _claims(session, _claim_days_in_one_month(spec.get("claims", []), today), today)
    if "settlement" in spec:
        month = add_months(month_of(today), int(spec["settlement"]["month"]))
        await compute_settlements(session, fund, month)
    return made
