"""The immunization worklist of a facility and its invitation list (issue 5)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from salomat.domains.immunization.service import schedule
from tests.domains.immunization.test_coverage import give
from tests.domains.maternal.test_referrals import facility
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio

TODAY = date.today()
MONDAY = TODAY - timedelta(days=TODAY.weekday())


@pytest.fixture
async def clinic(db, make_place, make_person, make_user, login):
    """A polyclinic with its nurse, and another facility's nurse, in a fresh region."""
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    other = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    other_nurse = await login(await make_user("nurse", facility_code=other.code))

    async def child(born: date, at: Any = poly, **kw: Any) -> Any:
        return await make_person(
            facility_code=at.code,
            birth_date=born,
            sex="female",
            national_id=national_id_for(born, "female"),
            **kw,
        )

    return place, poly, other, nurse, other_nurse, child


async def worklist(client, headers, **params: Any) -> dict[str, Any]:
    r = await client.get("/api/v1/worklists/immunization", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _born_for_two_months_in(week_start: date) -> date:
    """A birth date whose 2-month vaccines fall due on the Wednesday of that week."""
    wednesday = week_start + timedelta(days=2)
    for back in range(55, 70):
        born = wednesday - timedelta(days=back)
        if schedule.add_age(born, schedule.Age(months=2)) == wednesday:
            return born
    raise AssertionError("no such birth date")


async def test_due_and_overdue_children_of_the_facility_are_listed_and_no_one_else(
    client, db, clinic, make_person
):
    _, poly, other, nurse, other_nurse, child = clinic
    # 10 weeks old, nothing given: BCG long overdue, the 2-month doses due
    late = await child(TODAY - timedelta(weeks=10), phone="+998901234567", address="Navoiy 5")
    # the same child at the other facility: not on this nurse's list
    elsewhere = await child(TODAY - timedelta(weeks=10), at=other)
    # 10 days old with HepB and BCG: nothing due until 2 months
    fine = await child(TODAY - timedelta(days=10))
    for antigen in ("hepb", "bcg"):
        await give(client, nurse, fine.id, antigen, 1, TODAY - timedelta(days=9))
    # an adult attached here: not a child
    adult = await make_person(facility_code=poly.code, birth_date=date(1990, 1, 1))
    # due in the week after next: listed for that week only
    soon_born = _born_for_two_months_in(MONDAY + timedelta(weeks=2))
    soon = await child(soon_born)
    for antigen in ("hepb", "bcg"):
        await give(client, nurse, soon.id, antigen, 1, soon_born)

    w = await worklist(client, nurse)
    assert (w["week_start"], w["week_end"]) == (
        MONDAY.isoformat(),
        (MONDAY + timedelta(days=6)).isoformat(),
    )
    ids = [r["person_id"] for r in w["rows"]]
    assert late.id in ids
    assert not {elsewhere.id, fine.id, adult.id, soon.id} & set(ids)
    row = next(r for r in w["rows"] if r["person_id"] == late.id)
    assert (row["phone"], row["address"]) == ("+998901234567", "Navoiy 5")
    doses = {(d["antigen"], d["dose_number"]): d for d in row["doses"]}
    born = TODAY - timedelta(weeks=10)
    assert doses[("bcg", 1)]["status"] == "overdue"
    assert doses[("bcg", 1)]["due_on"] == (born + timedelta(days=2)).isoformat()
    assert doses[("penta", 1)]["status"] in ("due", "overdue")
    assert (
        doses[("penta", 1)]["due_on"] == schedule.add_age(born, schedule.Age(months=2)).isoformat()
    )
    assert ("penta", 2) not in doses  # only the next dose of a series
    assert ("hepb", 1) not in doses  # past its catch-up age (1 month)

    later = await worklist(client, nurse, week=(MONDAY + timedelta(weeks=2)).isoformat())
    mine = next(r for r in later["rows"] if r["person_id"] == soon.id)
    assert {(d["antigen"], d["status"]) for d in mine["doses"]} >= {("penta", "due")}
    iso = (MONDAY + timedelta(weeks=2)).isocalendar()
    by_iso = await worklist(client, nurse, week=f"{iso.year}-W{iso.week:02d}")
    assert soon.id in [r["person_id"] for r in by_iso["rows"]]

    theirs = await worklist(client, other_nurse)
    assert [r["person_id"] for r in theirs["rows"]] == [elsewhere.id]

    # each child shown is audited as a listing, with why the nurse may see them
    audited = await db.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE resource_type = 'Immunization' "
            "AND action = 'search' AND patient_id = :pid"
        ).bindparams(pid=late.id)
    )
    assert audited == 3
    assert not await db.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE resource_type = 'Immunization' "
            "AND action = 'search' AND patient_id = :pid"
        ).bindparams(pid=fine.id)
    )


async def test_a_refusal_takes_the_child_off_the_list(client, clinic):
    _, _, _, nurse, _, child = clinic
    kid = await child(TODAY - timedelta(weeks=10))
    assert kid.id in [r["person_id"] for r in (await worklist(client, nurse))["rows"]]
    r = await client.post(
        f"/api/v1/persons/{kid.id}/immunization-exemptions",
        json={"kind": "refusal", "reason": "parents refuse", "starts_on": TODAY.isoformat()},
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    assert kid.id not in [r["person_id"] for r in (await worklist(client, nurse))["rows"]]


async def test_the_section_and_week_are_checked(client, clinic):
    _, _, _, nurse, _, child = clinic
    kid = await child(TODAY - timedelta(weeks=10))
    assert kid.id in [r["person_id"] for r in (await worklist(client, nurse, section="-"))["rows"]]
    assert (await worklist(client, nurse, section="no-such"))["rows"] == []
    r = await client.get(
        "/api/v1/worklists/immunization", params={"week": "next week"}, headers=nurse
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"week"}


async def test_only_the_facilitys_nurse_and_doctor_have_a_worklist(client, make_user, login):
    analyst = await login(await make_user("analyst"))
    r = await client.get("/api/v1/worklists/immunization", headers=analyst)
    assert r.status_code == 403
    assert (await client.get("/api/v1/worklists/immunization.csv")).status_code == 401


async def test_the_invitation_list_is_a_csv_of_the_same_children(client, clinic):
    _, poly, _, nurse, _, child = clinic
    kid = await child(
        TODAY - timedelta(weeks=10),
        family_name="Karimova",
        given_name="Oysha",
        phone="+998901112233",
        address="Registon 1",
    )
    w = await worklist(client, nurse)
    r = await client.get("/api/v1/worklists/immunization.csv", headers=nurse)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f"immunization-invitations-{poly.code}-{MONDAY}" in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert len(lines) == len(w["rows"])
    line = next(x for x in lines if x["name"].startswith("Karimova Oysha"))
    born = (TODAY - timedelta(weeks=10)).isoformat()
    # a phone in E.164 starts with "+", which a spreadsheet would run: it is written
    # with the apostrophe that makes it text (shown as typed, "+" kept)
    assert (line["birth_date"], line["phone"], line["address"]) == (
        born,
        "'+998901112233",
        "Registon 1",
    )
    assert "BCG" in line["due"] or "bcg" in line["due"].lower()
    assert "overdue" in line["due"]
    assert kid.id in [x["person_id"] for x in w["rows"]]


async def test_the_nurse_sees_the_page(client, clinic, make_user):
    from tests.domains.registry.test_web import web_login

    _, poly, _, _, _, child = clinic
    kid = await child(TODAY - timedelta(weeks=10))
    await web_login(client, await make_user("nurse", facility_code=poly.code))
    page = await client.get("/immunization/worklist")
    assert page.status_code == 200
    assert f'data-person="{kid.id}"' in page.text
    assert 'data-antigen="bcg" data-dose="1" data-status="overdue"' in page.text
    # each row opens the child's vaccination card, where the dose is recorded
    assert f'href="/patients/{kid.id}/immunizations"' in page.text
    card = await client.get(f"/patients/{kid.id}/immunizations")
    assert card.status_code == 200
    bad = await client.get("/immunization/worklist", params={"week": "soon"})
    assert bad.status_code == 422
    assert 'data-field="week"' in bad.text


@pytest.mark.parametrize(
    "typed", ['=HYPERLINK("http://x","click")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
async def test_a_formula_typed_into_an_address_comes_out_neutralised_in_the_csv(
    client, clinic, typed
):
    """OWASP, CSV injection: a cell a spreadsheet would run is written with a leading
    apostrophe, so it is shown as typed."""
    _, _, _, nurse, _, child = clinic
    family = unique_name()  # wholly unlike any other child (the register refuses look-alikes)
    await child(
        TODAY - timedelta(weeks=10),
        family_name=family,
        given_name=unique_name(),
        address=f"{typed} Registon",
    )
    r = await client.get("/api/v1/worklists/immunization.csv", headers=nurse)
    assert r.status_code == 200
    line = next(x for x in csv.DictReader(io.StringIO(r.text)) if x["name"].startswith(family))
    # the register trims leading white space (a tab or CR typed first is gone), and what is
    # left starts a formula: written with the apostrophe
    assert line["address"] == "'" + f"{typed} Registon".lstrip()
