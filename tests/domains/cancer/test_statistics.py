"""The cancer registry's statistics through the API: incidence rates of a small table
computed by hand (both world standards), the quality indicators (a DCO case from a
registered death, the mortality:incidence ratio from registered deaths, the unknown
primary), small cells for readers outside the registry, the neutralised CSV, the CanReg5
export, and who may read what."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.domains.cancer.conftest import fields, register_death
from tests.factories import unique

pytestmark = pytest.mark.anyio

NOTIFY = "/api/v1/persons/{}/cancer-notifications"
INCIDENCE = "/api/v1/cancer-statistics/incidence"
QUALITY = "/api/v1/cancer-statistics/quality"
YEAR = 2024

# Population of the test's own region on 1 January 2024, per 5-year band 0-4 ... 85+:
# 1000 everywhere but men 50-54 (band 10): 20 000, men 60-64 (band 12): 10 000 and men
# 85+ (band 17): 2 000. Men in all: 15 x 1000 + 20 000 + 10 000 + 2 000 = 47 000.
MEN = [1000] * 18
MEN[10], MEN[12], MEN[17] = 20_000, 10_000, 2_000
WOMEN = [1000] * 18


@dataclass
class Table:
    region: str
    men: list[Any]
    dco_woman: Any
    unknown_woman: Any


async def _notify(client, headers, person, **kw):  # type: ignore[no-untyped-def]
    body = {
        "topography": "C34.1",
        "morphology": "8070/3",
        "basis": 7,
        "diagnosed_on": f"{YEAR}-03-10",
        "date_kind": "microscopic",
    }
    body.update(kw)
    r = await client.post(NOTIFY.format(person.id), json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["tumour"]["status"] == "registered", r.text
    return r.json()


async def _place(db, region_name: str = "Region"):  # type: ignore[no-untyped-def]
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import PopulationIn, TerritoryIn

    region = unique("CR")
    await service.create_territory(db, TerritoryIn(code=region, level="region", name=region_name))
    await service.create_territory(
        db, TerritoryIn(code=f"{region}-D", level="district", parent_code=region, name="District")
    )
    settlement = f"{region}-D-S"
    await service.create_territory(
        db,
        TerritoryIn(
            code=settlement, level="settlement", parent_code=f"{region}-D", name="Village",
            is_rural=True,
        ),
    )  # fmt: skip
    await service.set_population(db, settlement, PopulationIn(year=YEAR, male=MEN, female=WOMEN))
    await db.commit()
    return region, settlement


@pytest.fixture
async def table(db, client, cancer, make_person) -> Table:
    """Six lung cancers in men (2 aged 52, 3 aged 63, 1 aged 86), a woman dead of lung cancer
    in 2024 with no notification (DCO), one of the men dead of it too, a woman with an
    unknown primary (C80.9), all resident in a region of the test's own."""
    region, settlement = await _place(db, "=HYPERLINK(1) region")

    async def person(born: date, sex: str) -> Any:
        return await make_person(
            facility_code=cancer.polyclinic.code, birth_date=born, sex=sex,
            settlement_code=settlement,
        )  # fmt: skip

    men = []
    # ages on 10 March 2024: 52, 52, 63, 63, 63, 86
    for born in [date(1971, 6, 1)] * 2 + [date(1960, 6, 1)] * 3 + [date(1937, 6, 1)]:
        m = await person(born, "male")
        await _notify(client, cancer.doctor, m)
        men.append(m)
    died = await register_death(
        client, cancer.doctor, men[2].id, deceased_on=f"{YEAR}-08-01", cause="C34.9"
    )
    assert died.status_code == 200, died.text
    woman = await person(date(1950, 1, 1), "female")
    died = await register_death(
        client, cancer.doctor, woman.id, deceased_on=f"{YEAR}-05-01", cause="C34.9"
    )
    assert died.status_code == 200, died.text
    unknown = await person(date(1954, 1, 1), "female")
    await _notify(client, cancer.doctor, unknown, topography="C80.9", morphology="8140/3")
    return Table(region, men, woman, unknown)


def _line(body: dict, site: str, sex: str) -> dict:
    [line] = [x for x in body["lines"] if x["site"] == site and x["sex"] == sex]
    return line


async def test_the_asr_of_a_hand_computed_table_on_both_standards(client, cancer, table) -> None:
    # Men, lung (C33-C34), 2024; rates per 100 000 by band:
    #   50-54: 2 / 20 000 = 10;  60-64: 3 / 10 000 = 30;  85+: 1 / 2 000 = 50.
    # Segi (Doll 1966) weights 5000, 4000, 500 of 100 000:
    #   (10 x 5000 + 30 x 4000 + 50 x 500) / 100 000 = 195 000 / 100 000 = 1.95
    # WHO 2000-2025 weights 5370, 3720 and 85+ = 440 + 150 + 40 + 5 = 635, of 100 035:
    #   (10 x 5370 + 30 x 3720 + 50 x 635) / 100 035 = 197 050 / 100 035 = 1.9698 -> 1.97
    # Crude: 6 / 47 000 x 100 000 = 12.766 -> 12.77
    # Cumulative rate 0-74: 5 x (10 + 30) = 200 per 100 000 = 0.20 %;
    #   risk 100 x (1 - exp(-0.002)) = 0.1998 % -> 0.20
    expected = {"segi": 1.95, "who2000": 1.97}
    for standard, asr in expected.items():
        r = await client.get(
            INCIDENCE,
            params={"year": YEAR, "region": table.region, "standard": standard},
            headers=cancer.registrar,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["population_year"] == YEAR
        lung = _line(body, "lung", "male")
        assert lung["cases"] == 6
        assert round(lung["asr"]["value"], 2) == asr
        assert lung["asr"]["low"] < lung["asr"]["value"] < lung["asr"]["high"]
        assert round(lung["crude"]["value"], 2) == 12.77
        assert round(lung["cumulative_rate"], 2) == 0.20
        assert round(lung["cumulative_risk"], 4) == round(100 * -math.expm1(-0.002), 4)
        by_age = lung["cases_by_age"]
        assert by_age[10] == 2
        assert by_age[12] == 3
        assert by_age[17] == 1
        assert sum(by_age) == 6
    # the exact WHO figure, beyond 2 decimals
    assert abs(lung["asr"]["value"] - 197_050 / 100_035) < 1e-9


async def test_a_missing_year_uses_the_nearest_population(client, cancer, table) -> None:
    r = await client.get(
        INCIDENCE, params={"year": YEAR + 1, "region": table.region}, headers=cancer.registrar
    )
    assert r.status_code == 200, r.text
    assert r.json()["year"] == YEAR + 1
    assert r.json()["population_year"] == YEAR
    # no tumour in 2025 in this region
    assert _line(r.json(), "lung", "male")["cases"] == 0


async def test_quality_dco_mi_and_unknown_primary(client, cancer, table) -> None:
    r = await client.get(
        QUALITY, params={"year": YEAR, "region": table.region}, headers=cancer.registrar
    )
    assert r.status_code == 200, r.text
    rows = {row["site"]: row for row in r.json()["rows"]}
    # lung: 6 microscopically verified men + the woman known only from her death (DCO)
    lung = rows["lung"]
    assert lung["cases"] == 7
    assert lung["microscopically_verified"] == 6
    assert lung["mv_percent"] == round(100 * 6 / 7, 1)  # 85.7
    assert lung["death_certificate_only"] == 1
    assert lung["dco_percent"] == round(100 / 7, 1)  # 14.3
    # deaths with C34 as underlying cause in 2024: the DCO woman and one of the men
    assert lung["deaths"] == 2
    assert lung["mortality_incidence"] == round(2 / 7, 2)  # 0.29
    # all sites: 7 lung + the C80.9 = 8; unknown primary 1 of 8
    every = rows["all"]
    assert every["cases"] == 8
    assert every["unknown_primary"] == 1
    assert every["unknown_primary_percent"] == 12.5
    assert every["dco_percent"] == 12.5
    assert every["mv_percent"] == 87.5
    assert every["mortality_incidence"] == 0.25


async def test_quality_over_regions_has_the_regions_row(client, cancer, table) -> None:
    r = await client.get(QUALITY, params={"year": YEAR}, headers=cancer.registrar)
    assert r.status_code == 200, r.text
    mine = [x for x in r.json()["rows"] if x["region_code"] == table.region and x["site"] == "lung"]
    assert len(mine) == 1
    assert mine[0]["cases"] == 7
    assert mine[0]["deaths"] == 2
    national = [x for x in r.json()["rows"] if x["region_code"] is None and x["site"] == "lung"]
    assert national[0]["cases"] >= 7


async def test_an_analyst_sees_aggregates_with_small_cells_hidden(
    client, cancer, table, make_user, login
) -> None:
    analyst = await login(await make_user("analyst"))
    r = await client.get(INCIDENCE, params={"year": YEAR, "region": table.region}, headers=analyst)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["suppressed"] is True
    men = _line(body, "lung", "male")
    # 6 cases are shown with their rates; the bands of 2, 3 and 1 are not
    assert men["cases"] == 6
    assert round(men["asr"]["value"], 2) == 1.95
    # withheld whole, the empty bands too
    assert men["cases_by_age"] == ["x"] * 18
    # one woman: "<5" and no rate; and both sexes (6 + 1) is withheld with it
    women = _line(body, "lung", "female")
    assert women["cases"] == "<5"
    assert women["asr"] is None
    assert women["withheld"] is True
    both = _line(body, "lung", "both")
    assert both["cases"] == "x"
    assert both["asr"] is None
    for line in body["lines"]:
        for v in [line["cases"], *line["cases_by_age"]]:
            assert not (isinstance(v, int) and 0 < v < 5), line
    q = await client.get(QUALITY, params={"year": YEAR, "region": table.region}, headers=analyst)
    assert q.status_code == 200, q.text
    lung = {row["site"]: row for row in q.json()["rows"]}["lung"]
    assert lung["cases"] == 7
    assert lung["death_certificate_only"] == "<5"
    assert lung["dco_percent"] is None
    assert lung["deaths"] == "<5"
    assert lung["mortality_incidence"] is None


async def test_who_may_read(client, cancer, table, make_user, login) -> None:
    params = {"year": YEAR, "region": table.region}
    assert (await client.get(INCIDENCE, params=params, headers=cancer.doctor)).status_code == 403
    assert (await client.get(QUALITY, params=params, headers=cancer.doctor)).status_code == 403
    epi = await login(await make_user("epidemiologist"))
    assert (await client.get(INCIDENCE, params=params, headers=epi)).status_code == 200
    export = "/api/v1/cancer-registry/export.canreg"
    assert (await client.get(export, headers=epi)).status_code == 403
    assert (await client.get(export, headers=cancer.oncologist)).status_code == 403


async def test_wrong_values_are_named(client, db, cancer, table) -> None:
    h = cancer.registrar
    r = await client.get(INCIDENCE, params={"year": YEAR, "standard": "euro"}, headers=h)
    assert r.status_code == 422, r.text
    assert "standard" in fields(r)
    r = await client.get(INCIDENCE, params={"year": YEAR, "region": "NO-SUCH"}, headers=h)
    assert r.status_code == 422
    assert "region" in fields(r)
    r = await client.get(INCIDENCE, params={"year": YEAR, "region": f"{table.region}-D"}, headers=h)
    assert r.status_code == 422
    assert "region" in fields(r)
    r = await client.get(INCIDENCE, params={"year": YEAR, "sex": "other"}, headers=h)
    assert r.status_code == 422
    assert "sex" in fields(r)
    # a region with no population loaded at all
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import TerritoryIn

    empty = unique("CE")
    await service.create_territory(db, TerritoryIn(code=empty, level="region", name="Empty"))
    await db.commit()
    r = await client.get(INCIDENCE, params={"year": YEAR, "region": empty}, headers=h)
    assert r.status_code == 422
    assert "year" in fields(r)


async def test_the_csv_is_neutralised_and_in_the_request_language(client, cancer, table) -> None:
    r = await client.get(
        INCIDENCE + ".csv",
        params={"year": YEAR, "region": table.region, "sex": "male"},
        headers={**cancer.registrar, "Accept-Language": "ru"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    from salomat.core import i18n

    ru = i18n.translations("ru").gettext
    assert rows[0][0] == ru("Year")
    assert ru("Cases") in rows[0]
    assert "0–4" in rows[0]
    assert "85+" in rows[0]
    cells = [c for row in rows[1:] for c in row]
    # the region's name starts with "=": a spreadsheet must not run it
    assert "'=HYPERLINK(1) region" in cells
    assert not any(c.startswith("=") for c in cells)
    lung = [row for row in rows[1:] if row[5] == "C33-C34"]
    assert lung
    assert lung[0][7] == "6"
    asr = rows[0].index(ru("Age-standardised rate per 100 000"))
    assert lung[0][asr] == "1.95"


async def test_the_canreg_export(client, cancer, table, make_user, login) -> None:
    r = await client.get(
        "/api/v1/cancer-registry/export.canreg",
        params={"year": YEAR, "region": table.region},
        headers=cancer.registrar,
    )
    assert r.status_code == 200, r.text
    lines = [line.split("\t") for line in r.text.strip().split("\n")]
    head = lines[0]
    assert head[:4] == ["RegNo", "PatientID", "TumourID", "Sex"]
    rows = [dict(zip(head, line, strict=True)) for line in lines[1:]]
    assert len(rows) == 8
    first = next(x for x in rows if x["PatientID"] == str(table.men[0].id))
    assert first["Sex"] == "1"
    assert first["BirthDate"] == "19710601"
    assert first["Age"] == "52"
    assert first["IncidenceDate"] == "20240310"
    assert first["Topography"] == "341"
    assert first["Morphology"] == "8070"
    assert first["Behaviour"] == "3"
    assert first["BasisDiagnosis"] == "7"
    assert first["ICD10"] == "C341"
    dco = next(x for x in rows if x["PatientID"] == str(table.dco_woman.id))
    assert dco["BasisDiagnosis"] == "0"
    assert dco["VitalStatus"] == "2"
    assert dco["LastContactDate"] == "20240501"
    # pseudonymised: no name, no national id
    assert table.men[0].family_name not in r.text
    assert "Name" not in "".join(head)


# ---- the small-cell rule, for any counts ---------------------------------------------------

_bands = st.lists(st.integers(0, 12), min_size=18, max_size=18)


@settings(max_examples=200, deadline=None)
@given(male=_bands, female=_bands)
def test_no_small_count_can_be_read_or_worked_out(male: list[int], female: list[int]) -> None:
    from salomat.domains.cancer.service import rates
    from salomat.domains.cancer.service.common import cancer_rules
    from salomat.domains.cancer.service.statistics import _group_lines

    group = cancer_rules("UZ").site_groups[0]
    by_sex = {
        "male": male,
        "female": female,
        "both": [m + f for m, f in zip(male, female, strict=True)],
    }
    py = {s: [1000] * 18 for s in by_sex}
    lines = {
        x.sex: x
        for x in _group_lines(
            group, "en", by_sex, py, rates.SEGI, True, wanted=("male", "female", "both")
        )
    }
    shown = lines

    def known(v: Any) -> bool:
        return isinstance(v, int)

    for _s, line in shown.items():
        cells = [line.cases, *line.cases_by_age]
        # no count of 1 to 4 is published
        assert not any(known(v) and 0 < v < 5 for v in cells)
        # a line without its total has no rate (a rate gives its cases back)
        if not known(line.cases):
            assert line.crude is None
            assert line.asr is None
            assert line.cumulative_rate is None
        # an age breakdown is whole or withheld whole, its empty bands too (the ASR and the
        # total give a hidden cell back when the others are known)
        if any(not known(v) for v in line.cases_by_age):
            assert not any(known(v) for v in line.cases_by_age)
    # male + female = both: never two of the three known and the third hidden
    totals = [shown[s].cases for s in ("male", "female", "both")]
    assert sum(known(v) for v in totals) != 2
    for i in range(18):
        band = [shown[s].cases_by_age[i] for s in ("male", "female", "both")]
        assert sum(known(v) for v in band) != 2
