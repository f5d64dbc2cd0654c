"""The ministry's country page: every region's settlements, gaps and staffing. It sums
every settlement of the country, so the module has a database of its own (against the
run's shared one it would sum what every earlier test wrote)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.own_database import own_database_fixtures

pytestmark = pytest.mark.anyio

own_database, app = own_database_fixtures("salomat_plan_country_web")

PAGE = "/planning"


@pytest.fixture
async def planner(make_user: Any, login: Any) -> dict[str, str]:
    return {**await login(await make_user("planner")), "Accept-Language": "en"}


async def test_the_country_page_totals_by_region(client, planner, plan, kz):
    r = await client.get(PAGE, params={"edition": "kz-2022"}, headers=planner)
    assert r.status_code == 200, r.text
    table = r.text.split('data-testid="pl-region-table"')[1].split("</table>")[0]
    row = table.split(f'data-code="{plan.region}"')[1].split("</tr>")[0]
    assert 'data-key="settlements">6<' in row
    assert 'data-key="with_gap">3<' in row
    assert 'data-key="visiting_worker">1 <span class="hint">(35)</span>' in row
    assert 'data-testid="pl-national-staff"' in r.text
    # the pack's unit costs are illustrative: said in the reader's words, not its notes
    assert 'data-testid="pl-costs-illustrative"' in r.text
    assert "UNVERIFIED" not in r.text
