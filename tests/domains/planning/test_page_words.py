"""The planning pages' words in the reader's language (ru, uz, kk): no message that means
something else elsewhere (payment "settlements", the language switch's "change"), places
by their names (not codes) in the reader's language, plural forms, errors on the field
the page shows.

The region is the shared test region (conftest ``plan``); the services read the Kazakh
pack (``kz``)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio

PAGE = "/planning"


async def _reader(make_user: Any, login: Any, lang: str) -> dict[str, str]:
    return {**await login(await make_user("planner")), "Accept-Language": lang}


async def test_settlements_are_places_not_payments(client, make_user, login, plan, kz):
    from salomat.core.i18n import set_language, translations

    payments = {lang: translations(lang).gettext("Settlements") for lang in ("ru", "uz", "kk")}
    for lang in ("ru", "uz", "kk"):
        headers = await _reader(make_user, login, lang)
        for params in ({"area": plan.region, "edition": "kz-2022"}, {"edition": "kz-2022"}):
            r = await client.get(PAGE, params=params, headers=headers)
            assert r.status_code == 200, r.text
            if payments[lang] != "Settlements":  # the payments' word, where it is translated
                assert payments[lang] not in r.text, (lang, params)
    # the CSV's header: the places' word
    r = await client.get(PAGE + "/gaps.csv", headers=await _reader(make_user, login, "ru"))
    assert r.status_code == 200
    if payments["ru"] != "Settlements":
        assert payments["ru"] not in r.text.splitlines()[0]
    set_language("en")


async def test_the_scenario_s_difference_is_not_the_language_switch_s_verb(
    client, make_user, login, plan, kz
):
    from salomat.core.i18n import translations

    switch = translations("ru").gettext("Change")
    r = await client.get(
        PAGE + "/scenario",
        params={"area": plan.region, "settlement": plan.settlements["S3"], "edition": "kz-2022"},
        headers=await _reader(make_user, login, "ru"),
    )
    assert r.status_code == 200, r.text
    table = r.text.split('data-testid="ps-compare"')[1].split("</thead>")[0]
    assert switch not in table
    r = await client.get(
        PAGE + "/scenario",
        params={"area": plan.region, "settlement": plan.settlements["S3"], "edition": "kz-2022"},
        headers=await _reader(make_user, login, "en"),
    )
    assert "Difference" in r.text.split('data-testid="ps-compare"')[1].split("</thead>")[0]


async def test_places_are_named_in_the_reader_s_language(client, make_user, login, plan, kz, db):
    from sqlalchemy import update

    from salomat.domains.registry.models import Territory

    await db.execute(
        update(Territory)
        .where(Territory.code == plan.region)
        .values(names={"en": "Plan region", "ru": "Плановая область"})
    )
    await db.execute(
        update(Territory)
        .where(Territory.code == plan.settlements["S3"])
        .values(names={"en": "Village S3", "ru": "Село S3"})
    )
    await db.commit()
    # the test deployment offers uz, ru, en (the UZ pack): the reader reads Russian
    headers = await _reader(make_user, login, "ru")
    r = await client.get(PAGE, params={"area": plan.region, "edition": "kz-2022"}, headers=headers)
    assert r.status_code == 200, r.text
    rows = r.text.split('data-testid="pl-gap-table"')[1].split("</table>")[0]
    assert "Село S3" in rows
    assert "Village S3" not in rows
    title = r.text.split('id="pl-title"')[1].split("</h1>")[0]
    assert "Плановая область" in title
    r = await client.get(PAGE, params={"edition": "kz-2022"}, headers=headers)
    row = r.text.split('data-testid="pl-region-table"')[1].split(f'data-code="{plan.region}"')[1]
    assert "Плановая область" in row.split("</tr>")[0]


async def test_the_scenario_names_the_proposed_settlement(client, make_user, login, plan, kz):
    r = await client.get(
        PAGE + "/scenario",
        params={"area": plan.region, "settlement": plan.settlements["S3"], "edition": "kz-2022"},
        headers=await _reader(make_user, login, "en"),
    )
    assert r.status_code == 200, r.text
    hint = r.text.split('data-testid="ps-result"')[1].split("</p>")[0]
    assert "in Village S3." in hint
    assert plan.settlements["S3"] not in hint


async def test_an_unknown_settlement_is_named_on_its_field(client, make_user, login, plan, kz):
    r = await client.get(
        PAGE + "/scenario",
        params={"area": plan.region, "settlement": "NO-SUCH", "edition": "kz-2022"},
        headers=await _reader(make_user, login, "en"),
    )
    assert 400 <= r.status_code < 500, r.text
    assert 'data-testid="error-settlement"' in r.text
    assert "<strong>Settlement</strong>" in r.text
    select = r.text.split('<select id="ps-settlement"')[1].split(">")[0]
    assert 'aria-invalid="true"' in select


async def test_the_mobile_route_names_its_base_and_counts_days_in_words(
    client, make_user, login, plan, kz, db
):
    from salomat.domains.planning.schemas_mobile import TeamIn
    from salomat.domains.planning.service import mobile

    team = await mobile.create_team(
        db, plan.principal(), TeamIn(facility_code=plan.facilities["S6"], name="Team")
    )
    await db.commit()
    r = await client.get(
        PAGE + "/mobile",
        params={"team": team.id, "area": plan.districts["D1"], "start": "2026-12-07"},
        headers=await _reader(make_user, login, "en"),
    )
    assert r.status_code == 200, r.text
    hint = r.text.split('data-testid="pm-route"')[1].split("</p>")[0]
    assert "From Village S6 " in hint  # the base settlement's name, not its code
    assert plan.settlements["S6"] not in hint
    days = r.text.split('data-testid="pm-days"')[1].count('data-testid="pm-day"')
    assert f" {days} working day{'' if days == 1 else 's'} " in hint


async def test_settlements_off_the_map_are_named_in_the_reader_s_language(
    client, make_user, login, plan, kz, db
):
    """The area page's "Without coordinates" and "Coordinates outside the country" lines
    name the settlements (in Russian for a Russian reader), never by their codes."""
    from sqlalchemy import update

    from salomat.domains.registry.models import Territory

    await db.execute(
        update(Territory)
        .where(Territory.code == plan.settlements["S3"])
        .values(latitude=None, longitude=None, names={"en": "Village S3", "ru": "Село S3"})
    )
    await db.execute(
        update(Territory)
        .where(Territory.code == plan.settlements["S4"])
        .values(latitude=0.0, longitude=0.0, names={"en": "Village S4", "ru": "Село S4"})
    )
    await db.commit()
    r = await client.get(
        PAGE,
        params={"area": plan.region, "edition": "kz-2022"},
        headers=await _reader(make_user, login, "ru"),
    )
    assert r.status_code == 200, r.text
    missing = r.text.split('data-testid="pl-no-coordinates"')[1].split("</p>")[0]
    assert "Село S3" in missing
    assert plan.settlements["S3"] not in missing
    assert "Village S3" not in missing
    outside = r.text.split('data-testid="pl-outside"')[1].split("</p>")[0]
    assert "Село S4" in outside
    assert plan.settlements["S4"] not in outside
