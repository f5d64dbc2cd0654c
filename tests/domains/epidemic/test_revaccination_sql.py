"""Revaccination counted from the immunization registry in SQL (issue 23, item 6).

The note's vector 5 scaled down with the same proportions (1,000 completed primary, 800
eligible, 540 revaccinated: 67.5 % of the eligible, 54.0 % of all), the interval's
boundary, merged records counted once, the worklist's scope and audit, the citizen's own
notice, the CSV and the MeasureReport.
"""

from __future__ import annotations

import copy
import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text, update

from salomat.core.config import get_settings
from salomat.country import pack
from salomat.domains.epidemic.service.revaccination import months_before
from salomat.domains.epidemic.service.revaccination_due import first_due_day
from salomat.domains.immunization.models import Dose
from salomat.domains.registry.models import Person, Section, Territory
from tests.domains.maternal.test_referrals import facility
from tests.factories import unique

pytestmark = pytest.mark.anyio

ON = date(2025, 6, 15)
CUTOFF = months_before(ON, 6)  # 2024-12-15: completed on or before it -> eligible
NOW = datetime(2025, 6, 15, tzinfo=UTC)


async def _settlement_id(db: Any, code: str) -> int:
    return int(await db.scalar(select(Territory.id).where(Territory.code == code)))


async def _people(db: Any, n: int, born: date, **kw: Any) -> list[int]:
    """``n`` people inserted set-wise (the registry's service would take minutes)."""
    tag = unique("rv")
    rows = [
        {
            "family_name": f"{tag}{i}",
            "given_name": "Test",
            "name_key": f"{tag}{i} test",
            "family_key": f"{tag}{i}",
            "birth_date": born,
            "sex": "female",
            "name_script": "latn",
            "version": 1,
            "created_at": NOW,
            "updated_at": NOW,
            **kw,
        }
        for i in range(n)
    ]
    await db.execute(insert(Person), rows)
    ids = (await db.scalars(select(Person.id).where(Person.family_name.like(f"{tag}%")))).all()
    return sorted(ids)


async def _doses(db: Any, ids: list[int], days: list[date], **kw: Any) -> None:
    rows = [
        {
            "person_id": pid,
            "antigen": "covid19",
            "dose_number": k + 1,
            "given_on": day,
            "valid": True,
            "status": "completed",
            "source": "entered",
            "recorded_by": "test",
            "recorded_at": NOW,
            "version": 1,
            **kw,
        }
        for pid in ids
        for k, day in enumerate(days)
    ]
    if rows:
        await db.execute(insert(Dose), rows)


OLD = [date(2023, 1, 10), date(2023, 2, 10)]
RECENT = [date(2025, 1, 1), date(2025, 2, 1)]
REV = [*OLD, date(2024, 1, 10)]


@pytest.fixture
async def epidemiologist(make_user, login) -> dict[str, str]:
    return await login(await make_user("epidemiologist"))


async def coverage(client: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/epidemic/revaccination/coverage", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _cell(c: dict[str, Any], unit: str | None, band: str | None) -> dict[str, Any]:
    rows = c["rows"] if unit is not None else c["total"]
    return next(r for r in rows if r["age_group"] == band and (unit is None or r["code"] == unit))


async def test_the_notes_vector_5_by_region_and_age_group(client, db, make_place, epidemiologist):
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    forty, sixty_five = date(1985, 1, 1), date(1960, 1, 1)  # 40-49 and 60-69 on ON
    groups = (
        # (born, people, dose days): 40-49: 600 completed, 500 eligible, 340 revaccinated
        (forty, 340, REV),
        (forty, 160, OLD),
        (forty, 100, RECENT),
        # 60-69: 400 completed, 300 eligible, 200 revaccinated
        (sixty_five, 200, REV),
        (sixty_five, 100, OLD),
        (sixty_five, 100, RECENT),
        # not counted: one dose only, a dose entered in error, another antigen
        (forty, 30, OLD[:1]),
    )
    for born, n, days in groups:
        await _doses(db, await _people(db, n, born, settlement_id=sid), days)
    half = await _people(db, 20, forty, settlement_id=sid)
    await _doses(db, half, OLD[:1])
    await _doses(db, half, [OLD[1]], status="entered_in_error")
    await _doses(db, await _people(db, 5, forty, settlement_id=sid), OLD, antigen="td")
    await db.commit()

    c = await coverage(client, epidemiologist, area=place.region, on=ON.isoformat())
    assert c["target_percent"] == "65" or float(c["target_percent"]) == 65
    whole = _cell(c, None, None)
    assert (whole["completed_primary"], whole["eligible"], whole["revaccinated"]) == (
        1000,
        800,
        540,
    )
    assert float(whole["of_eligible"]["percent"]) == 67.5
    assert whole["of_eligible"]["met"] is True
    assert float(whole["of_all"]["percent"]) == 54.0
    assert whole["of_all"]["met"] is False
    # both denominators labelled
    assert "eligible" in whole["of_eligible"]["label"]
    assert "6" in whole["of_eligible"]["label"]
    assert "completed primary series" in whole["of_all"]["label"]

    a = _cell(c, place.district, "40–49")
    assert (a["completed_primary"], a["eligible"], a["revaccinated"]) == (600, 500, 340)
    assert float(a["of_eligible"]["percent"]) == 68.0
    assert a["of_eligible"]["met"] is True
    b = _cell(c, place.district, "60–69")
    assert (b["completed_primary"], b["eligible"], b["revaccinated"]) == (400, 300, 200)
    assert float(b["of_eligible"]["percent"]) == 66.7
    empty = _cell(c, place.district, "18–29")
    assert empty["completed_primary"] == 0
    assert empty["of_all"]["percent"] is None
    assert empty["of_all"]["met"] is None

    # the CSV: the same figures, cells neutralised by core.downloads
    r = await client.get(
        "/api/v1/epidemic/revaccination/coverage.csv",
        params={"area": place.region, "on": ON.isoformat()},
        headers=epidemiologist,
    )
    assert r.status_code == 200
    lines = list(csv.DictReader(io.StringIO(r.text)))
    last = lines[-1]
    assert (last["age_group"], last["completed_primary"], last["pct_of_eligible"]) == (
        "all ages",
        "1000",
        "67.5",
    )
    assert (last["met_of_eligible"], last["met_of_all"]) == ("yes", "no")

    # one aggregate read audited, no person in it
    audited = await db.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE resource_type = 'ImmunizationCoverage' "
            "AND resource_id = :area AND patient_id IS NULL"
        ).bindparams(area=place.region)
    )
    assert audited == 2


async def test_the_measure_report_is_valid_r4_with_both_denominators(
    client, db, make_place, epidemiologist
):
    from fhir.resources.R4B.measurereport import MeasureReport

    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    await _doses(db, await _people(db, 3, date(1985, 1, 1), settlement_id=sid), REV)
    await _doses(db, await _people(db, 1, date(1985, 1, 1), settlement_id=sid), OLD)
    await db.commit()
    r = await client.get(
        "/api/v1/epidemic/revaccination/coverage/measure-report",
        params={"area": place.region, "on": ON.isoformat()},
        headers=epidemiologist,
    )
    assert r.status_code == 200, r.text
    mr = MeasureReport.model_validate(r.json())
    assert mr.type == "summary"
    assert len(mr.group) == 2
    eligible, everyone = mr.group
    assert eligible.code.coding[0].code == "eligible"
    assert float(eligible.measureScore.value) == 75.0
    assert everyone.code.coding[0].code == "all"
    pops = {p.code.coding[0].code: p.count for p in everyone.population}
    assert pops == {"initial-population": 4, "denominator": 4, "numerator": 3}
    strata = {s.value.text: s for s in eligible.stratifier[0].stratum}
    assert float(strata["40–49"].measureScore.value) == 75.0


async def test_the_interval_boundary_one_day_before_at_and_after(
    client, db, make_place, epidemiologist, make_user, login
):
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    poly = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    kw = {"settlement_id": sid, "attached_facility_id": poly.id}
    before, at, after = await _people(db, 3, date(1980, 3, 3), **kw)
    for pid, last in (
        (before, CUTOFF - timedelta(days=1)),
        (at, CUTOFF),
        (after, CUTOFF + timedelta(days=1)),
    ):
        await _doses(db, [pid], [date(2024, 6, 1), last])
    await db.commit()
    c = await coverage(client, epidemiologist, area=place.region, on=ON.isoformat())
    whole = _cell(c, None, None)
    assert (whole["completed_primary"], whole["eligible"], whole["revaccinated"]) == (3, 2, 0)
    r = await client.get(
        "/api/v1/epidemic/revaccination/worklist", params={"on": ON.isoformat()}, headers=nurse
    )
    assert r.status_code == 200, r.text
    listed = [row["person_id"] for row in r.json()["rows"]]
    assert listed == [before, at]  # longest due first; the day after the cutoff not yet
    assert r.json()["rows"][1]["due_since"] == ON.isoformat()


@pytest.mark.parametrize(
    ("completed", "day_before", "due_from"),
    [
        (date(2024, 12, 31), date(2025, 6, 29), date(2025, 6, 30)),
        (date(2025, 8, 29), date(2026, 2, 27), date(2026, 2, 28)),
        (date(2025, 8, 30), date(2026, 2, 27), date(2026, 2, 28)),
        (date(2025, 8, 31), date(2026, 2, 27), date(2026, 2, 28)),
        (date(2023, 8, 31), date(2024, 2, 28), date(2024, 2, 29)),  # a leap February
        (date(2025, 2, 10), date(2025, 8, 9), date(2025, 8, 10)),  # not a month's end
    ],
)
async def test_due_since_is_the_first_day_the_person_is_due_at_a_months_end(
    client, db, make_place, make_user, login, monkeypatch, completed, day_before, due_from
):
    """Six months after 31 December is 30 June, after 29-31 August 28 February (months
    clamped to the month's end, as the immunization registry counts a revaccination valid
    from that day): the worklist and the citizen's page show that day, not the day after,
    and not the day before."""
    from salomat.domains.epidemic.service import revaccination_due

    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    poly = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    (pid,) = await _people(db, 1, date(1980, 3, 3), settlement_id=sid, attached_facility_id=poly.id)
    await _doses(db, [pid], [completed - timedelta(days=40), completed])
    await db.commit()
    url = "/api/v1/epidemic/revaccination/worklist"
    for on, listed in ((day_before, False), (due_from, True)):
        r = await client.get(url, params={"on": on.isoformat()}, headers=nurse)
        assert r.status_code == 200, r.text
        rows = [row for row in r.json()["rows"] if row["person_id"] == pid]
        assert bool(rows) is listed, on
    assert rows[0]["due_since"] == due_from.isoformat()
    later = await revaccination_due.due_for_person(db, pid, today=day_before)
    assert later is not None
    assert (later.due_now, later.due_since) == (False, due_from)
    due = await revaccination_due.due_for_person(db, pid, today=due_from)
    assert due is not None
    assert (due.due_now, due.due_since) == (True, due_from)
    her = await login(await make_user("citizen", person_id=pid))
    monkeypatch.setattr(pack, "today", lambda country=None: day_before)
    r = await client.get("/my/revaccination", headers=her)
    assert r.status_code == 200, r.text
    assert 'data-testid="my-revacc-later"' in r.text  # not yet: told the day she will be
    assert f'data-since="{due_from.isoformat()}"' in r.text
    assert due_from.strftime("%d.%m.%Y") in r.text
    monkeypatch.setattr(pack, "today", lambda country=None: due_from)
    r = await client.get("/my/revaccination", headers=her)
    assert r.status_code == 200, r.text
    assert 'data-testid="my-revacc-due"' in r.text
    assert f'data-since="{due_from.isoformat()}"' in r.text


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.integers(1, 24))
def test_the_first_due_day_is_the_first_day_the_rule_holds(completed, months):
    due = first_due_day(completed, months)
    assert completed <= months_before(due, months)
    assert completed > months_before(due - timedelta(days=1), months)
    # the day the immunization registry first counts a revaccination dose valid
    from salomat.domains.immunization.service.rules import Age, add_age

    assert due == add_age(completed, Age(months=months))


async def test_merged_duplicates_count_once(client, db, make_place, epidemiologist):
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    survivor, duplicate, survivor2, duplicate2 = await _people(
        db, 4, date(1975, 5, 5), settlement_id=sid
    )
    for dup, into in ((duplicate, survivor), (duplicate2, survivor2)):
        await db.execute(update(Person).where(Person.id == dup).values(merged_into_id=into))
    # the same two doses on both records (one person, not two), the revaccination kept on
    # the duplicate's: one person, revaccinated
    await _doses(db, [survivor], OLD)
    await _doses(db, [duplicate], [*OLD, date(2024, 3, 1)])
    # doses left on a merged record count on its survivor (who has none of her own)
    await _doses(db, [duplicate2], OLD)
    await db.commit()
    whole = _cell(
        await coverage(client, epidemiologist, area=place.region, on=ON.isoformat()), None, None
    )
    assert (whole["completed_primary"], whole["eligible"], whole["revaccinated"]) == (2, 2, 1)


async def test_worklist_scope_section_audit_and_refusals(
    client, db, make_place, make_user, login, epidemiologist
):
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    poly = await facility(db, "family_polyclinic", place.settlement)
    other = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    for code in ("S1", "S2"):
        await db.execute(
            insert(Section).values(facility_id=poly.id, code=code, name=f"Uchastok {code}")
        )
    s1, s2 = [
        await db.scalar(select(Section.id).where(Section.facility_id == poly.id, Section.code == c))
        for c in ("S1", "S2")
    ]
    mine = await _people(
        db, 2, date(1970, 1, 1), settlement_id=sid, attached_facility_id=poly.id, section_id=s1
    )
    next_door = await _people(
        db, 1, date(1970, 1, 1), settlement_id=sid, attached_facility_id=poly.id, section_id=s2
    )
    elsewhere = await _people(
        db, 1, date(1970, 1, 1), settlement_id=sid, attached_facility_id=other.id
    )
    done = await _people(
        db, 1, date(1970, 1, 1), settlement_id=sid, attached_facility_id=poly.id, section_id=s1
    )
    dead = await _people(
        db,
        1,
        date(1970, 1, 1),
        attached_facility_id=poly.id,
        section_id=s1,
        deceased_on=date(2025, 1, 1),
    )
    await _doses(db, [*mine, *next_door, *elsewhere, *dead], OLD)
    await _doses(db, done, REV)
    await db.execute(update(Person).where(Person.id == mine[0]).values(phone="=HYPERLINK(1)"))
    await db.commit()

    url = "/api/v1/epidemic/revaccination/worklist"
    r = await client.get(url, params={"section": "S1", "on": ON.isoformat()}, headers=doctor)
    assert r.status_code == 200, r.text
    assert [row["person_id"] for row in r.json()["rows"]] == mine
    assert r.json()["rows"][0]["section_name"] == "Uchastok S1"
    r = await client.get(url, params={"on": ON.isoformat()}, headers=nurse)
    assert sorted(row["person_id"] for row in r.json()["rows"]) == sorted([*mine, *next_door])
    # each person listed is an audited read, with why the user may see them
    for pid in mine:
        n = await db.scalar(
            text(
                "SELECT count(*) FROM audit_event WHERE resource_type = 'Immunization' "
                "AND action = 'search' AND patient_id = :pid"
            ).bindparams(pid=pid)
        )
        assert n == 2
    assert not await db.scalar(
        text("SELECT count(*) FROM audit_event WHERE patient_id = :pid").bindparams(
            pid=elsewhere[0]
        )
    )
    # the CSV neutralises a cell that a spreadsheet would run
    r = await client.get(
        url + ".csv", params={"section": "S1", "on": ON.isoformat()}, headers=nurse
    )
    assert r.status_code == 200
    assert "'=HYPERLINK(1)" in r.text
    # a role without the worklist's permission: 403; bad input: 422 naming the field
    r = await client.get(url, headers=epidemiologist)
    assert r.status_code == 403
    r = await client.get(url, params={"on": "2025-13-01"}, headers=nurse)
    assert r.status_code == 422
    assert "on" in r.text
    r = await client.get(url, params={"on": "2019-12-31"}, headers=nurse)
    assert r.status_code == 422
    r = await client.get(
        "/api/v1/epidemic/revaccination/coverage", params={"area": "NO-SUCH"}, headers=doctor
    )
    assert r.status_code == 422
    assert "area" in r.text


async def test_the_citizen_sees_her_own_notice_only(client, db, make_place, make_user, login):
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    due, not_yet, unknown = await _people(db, 3, date(1990, 2, 2), settlement_id=sid)
    await _doses(db, [due], OLD)
    today = pack.today(get_settings().country)
    completed = today - timedelta(days=30)
    await _doses(db, [not_yet], [today - timedelta(days=60), completed])
    await _doses(db, [unknown], OLD[:1])  # one dose: no completed primary series
    await db.commit()
    her = await login(await make_user("citizen", person_id=due))
    r = await client.get("/my/revaccination", headers=her)
    assert r.status_code == 200, r.text
    assert 'data-testid="my-revacc-due"' in r.text
    # due since: 6 months after 10.02.2023, by the project's date macro
    assert '<time datetime="2023-08-10">10.08.2023</time>' in r.text
    assert '<time datetime="2023-02-10">10.02.2023</time>' in r.text
    r = await client.get("/my/revaccination", headers={**her, "Accept-Language": "ru"})
    assert "COVID-19" in r.text
    assert "Вакцина против COVID-19" in r.text
    other = await login(await make_user("citizen", person_id=not_yet))
    r = await client.get("/my/revaccination", headers=other)
    assert 'data-testid="my-revacc-later"' in r.text  # not yet: the day she will be
    since = first_due_day(completed, 6)
    assert f'<time datetime="{since.isoformat()}">' in r.text
    third = await login(await make_user("citizen", person_id=unknown))
    r = await client.get("/my/revaccination", headers=third)
    assert 'data-testid="my-revacc-none"' in r.text
    nurse = await login(await make_user("nurse"))
    assert (await client.get("/my/revaccination", headers=nurse)).status_code == 403
    audited = await db.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE resource_type = 'Immunization' "
            "AND action = 'read' AND patient_id = :pid"
        ).bindparams(pid=due)
    )
    assert audited == 2


async def test_the_citizens_permission_says_what_it_allows(client, make_user, login):
    """``immunization:portal`` is the citizen's own revaccination notice, not the staff's
    reading of vaccination records: a refusal names it in its own words."""
    from salomat.core.permission_texts import PERMISSION_TEXTS

    assert PERMISSION_TEXTS["immunization:portal"] != PERMISSION_TEXTS["immunization:read"]
    nurse = await login(await make_user("nurse"))
    r = await client.get("/my/revaccination", headers={**nurse, "Accept-Language": "en"})
    assert r.status_code == 403
    assert "see whether your own revaccination is due" in r.text


async def test_the_coverage_page_offers_the_areas_by_name_and_links_rows_to_them(
    client, db, make_place, make_user, login
):
    """The area is chosen from the registry's regions and districts by name (in the
    reader's language), and a region's or district's row opens its own breakdown; a
    settlement's row has nowhere further to go."""
    import re

    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    await _doses(db, await _people(db, 2, date(1985, 1, 1), settlement_id=sid), OLD)
    await db.execute(
        update(Territory)
        .where(Territory.code == place.region)
        .values(names={"ru": "Тестовая область", "uz": "Sinov viloyati"})
    )
    await db.commit()
    analyst = await login(await make_user("epidemiologist"))
    ru = {**analyst, "Accept-Language": "ru"}
    r = await client.get("/epidemic/revaccination", params={"on": ON.isoformat()}, headers=ru)
    assert r.status_code == 200, r.text
    assert re.search(rf'<option value="{place.region}"[^>]*>Тестовая область</option>', r.text)
    assert f'<option value="{place.district}"' in r.text
    assert 'name="area" value=' not in r.text  # no free-text code box
    r = await client.get(
        "/epidemic/revaccination", params={"area": place.region, "on": ON.isoformat()}, headers=ru
    )
    assert r.status_code == 200, r.text
    assert f'<option value="{place.region}" selected>' in r.text
    link = f'href="/epidemic/revaccination?area={place.district}&amp;on={ON.isoformat()}"'
    # every row of the district (each age group) links to it; the area's own total does not
    assert r.text.count(link) == r.text.count(f'data-unit="{place.district}"') > 1
    assert f'href="/epidemic/revaccination?area={place.region}&amp;' not in r.text
    r = await client.get(
        "/epidemic/revaccination",
        params={"area": place.district, "on": ON.isoformat()},
        headers=ru,
    )
    assert r.status_code == 200, r.text
    assert f"area={place.settlement}" not in r.text


def test_the_vaccines_doses_are_recordable_only_when_the_calendar_has_its_series(monkeypatch):
    """Read from the immunization calendar, not written down: covid19 is a series of both
    packs (given on indication), with the primary doses and a revaccination; a calendar
    without the series, or with no revaccination, makes the doses not recordable."""
    from types import SimpleNamespace

    from salomat.domains.epidemic.service import revaccination_sql

    for country in ("UZ", "KZ"):
        assert revaccination_sql.doses_recordable(country) is True
    for known, numbers in ((False, ()), (True, (1, 2)), (True, (1, 2, 3))):
        monkeypatch.setattr(
            revaccination_sql.immunization,
            "calendar_options",
            lambda country=None, known=known, numbers=numbers: SimpleNamespace(
                get=lambda antigen: object() if known else None,
                accepts=lambda antigen, n: n in numbers,
            ),
        )
        assert revaccination_sql.doses_recordable("UZ") is (numbers == (1, 2, 3))


async def test_the_pages_say_when_the_doses_cannot_be_recorded(
    client, db, make_place, make_user, login, monkeypatch
):
    """Coverage, worklist and the citizen's page say that only imported doses count while
    the vaccine is no series of the immunization calendar, in the reader's language; with
    the calendar's covid19 series (both packs now) there is no notice."""
    from salomat.domains.epidemic.service import revaccination_sql

    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    poly = await facility(db, "family_polyclinic", place.settlement)
    (pid,) = await _people(db, 1, date(1985, 1, 1), settlement_id=sid)
    await db.commit()
    pages = (
        ("/epidemic/revaccination", await login(await make_user("epidemiologist"))),
        (
            "/epidemic/revaccination/worklist",
            await login(await make_user("nurse", facility_code=poly.code)),
        ),
        ("/my/revaccination", await login(await make_user("citizen", person_id=pid))),
    )
    for url, who in pages:
        r = await client.get(url, headers={**who, "Accept-Language": "ru"})
        assert r.status_code == 200, (url, r.text)
        assert 'data-testid="revacc-not-recordable"' not in r.text, url
    monkeypatch.setattr(revaccination_sql, "doses_recordable", lambda country=None: False)
    for url, who in pages:
        r = await client.get(url, headers={**who, "Accept-Language": "ru"})
        assert r.status_code == 200, (url, r.text)
        assert 'data-testid="revacc-not-recordable"' in r.text, url
        assert "Вакцина против COVID-19" in r.text.split('data-testid="revacc-not-recordable"')[1]


async def test_the_pages_render_in_the_readers_language(client, db, make_place, make_user, login):
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    poly = await facility(db, "family_polyclinic", place.settlement)
    await _doses(
        db,
        await _people(db, 2, date(1985, 1, 1), settlement_id=sid, attached_facility_id=poly.id),
        OLD,
    )
    await db.commit()
    await db.execute(
        update(Territory)
        .where(Territory.code == place.district)
        .values(names={"ru": "Тестовый район", "uz": "Sinov tumani"})
    )
    await db.commit()
    analyst = await login(await make_user("epidemiologist"))
    r = await client.get(
        "/epidemic/revaccination",
        params={"area": place.region, "on": ON.isoformat()},
        headers={**analyst, "Accept-Language": "ru"},
    )
    assert r.status_code == 200, r.text
    assert "Охват ревакцинацией" in r.text
    assert "Тестовый район" in r.text  # the unit by its name in the reader's language
    r = await client.get(
        "/epidemic/revaccination.csv",
        params={"area": place.region, "on": ON.isoformat()},
        headers={**analyst, "Accept-Language": "en"},
    )
    assert r.status_code == 200
    assert r.text.splitlines()[0].startswith("Code,Name,Age group")
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    r = await client.get(
        "/epidemic/revaccination/worklist", params={"on": ON.isoformat()}, headers=nurse
    )
    assert r.status_code == 200, r.text
    assert r.text.count('data-testid="revacc-wl-row"') == 2


async def test_the_sql_agrees_with_the_pure_formula_on_random_histories(
    client, db, make_place, epidemiologist
):
    """Random dose histories (0-4 doses, some on the same day, some after the day asked):
    the SQL's area total equals ``coverage_of_persons`` over the same people."""
    import random

    import numpy as np

    from salomat.domains.epidemic.service.revaccination import coverage_of_persons

    rng = random.Random(23)
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    ids = await _people(db, 150, date(1980, 7, 7), settlement_id=sid)
    done, rev = [], []
    for pid in ids:
        days = sorted(
            date(2023, 1, 1) + timedelta(days=rng.randrange(0, 1000))
            for _ in range(rng.randrange(0, 5))
        )
        if days and rng.random() < 0.2:
            days.append(days[-1])  # the same dose entered twice: one dose day
        await _doses(db, [pid], days)
        distinct = sorted({d for d in days if d <= ON})
        done.append(np.datetime64(distinct[1]) if len(distinct) >= 2 else np.datetime64("NaT"))
        rev.append(np.datetime64(distinct[2]) if len(distinct) >= 3 else np.datetime64("NaT"))
    await db.commit()
    expected = coverage_of_persons(done, rev, ON, interval_months=6)
    whole = _cell(
        await coverage(client, epidemiologist, area=place.region, on=ON.isoformat()), None, None
    )
    assert (whole["completed_primary"], whole["eligible"], whole["revaccinated"]) == (
        expected.all.denominator,
        expected.eligible.denominator,
        expected.eligible.numerator,
    )
    assert expected.all.denominator > 0


def test_a_malformed_revaccination_section_is_refused_naming_the_key():
    from salomat.country import pack
    from salomat.domains.epidemic.service.revaccination_sql import parse_definition

    good = pack.load("KZ", "epidemic")
    assert parse_definition("KZ", good).primary_doses == 2
    for key, value, named in (
        ("antigen", "", "antigen"),
        ("primary_doses", 0, "primary_doses"),
        ("primary_doses", True, "primary_doses"),
        ("age_bands", [18, 30], "age_bands"),
        ("age_bands", [0, 30, 30], "age_bands"),
    ):
        data = copy.deepcopy(pack.load("KZ", "epidemic"))  # the pack is read-only
        data["revaccination"][key] = value
        with pytest.raises(pack.PackError, match=named):
            parse_definition("KZ", data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_the_day_parser_answers_a_date_or_names_the_field(raw):
    from salomat.core.errors import Invalid
    from salomat.domains.epidemic.service.revaccination_sql import parse_on

    today = date(2026, 12, 7)
    named: list[str] = []
    day = None
    try:
        day = parse_on(raw, today)
    except Invalid as e:
        named = [f.field for f in e.errors]
    if day is None:
        assert named == ["on"]
    else:
        assert date(2020, 1, 1) <= day <= today


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("2019-12-31", False), ("2020-01-01", True), ("2026-12-07", True), ("2026-12-08", False)],
)
def test_the_day_bounds_one_below_at_and_above(raw, ok):
    from salomat.core.errors import Invalid
    from salomat.domains.epidemic.service.revaccination_sql import parse_on

    if ok:
        assert parse_on(raw, date(2026, 12, 7)) == date.fromisoformat(raw)
    else:
        with pytest.raises(Invalid):
            parse_on(raw, date(2026, 12, 7))
