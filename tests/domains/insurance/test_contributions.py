"""Payment files and contribution lines (issue 17, slice A): a good file is taken whole,
the same file again adds nothing, a line stored from another file is a duplicate; a file
with wrong lines stores nothing and names each line and field; the advance rule at its
boundaries; the state pays only for protected people; a universal scheme refuses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.core.config import get_settings
from salomat.country import pack
from salomat.domains.insurance.service.rules import add_months, month_of
from tests.domains.insurance.fund_fixtures import csv_of, fund  # noqa: F401

pytestmark = pytest.mark.anyio

FILES = "/api/v1/insurance/payment-files"
LINES = "/api/v1/insurance/contributions"


def _errors(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def _paid(client, f, payer_id: int, month: str) -> str:  # type: ignore[no-untyped-def]
    r = await client.get(
        f"/api/v1/insurance/payers/{payer_id}/arrears",
        params={"from": month, "to": month},
        headers=f.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()["paid"]


async def test_a_good_file_is_taken_once_and_duplicates_are_counted(client, fund) -> None:  # noqa: F811
    emp = fund.employer["code"]
    body = csv_of(
        f"{emp},{fund.worker_nid},2024-03,25500.00,2024-04-10",
        f"{emp},{fund.worker_nid},2024-03,17000.00,2024-04-10,employee",
        header="payer,national_id,month,amount,paid_on,kind",
    )
    r = await client.post(
        FILES, content=body, params={"filename": "march.csv"}, headers=fund.headers
    )
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["lines"], got["added"], got["duplicates"]) == (2, 2, 0)
    assert got["already_imported"] is False
    assert got["total"] == "42500.00"
    assert await _paid(client, fund, fund.employer["id"], "2024-03") == "42500.00"

    again = await client.post(FILES, content=body, headers=fund.headers)
    assert again.status_code == 200, again.text
    assert again.json()["already_imported"] is True
    assert again.json()["import_id"] == got["import_id"]
    assert await _paid(client, fund, fund.employer["id"], "2024-03") == "42500.00"

    # another file repeating one of the lines: that line is a duplicate, the other is new
    other = csv_of(
        f"{emp},{fund.worker_nid},2024-03,25500.00,2024-04-10",
        f"{emp},{fund.worker_nid},2024-04,25500.00,2024-05-10",
    )
    r = await client.post(FILES, content=other, headers=fund.headers)
    assert r.status_code == 201, r.text
    assert (r.json()["added"], r.json()["duplicates"]) == (1, 1)
    assert await _paid(client, fund, fund.employer["id"], "2024-03") == "42500.00"


async def test_a_file_with_wrong_lines_stores_nothing_and_names_each(client, fund) -> None:  # noqa: F811
    emp, ind, state = fund.employer["code"], fund.independent["code"], fund.state["code"]
    _adult, adult_nid = await fund.person(date(1980, 2, 2), "male")
    tomorrow = pack.today(get_settings().country) + timedelta(days=1)
    body = csv_of(
        f"{emp},{fund.worker_nid},2024-05,25500.00,2024-06-10",  # 2: good
        f"NOSUCH,{fund.worker_nid},2024-05,100,2024-06-10",  # 3: unknown payer
        f"{emp},999999999999,2024-05,100,2024-06-10",  # 4: unknown national id
        f"{emp},{fund.worker_nid},2024-05,-5,2024-06-10",  # 5: negative
        f"{emp},{fund.worker_nid},2024-05,abc,2024-06-10",  # 6: not a number
        f"{emp},{fund.worker_nid},2024-13,100,2024-06-10",  # 7: bad month
        f"{emp},{fund.worker_nid},2024-05,100,2024-06-31",  # 8: bad date
        f"{emp},{fund.worker_nid},2024-05,100,{tomorrow.isoformat()}",  # 9: future
        f"{emp},{fund.worker_nid},2024-07,100,2024-06-10",  # 10: employer ahead
        f"{state},{adult_nid},2024-05,5577.10,2024-06-10",  # 11: unprotected adult
        f"{ind},{fund.own_nid},2024-05,4250.00,2024-06-10,employee",  # 12: kind
        f"{emp},{fund.worker_nid},2024-05,0,2024-06-10",  # 13: zero
        header="payer,national_id,month,amount,paid_on,kind",
    )
    r = await client.post(FILES, content=body, headers=fund.headers)
    assert r.status_code == 422, r.text
    errors = _errors(r)
    assert set(errors) == {
        "lines.3.payer",
        "lines.4.national_id",
        "lines.5.amount",
        "lines.6.amount",
        "lines.7.month",
        "lines.8.paid_on",
        "lines.9.paid_on",
        "lines.10.month",
        "lines.11.national_id",
        "lines.12.kind",
        "lines.13.amount",
    }
    assert errors["lines.5.amount"] == "cannot be negative"
    # lines 2 to 13 of the file: twelve lines, all but line 2 wrong
    assert r.json()["detail"].startswith("11 of 12 lines are wrong")
    # line 2 was good, yet nothing was stored
    assert await _paid(client, fund, fund.employer["id"], "2024-05") == "0.00"


async def test_the_advance_rule_at_its_boundaries(client, fund) -> None:  # noqa: F811
    ind = fund.independent["code"]
    paid = date(2024, 3, 15)

    def line(ahead: int) -> str:
        return f"{ind},{fund.own_nid},{add_months(month_of(paid), ahead):%Y-%m},4250.00,{paid}"

    r = await client.post(FILES, content=csv_of(line(13)), headers=fund.headers)
    assert r.status_code == 422
    assert set(_errors(r)) == {"lines.2.month"}
    # the current month and the next twelve: taken
    r = await client.post(
        FILES, content=csv_of(*(line(k) for k in range(13))), headers=fund.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 13
    # an employer may not pay one month ahead; the month of payment itself is fine
    emp = fund.employer["code"]
    r = await client.post(
        FILES,
        content=csv_of(
            f"{emp},{fund.worker_nid},2024-03,25500.00,2024-03-31",
            f"{emp},{fund.worker_nid},2024-04,25500.00,2024-03-31",
        ),
        headers=fund.headers,
    )
    assert r.status_code == 422
    assert set(_errors(r)) == {"lines.3.month"}


async def test_paid_today_is_taken_tomorrow_is_refused(client, fund) -> None:  # noqa: F811
    ind = fund.independent["code"]
    today = pack.today(get_settings().country)
    month = f"{today:%Y-%m}"
    r = await client.post(
        LINES,
        json={
            "lines": [
                {"payer": ind, "national_id": fund.own_nid, "month": month,
                 "amount": "4250.00", "paid_on": (today + timedelta(days=1)).isoformat()},
            ]
        },
        headers=fund.headers,
    )  # fmt: skip
    assert r.status_code == 422
    assert set(_errors(r)) == {"lines.1.paid_on"}
    lines = [{"payer": ind, "national_id": fund.own_nid, "month": month, "amount": 4250,
              "paid_on": today.isoformat()}]  # fmt: skip
    r = await client.post(LINES, json={"lines": lines}, headers=fund.headers)
    assert r.status_code == 201, r.text
    r = await client.post(LINES, json={"lines": lines}, headers=fund.headers)
    assert r.status_code == 200
    assert r.json()["already_imported"] is True


async def test_an_independent_payer_pays_only_for_themself(client, fund) -> None:  # noqa: F811
    r = await client.post(
        FILES,
        content=csv_of(f"{fund.independent['code']},{fund.worker_nid},2024-03,4250.00,2024-03-05"),
        headers=fund.headers,
    )
    assert r.status_code == 422
    assert set(_errors(r)) == {"lines.2.national_id"}


async def test_the_state_pays_for_children_pensioners_and_listed_people(client, fund) -> None:  # noqa: F811
    state = fund.state["code"]
    _, child = await fund.person(date(2010, 6, 1), "male")
    # a woman is a pensioner from 61: born 1963-03-01 she is 61 on 2024-03-01
    _, pensioner = await fund.person(date(1963, 3, 1), "female")
    _, jobless = await fund.person(date(1979, 1, 1), "male")
    r = await client.post(
        "/api/v1/insurance/category-members",
        json={"national_id": jobless, "category": "unemployed", "start_on": "2024-02-10",
              "end_on": "2024-03-31"},
        headers=fund.headers,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    lines = [
        f"{state},{child},2024-03,5577.10,2024-03-20",
        f"{state},{pensioner},2024-03,5577.10,2024-03-20",
        f"{state},{jobless},2024-02,5577.10,2024-03-20",
        f"{state},{jobless},2024-03,5577.10,2024-03-20",
    ]
    # one month earlier the woman is 60 and the man was not yet listed
    bad = await client.post(
        FILES,
        content=csv_of(
            *lines,
            f"{state},{pensioner},2024-02,5577.10,2024-03-20",
            f"{state},{jobless},2024-01,5577.10,2024-03-20",
        ),
        headers=fund.headers,
    )
    assert bad.status_code == 422
    assert set(_errors(bad)) == {"lines.6.national_id", "lines.7.national_id"}
    r = await client.post(FILES, content=csv_of(*lines), headers=fund.headers)
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 4


async def test_derived_categories_and_unknown_ones_are_refused(client, fund) -> None:  # noqa: F811
    for category in ("child", "pensioner", "astronaut"):
        r = await client.post(
            "/api/v1/insurance/category-members",
            json={"national_id": fund.own_nid, "category": category, "start_on": "2024-01-01"},
            headers=fund.headers,
        )
        assert r.status_code == 422, r.text
        assert "category" in _errors(r)


async def test_payers_are_checked(client, fund) -> None:  # noqa: F811
    h = fund.headers
    r = await client.post(
        "/api/v1/insurance/payers", json={"kind": "employer", "business_id": "000000000000"},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 422
    assert "business_id" in _errors(r)
    r = await client.post(
        "/api/v1/insurance/payers", json={"kind": "independent", "national_id": fund.own_nid},
        headers=h,
    )  # fmt: skip
    assert r.status_code == 409
    r = await client.post(
        "/api/v1/insurance/payers", json={"kind": "independent", "national_id": "123"}, headers=h
    )
    assert r.status_code == 422
    assert "national_id" in _errors(r)


async def test_a_file_that_is_no_payment_file_is_refused_whole(client, fund) -> None:  # noqa: F811
    for body, field in (
        (b"", "file"),
        (b"\xff\xfe\x00garbage", "file"),
        (b"payer,national_id,month\nX,1,2024-01\n", "file"),
        (b"payer,national_id,month,amount,paid_on\n", "file"),
    ):
        r = await client.post(FILES, content=body, headers=fund.headers)
        assert r.status_code == 422, (body, r.text)
        assert field in _errors(r)


async def test_only_the_fund_imports(client, fund, make_user, login) -> None:  # noqa: F811
    doctor = await make_user("family_doctor")
    r = await client.post(FILES, content=csv_of(), headers=await login(doctor))
    assert r.status_code == 403


async def test_a_universal_scheme_takes_no_contributions(client, make_user, login) -> None:
    analyst = await make_user("insurance_analyst")
    h = await login(analyst)
    r = await client.post(FILES, content=csv_of("X,1,2024-01,1,2024-01-02"), headers=h)
    assert r.status_code == 422
    assert "universal" in r.json()["detail"]
    r = await client.post("/api/v1/insurance/payers", json={"kind": "state"}, headers=h)
    assert r.status_code == 422


async def test_a_line_above_a_billion_is_refused_and_a_huge_file_is_no_server_error(
    client,
    fund,  # noqa: F811
) -> None:
    emp = fund.employer["code"]
    r = await client.post(
        FILES,
        content=csv_of(
            f"{emp},{fund.worker_nid},2024-08,1000000000.00,2024-09-05",  # at the limit: fine
            f"{emp},{fund.worker_nid},2024-09,1000000000.01,2024-09-05",
        ),
        headers=fund.headers,
    )
    assert r.status_code == 422, r.text
    assert _errors(r) == {"lines.3.amount": "at most 1000000000.00"}
    # 10,000 lines of 9,999,999,999,999.99 would total past a BIGINT: each line is named
    line = f"{emp},{fund.worker_nid},2024-08,9999999999999.99,2024-09-05"
    r = await client.post(FILES, content=csv_of(*[line] * 10_000), headers=fund.headers)
    assert r.status_code == 422, r.text[:500]
    errors = _errors(r)
    assert len(errors) == 10_000
    assert errors["lines.10001.amount"] == "at most 1000000000.00"
    # the same through the JSON lines
    lines = [{"payer": emp, "national_id": fund.worker_nid, "month": "2024-08",
              "amount": "9999999999999.99", "paid_on": "2024-09-05"}] * 2  # fmt: skip
    r = await client.post(LINES, json={"lines": lines}, headers=fund.headers)
    assert r.status_code == 422, r.text[:500]
    assert set(_errors(r)) == {"lines.1.amount", "lines.2.amount"}
    assert await _paid(client, fund, fund.employer["id"], "2024-08") == "0.00"


async def test_a_payment_file_is_taken_as_an_upload_or_as_the_body(client, fund) -> None:  # noqa: F811
    ind = fund.independent["code"]
    upload = csv_of(f"{ind},{fund.own_nid},2024-10,4250.00,2024-10-05")
    r = await client.post(
        FILES, files={"file": ("october.csv", upload, "text/csv")}, headers=fund.headers
    )
    assert r.status_code == 201, r.text
    assert (r.json()["filename"], r.json()["added"]) == ("october.csv", 1)
    # the same bytes again, now as the body: imported before
    r = await client.post(
        FILES, content=upload, headers={**fund.headers, "content-type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["already_imported"] is True
    body = csv_of(f"{ind},{fund.own_nid},2024-11,4250.00,2024-11-05")
    r = await client.post(
        FILES,
        content=body,
        params={"filename": "november.csv"},
        headers={**fund.headers, "content-type": "text/csv"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "november.csv"
    assert await _paid(client, fund, fund.independent["id"], "2024-11") == "4250.00"
    # an upload without the file field names it
    r = await client.post(FILES, files={"other": ("x.csv", body, "text/csv")}, headers=fund.headers)
    assert r.status_code == 422
    assert set(_errors(r)) == {"file"}


async def test_the_single_aggregate_payment_has_a_payer_and_no_expected_amount(
    client,
    fund,  # noqa: F811
) -> None:
    h = fund.headers
    r = await client.get("/api/v1/insurance/payers", params={"kind": "aggregate"}, headers=h)
    if r.json()["items"]:
        payer = r.json()["items"][0]
    else:
        r = await client.post("/api/v1/insurance/payers", json={"kind": "aggregate"}, headers=h)
        assert r.status_code == 201, r.text
        payer = r.json()
    assert (payer["kind"], payer["code"]) == ("aggregate", "AGGREGATE")
    again = await client.post("/api/v1/insurance/payers", json={"kind": "aggregate"}, headers=h)
    assert again.status_code == 409
    _, nid = await fund.person(date(1983, 3, 3), "male")
    r = await client.post(
        FILES, content=csv_of(f"AGGREGATE,{nid},2019-02,1000.00,2019-02-20"), headers=h
    )
    assert r.status_code == 201, r.text
    r = await client.get(
        f"/api/v1/insurance/payers/{payer['id']}/arrears",
        params={"from": "2019-02", "to": "2019-02"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    a = r.json()
    assert (a["expected"], a["arrears"]) == ("0.00", "0.00")
    assert a["months"][0]["by_kind"]["aggregate"]["paid"] == "1000.00"
