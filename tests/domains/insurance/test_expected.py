"""Expected contributions from the pack's rates and caps by year, computed by hand from
src/salomat/country/KZ/insurance.yaml (minimum wage 2024: 85,000; 2022: 60,000; 2023:
70,000; average wage 2022: 309,839), and arrears of an employer by month."""

from __future__ import annotations

from datetime import date

import pytest

from salomat.domains.insurance.service import expected as expected_service
from salomat.domains.insurance.service.rules import insurance_rules
from tests.domains.insurance.fund_fixtures import csv_of, fund  # noqa: F401

M = date(2024, 5, 1)


def kz():  # type: ignore[no-untyped-def]
    return insurance_rules("KZ")


@pytest.mark.no_db
def test_the_employer_and_employee_shares_are_capped_at_ten_minimum_wages() -> None:
    r = kz()
    # 1,200,000 > cap 10 x 85,000 = 850,000: 3 % and 2 % of 850,000
    assert r.expected("employer", M, 1_200_000_00) == 25_500_00
    assert r.expected("employee", M, 1_200_000_00) == 17_000_00
    # at the cap, and one tenge below it: 3 % of 849,999 = 25,499.97
    assert r.expected("employer", M, 850_000_00) == 25_500_00
    assert r.expected("employer", M, 849_999_00) == 25_499_97
    assert r.expected("employer", M, 850_001_00) == 25_500_00
    # a small wage: 2 % of 150,000 = 3,000
    assert r.expected("employee", M, 150_000_00) == 3_000_00
    # 2022's cap was 10 x 60,000: 3 % of 600,000 = 18,000
    assert r.expected("employer", date(2022, 12, 1), 1_200_000_00) == 18_000_00


@pytest.mark.no_db
def test_fixed_amounts_and_the_state() -> None:
    r = kz()
    assert r.expected("independent", M) == 4_250_00  # 5 % x 85,000
    assert r.expected("entrepreneur", M) == 5_950_00  # 5 % x 1.4 x 85,000
    assert r.expected("independent", date(2023, 1, 1)) == 3_500_00  # 5 % x 70,000
    # 1.8 % of 2022's average wage 309,839 = 5,577.102 -> 5,577.10
    assert r.expected("state", M) == 5_577_10
    # 2025: 1.8 % of 363,224 = 6,538.032 -> 6,538.03
    assert r.expected("state", date(2025, 1, 1)) == 6_538_03
    # before the pack's first rates, and an income the fund does not know: nothing
    assert r.expected("independent", date(2021, 12, 1)) is None
    assert r.expected("self_employed", date(2026, 1, 1)) is None


@pytest.mark.no_db
def test_a_universal_scheme_expects_nothing() -> None:
    assert insurance_rules("UZ").expected("employer", M, 1_000_000_00) is None


@pytest.mark.anyio
async def test_an_employers_arrears_by_month_and_person(client, fund) -> None:  # noqa: F811
    h = fund.headers
    # wage 1,200,000 from 2024-01-20 to 2024-02-10: January and February are due in full
    r = await client.post(
        "/api/v1/insurance/employment",
        json={"payer": fund.employer["code"], "national_id": fund.worker_nid,
              "start_on": "2024-01-20", "end_on": "2024-02-10", "monthly_wage": "1200000.00"},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    emp = fund.employer["code"]
    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=csv_of(
            f"{emp},{fund.worker_nid},2024-01,25500.00,2024-02-05,employer",
            f"{emp},{fund.worker_nid},2024-01,17000.00,2024-02-05,employee",
            f"{emp},{fund.worker_nid},2024-02,10000.00,2024-03-05,employer",
            header="payer,national_id,month,amount,paid_on,kind",
        ),
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = await client.get(
        f"/api/v1/insurance/payers/{fund.employer['id']}/arrears",
        params={"from": "2024-01", "to": "2024-03"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    a = r.json()
    months = {m["month"]: m for m in a["months"]}
    assert (months["2024-01"]["expected"], months["2024-01"]["arrears"]) == ("42500.00", "0.00")
    # February: 42,500 due, 10,000 paid: 15,500 of the employer's and 17,000 of the employee's
    assert months["2024-02"]["expected"] == "42500.00"
    assert months["2024-02"]["paid"] == "10000.00"
    assert months["2024-02"]["arrears"] == "32500.00"
    assert months["2024-02"]["by_kind"]["employer"]["arrears"] == "15500.00"
    assert months["2024-03"]["expected"] == "0.00"
    assert (a["expected"], a["paid"], a["arrears"]) == ("85000.00", "52500.00", "32500.00")
    people = [p for p in a["people"] if p["month"] == "2024-02" and p["kind"] == "employee"]
    assert people[0]["national_id"] == fund.worker_nid
    assert people[0]["arrears"] == "17000.00"
    # the list of payers names this employer with the same arrears
    r = await client.get(
        "/api/v1/insurance/arrears",
        params={"from": "2024-01", "to": "2024-03", "kind": "employer"},
        headers=h,
    )
    row = next(x for x in r.json() if x["payer_id"] == fund.employer["id"])
    assert row["arrears"] == "32500.00"


@pytest.mark.anyio
async def test_the_state_owes_for_each_protected_person(client, fund, db) -> None:  # noqa: F811
    month = date(2024, 3, 1)
    before, due_before = await expected_service.expected_state_month(db, month)
    _, listed = await fund.person(date(1975, 1, 1), "male")
    await fund.person(date(2012, 1, 1), "female")  # a child: counted from the register
    # a man of 62 is no pensioner (63 for men), nor counted
    await fund.person(date(1961, 6, 1), "male")
    r = await client.post(
        "/api/v1/insurance/category-members",
        json={"national_id": listed, "category": "disability", "start_on": "2024-03-31"},
        headers=fund.headers,
    )
    assert r.status_code == 201, r.text
    after, due_after = await expected_service.expected_state_month(db, month)
    assert after - before == 2
    assert due_after - due_before == 2 * 5_577_10


@pytest.mark.anyio
async def test_wrong_periods_are_named(client, fund) -> None:  # noqa: F811
    url = f"/api/v1/insurance/payers/{fund.employer['id']}/arrears"
    r = await client.get(url, params={"from": "2024-13"}, headers=fund.headers)
    assert r.status_code == 422
    r = await client.get(url, params={"from": "2024-05", "to": "2024-01"}, headers=fund.headers)
    assert r.status_code == 422
    r = await client.get(url, params={"from": "2010-01", "to": "2024-01"}, headers=fund.headers)
    assert r.status_code == 422
