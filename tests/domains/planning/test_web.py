"""The planning pages over HTTP: the ministry's country by region, the planner's area
(map, gap table, access, staffing), the CSV (cells neutralised), the scenario's change in
the population beyond the threshold; who may open them; bad parameters answered on the
page naming the field, never a server error.

The region is the shared test region (conftest ``plan``, the note's vector 1); the
services read the Kazakh pack (``kz``)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.anyio

PAGE = "/planning"


@pytest.fixture
async def planner(make_user: Any, login: Any) -> dict[str, str]:
    return {**await login(await make_user("planner")), "Accept-Language": "en"}


async def test_the_area_page_shows_the_map_the_gaps_and_access(client, planner, plan, kz):
    r = await client.get(PAGE, params={"area": plan.region, "edition": "kz-2022"}, headers=planner)
    assert r.status_code == 200, r.text
    html = r.text
    assert 'data-testid="planning-map"' in html  # the SVG map
    for key in ("S1", "S2", "S3", "S4", "S5", "S6"):
        assert f'data-code="{plan.settlements[key]}"' in html
    # the 2022 norm (vector 1): S1 (35) a health worker nobody is; S3 (420) a medical point
    # it lacks; S4 (1,200) a FAP where a medical point stands; S5 (3,400) a physician
    # ambulatory where a FAP stands
    gap_rows = html.split('data-testid="pl-gap-table"')[1].split("</table>")[0]
    gaps = {
        k for k in plan.settlements if f'data-code="{plan.settlements[k]}" data-gap="1"' in gap_rows
    }
    assert gaps == {"S3", "S4", "S5"}
    # S1 needs a visiting medical worker: named apart, not a gap
    note = html.split('data-testid="pl-visiting-worker"')[1].split("</p>")[0]
    assert "Village S1 (35)" in note
    assert "Village S3" not in note
    assert "Population beyond the access threshold" in html
    assert "Test census 2025" in html  # the census figure's source beside it


async def test_the_edition_selector_changes_the_required_unit(client, planner, plan, kz):
    r = await client.get(
        PAGE, params={"area": plan.region, "edition": "kz-2021-action-plan"}, headers=planner
    )
    assert r.status_code == 200, r.text
    table = r.text.split('data-testid="pl-gap-table"')[1].split("</table>")[0]
    # the Action Plan: up to 50 a health worker (S1); above 300 a FAP: S3, S4 lack it;
    # S5's FAP meets it
    gaps = {
        k for k in plan.settlements if f'data-code="{plan.settlements[k]}" data-gap="1"' in table
    }
    assert gaps == {"S3", "S4"}
    assert "Village S1" in r.text.split('data-testid="pl-visiting-worker"')[1].split("</p>")[0]


async def test_the_csv_has_the_rows_and_neutralises_cells(client, planner, plan, kz, db):
    from sqlalchemy import update

    from salomat.domains.registry.models import Territory

    await db.execute(
        update(Territory)
        .where(Territory.id == plan.settlement_ids["S1"])
        .values(name='=HYPERLINK("x")', names={"en": '=HYPERLINK("x")'})
    )
    await db.commit()
    r = await client.get(
        PAGE + "/settlements.csv",
        params={"area": plan.region, "edition": "kz-2022"},
        headers=planner,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["Code", "Settlement", "District"]
    by_code = {row[0]: row for row in rows[1:]}
    assert set(by_code) == set(plan.settlements.values())
    assert by_code[plan.settlements["S1"]][1] == '\'=HYPERLINK("x")'
    assert by_code[plan.settlements["S3"]][12] == "yes"
    assert by_code[plan.settlements["S3"]][6] == "420"


async def test_the_scenario_shows_the_change_beyond_the_threshold(client, planner, plan, kz):
    r = await client.get(
        PAGE + "/scenario",
        params={
            "area": plan.region,
            "settlement": plan.settlements["S3"],
            "unit": "physician_ambulatory",
            "edition": "kz-2022",
        },
        headers=planner,
    )
    assert r.status_code == 200, r.text
    row = r.text.split('data-testid="ps-beyond"')[1].split("</tr>")[0]
    before = int(row.split('data-key="before">')[1].split("<")[0].replace("\u202f", ""))
    after = int(row.split('data-key="after">')[1].split("<")[0].replace("\u202f", ""))
    assert after < before
    assert 'data-testid="ps-gained-row"' in r.text


async def test_who_may_open_the_pages(client, make_user, login, plan, kz):
    for role, allowed in (("analyst", True), ("epidemiologist", True), ("nurse", False),
                          ("registrar", False)):  # fmt: skip
        headers = await login(await make_user(role))
        r = await client.get(PAGE, params={"area": plan.region}, headers=headers)
        assert (r.status_code == 200) is allowed, (role, r.status_code)
    r = await client.get(PAGE, headers={"Accept": "text/html"})
    assert r.status_code in (302, 303, 401)


@pytest.mark.parametrize(
    "params",
    [
        {"area": "NO-SUCH-CODE"},
        {"area": "x" * 33},
        {"edition": "kz-1999"},
        {"colour": "purple"},
    ],
)
async def test_bad_parameters_are_named_on_the_page(client, planner, plan, kz, params):
    r = await client.get(PAGE, params=params, headers=planner)
    assert 400 <= r.status_code < 500, r.text
    assert 'data-testid="pl-errors"' in r.text


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    area=st.text(max_size=40),
    edition=st.text(max_size=40),
    settlement=st.text(max_size=40),
    unit=st.text(max_size=45),
)
async def test_no_server_error_on_any_scenario_input(
    client, planner, kz, area, edition, settlement, unit
):
    r = await client.get(
        PAGE + "/scenario",
        params={"area": area, "edition": edition, "settlement": settlement, "unit": unit},
        headers=planner,
    )
    assert r.status_code < 500, r.text


async def test_the_mobile_page_plans_a_team_s_days(client, planner, plan, kz, db):
    from salomat.domains.planning.schemas_mobile import TeamIn
    from salomat.domains.planning.service import mobile

    team = await mobile.create_team(
        db, plan.principal(), TeamIn(facility_code=plan.facilities["S6"], name="Team <b>1</b>")
    )
    await db.commit()
    r = await client.get(PAGE + "/mobile", headers=planner)
    assert r.status_code == 200, r.text
    assert "Team &lt;b&gt;1&lt;/b&gt;" in r.text  # escaped
    r = await client.get(
        PAGE + "/mobile",
        params={"team": team.id, "area": plan.districts["D1"], "start": "2026-12-07"},
        headers=planner,
    )
    assert r.status_code == 200, r.text
    days = r.text.split('data-testid="pm-days"')[1].split("</table>")[0]
    # the district's settlements without a unit with premises: S1 and S3
    assert "Village S1" in days
    assert "Village S3" in days
    assert "Village S2" not in days
    assert "07.12.2026" in days  # a Monday: the first working day
    for bad in (
        {"team": "x"},
        {"team": str(team.id), "area": plan.districts["D1"], "start": "2026-13-01"},
    ):
        r = await client.get(PAGE + "/mobile", params=bad, headers=planner)
        assert 400 <= r.status_code < 500, r.text
        assert 'data-testid="pm-errors"' in r.text


async def test_settlements_outside_the_country_or_without_coordinates_are_named(
    client, planner, plan, kz, db
):
    from sqlalchemy import update

    from salomat.domains.registry.models import Territory

    await db.execute(
        update(Territory).where(Territory.id == plan.settlement_ids["S1"]).values(latitude=10.0)
    )
    await db.execute(
        update(Territory)
        .where(Territory.id == plan.settlement_ids["S2"])
        .values(latitude=None, longitude=None)
    )
    await db.commit()
    r = await client.get(PAGE, params={"area": plan.region}, headers=planner)
    assert r.status_code == 200, r.text
    # named, not by code (the page's rows' names: test_page_words.py reads them in Russian)
    outside = r.text.split('data-testid="pl-outside"')[1].split("</p>")[0]
    assert "Village S1" in outside
    assert plan.settlements["S1"] not in outside
    missing = r.text.split('data-testid="pl-no-coordinates"')[1].split("</p>")[0]
    assert "Village S2" in missing
    assert plan.settlements["S2"] not in missing
    svg = r.text.split('data-testid="planning-map"')[1].split("</svg>")[0]
    assert f'data-code="{plan.settlements["S2"]}"' not in svg  # nowhere to draw it
    assert f'data-code="{plan.settlements["S1"]}"' not in svg  # not in the country
    assert f'data-code="{plan.settlements["S3"]}"' in svg


async def test_the_gaps_csv_by_district_and_by_region(client, planner, plan, kz):
    r = await client.get(
        PAGE + "/gaps.csv", params={"area": plan.region, "edition": "kz-2022"}, headers=planner
    )
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:4] == ["Code", "District", "Settlements", "Without the unit the norm requires"]
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code[plan.districts["D1"]][2:4] == ["5", "3"]  # S3, S4, S5 of five
    # S1 needs a visiting medical worker: the last two columns, apart from the gaps
    assert rows[0][-2:] == [
        "Needs a visiting medical worker (no premises)",
        "Population needing a visiting medical worker",
    ]
    assert by_code[plan.districts["D1"]][-2:] == ["1", "35"]
    assert by_code[plan.districts["D2"]][-2:] == ["0", "0"]
    assert by_code[plan.districts["D2"]][2:4] == ["1", "0"]
    assert by_code[""][1] == "Total"
    assert by_code[""][2:4] == ["6", "3"]
    assert by_code[""][-2:] == ["1", "35"]
    assert float(by_code[plan.districts["D2"]][7]) == 3.5  # filled: doctors 2.5 + a nurse
    r = await client.get(PAGE + "/gaps.csv", params={"edition": "kz-2022"}, headers=planner)
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][1] == "Region"
    region = next(row for row in rows if row[0] == plan.region)
    assert region[2:4] == ["6", "3"]
    assert region[-2:] == ["1", "35"]
