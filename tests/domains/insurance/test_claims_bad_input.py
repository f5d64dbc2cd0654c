"""Input that looks valid but reaches past what the fund's code can compute answers 422
naming the field, never a server error: months at the calendar's ends (9999-12, whose
next month is no date; 0001-01, whose grace months before it are none), and a CSV cell
longer than the CSV reader takes, typed or uploaded."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.domains.registry.test_web import web_login
from tests.factories import token_for

pytestmark = pytest.mark.anyio

#: the months the fund takes: years 1900 to 9998 (service/rules.py FIRST_YEAR, LAST_YEAR)
TOO_LATE = ("9999-12", "9999-01")
TOO_EARLY = ("0001-01", "1899-12")


@pytest.fixture
async def analyst(client, make_user):  # type: ignore[no-untyped-def]
    return await token_for(client, await make_user("insurance_analyst"))


@pytest.mark.parametrize("month", TOO_LATE + TOO_EARLY)
async def test_a_month_out_of_range_is_refused_naming_it(kz, client, analyst, month):
    calls = [
        ("get", "/api/v1/insurance/review-queue", {"month": month}, "month"),
        ("get", "/api/v1/insurance/claims", {"month": month}, "month"),
        ("get", "/api/v1/insurance/settlements", {"month": month}, "month"),
        ("post", f"/api/v1/insurance/controls/{month}/run", None, "month"),
        ("post", f"/api/v1/insurance/settlements/{month}/compute", None, "month"),
    ]
    for method, url, params, field in calls:
        r = await client.request(method, url, params=params, headers=analyst)
        assert r.status_code == 422, (url, r.status_code, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], (url, r.text)


async def test_the_ends_of_the_range_are_taken(kz, client, analyst):
    for month in ("1900-01", "9998-12"):
        r = await client.post(f"/api/v1/insurance/controls/{month}/run", headers=analyst)
        assert r.status_code == 200, r.text
        assert r.json()["lines"] == 0
        r = await client.get(
            "/api/v1/insurance/review-queue", params={"month": month}, headers=analyst
        )
        assert (r.status_code, r.json()) == (200, [])
    r = await client.post("/api/v1/insurance/settlements/9998-12/compute", headers=analyst)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/api/v1/insurance/dashboard", "/api/v1/insurance/dashboard.csv"])
async def test_the_dashboard_refuses_a_last_month_past_the_range(kz, client, analyst, path):
    r = await client.get(path, params={"to": "9999-12"}, headers=analyst)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["to"]
    r = await client.get(path, params={"from": "9998-01", "to": "9998-12"}, headers=analyst)
    assert r.status_code == 200, r.text


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    year=st.one_of(st.integers(1, 1899), st.integers(9999, 9999), st.integers(1900, 9998)),
    month=st.integers(1, 12),
)
async def test_any_month_answers_without_a_server_error(kz, client, analyst, year, month):
    text = f"{year:04d}-{month:02d}"
    r = await client.post(f"/api/v1/insurance/controls/{text}/run", headers=analyst)
    assert r.status_code == (200 if 1900 <= year <= 9998 else 422), r.text
    r = await client.get("/api/v1/insurance/review-queue", params={"month": text}, headers=analyst)
    assert r.status_code == (200 if 1900 <= year <= 9998 else 422), r.text


async def test_the_review_page_refuses_such_a_month(kz, client, make_user):
    csrf = await web_login(client, await make_user("insurance_analyst"))
    assert csrf
    for month in ("9999-12", "0001-01"):
        r = await client.get("/insurance/review", params={"month": month})
        assert r.status_code == 422, r.text
        assert "from 1900-01 to 9998-12" in r.text
        r = await client.get("/insurance/settlements", params={"month": month})
        assert r.status_code == 422, r.text
        r = await client.post("/insurance/settlements", data={"csrf_token": csrf, "month": month})
        assert r.status_code == 422, r.text


async def test_a_cell_longer_than_the_csv_reader_takes_is_a_refused_field(client, make_provider):
    """Python's CSV reader stops at 131 072 characters a cell: a quoted cell longer than
    that, typed or uploaded, names the field it came in; nothing is stored."""
    p = await make_provider()
    csrf = await web_login(client, p.account)
    long = '"' + "x" * (132 * 1024) + '",LAB-CBC,2024-05-14\n'
    r = await client.post("/insurance/claims", data={"csrf_token": csrf, "lines": long})
    assert r.status_code == 422, r.text[:500]
    assert 'data-testid="claim-error" data-line="" data-field="lines"' in r.text
    r = await client.post(
        "/insurance/claims",
        data={"csrf_token": csrf},
        files={"file": ("claim.csv", long.encode(), "text/csv")},
    )
    assert r.status_code == 422, r.text[:500]
    assert 'data-testid="claim-error" data-line="" data-field="file"' in r.text
    r = await client.get("/insurance/claims")
    assert 'data-testid="no-claims"' in r.text
