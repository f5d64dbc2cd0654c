"""The register counts doses in order: late entries, corrections, merges, the card, the passport."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.domains.immunization import test_doses
from tests.domains.immunization.test_doses import BORN, TODAY, dose, post

clinic = test_doses.clinic  # the fixture

pytestmark = pytest.mark.anyio


async def card(client, c) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/persons/{c.baby.id}/immunizations", headers=c.nurse)
    assert r.status_code == 200, r.text
    return r.json()


def counted(doses: list[dict[str, Any]]) -> list[tuple[int, int | None, bool, bool]]:
    """(recorded number, counted as, valid, flagged) in date order."""
    return [
        (d["dose_number"], d["counted_as"], d["valid"], d["needs_review"])
        for d in sorted(doses, key=lambda d: (d["given_on"], d["id"]))
    ]


async def test_an_earlier_paper_dose_entered_later_moves_the_stored_doses_on(client, clinic):
    here = BORN + timedelta(days=100)
    first = (await post(client, clinic, dose(n=1, on=here))).json()
    assert (first["counted_as"], first["version"]) == (1, 1)
    # the mother brings a paper card: a Penta given at 60 days, written as dose 1
    r = await post(
        client, clinic, dose(n=1, on=BORN + timedelta(days=60), given_elsewhere=True, place="P")
    )
    assert r.status_code == 201, r.text
    assert (r.json()["counted_as"], r.json()["needs_review"]) == (1, False)
    assert counted(await card(client, clinic)) == [(1, 1, True, False), (1, 2, True, True)]
    moved = next(d for d in await card(client, clinic) if d["id"] == first["id"])
    assert moved["version"] == 2  # one change, one new version (its ETag changes)
    sched = (
        await client.get(
            f"/api/v1/persons/{clinic.baby.id}/immunization-schedule", headers=clinic.nurse
        )
    ).json()
    status = {(d["antigen"], d["dose_number"]): d["status"] for d in sched["doses"]}
    assert status[("penta", 2)] == "given"
    assert status[("penta", 3)] in ("due", "overdue")


async def test_marking_the_first_dose_entered_in_error_moves_the_others_back(client, clinic):
    a = (await post(client, clinic, dose(n=1, on=BORN + timedelta(days=60)))).json()
    b = (await post(client, clinic, dose(n=2, on=BORN + timedelta(days=90)))).json()
    assert counted(await card(client, clinic)) == [(1, 1, True, False), (2, 2, True, False)]
    etag = (await client.get(f"/api/v1/immunizations/{a['id']}", headers=clinic.nurse)).headers[
        "etag"
    ]
    r = await client.post(
        f"/api/v1/immunizations/{a['id']}/entered-in-error",
        json={"reason": "another child's dose"},
        headers={**clinic.nurse, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["counted_as"] is None
    left = await card(client, clinic)
    assert counted(left) == [(2, 1, True, True)]
    assert left[0]["id"] == b["id"]


async def test_a_dose_too_soon_after_an_earlier_late_entry_stops_counting(client, clinic):
    here = (await post(client, clinic, dose(n=1, on=BORN + timedelta(days=80)))).json()
    await post(
        client, clinic, dose(n=1, on=BORN + timedelta(days=60), given_elsewhere=True, place="P")
    )
    doses = {d["id"]: d for d in await card(client, clinic)}
    moved = doses[here["id"]]
    assert (moved["valid"], moved["counted_as"]) == (False, None)
    assert "minimum interval" in moved["invalid_reason"]


async def test_the_card_and_the_passport_show_the_counted_dose_and_the_flag(
    client, clinic, make_user, login
):
    await post(client, clinic, dose(n=3, on=BORN + timedelta(days=61)))
    client.cookies.set("salomat_lang", "en")  # the pack's own language is uz
    page = await client.get(f"/patients/{clinic.baby.id}/immunizations", headers=clinic.nurse)
    assert page.status_code == 200
    html = page.text
    assert 'data-dose="3" data-counted="1"' in html
    assert 'data-testid="needs-review"' in html
    assert "recorded as dose 3" in html
    doctor = await login(await make_user("family_doctor", facility_code=clinic.facility.code))
    passport = await client.get(f"/children/{clinic.baby.id}", headers=doctor)
    assert passport.status_code == 200, passport.text
    assert "recorded as dose 3" in passport.text  # the child passport's vaccinations
    client.cookies.set("salomat_lang", "uz")
    page = await client.get(f"/patients/{clinic.baby.id}/immunizations", headers=clinic.nurse)
    assert "3-doza sifatida yozilgan" in page.text


async def test_merging_two_records_counts_their_doses_together(
    client, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    born = TODAY - timedelta(days=200)
    a = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    b = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    nurse = await login(await make_user("nurse", facility_code=fac.code))

    async def give(pid: int, n: int, on: date) -> dict[str, Any]:
        body = {
            "antigen": "penta",
            "dose_number": n,
            "given_on": on.isoformat(),
            "given_elsewhere": True,
            "place": "paper",
        }
        r = await client.post(f"/api/v1/persons/{pid}/immunizations", json=body, headers=nurse)
        assert r.status_code == 201, r.text
        return r.json()

    await give(a.id, 1, born + timedelta(days=60))
    await give(b.id, 1, born + timedelta(days=95))  # each record's only dose counts as 1
    registrar = await login(await make_user("registrar"))
    r = await client.post(
        f"/api/v1/persons/{a.id}/merge",
        json={"merged_id": b.id, "reason": "one baby, two records", "survivor_version": 1,
              "merged_version": 1},
        headers=registrar,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    doses = (await client.get(f"/api/v1/persons/{a.id}/immunizations", headers=nurse)).json()
    assert counted(doses) == [(1, 1, True, False), (1, 2, True, True)]


async def test_a_merge_with_the_same_dose_on_both_records_is_refused(
    client, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    born = TODAY - timedelta(days=200)
    a = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    b = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    body = {
        "antigen": "penta",
        "dose_number": 1,
        "given_on": (born + timedelta(days=60)).isoformat(),
        "given_elsewhere": True,
        "place": "paper",
    }
    for pid in (a.id, b.id):
        r = await client.post(f"/api/v1/persons/{pid}/immunizations", json=body, headers=nurse)
        assert r.status_code == 201, r.text
    registrar = await login(await make_user("registrar"))
    r = await client.post(
        f"/api/v1/persons/{a.id}/merge",
        json={"merged_id": b.id, "reason": "one baby, two records", "survivor_version": 1,
              "merged_version": 1},
        headers=registrar,
    )  # fmt: skip
    assert r.status_code == 409, r.text
    assert "penta" in r.json()["detail"]


async def test_a_late_pcv_start_shows_the_catch_up_series_on_the_card_and_in_the_schedule(
    client, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    born = TODAY - timedelta(days=450)
    kid = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    first = born + timedelta(days=400)  # about 13 months
    r = await client.post(
        f"/api/v1/persons/{kid.id}/immunizations",
        json={"antigen": "pcv", "dose_number": 1, "given_on": first.isoformat(),
              "given_elsewhere": True, "place": "paper"},
        headers=nurse,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    sched = (
        await client.get(f"/api/v1/persons/{kid.id}/immunization-schedule", headers=nurse)
    ).json()
    pcv = {d["dose_number"]: d for d in sched["doses"] if d["antigen"] == "pcv"}
    assert pcv[2]["earliest_on"] == (first + timedelta(days=56)).isoformat()
    assert pcv[3]["status"] == "not_needed"
    page = await client.get(f"/patients/{kid.id}/immunizations", headers=nurse)
    assert 'data-testid="catch-up" data-antigen="pcv"' in page.text
