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


@pytest.mark.anyio
async def test_an_unknown_kind_of_payer_is_named_not_an_empty_list(client, fund) -> None:  # noqa: F811
    r = await client.get(
        "/api/v1/insurance/arrears", params={"kind": "employers"}, headers=fund.headers
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["kind"]
    for kind in ("self_employed", "aggregate"):
        r = await client.get(
            "/api/v1/insurance/arrears", params={"kind": kind}, headers=fund.headers
        )
        assert r.status_code == 200, r.text


async def _arrears(client, fund, payer_id: int, month: str) -> tuple[dict, dict]:  # noqa: F811  # type: ignore[no-untyped-def,type-arg]
    """The payer's page (API) and its row in the list of payers, for one month."""
    period = {"from": month, "to": month}
    r = await client.get(
        f"/api/v1/insurance/payers/{payer_id}/arrears", params=period, headers=fund.headers
    )
    assert r.status_code == 200, r.text
    page = r.json()
    r = await client.get(
        "/api/v1/insurance/arrears",
        params={**period, "kind": page["payer"]["kind"]},
        headers=fund.headers,
    )
    assert r.status_code == 200, r.text
    row = next(x for x in r.json() if x["payer_id"] == payer_id)
    return page, row


@pytest.mark.anyio
async def test_an_entrepreneur_without_a_national_id_who_paid_owes_nothing(client, fund) -> None:  # noqa: F811
    from tests.factories import business_id_for

    _person, nid = await fund.person(date(1979, 3, 3), "male")
    r = await client.post(
        "/api/v1/insurance/payers",
        json={"kind": "entrepreneur", "business_id": business_id_for("KZ"), "name": "IP Test"},
        headers=fund.headers,
    )
    assert r.status_code == 201, r.text
    payer = r.json()
    assert payer["person_id"] is None
    # 5 % of 1.4 x 85,000 = 5,950.00 for May 2024, paid in full
    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=csv_of(f"{payer['code']},{nid},2024-05,5950.00,2024-06-05"),
        headers=fund.headers,
    )
    assert r.status_code == 201, r.text
    page, row = await _arrears(client, fund, payer["id"], "2024-05")
    assert (page["expected"], page["paid"], page["arrears"]) == ("5950.00", "5950.00", "0.00")
    assert (row["expected"], row["paid"], row["arrears"]) == ("5950.00", "5950.00", "0.00")
    assert [(p["national_id"], p["arrears"]) for p in page["people"]] == [(nid, "0.00")]
    # June: expected (registered later, but paid from May), unpaid
    page, row = await _arrears(client, fund, payer["id"], "2024-06")
    assert page["arrears"] == row["arrears"] == "5950.00"


@pytest.mark.anyio
async def test_one_employee_paid_twice_does_not_pay_for_another(client, fund) -> None:  # noqa: F811
    _, a = fund.worker, fund.worker_nid
    _, b = await fund.person(date(1990, 7, 7), "female")
    emp = fund.employer["code"]
    for nid in (a, b):
        r = await client.post(
            "/api/v1/insurance/employment",
            json={"payer": emp, "national_id": nid, "start_on": "2024-05-01",
                  "end_on": "2024-05-31", "monthly_wage": "100000.00"},
            headers=fund.headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    # each owes 3 % (3,000) and 2 % (2,000) of 100,000; A's employer share is paid twice
    # over (6,000), A's employee share once, B's nothing: B's 5,000 is owed
    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=csv_of(
            f"{emp},{a},2024-05,6000.00,2024-06-05,employer",
            f"{emp},{a},2024-05,2000.00,2024-06-05,employee",
            header="payer,national_id,month,amount,paid_on,kind",
        ),
        headers=fund.headers,
    )
    assert r.status_code == 201, r.text
    page, row = await _arrears(client, fund, fund.employer["id"], "2024-05")
    assert (page["expected"], page["paid"], page["arrears"]) == ("10000.00", "8000.00", "5000.00")
    assert (row["expected"], row["paid"], row["arrears"]) == ("10000.00", "8000.00", "5000.00")
    owed = {(p["national_id"], p["kind"]): p["arrears"] for p in page["people"]}
    assert owed == {
        (a, "employer"): "0.00",
        (a, "employee"): "0.00",
        (b, "employer"): "3000.00",
        (b, "employee"): "2000.00",
    }


@pytest.mark.anyio
async def test_the_page_of_a_person_paying_for_themself_is_audited(client, fund, db) -> None:  # noqa: F811
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    r = await client.post(
        "/api/v1/insurance/payment-files",
        content=csv_of(f"{fund.independent['code']},{fund.own_nid},2024-05,4250.00,2024-05-20"),
        headers=fund.headers,
    )
    assert r.status_code == 201, r.text
    page, _ = await _arrears(client, fund, fund.independent["id"], "2024-05")
    assert page["payer"]["code"] == fund.own_nid
    assert (page["expected"], page["arrears"]) == ("4250.00", "0.00")
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type).where(
                AuditEvent.patient_id == fund.own.id,
                AuditEvent.resource_type == "InsuranceContribution",
                AuditEvent.action != "create",  # the import's own row
            )
        )
    ).all()
    assert rows, "the payer's page names the person: the read is audited"


@pytest.mark.anyio
async def test_expected_wages_round_half_up_per_person_month_and_stop_at_the_cap(
    client,
    fund,  # noqa: F811
    db,
) -> None:
    # July 2023: minimum wage 70,000, cap 10 x 70,000 = 700,000.00 (70,000,000 tiyn)
    wages = {
        "16.50": (50, 33),  # 3 % of 1,650 = 49.5 -> 50; 2 % = 33
        "12.25": (37, 25),  # 3 % of 1,225 = 36.75 -> 37; 2 % = 24.5 -> 25
        "699999.99": (2_100_000, 1_400_000),  # 2,099,999.97 -> 2,100,000; 1,399,999.98
        "1000000.00": (2_100_000, 1_400_000),  # capped: 3 % and 2 % of 700,000.00
    }
    dash = "/api/v1/insurance/dashboard"
    period = {"from": "2023-07", "to": "2023-07"}

    def employer_expected(d: dict) -> int:  # type: ignore[type-arg]
        row = next((r for r in d["collected"] if r["kind"] == "employer"), None)
        return int(row["expected"].replace(".", "")) if row else 0

    before = employer_expected((await client.get(dash, params=period, headers=fund.headers)).json())
    people = {}
    for wage in wages:
        person, nid = await fund.person(date(1988, 8, 8), "male")
        people[person.id] = wage
        r = await client.post(
            "/api/v1/insurance/employment",
            json={"payer": fund.employer["code"], "national_id": nid, "start_on": "2023-07-15",
                  "end_on": "2023-07-16", "monthly_wage": wage},
            headers=fund.headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    due = await expected_service.due_by_payer(db, [date(2023, 7, 1)], [fund.employer["id"]])
    got = {(person, kind): v for (_, person, kind, _), v in due.items()}
    want = {}
    for pid, wage in people.items():
        want[(pid, "employer")], want[(pid, "employee")] = wages[wage]
    assert got == want
    after = employer_expected((await client.get(dash, params=period, headers=fund.headers)).json())
    # 50 + 37 + 2 x 2,100,000 and 33 + 25 + 2 x 1,400,000 tiyn
    assert after - before == 4_200_087 + 2_800_058


@pytest.mark.anyio
async def test_expected_amounts_do_not_grow_rule_evaluations_with_employees(
    client,
    fund,  # noqa: F811
    db,
    monkeypatch,
) -> None:
    from salomat.domains.insurance.service.rules import InsuranceRules

    months = [date(2024, m, 1) for m in range(1, 13)]
    calls = 0
    real = InsuranceRules.expected

    def counted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(self, *args, **kwargs)

    async def evaluations() -> int:
        nonlocal calls
        calls = 0
        await expected_service.due_by_payer(db, months, [fund.employer["id"]])
        return calls

    monkeypatch.setattr(InsuranceRules, "expected", counted)

    async def employ() -> None:
        _, nid = await fund.person(date(1991, 1, 1), "female")
        r = await client.post(
            "/api/v1/insurance/employment",
            json={"payer": fund.employer["code"], "national_id": nid, "start_on": "2024-01-01",
                  "monthly_wage": "250000.00"},
            headers=fund.headers,
        )  # fmt: skip
        assert r.status_code == 201, r.text

    await employ()
    one = await evaluations()
    for _ in range(4):
        await employ()
    assert await evaluations() == one  # the pack's numbers per month, the rest in SQL
    assert one <= len(months) * 6


@pytest.mark.anyio
async def test_the_state_count_leaves_out_the_listed_by_a_subquery(client, fund, db) -> None:  # noqa: F811
    from sqlalchemy import select

    from salomat.domains.registry import service as registry
    from salomat.domains.registry.models import Person

    child, _ = await fund.person(date(2015, 5, 5), "female")
    on = date(2024, 3, 1)
    everyone = await registry.count_by_age_rule(db, on, age_below=18, age_from=None)
    left = await registry.count_by_age_rule(
        db, on, age_below=18, age_from=None, exclude=select(Person.id).where(Person.id == child.id)
    )
    assert everyone - left == 1
