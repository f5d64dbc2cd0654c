"""The registry population table's name (a source text, not data) is shown in the page's
language on the overview page and in the settlements CSV, as the API does; a census's own
source words are shown as entered. S6 of the shared region has no census figure, only the
registry table once its census figure is removed (tests/domains/planning/conftest.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

PAGE = "/planning"
ENGLISH = "registry population table"
RUSSIAN = "таблица населения регистра"  # ru messages.po


@pytest.fixture
async def s6_from_the_registry(plan):  # type: ignore[no-untyped-def]
    from sqlalchemy import delete

    from salomat.domains.planning.models import SettlementCensus

    s6 = plan.settlement_ids["S6"]
    await plan.db.execute(delete(SettlementCensus).where(SettlementCensus.territory_id == s6))
    await plan.db.commit()


@pytest.fixture
async def russian(make_user, login):  # type: ignore[no-untyped-def]
    return {**await login(await make_user("planner")), "Accept-Language": "ru"}


async def test_the_russian_page_and_csv_name_the_registry_table_in_russian(
    client, russian, plan, kz, s6_from_the_registry
) -> None:  # type: ignore[no-untyped-def]
    q = {"area": plan.region, "edition": "kz-2022"}
    r = await client.get(PAGE, params=q, headers=russian)
    assert r.status_code == 200, r.text
    row = r.text.split(f'"pl-row" data-code="{plan.settlements["S6"]}"')[1].split("</tr>")[0]
    assert RUSSIAN in row
    assert ENGLISH not in r.text
    r = await client.get(PAGE + "/settlements.csv", params=q, headers=russian)
    assert r.status_code == 200, r.text
    assert RUSSIAN in r.text
    assert ENGLISH not in r.text
    assert "Test census 2025" in r.text  # a census's source: as entered


async def test_the_english_page_keeps_the_source_text(
    client, make_user, login, plan, kz, s6_from_the_registry
) -> None:  # type: ignore[no-untyped-def]
    english = {**await login(await make_user("planner")), "Accept-Language": "en"}
    r = await client.get(PAGE + "/settlements.csv", params={"area": plan.region}, headers=english)
    assert r.status_code == 200, r.text
    assert ENGLISH in r.text
