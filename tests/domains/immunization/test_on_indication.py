"""A series given on indication (COVID-19, ``kind: on_indication``; issue 23, item 6).

Its doses are recorded through the REST API with the usual checks and counted in order
(two primary doses at least 2 weeks apart, then a revaccination at least 6 months after
the previous dose), but the series is never due: not on a child's schedule, the facility
worklist or the childhood coverage. The card shows its doses as given.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.country import pack
from salomat.domains.immunization.service import labels, rules
from salomat.domains.immunization.service import schedule as s
from salomat.domains.immunization.service.schedule import GivenDose
from tests.domains.maternal.test_referrals import facility
from tests.factories import national_id_for

pytestmark = pytest.mark.anyio

TODAY = date.today()
COUNTRIES = ("UZ", "KZ")
ADULT_BORN = date(1970, 4, 2)


# ---- the packs -------------------------------------------------------------------------


@pytest.mark.parametrize("cc", COUNTRIES)
def test_both_packs_have_covid19_given_on_indication_with_its_source(cc: str) -> None:
    cal = s.calendar(cc)
    covid = cal.get("covid19")
    assert covid is not None
    assert covid.kind == "on_indication"
    assert covid.on_indication
    assert covid.atc == "J07BX03"
    # never among the scheduled series, which the schedule, worklists and synth read
    assert "covid19" not in {x.antigen for x in cal.series}
    assert [x.antigen for x in cal.on_indication] == ["covid19"]
    assert cal.all_series[-1] is covid
    # two primary doses, then revaccinations every 6 months after the previous dose
    assert [r.dose_number for r in covid.doses] == [1, 2]
    assert covid.doses[1].min_interval == s.Age(days=14)
    assert covid.booster_every == s.Age(months=6)
    assert all(cal.accepts("covid19", n) for n in (1, 2, 3, 4, 10))
    assert cal.vaccines["covid19"]["series"] == ["covid19"]
    assert cal.vaccines["covid19"]["cvx"] == "213"
    assert covid.vaccines == ("covid19",)
    assert "UNVERIFIED" in covid.source
    assert "http" in covid.source
    names = labels.pack_names(cc)
    for kind in ("series", "vaccines"):
        assert set(names[kind]["covid19"]) >= {"en", "uz", "ru", "kk"}, kind


def _data(cc: str) -> dict[str, Any]:
    return copy.deepcopy(pack.immunization(cc))


def _covid(data: dict[str, Any]) -> dict[str, Any]:
    return next(x for x in data["series"] if x["antigen"] == "covid19")


def _first(data: dict[str, Any]) -> dict[str, Any]:
    return data["series"][0]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: _covid(d).update(kind="sometimes"), "kind must be one of"),
        (lambda d: _covid(d)["doses"][0].update(age="18y"), "no age"),
        (lambda d: _covid(d)["doses"][1].update(max_age="60y"), "no max_age"),
        (lambda d: _covid(d)["doses"][1].update(after="hepb/1"), "after names another series"),
        (lambda d: _covid(d).update(continues="hepb"), "continues is for series scheduled"),
        (
            lambda d: _covid(d).update(
                catch_up=[{"from_age": "1y", "until_age": "2y", "doses": 1, "source": "x"}]
            ),
            "catch_up is for series scheduled",
        ),
        # a scheduled dose never waits for a dose given on indication
        (lambda d: _first(d)["doses"][0].update(after="covid19/2"), "given on indication"),
    ],
)
def test_the_loader_refuses_an_on_indication_series_that_could_be_scheduled(
    change: Any, says: str
) -> None:
    data = _data("UZ")
    rules._build("UZ", copy.deepcopy(data))  # the pack as it is loads
    change(data)
    with pytest.raises(pack.PackError, match=says):
        rules._build("UZ", data)


def test_a_scheduled_series_cannot_continue_one_given_on_indication() -> None:
    data = _data("KZ")
    data["series"].append(
        {
            "antigen": "covid_booster",
            "label": "x",
            "vaccines": [],
            "continues": "covid19",
            "doses": [{"dose": 3, "age": "30y"}],
        }
    )
    with pytest.raises(pack.PackError, match="no such series before it"):
        rules._build("KZ", data)


# ---- counting: the intervals, one day before, at and after --------------------------------


D1 = date(2021, 3, 1)


@pytest.mark.parametrize("cc", COUNTRIES)
@pytest.mark.parametrize(
    ("second", "counts"),
    [(date(2021, 3, 14), False), (date(2021, 3, 15), True), (date(2021, 3, 16), True)],
)
def test_the_second_dose_counts_from_two_weeks_after_the_first(
    cc: str, second: date, counts: bool
) -> None:
    v = s.check_dose(ADULT_BORN, "covid19", 2, second, [GivenDose("covid19", 1, D1)], cc)
    assert v.valid is counts
    assert v.counted_as == (2 if counts else None)
    if not counts:
        assert v.code == "too_early_interval"
        assert v.earliest_on == date(2021, 3, 15)


D2 = date(2021, 8, 31)  # 6 calendar months later is 28 February 2022 (the month's last day)


@pytest.mark.parametrize("cc", COUNTRIES)
@pytest.mark.parametrize(
    ("third", "counts"),
    [(date(2022, 2, 27), False), (date(2022, 2, 28), True), (date(2022, 3, 1), True)],
)
def test_a_revaccination_counts_from_six_months_after_the_second_dose(
    cc: str, third: date, counts: bool
) -> None:
    before = [GivenDose("covid19", 1, D1), GivenDose("covid19", 2, D2)]
    v = s.check_dose(ADULT_BORN, "covid19", 3, third, before, cc)
    assert v.valid is counts
    assert v.counted_as == (3 if counts else None)
    # and a second revaccination six months after the first
    if counts:
        after = [*before, GivenDose("covid19", 3, third)]
        later = s.add_age(third, s.Age(months=6))
        assert s.check_dose(ADULT_BORN, "covid19", 4, later, after, cc).counted_as == 4
        early = later - timedelta(days=1)
        assert s.check_dose(ADULT_BORN, "covid19", 4, early, after, cc).valid is False


# ---- never due: the schedule with and without COVID-19 doses is the same --------------------


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, date, str, list[GivenDose], list[GivenDose], date]:
    cc = draw(st.sampled_from(COUNTRIES))
    cal = s.calendar(cc)
    born = draw(st.dates(min_value=date(1960, 1, 1), max_value=date(2026, 11, 1)))
    today = born + timedelta(days=draw(st.integers(min_value=0, max_value=30 * 365)))
    keys = [(r.antigen, r.dose_number) for x in cal.series for r in x.doses]
    calendar_doses = [
        GivenDose(a, n, born + timedelta(days=draw(st.integers(min_value=0, max_value=9000))))
        for a, n in draw(st.lists(st.sampled_from(keys), max_size=15))
    ]
    covid = [
        GivenDose(
            "covid19",
            draw(st.integers(min_value=1, max_value=5)),
            born + timedelta(days=draw(st.integers(min_value=0, max_value=11000))),
            status=draw(st.sampled_from(["completed", "completed", "entered_in_error"])),
        )
        for _ in range(draw(st.integers(min_value=1, max_value=6)))
    ]
    sex = draw(st.sampled_from(["male", "female"]))
    return cc, born, sex, calendar_doses, covid, today


@settings(max_examples=150, deadline=None)
@given(h=histories())
def test_covid19_doses_never_change_the_schedule_or_what_is_due(h: Any) -> None:
    cc, born, sex, calendar_doses, covid, today = h
    mixed = sorted([*calendar_doses, *covid], key=lambda d: d.given_on)
    without = s.schedule_for(born, sex, calendar_doses, [], today, cc)
    with_covid = s.schedule_for(born, sex, mixed, [], today, cc)
    assert with_covid == without
    assert "covid19" not in {i.antigen for i in with_covid}
    batch = s.DueOn(cc, today)
    assert batch.next_due(born, sex, mixed, []) == s.next_due(without)
    # and the calendar's doses count as they did
    counted = s.count_doses(born, mixed, cc)
    alone = dict(zip(map(id, calendar_doses), s.count_doses(born, calendar_doses, cc), strict=True))
    for d, c in zip(mixed, counted, strict=True):
        if d.antigen != "covid19":
            assert c == alone[id(d)]


# ---- through the REST API -----------------------------------------------------------------


@pytest.fixture
async def adult(make_facility, make_person, make_user, login) -> tuple[Any, dict[str, str]]:
    fac = await make_facility()
    person = await make_person(facility_code=fac.code, birth_date=ADULT_BORN, sex="female")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    return person, nurse


def covid_dose(n: int, on: date, **kw: Any) -> dict[str, Any]:
    body = {
        "antigen": "covid19",
        "dose_number": n,
        "given_on": on.isoformat(),
        "vaccine": "covid19",
        "lot": "CV-1",
        "site": "left_arm",
    }
    return {**body, **kw}


async def record(client, person_id: int, nurse: dict[str, str], body: dict[str, Any]):
    return await client.post(f"/api/v1/persons/{person_id}/immunizations", json=body, headers=nurse)


def fields(r) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


async def test_covid19_doses_are_recorded_counted_and_shown_but_never_due(client, adult):
    person, nurse = adult
    url = f"/api/v1/persons/{person.id}/immunization-schedule"
    before = (await client.get(url, headers=nurse)).json()
    first, second = TODAY - timedelta(days=300), TODAY - timedelta(days=270)
    r = await record(client, person.id, nurse, covid_dose(1, first))
    assert r.status_code == 201, r.text
    assert (r.json()["counted_as"], r.json()["valid"]) == (1, True)
    # dose 2 one day before its 2 weeks: refused on given_on with the reason
    early = first + timedelta(days=13)
    r = await record(client, person.id, nurse, covid_dose(2, early))
    assert r.status_code == 422, r.text
    assert "too early" in fields(r)["given_on"]
    r = await record(client, person.id, nurse, covid_dose(2, second))
    assert r.status_code == 201, r.text
    # the revaccination: today is more than 6 months after the second dose
    r = await record(client, person.id, nurse, covid_dose(3, TODAY))
    assert r.status_code == 201, r.text
    assert (r.json()["counted_as"], r.json()["needs_review"]) == (3, False)
    after = (await client.get(url, headers=nurse)).json()
    assert after["doses"] == before["doses"]
    assert "covid19" not in {d["antigen"] for d in after["doses"]}
    listed = (await client.get(f"/api/v1/persons/{person.id}/immunizations", headers=nurse)).json()
    assert [(d["antigen"], d["counted_as"], d["given_on"]) for d in listed] == [
        ("covid19", 1, first.isoformat()),
        ("covid19", 2, second.isoformat()),
        ("covid19", 3, TODAY.isoformat()),
    ]
    assert listed[0]["label"] == "COVID-19 (on indication)"
    # the vaccination card shows them as given, named in the page's language
    page = await client.get(
        f"/patients/{person.id}/immunizations", headers={**nurse, "Accept-Language": "ru"}
    )
    assert page.status_code == 200, page.text
    table = page.text.split('data-testid="series-covid19"')[1].split("</table>")[0]
    assert table.count("<tr") == 4  # the header and three doses
    assert "COVID-19 (по показаниям)" in page.text
    assert "covid19/" not in page.text  # never offered as a due dose to record


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"given_on": (TODAY + timedelta(days=1)).isoformat()}, "given_on"),
        ({"given_on": (ADULT_BORN - timedelta(days=1)).isoformat()}, "given_on"),
        ({"vaccine": "pcv13"}, "vaccine"),
        ({"vaccine": None}, "vaccine"),
        ({"dose_number": 0}, "dose_number"),
        ({"site": "left_ear"}, "site"),
        ({"antigen": "covid"}, "antigen"),
    ],
)
async def test_a_wrong_covid19_dose_is_refused_naming_the_field(client, adult, change, field):
    person, nurse = adult
    r = await record(client, person.id, nurse, {**covid_dose(1, TODAY), **change})
    assert r.status_code == 422, r.text
    assert field in fields(r), r.text


async def test_the_day_of_birth_and_today_are_accepted(client, adult):
    person, nurse = adult
    for n, on in ((1, ADULT_BORN), (2, TODAY)):
        r = await record(client, person.id, nurse, covid_dose(n, on))
        assert r.status_code == 201, r.text


# ---- a child's worklist and the childhood coverage do not move ------------------------------


@pytest.fixture
async def region(db, make_place, make_person, make_user, login):
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

    return place, nurse, analyst, child


def _without_clock(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _without_clock(v) for k, v in d.items() if k not in ("as_of", "generated_at")}
    if isinstance(d, list):
        return [_without_clock(v) for v in d]
    return d


async def test_a_childs_worklist_and_the_cohorts_coverage_ignore_covid19_doses(client, region):
    place, nurse, analyst, child = region
    cohort = TODAY.year - 2
    born = date(cohort, 5, 10)
    kid = await child(born)
    r = await record(
        client,
        kid.id,
        nurse,
        {
            "antigen": "penta",
            "dose_number": 1,
            "given_on": s.add_age(born, s.Age(months=2)).isoformat(),
            "given_elsewhere": True,
            "place": "paper card",
        },
    )
    assert r.status_code == 201, r.text

    async def state() -> tuple[Any, Any, Any]:
        wl = await client.get("/api/v1/worklists/immunization", headers=nurse)
        cov = await client.get(
            "/api/v1/dashboards/immunization",
            params={"area": place.region, "cohort": cohort},
            headers=analyst,
        )
        sched = await client.get(f"/api/v1/persons/{kid.id}/immunization-schedule", headers=nurse)
        for x in (wl, cov, sched):
            assert x.status_code == 200, x.text
        return _without_clock(wl.json()), _without_clock(cov.json()), sched.json()

    before = await state()
    assert any(row["person_id"] == kid.id for row in before[0]["rows"])
    for n, days in ((1, 400), (2, 430)):
        r = await record(
            client, kid.id, nurse, covid_dose(n, born + timedelta(days=days), given_elsewhere=True,
                                              place="campaign", vaccine=None, lot=None, site=None)
        )  # fmt: skip
        assert r.status_code == 201, r.text
    assert await state() == before
