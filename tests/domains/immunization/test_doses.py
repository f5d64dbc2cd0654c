"""The immunization register through REST: record, refuse, correct, exemptions, scope, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.domains.immunization.service import schedule

pytestmark = pytest.mark.anyio

TODAY = date.today()
#: a baby of about five months: penta 1-3 are due or overdue
BORN = TODAY - timedelta(days=150)


@dataclass
class Clinic:
    facility: Any
    baby: Any
    nurse: dict[str, str]


@pytest.fixture
async def clinic(make_facility, make_person, make_user, login) -> Clinic:
    """A polyclinic, a baby attached there and its nurse."""
    fac = await make_facility()
    baby = await make_person(facility_code=fac.code, birth_date=BORN, sex="male")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    return Clinic(fac, baby, nurse)


def dose(antigen: str = "penta", n: int = 1, on: date | None = None, **kw: Any) -> dict[str, Any]:
    on = on or schedule.add_age(BORN, schedule.Age(months=2))
    body = {"antigen": antigen, "dose_number": n, "given_on": on.isoformat(), **kw}
    if not kw.get("given_elsewhere"):
        body.setdefault(
            "vaccine", {"penta": "penta", "pcv": "pcv13", "opv": "bopv", "rota": "rota"}[antigen]
        )
        body.setdefault("lot", "L123")
        body.setdefault("site", "left_thigh")
    return body


async def post(client, c: Clinic, body: dict[str, Any]):
    return await client.post(
        f"/api/v1/persons/{c.baby.id}/immunizations", json=body, headers=c.nurse
    )


def fields(r) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json().get("errors", [])}


def status_of(sched: dict[str, Any], antigen: str, n: int) -> str:
    return next(
        d["status"] for d in sched["doses"] if d["antigen"] == antigen and d["dose_number"] == n
    )


async def test_record_a_due_dose_and_the_schedule_moves_on(client, clinic):
    before = (
        await client.get(
            f"/api/v1/persons/{clinic.baby.id}/immunization-schedule", headers=clinic.nurse
        )
    ).json()
    assert status_of(before, "penta", 1) == "overdue"
    r = await post(client, clinic, dose())
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["valid"] is True
    assert d["status"] == "completed"
    assert d["source"] == "entered"
    assert d["facility_id"] == clinic.facility.id
    assert r.headers["location"] == f"/api/v1/immunizations/{d['id']}"
    after = (
        await client.get(
            f"/api/v1/persons/{clinic.baby.id}/immunization-schedule", headers=clinic.nurse
        )
    ).json()
    assert status_of(after, "penta", 1) == "given"
    assert status_of(after, "penta", 2) in ("due", "overdue")
    listed = (
        await client.get(f"/api/v1/persons/{clinic.baby.id}/immunizations", headers=clinic.nurse)
    ).json()
    assert [x["id"] for x in listed] == [d["id"]]


async def test_an_early_dose_is_refused_naming_given_on_and_the_reason(client, clinic):
    early = BORN + timedelta(days=30)  # penta 1 not before 6 weeks
    r = await post(client, clinic, dose(on=early))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "minimum age" in fields(r)["given_on"]
    assert (BORN + timedelta(days=42)).isoformat() in fields(r)["given_on"]
    # nothing stored
    listed = await client.get(
        f"/api/v1/persons/{clinic.baby.id}/immunizations", headers=clinic.nurse
    )
    assert listed.json() == []


async def test_too_short_an_interval_is_refused(client, clinic):
    first = BORN + timedelta(days=50)
    assert (await post(client, clinic, dose(on=first))).status_code == 201
    r = await post(client, clinic, dose(n=2, on=first + timedelta(days=27)))
    assert r.status_code == 422
    assert fields(r)["given_on"].startswith("too early")  # the second place's minimum age
    ok = await post(client, clinic, dose(n=2, on=first + timedelta(days=28)))
    assert ok.status_code == 201, ok.text


async def test_a_historical_early_dose_elsewhere_is_kept_invalid_with_the_reason(client, clinic):
    early = BORN + timedelta(days=30)
    r = await post(
        client,
        clinic,
        dose(on=early, given_elsewhere=True, place="Private clinic, Almaty"),
    )
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["valid"] is False
    assert "minimum age" in d["invalid_reason"]
    assert d["source"] == "elsewhere"
    assert d["place_elsewhere"] == "Private clinic, Almaty"
    assert d["facility_id"] is None
    card = (
        await client.get(f"/api/v1/persons/{clinic.baby.id}/immunizations", headers=clinic.nurse)
    ).json()
    assert card[0]["valid"] is False
    assert card[0]["invalid_reason"]
    sched = (
        await client.get(
            f"/api/v1/persons/{clinic.baby.id}/immunization-schedule", headers=clinic.nurse
        )
    ).json()
    assert status_of(sched, "penta", 1) == "overdue"  # it does not count
    # a valid penta 1 can still be given
    assert (await post(client, clinic, dose())).status_code == 201


async def test_elsewhere_needs_a_place(client, clinic):
    r = await post(client, clinic, dose(given_elsewhere=True))
    assert r.status_code == 422
    assert "place" in fields(r)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"antigen": "yellow_fever"}, "antigen"),
        ({"dose_number": 7}, "dose_number"),
        ({"vaccine": "nope"}, "vaccine"),
        ({"vaccine": "mmr"}, "vaccine"),
        ({"site": "left_ear"}, "site"),
        ({"given_on": (TODAY + timedelta(days=1)).isoformat()}, "given_on"),
        ({"given_on": (BORN - timedelta(days=1)).isoformat()}, "given_on"),
        ({"expires_on": (BORN - timedelta(days=10)).isoformat()}, "expires_on"),
        ({"practitioner_id": 987654321}, "practitioner_id"),
    ],
)
async def test_wrong_fields_are_named(client, clinic, change, field):
    r = await post(client, clinic, {**dose(), **change})
    assert r.status_code == 422, r.text
    assert field in fields(r), r.text


async def test_a_second_dose_recorded_as_dose_1_counts_as_dose_2_and_is_flagged(client, clinic):
    first = (await post(client, clinic, dose())).json()
    assert (first["dose_number"], first["counted_as"], first["needs_review"]) == (1, 1, False)
    r = await post(client, clinic, dose(n=1, on=TODAY))
    assert r.status_code == 201, r.text
    second = r.json()
    assert (second["dose_number"], second["counted_as"]) == (1, 2)
    assert second["valid"] is True
    assert second["needs_review"] is True
    sched = (
        await client.get(
            f"/api/v1/persons/{clinic.baby.id}/immunization-schedule", headers=clinic.nurse
        )
    ).json()
    assert status_of(sched, "penta", 2) == "given"
    assert status_of(sched, "penta", 3) == "upcoming"  # 4 weeks after today


async def test_the_same_dose_entered_twice_is_a_conflict(client, clinic):
    first = (await post(client, clinic, dose())).json()
    r = await post(client, clinic, dose())
    assert r.status_code == 409
    assert r.json()["existing"] == first["id"]
    # given elsewhere too: a paper record entered twice is the same dose
    r = await post(client, clinic, dose(given_elsewhere=True, place="Paper card"))
    assert r.status_code == 409
    # another number on the same day is a second dose, too soon to count
    r = await post(client, clinic, dose(n=2))
    assert r.status_code == 422
    assert fields(r)["given_on"].startswith("too early")  # the second place's minimum age


async def test_a_dose_once_the_series_is_complete_is_a_conflict_here(client, clinic):
    start = BORN + timedelta(days=42)
    for n in (1, 2, 3):
        on = start + timedelta(days=28 * (n - 1))
        assert (await post(client, clinic, dose("rota", n=n, on=on))).status_code == 201
    r = await post(client, clinic, dose("rota", n=3, on=TODAY))
    assert r.status_code == 409, r.text
    assert "already complete" in r.json()["detail"]
    # from a paper record it is kept, not counted
    r = await post(
        client, clinic, dose("rota", n=3, on=TODAY, given_elsewhere=True, place="Paper card")
    )
    assert r.status_code == 201, r.text
    assert (r.json()["valid"], r.json()["counted_as"]) == (False, None)
    assert "already complete" in r.json()["invalid_reason"]


async def test_entered_in_error_needs_if_match_and_frees_the_dose(client, clinic, db):
    d = (await post(client, clinic, dose())).json()
    url = f"/api/v1/immunizations/{d['id']}/entered-in-error"
    r = await client.post(url, json={"reason": "wrong child"}, headers=clinic.nurse)
    assert r.status_code == 412
    stale = await client.post(url, json={}, headers={**clinic.nurse, "If-Match": 'W/"9"'})
    assert stale.status_code == 412
    etag = (await client.get(f"/api/v1/immunizations/{d['id']}", headers=clinic.nurse)).headers[
        "etag"
    ]
    ok = await client.post(
        url, json={"reason": "wrong child"}, headers={**clinic.nurse, "If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "entered_in_error"
    assert ok.headers["etag"] != etag
    # marking it again (a retry) answers the dose as it is, even at the old version
    again = await client.post(url, json={}, headers={**clinic.nurse, "If-Match": etag})
    assert again.status_code == 200, again.text
    assert again.headers["etag"] == ok.headers["etag"]
    listed = (
        await client.get(f"/api/v1/persons/{clinic.baby.id}/immunizations", headers=clinic.nurse)
    ).json()
    assert listed == []
    with_errors = (
        await client.get(
            f"/api/v1/persons/{clinic.baby.id}/immunizations?include_errors=true",
            headers=clinic.nurse,
        )
    ).json()
    assert [x["status"] for x in with_errors] == ["entered_in_error"]
    # the dose may be recorded again
    assert (await post(client, clinic, dose())).status_code == 201


async def test_exemptions_record_show_and_withdraw(client, clinic):
    base = f"/api/v1/persons/{clinic.baby.id}/immunization-exemptions"
    r = await client.post(
        base,
        json={"kind": "contraindication", "antigen": "pcv", "reason": "anaphylaxis to dose 1"},
        headers=clinic.nurse,
    )
    assert r.status_code == 201, r.text
    ex = r.json()
    assert ex["active"] is True
    sched_url = f"/api/v1/persons/{clinic.baby.id}/immunization-schedule"
    sched = (await client.get(sched_url, headers=clinic.nurse)).json()
    assert status_of(sched, "pcv", 1) == "exempt"
    assert status_of(sched, "penta", 1) == "overdue"
    listed = (await client.get(base, headers=clinic.nurse)).json()
    assert [x["id"] for x in listed] == [ex["id"]]
    w = await client.post(
        f"/api/v1/immunization-exemptions/{ex['id']}/withdraw", json={}, headers=clinic.nurse
    )
    assert w.status_code == 200, w.text
    assert w.json()["active"] is False
    sched = (await client.get(sched_url, headers=clinic.nurse)).json()
    assert status_of(sched, "pcv", 1) == "overdue"
    # withdrawing it again (a retry) answers it as it is; another day is refused
    twice = await client.post(
        f"/api/v1/immunization-exemptions/{ex['id']}/withdraw", json={}, headers=clinic.nurse
    )
    assert (twice.status_code, twice.json()) == (200, w.json())
    other_day = {"withdrawn_on": str(date.fromisoformat(w.json()["withdrawn_on"]) - timedelta(1))}
    moved = await client.post(
        f"/api/v1/immunization-exemptions/{ex['id']}/withdraw",
        json=other_day,
        headers=clinic.nurse,
    )
    assert moved.status_code == 409


async def test_exemption_fields_are_checked(client, clinic):
    r = await client.post(
        f"/api/v1/persons/{clinic.baby.id}/immunization-exemptions",
        json={
            "kind": "refusal",
            "antigen": "smallpox",
            "reason": "parents refuse",
            "starts_on": TODAY.isoformat(),
            "ends_on": (TODAY - timedelta(days=1)).isoformat(),
        },
        headers=clinic.nurse,
    )
    assert r.status_code == 422
    assert {"antigen", "ends_on"} <= set(fields(r))


async def test_out_of_scope_is_404_like_missing(client, clinic, make_user, login, make_person):
    other = await login(await make_user("nurse"))
    for url in (
        f"/api/v1/persons/{clinic.baby.id}/immunizations",
        f"/api/v1/persons/{clinic.baby.id}/immunization-schedule",
        f"/api/v1/persons/{clinic.baby.id}/immunization-exemptions",
    ):
        assert (await client.get(url, headers=other)).status_code == 404, url
    r = await client.post(
        f"/api/v1/persons/{clinic.baby.id}/immunizations", json=dose(), headers=other
    )
    assert r.status_code == 404
    d = (await post(client, clinic, dose())).json()
    assert (await client.get(f"/api/v1/immunizations/{d['id']}", headers=other)).status_code == 404
    assert (
        await client.get("/api/v1/immunizations/987654321", headers=clinic.nurse)
    ).status_code == 404


async def test_roles_without_the_permission_are_refused(client, clinic, make_user, login):
    registrar = await login(await make_user("registrar", facility_code=clinic.facility.code))
    r = await client.post(
        f"/api/v1/persons/{clinic.baby.id}/immunizations", json=dose(), headers=registrar
    )
    assert r.status_code == 403
    obstetrician = await login(await make_user("obstetrician", facility_code=clinic.facility.code))
    r = await client.get(f"/api/v1/persons/{clinic.baby.id}/immunizations", headers=obstetrician)
    assert r.status_code == 403


async def test_a_citizen_reads_her_own_card_but_cannot_record(
    client, make_person, make_user, login
):
    me = await make_person(birth_date=date(1990, 1, 1), sex="female")
    account = await login(await make_user("citizen", person_id=me.id))
    r = await client.get(f"/api/v1/persons/{me.id}/immunization-schedule", headers=account)
    assert r.status_code == 200
    assert r.json()["sex"] == "female"
    r = await client.post(f"/api/v1/persons/{me.id}/immunizations", json=dose(), headers=account)
    assert r.status_code == 403


async def test_a_dead_person_gets_no_new_dose(client, clinic, make_user, login):
    doctor = await login(await make_user("family_doctor", facility_code=clinic.facility.code))
    etag = (await client.get(f"/api/v1/persons/{clinic.baby.id}", headers=doctor)).headers["etag"]
    died = await client.post(
        f"/api/v1/persons/{clinic.baby.id}/death",
        json={"deceased_on": (TODAY - timedelta(days=5)).isoformat(), "cause": "A09.0"},
        headers={**doctor, "If-Match": etag},
    )
    assert died.status_code in (200, 201), died.text
    r = await post(client, clinic, dose(on=TODAY))
    assert r.status_code == 409


async def test_reads_and_writes_are_audited_with_the_patient(client, clinic, db):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    d = (await post(client, clinic, dose())).json()
    await client.get(f"/api/v1/persons/{clinic.baby.id}/immunizations", headers=clinic.nurse)
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type, AuditEvent.resource_id).where(
                AuditEvent.patient_id == clinic.baby.id
            )
        )
    ).all()
    assert ("create", "Immunization", str(d["id"])) in rows
    assert ("read", "Immunization", str(clinic.baby.id)) in rows


async def test_the_card_for_other_domains(client, clinic, db):
    from salomat.core.security import Principal
    from salomat.domains.immunization import service

    await post(client, clinic, dose(on=BORN + timedelta(days=30), given_elsewhere=True, place="X"))
    nurse = Principal(
        user_id=0, username="t", role="nurse", session_id="t", facility_id=clinic.facility.id
    )
    card = await service.get_card(db, nurse, clinic.baby.id)
    assert card.birth_date == BORN
    assert [d.valid for d in card.doses] == [False]
    assert any(s.status == "overdue" for s in card.schedule)
