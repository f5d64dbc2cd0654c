"""The fund's writes that race (PostgreSQL: real concurrency, barriers, never timing).

- One payment file (or one set of API lines) imported twice at once, both requests having
  found no earlier import: one stores the import and its lines, the other answers that the
  file was imported before (no server error), and each line is stored once.
- Two analysts setting the plan of one region, package and year at once, both having
  found the region: both are saved (no 409), one row stays, holding one analyst's amount
  beside that analyst's name.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.domains.insurance.models import Contribution, ContributionImport, SpendingPlan
from salomat.domains.insurance.schemas.contributions import ContributionsIn, PlanIn
from salomat.domains.insurance.service import contributions, dashboards
from tests.domains.insurance.fund_fixtures import csv_of, fund  # noqa: F401

pytestmark = pytest.mark.anyio


def _principal(account: Any) -> Principal:
    return Principal(
        user_id=account.id, username=account.username, role="insurance_analyst", session_id="t"
    )


@pytest.mark.parametrize("how", ["file", "lines"])
async def test_one_file_imported_twice_at_once_is_taken_once(
    backend,
    fund,  # noqa: F811
    monkeypatch,
    how: str,
) -> None:
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    who = _principal(fund.analyst)
    emp = fund.employer["code"]
    # the fixture's worker is new to this test: his contributions are these lines only
    lines = [
        (emp, fund.worker_nid, "2023-01", "25500.00", "2023-02-10", "employer"),
        (emp, fund.worker_nid, "2023-01", "17000.00", "2023-02-10", "employee"),
    ]
    body = csv_of(*(",".join(li) for li in lines), header=(
        "payer,national_id,month,amount,paid_on,kind"))  # fmt: skip
    api_lines = ContributionsIn.model_validate(
        {"lines": [dict(zip(("payer", "national_id", "month", "amount", "paid_on", "kind"),
                            li, strict=True)) for li in lines]}
    )  # fmt: skip

    barrier = asyncio.Barrier(2)
    check = contributions._check

    async def both_have_checked(*args: Any, **kw: Any) -> Any:
        # each has looked for an earlier import of these bytes and found none
        out = await check(*args, **kw)
        await asyncio.wait_for(barrier.wait(), timeout=60)
        return out

    monkeypatch.setattr(contributions, "_check", both_have_checked)

    async def take() -> Any:
        async with session_factory()() as session:
            try:
                if how == "file":
                    out = await contributions.import_payment_file(session, who, body, "a.csv")
                else:
                    out = await contributions.import_contributions(session, who, api_lines)
                await session.commit()
                return out
            except Exception as e:  # what the route would have turned into a 500
                await session.rollback()
                return e

    answers = await asyncio.wait_for(asyncio.gather(take(), take()), timeout=120)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    taken = [a for a in answers if not a.already_imported]
    told = [a for a in answers if a.already_imported]
    assert len(taken) == 1, answers
    assert len(told) == 1, answers
    assert (taken[0].added, taken[0].duplicates) == (2, 0)
    assert told[0].import_id == taken[0].import_id
    assert (told[0].added, told[0].duplicates) == (0, 2)

    async with session_factory()() as s:
        imports = await s.scalar(
            select(func.count())
            .select_from(ContributionImport)
            .where(ContributionImport.id == taken[0].import_id)
        )
        stored = await s.scalar(
            select(func.count())
            .select_from(Contribution)
            .where(Contribution.person_id == fund.worker.id)
        )
    assert imports == 1
    assert stored == 2


async def test_two_plans_set_at_once_are_both_saved_once(
    backend,
    fund,  # noqa: F811
    make_place,
    make_user,
    monkeypatch,
) -> None:
    if backend != "postgresql":
        pytest.skip("real concurrency needs PostgreSQL (SQLite has one writer)")
    place = await make_place()
    first = _principal(fund.analyst)
    second = _principal(await make_user("insurance_analyst"))

    barrier = asyncio.Barrier(2)
    territory_by_code = dashboards.registry.territory_by_code

    async def both_have_read(*args: Any, **kw: Any) -> Any:
        found = await territory_by_code(*args, **kw)
        await asyncio.wait_for(barrier.wait(), timeout=60)
        return found

    monkeypatch.setattr(dashboards.registry, "territory_by_code", both_have_read)

    async def save(who: Principal, amount: str) -> Any:
        data = PlanIn(year=2031, region=place.region, package="insurance", amount=amount)
        async with session_factory()() as session:
            try:
                out = await dashboards.set_plan(session, who, data)
                await session.commit()
                return out
            except Exception as e:  # a 409 or a 500 at the route
                await session.rollback()
                return e

    answers = await asyncio.wait_for(
        asyncio.gather(save(first, "1000.00"), save(second, "2000.00")), timeout=120
    )
    assert not [a for a in answers if isinstance(a, Exception)], answers

    async with session_factory()() as s:
        plans = [p for p in await dashboards.list_plans(s, [2031]) if p.region == place.region]
        row = await s.scalar(
            select(SpendingPlan).where(
                SpendingPlan.year == 2031,
                SpendingPlan.package == "insurance",
                SpendingPlan.amount.in_((1000_00, 2000_00)),
                SpendingPlan.updated_by.in_((first.username, second.username)),
            )
        )
    assert len(plans) == 1, plans
    # the plan saved last holds, whole: its amount beside the name of who saved it
    assert row is not None
    assert (row.updated_by, row.amount) in (
        (first.username, 1000_00),
        (second.username, 2000_00),
    )
    assert plans[0].amount == Decimal(row.amount) / 100
