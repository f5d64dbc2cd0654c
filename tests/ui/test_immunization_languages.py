"""Immunization pages in the page's language (issue 13): the pack's names of vaccines,
series, sites and indicators, the page's CSVs, the product list narrowed to the chosen
vaccine, and the dashboard opening on the latest complete cohort."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest

from salomat.core.config import get_settings
from salomat.core.i18n import translations
from salomat.country import pack
from salomat.domains.immunization.service import latest_complete_cohort, pack_names

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_every_code_of_the_pack_has_a_name_in_each_of_its_languages(country):
    langs = [lang for lang in pack.load(country)["languages"] if lang != "en"]
    names = pack_names(country)
    missing = [
        (kind, code, lang)
        for kind, codes in names.items()
        for code, by_lang in codes.items()
        for lang in langs
        if not by_lang.get(lang)
    ]
    assert not missing
    assert names["series"]["bcg"]["ru"] == "БЦЖ"
    # a name the pack gives for a code it does not have is a typo
    for file, kinds in (
        ("immunization", ("vaccines", "sites", "series")),
        ("immunization_coverage", ("indicators", "dropout")),
    ):
        declared = pack.load(country, file)["names"]
        for kind in kinds:
            assert set(declared[kind]) <= set(names[kind]), (country, kind)


@pytest.fixture
async def child_and_nurse(make_facility, make_person, make_user, login):
    fac = await make_facility()
    born = date.today() - timedelta(days=70)  # the 2-month doses are due
    baby = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    return baby, nurse


def _options(html: str, select_id: str) -> dict[str, str]:
    """value -> the option's attributes and text, of one <select>."""
    block = html.split(f'id="{select_id}"', 1)[1].split("</select>", 1)[0]
    return {
        m.group(1): m.group(0)
        for m in re.finditer(r'<option value="([^"]*)"[^>]*>[^<]*</option>', block)
    }


async def test_the_card_names_vaccines_and_sites_in_the_page_language(client, child_and_nurse):
    baby, nurse = child_and_nurse
    r = await client.post(
        f"/api/v1/persons/{baby.id}/immunizations",
        json={
            "antigen": "bcg",
            "dose_number": 1,
            "given_on": baby.birth_date.isoformat(),
            "vaccine": "bcg",
            "lot": "B-1",
            "site": "intradermal_left_arm",
        },
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    client.cookies.set("salomat_lang", "ru")
    page = await client.get(f"/patients/{baby.id}/immunizations", headers=nurse)
    assert page.status_code == 200
    assert "<h2>БЦЖ</h2>" in page.text
    assert "Левое плечо, внутрикожно (БЦЖ)" in page.text
    assert "АКДС-ГепB-Hib (Пента)" in page.text  # the due list
    assert "Left upper arm" not in page.text
    client.cookies.set("salomat_lang", "uz")
    page = await client.get(f"/patients/{baby.id}/immunizations", headers=nurse)
    assert "<h2>BSJ</h2>" in page.text


async def test_the_product_list_opens_narrowed_to_the_dose_the_form_opens_on(
    client, child_and_nurse
):
    """No dose chosen yet: the browser shows the first open dose selected, so the product
    list is narrowed to it already (the script narrows only on a change)."""
    baby, nurse = child_and_nurse
    page = await client.get(f"/patients/{baby.id}/immunizations", headers=nurse)
    assert page.status_code == 200
    first = next(iter(_options(page.text, "d-dose")))  # "antigen/dose"
    antigen = first.split("/")[0]
    series = next(
        s for s in pack.immunization(get_settings().country)["series"] if s["antigen"] == antigen
    )
    shown = {v for v, tag in _options(page.text, "d-vaccine").items() if v and "hidden" not in tag}
    assert shown == set(series["vaccines"]) & set(_options(page.text, "d-vaccine"))
    assert shown


async def test_the_product_list_follows_the_chosen_vaccine(client, child_and_nurse):
    baby, nurse = child_and_nurse
    cal = pack.immunization(get_settings().country)
    penta = next(s for s in cal["series"] if s["antigen"] == "penta")["vaccines"]
    page = await client.get(
        f"/patients/{baby.id}/immunizations", params={"dose": "penta/1"}, headers=nurse
    )
    assert page.status_code == 200
    assert 'data-narrows="d-vaccine"' in page.text
    options = _options(page.text, "d-vaccine")
    shown = {v for v, tag in options.items() if v and "hidden" not in tag}
    assert shown == set(penta)
    assert all("disabled" in tag for v, tag in options.items() if v and v not in penta)
    if len(penta) == 1:  # one product: chosen for the nurse
        assert "selected" in options[penta[0]]
    page = await client.get(
        f"/patients/{baby.id}/immunizations", params={"dose": "pcv/1"}, headers=nurse
    )
    shown = {v for v, tag in _options(page.text, "d-vaccine").items() if v and "hidden" not in tag}
    assert shown == {"pcv13", "pcv10"} & set(_options(page.text, "d-vaccine"))
    # without JavaScript the select may still send another vaccine's product: refused,
    # in the page's language, and the form comes back narrowed to the posted dose
    client.cookies.set("salomat_lang", "ru")
    r = await client.post(
        f"/patients/{baby.id}/immunizations",
        data={
            "dose": "penta/1",
            "vaccine": "pcv13",
            "given_on": date.today().isoformat(),
            "lot": "X-1",
            "site": "left_thigh",
        },
        headers=nurse,
    )
    assert r.status_code == 422
    assert "pcv13 — не вакцина для penta" in r.text
    shown = {v for v, tag in _options(r.text, "d-vaccine").items() if v and "hidden" not in tag}
    assert shown == set(penta)


async def test_the_page_csvs_speak_the_page_language_and_the_api_keeps_its_codes(
    client, make_user, login
):
    analyst = await login(await make_user("analyst"))
    client.cookies.set("salomat_lang", "uz")
    page_csv = await client.get("/dashboard/immunization.csv", headers=analyst)
    assert page_csv.status_code == 200
    header = next(csv.reader(io.StringIO(page_csv.text.lstrip("\ufeff"))))
    uz = translations("uz").gettext
    assert header[:4] == [uz("Birth cohort"), uz("Code"), uz("Name"), uz("Level")]
    assert header[0] != "Birth cohort"
    assert f"KDS3, 12 oygacha: {uz('covered')}" in header
    assert not [h for h in header if re.search(r"[a-z]+_[a-z]+", h)]
    api_csv = await client.get("/api/v1/dashboards/immunization.csv", headers=analyst)
    api_header = next(csv.reader(io.StringIO(api_csv.text.lstrip("\ufeff"))))
    assert api_header[:4] == ["cohort", "code", "name", "level"]
    assert "dtp3_covered" in api_header


async def test_the_worklist_csv_header_in_the_page_language(
    client, make_facility, make_user, login
):
    fac = await make_facility()
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    client.cookies.set("salomat_lang", "ru")
    r = await client.get("/immunization/worklist.csv", headers=nurse)
    assert r.status_code == 200
    header = next(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    ru = translations("ru").gettext
    words = ["Child", "Birth date", "Phone", "Address", "Section", "Due"]
    assert header == [ru(w) for w in words]
    assert header[0] == "Ребёнок"


# ---- the dashboard opens on the latest complete cohort ------------------------------------


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_latest_complete_cohort_turns_on_the_day_its_youngest_child_ends_the_window(
    country,
):
    from salomat.domains.immunization.service import coverage_indicators

    window = max(i.by_days for i in coverage_indicators(country)[0])
    assert window == 2557  # MCV2 by 7 years in both packs
    cohort = 2018
    becomes_complete = date(cohort, 12, 31) + timedelta(days=window)
    assert latest_complete_cohort(country, becomes_complete - timedelta(days=1)) == cohort - 1
    assert latest_complete_cohort(country, becomes_complete) == cohort
    assert latest_complete_cohort(country, becomes_complete + timedelta(days=1)) == cohort
    assert latest_complete_cohort(country, date(cohort + 8, 12, 30)) == cohort


async def test_the_dashboard_opens_on_the_latest_complete_cohort(client, make_user, login):
    analyst = await login(await make_user("analyst"))
    expected = latest_complete_cohort(get_settings().country, date.today())
    r = await client.get("/api/v1/dashboards/immunization", headers=analyst)
    assert r.status_code == 200
    body = r.json()
    assert body["cohort"] == expected
    assert all(i["complete"] for i in body["indicators"])
    page = await client.get("/dashboard/immunization", headers=analyst)
    assert f'value="{expected}"' in page.text
    # a later cohort can still be asked for; its unfinished indicators are marked
    later = await client.get(
        "/api/v1/dashboards/immunization", params={"cohort": date.today().year}, headers=analyst
    )
    assert not all(i["complete"] for i in later.json()["indicators"])


async def test_a_dose_that_would_not_count_is_explained_in_the_page_language(
    client, child_and_nurse
):
    baby, nurse = child_and_nurse
    too_early = baby.birth_date + timedelta(days=20)  # Penta 1 from 6 weeks
    client.cookies.set("salomat_lang", "ru")
    r = await client.post(
        f"/patients/{baby.id}/immunizations",
        data={
            "dose": "penta/1",
            "vaccine": "penta",
            "given_on": too_early.isoformat(),
            "lot": "P-1",
            "site": "left_thigh",
        },
        headers=nurse,
    )
    assert r.status_code == 422
    assert "введена до минимального возраста; не ранее" in r.text
    assert "minimum age" not in r.text
    # the API keeps the engine's English wording
    api = await client.post(
        f"/api/v1/persons/{baby.id}/immunizations",
        json={
            "antigen": "penta",
            "dose_number": 1,
            "given_on": too_early.isoformat(),
            "vaccine": "penta",
            "lot": "P-1",
            "site": "left_thigh",
        },
        headers=nurse,
    )
    assert api.status_code == 422
    given_on = next(e for e in api.json()["errors"] if e["field"] == "given_on")
    assert given_on["message"].startswith("too early: before the minimum age")


async def test_a_wrong_cohort_is_named_and_explained_in_the_page_language(client, make_user, login):
    from salomat.core.i18n import translations

    analyst = await login(await make_user("analyst"))
    client.cookies.set("salomat_lang", "ru")
    r = await client.get("/dashboard/immunization", params={"cohort": "20x6"}, headers=analyst)
    assert r.status_code == 422
    ru = translations("ru").gettext
    assert f"<strong>{ru('cohort')}</strong>" in r.text
    assert ru("%(raw)r is not a year (YYYY)") % {"raw": "20x6"} in r.text.replace("&#39;", "'")
    assert "is not a year" not in r.text
