"""The fund's dashboards: contributions collected against expected by month and kind of
payer (an independent payer owes 5 % of 60,000 = 3,000.00 a month in 2022 from its first
paid month); spending by region, provider and package against the plan (rejected lines
left out, a reduced line at its approved amount); the control flags by rule; the CSV
neutralised, a provider named in the reader's language; the plan saved again replaces
itself. Claim lines are written as slice C stores them (its tables, in a month of their
own: ``fresh_month``, since the figures are month-wide)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from salomat.core.db import utcnow
from salomat.domains.insurance.models import ClaimLine, ServiceClaim, SpendingPlan
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
async def claims(db, make_place, make_person, fresh_month):  # type: ignore[no-untyped-def]
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    month = fresh_month()
    place = await make_place()
    fac = await service.create_facility(
        db,
        FacilityIn(code=unique("H"), name="=Hospital", kind="family_polyclinic",
                   settlement_code=place.settlement,
                   names={"kk": "Емхана", "ru": "Поликлиника"}),
    )  # fmt: skip
    person = await make_person()
    await db.commit()
    claim = ServiceClaim(
        facility_id=fac.id, month=month, status="submitted",
        submitted_by="test", submitted_at=utcnow(),
    )  # fmt: skip
    db.add(claim)
    await db.flush()

    def line(
        amount: int, status: str, approved: int | None, flags: list, package: str
    ) -> ClaimLine:  # type: ignore[type-arg]
        return ClaimLine(
            claim_id=claim.id, facility_id=fac.id, person_id=person.id, service_code="X",
            package=package, service_on=month + timedelta(days=9), quantity=1,
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
    return place, fac, month


async def test_spending_against_the_plan_and_flags_by_rule(client, db, fund, claims) -> None:  # noqa: F811
    from salomat.domains.registry import service

    place, fac, month = claims
    h = fund.headers
    period = {"from": f"{month:%Y-%m}", "to": f"{month:%Y-%m}"}
    # the plan of the month's year, stored as the plan form stores it (the form takes the
    # years from 2000, and the month of its own is earlier)
    region = await service.territory_by_code(db, place.region)
    db.add(SpendingPlan(year=month.year, region_id=region.id, package="insurance",
                        amount=5000_00, updated_by="test", updated_at=utcnow()))  # fmt: skip
    await db.commit()
    d = (await client.get(DASH, params=period, headers=h)).json()
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
    r = await client.get(DASH + ".csv", params={"table": "providers", **period}, headers=h)
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text)))
    assert "'=Hospital" in [c for row in rows for c in row]
    # in Kazakh the provider is named by its Kazakh name
    r = await client.get(
        DASH + ".csv", params={"table": "providers", **period},
        headers={**h, "Accept-Language": "kk"},
    )  # fmt: skip
    rows = list(csv.reader(io.StringIO(r.text)))
    assert {row[2] for row in rows[1:] if row[1] == fac.code} == {"Емхана"}
    bad = await client.get(DASH + ".csv", params={"table": "nope"}, headers=h)
    assert bad.status_code == 422


async def test_a_plan_saved_again_replaces_itself(client, fund, make_place) -> None:  # noqa: F811
    place = await make_place()
    plan = {"year": 2032, "region": place.region, "package": "insurance"}
    for amount in ("1000.00", "2500.50"):
        r = await client.put(
            "/api/v1/insurance/plans", json={**plan, "amount": amount}, headers=fund.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["amount"] == amount
    r = await client.get("/api/v1/insurance/plans", params={"year": 2032}, headers=fund.headers)
    mine = [p for p in r.json() if p["region"] == place.region]
    assert [p["amount"] for p in mine] == ["2500.50"]


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
