"""Immunization coverage of a birth cohort (issue 5).

The acceptance test loads the demo region into a scratch database and checks
the coverage of the 2024 cohort twice: against figures counted by hand from
demo.yaml, and against a recount from the raw tables written here
independently of the service (residence and ages in Python). The recount
never reads the engine's stored verdicts (``valid``, ``counted_as``): it
judges each dose from its date, the birth date and the WHO rules
(``who_reference``): minimum ages, intervals, upper ages, DTP-containing
doses of any product in one sequence, PCV catch-up plans.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from salomat.core.db import get_engine, session_factory
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.immunization import service
from tests.domains.immunization.who_reference import who_complete_on, who_places
from tests.domains.maternal.test_referrals import facility
from tests.factories import national_id_for

pytestmark = pytest.mark.anyio

TODAY = date.today()
ANALYST = Principal(user_id=0, username="test-analyst", role="analyst", session_id="t")

#: the indicators as docs/immunization.md defines them (the recount does not read the pack):
#: code -> (sequence of the reference, place or "complete", by age in days, (sequence, place)
#: needed first or None). DTP counts DTP-containing doses, Penta or DTP (WHO).
INDICATORS_UZ: dict[str, tuple[str, int | str, int, tuple[str, int] | None]] = {
    "dtp1": ("dtp", 1, 365, None),
    "dtp3": ("dtp", 3, 365, None),
    "mcv1": ("mmr", 1, 730, None),
    "mcv2": ("mmr", 2, 2557, None),
    "dtp4_revaccination": ("dtp", 4, 730, ("dtp", 3)),
    # WHO IMMZ.IND.19: the third PCV dose; and the series complete under the child's plan
    "pcv3": ("pcv", 3, 730, None),
    "pcv_complete": ("pcv", "complete", 730, None),
    "mcv2_revaccination": ("mmr", 2, 2557, ("mmr", 1)),
}


# ---- the recount from the raw tables ------------------------------------------------------


async def _rows(session, sql: str) -> list[Any]:
    return list((await session.execute(text(sql))).mappings())


def _day(v: Any) -> date | None:
    if v is None:
        return None
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


async def recount(session, area: str | None, cohort: int) -> dict[str, tuple[int, int]]:
    """(eligible, covered) per indicator for ``area``, counted child by child in Python."""
    terr = {r["id"]: r for r in await _rows(session, "SELECT id, code, parent_id FROM territory")}

    def inside(settlement_id: int | None) -> bool:
        if area is None:
            return True
        node = settlement_id
        while node is not None:
            if terr[node]["code"] == area:
                return True
            node = terr[node]["parent_id"]
        return False

    fac_home = {
        r["id"]: r["settlement_id"]
        for r in await _rows(session, "SELECT id, settlement_id FROM facility")
    }
    children = [
        p
        for p in await _rows(session, "SELECT * FROM person WHERE merged_into_id IS NULL")
        if _day(p["birth_date"]).year == cohort
        and inside(p["settlement_id"] or fac_home.get(p["attached_facility_id"]))
    ]
    # every dose given (entered-in-error ones aside), whatever the register judged of it
    given: dict[int, list[tuple[str, date]]] = {}
    for d in await _rows(session, "SELECT * FROM immunization_dose"):
        if d["status"] == "completed":
            given.setdefault(d["person_id"], []).append((d["antigen"], _day(d["given_on"])))
    out = {}
    for code, (sequence, place, by_days, among) in INDICATORS_UZ.items():
        eligible = covered = 0
        for p in children:
            born = _day(p["birth_date"])
            died = _day(p["deceased_on"])
            if (TODAY - born).days < by_days or (died and (died - born).days <= by_days):
                continue
            doses = given.get(p["id"], [])
            places = who_places(born, doses)

            def by_age(on: date | None, born: date = born, by_days: int = by_days) -> bool:
                return on is not None and 0 <= (on - born).days <= by_days

            if among and not by_age(places.get(among)):
                continue
            eligible += 1
            if place == "complete":
                covered += by_age(who_complete_on(born, sequence, doses))
            else:
                covered += by_age(places.get((sequence, place)))  # type: ignore[arg-type]
        out[code] = (eligible, covered)
    return out


def as_counted(row: Any) -> dict[str, tuple[int, int]]:
    return {code: (f.eligible, f.covered) for code, f in row.figures.items()}


# ---- the demo region: hand count and recount -----------------------------------------------

#: counted by hand from src/salomat/country/UZ/demo.yaml, cohort 2024 (its comments say who):
#: Behruz (city) and Alibek (Urgut) complete; Oysha (city) Penta 3 at 421 days and no DTP 4;
#: Javohir (city) refused everything after BCG. (eligible, covered):
DEMO_UZ_2024 = {
    "dtp1": (4, 3),  # all but Javohir
    "dtp3": (4, 2),  # Behruz (122 days), Alibek (121 days); Oysha's came at 421 days
    "mcv1": (4, 3),  # Behruz 365, Alibek 366, Oysha 370 days
    "mcv2": (0, 0),  # nobody born in 2024 is 7 years old yet
    "dtp4_revaccination": (3, 2),  # Penta 3 by 24 months: Behruz, Alibek, Oysha; DTP 4: not Oysha
    "pcv3": (4, 3),  # PCV 3 at 365, 366 and 370 days; none for Javohir
    "pcv_complete": (4, 3),  # the same three, all on the calendar's plan
    "mcv2_revaccination": (0, 0),
}
DEMO_UZ_2024_BY_DISTRICT = {
    "1718401": {  # Samarkand city: Behruz, Oysha, Javohir (where their polyclinic stands)
        "dtp1": (3, 2),
        "dtp3": (3, 1),
        "mcv1": (3, 2),
        "mcv2": (0, 0),
        "dtp4_revaccination": (2, 1),
        "pcv3": (3, 2),
        "pcv_complete": (3, 2),
        "mcv2_revaccination": (0, 0),
    },
    "1718236": {  # Urgut: Alibek, who lives in Kamangaron
        "dtp1": (1, 1),
        "dtp3": (1, 1),
        "mcv1": (1, 1),
        "mcv2": (0, 0),
        "dtp4_revaccination": (1, 1),
        "pcv3": (1, 1),
        "pcv_complete": (1, 1),
        "mcv2_revaccination": (0, 0),
    },
}


@pytest.fixture
def demo_uz() -> Iterator[tuple[str, Any]]:
    """A database where the UZ demo is loaded (`salomat demo load`: a copy of the run's
    loaded demo, tests/conftest.py ``demo_database``), and what the load answered."""
    from tests.conftest import demo_database

    with demo_database("salomat_coverage_demo", "UZ") as loaded:
        yield loaded


async def test_the_coverage_equals_a_hand_count_and_a_recount_of_the_demo_region(demo_uz):
    scratch_url, _ = demo_uz
    sessions = session_factory(scratch_url)
    try:
        async with sessions() as s:
            # every dose of the file was entered, and each counts (none given too early)
            in_file = sum(
                len([d for d in (v if isinstance(v, list) else v.values()) if d])
                for spec in pack.demo("UZ")["immunizations"]
                for v in spec["doses"].values()
            )
            stored = (
                await s.execute(
                    text(
                        "SELECT count(*), sum(CASE WHEN valid THEN 1 ELSE 0 END) "
                        "FROM immunization_dose WHERE source = 'demo'"
                    )
                )
            ).one()
            assert tuple(stored) == (in_file, in_file)
            c = await service.immunization_coverage(s, ANALYST, area="1718", cohort=2024)
            assert c.area_level == "region"
            assert as_counted(c.total) == DEMO_UZ_2024
            t = c.total.figures
            assert (t["dtp1"].pct, t["dtp3"].pct, t["mcv1"].pct) == (75.0, 50.0, 75.0)
            assert t["mcv2"].pct is None
            # the revaccination target: 2 of 3 = 66.7 % meets 65 %
            assert (t["dtp4_revaccination"].pct, t["dtp4_revaccination"].target) == (66.7, 65.0)
            assert t["dtp4_revaccination"].meets_target is True
            assert t["dtp3"].target is None
            assert t["dtp3"].meets_target is None
            assert c.total.dropout == {"dtp1_dtp3": 33.3}  # (3 - 2) / 3
            assert as_counted(c.total) == await recount(s, "1718", 2024)
            # per district: the hand count, the recount, and the rows add up to the total
            rows = {r.code: r for r in c.rows if any(f.eligible for f in r.figures.values())}
            assert set(rows) == set(DEMO_UZ_2024_BY_DISTRICT)
            for code, counted in DEMO_UZ_2024_BY_DISTRICT.items():
                assert as_counted(rows[code]) == counted, code
                assert as_counted(rows[code]) == await recount(s, code, 2024), code
            city = rows["1718401"]
            assert city.figures["dtp4_revaccination"].pct == 50.0
            assert city.figures["dtp4_revaccination"].meets_target is False
            assert city.dropout == {"dtp1_dtp3": 50.0}
            assert rows["1718236"].dropout == {"dtp1_dtp3": 0.0}
            for code in DEMO_UZ_2024:
                assert sum(r.figures[code].eligible for r in c.rows) == t[code].eligible
            # a district: one row per settlement (Alibek in Kamangaron)
            urgut = await service.immunization_coverage(s, ANALYST, area="1718236", cohort=2024)
            assert {r.level for r in urgut.rows} == {"settlement"}
            kamangaron = [r for r in urgut.rows if r.figures["dtp1"].eligible]
            assert [r.code for r in kamangaron] == ["1718236002"]
            # the whole country: one row per region, the same total
            national = await service.immunization_coverage(s, ANALYST, cohort=2024)
            assert as_counted(national.total) == DEMO_UZ_2024
            # every other cohort of the demo agrees with its recount too
            for year in (2015, 2019, 2021, 2025):
                other = await service.immunization_coverage(s, ANALYST, area="1718", cohort=year)
                assert as_counted(other.total) == await recount(s, "1718", year), year
            # Zarina (2019) has MMR 1 but not MMR 2 by 7 years: she turns 7 on 2026-12-25
            z = (await service.immunization_coverage(s, ANALYST, area="1718", cohort=2019)).total
            expected = (1, 0) if date(2026, 12, 25) <= TODAY else (0, 0)
            assert (z.figures["mcv2"].eligible, z.figures["mcv2"].covered) == expected
    finally:
        await get_engine(scratch_url).dispose()


# ---- boundaries and inputs (in the shared test database, each test in its own region) -----

COHORT = TODAY.year - 2


@pytest.fixture
async def region(db, make_place, make_person, make_user, login):
    """A fresh region with a polyclinic, its nurse and an analyst."""
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    analyst = await login(await make_user("analyst"))

    async def child(born: date) -> Any:
        return await make_person(
            facility_code=poly.code,
            birth_date=born,
            sex="male",
            national_id=national_id_for(born, "male"),
            settlement_code=place.settlement,
        )

    return place, poly, nurse, analyst, child


async def give(client, nurse, person_id: int, antigen: str, n: int, on: date) -> None:
    r = await client.post(
        f"/api/v1/persons/{person_id}/immunizations",
        json={
            "antigen": antigen,
            "dose_number": n,
            "given_on": on.isoformat(),
            "given_elsewhere": True,  # from a paper card: no lot or vaccine code needed
            "place": "paper card",
        },
        headers=nurse,
    )
    assert r.status_code == 201, r.text


async def coverage(client, headers, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/dashboards/immunization", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_dtp3_counts_at_364_days_of_age_and_not_at_366(client, region):
    place, _, nurse, analyst, child = region
    for days in (364, 366):
        born = date(COHORT, 2, 10)
        kid = await child(born)
        await give(client, nurse, kid.id, "penta", 1, born + timedelta(days=62))
        await give(client, nurse, kid.id, "penta", 2, born + timedelta(days=93))
        await give(client, nurse, kid.id, "penta", 3, born + timedelta(days=days))
    d = await coverage(client, analyst, area=place.region, cohort=COHORT)
    dtp3 = d["total"]["figures"]["dtp3"]
    assert (dtp3["eligible"], dtp3["covered"], dtp3["pct"]) == (2, 1, 50.0)
    assert d["total"]["figures"]["dtp1"]["covered"] == 2
    assert d["total"]["dropout"]["dtp1_dtp3"] == 50.0
    # DTP 3 by 24 months counts as DTP3-vaccinated for the revaccination's denominator
    revac = d["total"]["figures"]["dtp4_revaccination"]
    assert (revac["eligible"], revac["covered"], revac["meets_target"]) == (2, 0, False)
    assert [r["code"] for r in d["rows"]] == [place.district]


async def test_a_lone_dose_recorded_as_dtp3_counts_once_as_dtp1(client, region):
    """The issue's words: the only DTP-containing dose, numbered 3, counts once, as DTP1."""
    place, _, nurse, analyst, child = region
    born = date(COHORT, 3, 10)
    kid = await child(born)
    await give(client, nurse, kid.id, "penta", 3, born + timedelta(days=120))
    d = await coverage(client, analyst, area=place.region, cohort=COHORT)
    f = d["total"]["figures"]
    assert (f["dtp1"]["eligible"], f["dtp1"]["covered"]) == (1, 1)
    assert (f["dtp3"]["eligible"], f["dtp3"]["covered"]) == (1, 0)
    assert d["total"]["dropout"]["dtp1_dtp3"] == 100.0
    # and two more doses make it DTP3, whatever numbers the nurse typed on them
    await give(client, nurse, kid.id, "penta", 3, born + timedelta(days=150))
    await give(client, nurse, kid.id, "penta", 1, born + timedelta(days=180))
    f = (await coverage(client, analyst, area=place.region, cohort=COHORT))["total"]["figures"]
    assert (f["dtp1"]["covered"], f["dtp3"]["covered"]) == (1, 1)


async def test_dtp3_counts_the_third_valid_dose_not_the_third_recorded(client, region):
    place, _, nurse, analyst, child = region
    born = date(COHORT, 4, 2)
    kid = await child(born)
    # dose "2" comes 27 days after dose 1: too soon, it does not count; the next one is DTP2
    await give(client, nurse, kid.id, "penta", 1, born + timedelta(days=60))
    await give(client, nurse, kid.id, "penta", 2, born + timedelta(days=87))
    await give(client, nurse, kid.id, "penta", 3, born + timedelta(days=120))
    f = (await coverage(client, analyst, area=place.region, cohort=COHORT))["total"]["figures"]
    assert (f["dtp1"]["covered"], f["dtp3"]["covered"]) == (1, 0)
    await give(client, nurse, kid.id, "penta", 3, born + timedelta(days=148))  # 28 days on
    f = (await coverage(client, analyst, area=place.region, cohort=COHORT))["total"]["figures"]
    assert (f["dtp1"]["covered"], f["dtp3"]["covered"]) == (1, 1)


async def test_a_child_younger_than_the_indicator_age_is_not_yet_counted(client, region):
    place, _, nurse, analyst, child = region
    born = TODAY - timedelta(days=200)
    kid = await child(born)
    await give(client, nurse, kid.id, "penta", 1, born + timedelta(days=62))
    d = await coverage(client, analyst, area=place.region, cohort=born.year)
    assert d["total"]["figures"]["dtp1"]["eligible"] == 0
    assert not next(i for i in d["indicators"] if i["code"] == "dtp1")["complete"]


async def test_bad_areas_and_cohorts_are_refused_naming_the_field(client, region):
    place, _, _, analyst, _ = region

    async def refused(params: dict[str, Any]) -> set[str]:
        r = await client.get("/api/v1/dashboards/immunization", params=params, headers=analyst)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        return {e["field"] for e in r.json()["errors"]}

    assert await refused({"area": "no-such-unit", "cohort": COHORT}) == {"area"}
    assert await refused({"area": place.settlement, "cohort": COHORT}) == {"area"}
    assert await refused({"area": place.region, "cohort": TODAY.year + 1}) == {"cohort"}
    assert await refused({"area": place.region, "cohort": 1066}) == {"cohort"}
    assert any("cohort" in f for f in await refused({"area": place.region, "cohort": "2024x"}))


async def test_only_aggregate_readers_may_see_it_and_each_view_is_audited(
    client, db, region, make_user, login
):
    place, poly, nurse, analyst, _ = region
    r = await client.get(
        "/api/v1/dashboards/immunization", params={"area": place.region}, headers=nurse
    )
    assert r.status_code == 403
    assert (await client.get("/api/v1/dashboards/immunization")).status_code == 401
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    await coverage(client, doctor, area=place.region, cohort=COHORT)
    await coverage(client, analyst, area=place.region, cohort=COHORT)
    audited = await db.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE resource_type = 'ImmunizationCoverage' "
            "AND resource_id = :area AND patient_id IS NULL"
        ).bindparams(area=place.region)
    )
    assert audited == 2


async def test_the_csv_has_the_same_figures_as_the_json(client, region):
    place, _, nurse, analyst, child = region
    born = date(COHORT, 3, 1)
    for with_dtp3 in (True, False):
        kid = await child(born)
        await give(client, nurse, kid.id, "penta", 1, born + timedelta(days=62))
        if with_dtp3:
            await give(client, nurse, kid.id, "penta", 2, born + timedelta(days=93))
            await give(client, nurse, kid.id, "penta", 3, born + timedelta(days=124))
    d = await coverage(client, analyst, area=place.region, cohort=COHORT)
    r = await client.get(
        "/api/v1/dashboards/immunization.csv",
        params={"area": place.region, "cohort": COHORT},
        headers=analyst,
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f"immunization-coverage-{place.region}-{COHORT}" in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["code"] for x in lines] == [place.district, place.region]
    for line, row in zip(lines, [*d["rows"], d["total"]], strict=True):
        for code, f in row["figures"].items():
            assert int(line[f"{code}_eligible"]) == f["eligible"], code
            assert int(line[f"{code}_covered"]) == f["covered"], code
            assert line[f"{code}_pct"] == ("" if f["pct"] is None else str(f["pct"])), code
        assert line["dropout_dtp1_dtp3_pct"] == str(row["dropout"]["dtp1_dtp3"])
    assert lines[-1]["dtp3_covered"] == "1"
    assert lines[-1]["dtp4_revaccination_meets_target"] == "no"


async def test_the_page_marks_the_target_and_names_a_bad_field(client, region, make_user):
    from tests.domains.registry.test_web import web_login

    place, _, nurse, _, child = region
    born = date(COHORT, 4, 1)
    kid = await child(born)
    await give(client, nurse, kid.id, "penta", 1, born + timedelta(days=62))
    await web_login(client, await make_user("analyst"))
    page = await client.get(
        "/dashboard/immunization", params={"area": place.region, "cohort": COHORT}
    )
    assert page.status_code == 200
    assert 'data-testid="target-line"' in page.text
    assert 'data-target="65.0"' in page.text
    assert f'data-code="{place.district}"' in page.text
    bad = await client.get("/dashboard/immunization", params={"area": place.region, "cohort": "x"})
    assert bad.status_code == 422
    assert 'data-field="cohort"' in bad.text
    unknown = await client.get("/dashboard/immunization", params={"area": "nowhere"})
    assert unknown.status_code == 422
    assert 'data-field="area"' in unknown.text
