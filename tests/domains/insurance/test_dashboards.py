"""The fund's dashboards: contributions collected against expected by month and kind of
payer (an independent payer owes 5 % of 60,000 = 3,000.00 a month in 2022 from its first
paid month); spending by region, provider and package against the plan (rejected lines
left out, a reduced line at its approved amount); the control flags by rule; the CSV
neutralised. Claim lines are written as slice C stores them (its tables, April 2019: a
month nobody else uses)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from salomat.core.db import utcnow
from salomat.domains.insurance.models import ClaimLine, ServiceClaim
from tests.domains.insurance.fund_fixtures import csv_of, fund  # noqa: F401
from tests.factories import unique

pytestmark = pytest.mark.anyio
DASH = "/api/v1/insurance/dashboard"


def _cell(d: dict, table: str, **keys: str) -> dict | None:  # type: ignore[type-arg]
    return next((r for r in d[table] if all(r.get(k) == v for k, v in keys.items())), None)


async def test_collected_against_expected_by_month_and_kind(client, fund) -> None:  # noqa: F811
    h = fund.headers
    params = {"from": "2022-02", "to": "2022-03"}
    before = (await client.get(DASH, params=params, headers=h)).json()
    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=csv_of(f"{fund.independent['code']},{fund.own_nid},2022-02,3000.00,2022-02-10"),
        headers=h,
    )
    assert r.status_code == 201, r.text
    after = (await client.get(DASH, params=params, headers=h)).json()

    def amount(d: dict, month: str, key: str) -> Decimal:  # type: ignore[type-arg]
        row = _cell(d, "collected", month=month, kind="independent")
        return Decimal(row[key]) if row else Decimal(0)

    assert amount(after, "2022-02", "collected") - amount(before, "2022-02", "collected") == 3000
    assert amount(after, "2022-02", "expected") - amount(before, "2022-02", "expected") == 3000
    # it owes March too, and paid nothing for it
    assert amount(after, "2022-03", "expected") - amount(before, "2022-03", "expected") == 3000
    assert amount(after, "2022-03", "collected") == amount(before, "2022-03", "collected")


@pytest.fixture
async def claims(db, make_place, make_person):  # type: ignore[no-untyped-def]
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    place = await make_place()
    fac = await service.create_facility(
        db,
        FacilityIn(code=unique("H"), name="=Hospital", kind="family_polyclinic",
                   settlement_code=place.settlement),
    )  # fmt: skip
    person = await make_person()
    await db.commit()
    claim = ServiceClaim(
        facility_id=fac.id, month=date(2019, 4, 1), status="submitted",
        submitted_by="test", submitted_at=utcnow(),
    )  # fmt: skip
    db.add(claim)
    await db.flush()

    def line(
        amount: int, status: str, approved: int | None, flags: list, package: str
    ) -> ClaimLine:  # type: ignore[type-arg]
        return ClaimLine(
            claim_id=claim.id, facility_id=fac.id, person_id=person.id, service_code="X",
            package=package, service_on=date(2019, 4, 10), quantity=1,
            amount_claimed=amount, amount_approved=approved, status=status, flags=flags,
        )  # fmt: skip

    db.add_all(
        [
            line(100_000, "entered", None, [], "insurance"),
            line(50_000, "reduced", 20_000, [{"rule": "duplicate", "reason": "r"}], "insurance"),
            line(70_000, "rejected", 0, [{"rule": "after_death", "reason": "r"}], "insurance"),
            line(30_000, "flagged", None, [{"rule": "after_death", "reason": "r"},
                                           {"rule": "sex_age", "reason": "r"}], "guaranteed"),
        ]
    )  # fmt: skip
    await db.commit()
    return place, fac


async def test_spending_against_the_plan_and_flags_by_rule(client, fund, claims) -> None:  # noqa: F811
    place, fac = claims
    h = fund.headers
    r = await client.put(
        "/api/v1/insurance/plans",
        json={"year": 2019, "region": place.region, "package": "insurance", "amount": "5000.00"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    d = (await client.get(DASH, params={"from": "2019-04", "to": "2019-04"}, headers=h)).json()
    # insurance: 1,000.00 entered + 200.00 approved of a reduced line; the rejected left out
    ins = _cell(d, "spending_by_region", region=place.region, package="insurance")
    assert (ins["lines"], ins["spent"], ins["plan"]) == (2, "1200.00", "5000.00")
    gua = _cell(d, "spending_by_region", region=place.region, package="guaranteed")
    assert (gua["lines"], gua["spent"], gua["plan"]) == (1, "300.00", None)
    prov = _cell(d, "spending_by_provider", facility_code=fac.code, package="insurance")
    assert prov["spent"] == "1200.00"
    death = _cell(d, "flags", rule="after_death")
    assert (death["lines"], death["open"], death["rejected"], death["claimed"]) == (
        2, 1, 1, "1000.00",
    )  # fmt: skip
    assert _cell(d, "flags", rule="duplicate")["reduced"] == 1
    assert _cell(d, "flags", rule="sex_age")["lines"] == 1
    # the CSV: a provider named "=Hospital" is not a formula
    r = await client.get(
        DASH + ".csv", params={"table": "providers", "from": "2019-04", "to": "2019-04"},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert "'=Hospital" in [c for row in rows for c in row]
    bad = await client.get(DASH + ".csv", params={"table": "nope"}, headers=h)
    assert bad.status_code == 422


async def test_the_plan_is_checked_and_the_dashboard_guarded(
    client,
    fund,  # noqa: F811
    make_user,
    login,
) -> None:
    r = await client.put(
        "/api/v1/insurance/plans",
        json={"year": 2019, "region": "NOWHERE", "package": "dental", "amount": "1"},
        headers=fund.headers,
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"region", "package"}
    analyst = await make_user("analyst")
    h = await login(analyst)
    assert (await client.get(DASH, headers=h)).status_code == 200
    r = await client.put(
        "/api/v1/insurance/plans",
        json={"year": 2019, "region": "X", "package": "insurance", "amount": "1"},
        headers=h,
    )
    assert r.status_code == 403
    doctor = await make_user("family_doctor")
    assert (await client.get(DASH, headers=await login(doctor))).status_code == 403


async def test_the_api_csv_speaks_the_callers_language(client, fund) -> None:  # noqa: F811
    h = fund.headers
    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=csv_of(f"{fund.independent['code']},{fund.own_nid},2022-04,3000.00,2022-04-10"),
        headers=h,
    )
    assert r.status_code == 201, r.text
    params = {"table": "collected", "from": "2022-04", "to": "2022-04"}
    r = await client.get(DASH + ".csv", params=params, headers=h)
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["Month", "Kind of payer", "Expected", "Collected"]
    assert any(row[:2] == ["2022-04", "independent payer"] for row in rows[1:])
    r = await client.get(DASH + ".csv", params=params, headers={**h, "Accept-Language": "ru"})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "Месяц"  # the catalogue's Russian for "Month"
    assert any(row[:2] == ["2022-04", "самостоятельный плательщик"] for row in rows[1:])
