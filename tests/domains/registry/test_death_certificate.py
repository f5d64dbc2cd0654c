"""The medical certificate of cause of death: selection, refusals, the person following
the selected cause, audit and permissions (REST API)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from salomat.core.audit import AuditEvent
from salomat.core.db import session_factory
from salomat.domains.registry.models import Person

pytestmark = pytest.mark.anyio
DIED = date.today() - timedelta(days=3)


def line(code: str, text: str = "as written", value: int | None = None, unit: str | None = None):
    out: dict[str, Any] = {"text": text, "code": code}
    if value is not None:
        out |= {"interval_value": value, "interval_unit": unit}
    return out


def cert(*lines: Any, **kw: Any) -> dict[str, Any]:
    return {"deceased_on": kw.pop("deceased_on", DIED.isoformat()), "part1": list(lines), **kw}


def years_before(d: date, years: int, days: int = 0) -> date:
    return d.replace(year=d.year - years) - timedelta(days=days)


@pytest.fixture
async def doctor(make_user):
    return await make_user("family_doctor")


@pytest.fixture
async def doctor_auth(doctor, login):
    return await login(doctor)


@pytest.fixture
async def coder_auth(make_user, login):
    return await login(await make_user("mortality_coder"))


async def put(client, auth, person_id, body, etag=None):
    headers = dict(auth)
    if etag:
        headers["If-Match"] = etag
    return await client.put(
        f"/api/v1/persons/{person_id}/death-certificate", json=body, headers=headers
    )


async def person_row(person_id: int) -> Person:
    async with session_factory()() as s:
        return (await s.execute(select(Person).where(Person.id == person_id))).scalar_one()


# ---- Done-when vectors --------------------------------------------------------------------


async def test_cardiac_arrest_due_to_myocardial_infarction_selects_the_infarction(
    client, doctor, doctor_auth, make_person
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 3, 1), sex="male")
    body = cert(
        line("I46.9", "cardiac arrest", 10, "minutes"),
        line("I21.9", "acute myocardial infarction", 6, "hours"),
        part2=[{"text": "diabetes", "code": "E11.9"}],
        place="home",
    )
    r = await put(client, doctor_auth, p.id, body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["underlying_cause"], out["review"], out["review_reasons"]) == (
        "I21.9",
        "auto_selected",
        [],
    )
    person = await person_row(p.id)
    assert person.deceased_on == DIED
    assert person.death_cause == "I21.9"
    assert person.death_other_causes == ["I46.9", "E11.9"]
    read = await client.get(f"/api/v1/persons/{p.id}/death-certificate", headers=doctor_auth)
    assert read.status_code == 200
    assert read.json()["part1"][0]["text"] == "cardiac arrest"
    assert read.headers["etag"] == 'W/"1"'


async def test_only_r99_is_queued_for_a_coder_who_sets_the_cause_and_the_person_follows(
    client, doctor, doctor_auth, coder_auth, make_person
):
    p = await make_person(doctor.facility_code, birth_date=date(1940, 1, 1))
    r = await put(client, doctor_auth, p.id, cert(line("R99", "unknown")))
    assert r.status_code == 201, r.text
    assert (r.json()["review"], r.json()["review_reasons"]) == (
        "needs_review",
        ["only_ill_defined"],
    )
    before = await person_row(p.id)
    assert before.death_cause == "R99"
    queue = await client.get("/api/v1/death-certificates/review-queue", headers=coder_auth)
    assert queue.status_code == 200
    assert p.id in [c["person_id"] for c in queue.json()]
    url = f"/api/v1/persons/{p.id}/death-certificate/review"
    stale = await client.post(
        url,
        json={"underlying_cause": "I25.9", "reason": "autopsy report"},
        headers={**coder_auth, "If-Match": 'W/"7"'},
    )
    assert stale.status_code == 412
    injury = await client.post(
        url,
        json={"underlying_cause": "S06.9", "reason": "autopsy report"},
        headers={**coder_auth, "If-Match": r.headers["etag"]},
    )
    assert injury.status_code == 422
    assert injury.json()["errors"][0]["field"] == "underlying_cause"
    done = await client.post(
        url,
        json={"underlying_cause": "I25.9", "reason": "autopsy report"},
        headers={**coder_auth, "If-Match": r.headers["etag"]},
    )
    assert done.status_code == 200, done.text
    assert (done.json()["underlying_cause"], done.json()["review"]) == ("I25.9", "reviewed")
    after = await person_row(p.id)
    assert (after.death_cause, after.death_other_causes) == ("I25.9", ["R99"])
    assert after.version > before.version
    queue = await client.get("/api/v1/death-certificates/review-queue", headers=coder_auth)
    assert p.id not in [c["person_id"] for c in queue.json()]


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([line("R57.9"), line("I21.9")], None),
        ([line("I21.9"), line("R57.9")], "ill_defined_with_defined"),
        (
            [line("I21.9", value=2, unit="days"), line("I25.9", value=1, unit="hours")],
            "interval_order",
        ),
        ([line("I21.9"), line("I21.9")], "duplicate_code"),
        ([line("B07")], "unlikely_cause"),
    ],
)
async def test_conflicting_lines_go_to_review_with_the_reason(
    client, doctor, doctor_auth, make_person, lines, reason
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 3, 1), sex="male")
    r = await put(client, doctor_auth, p.id, cert(*lines))
    assert r.status_code == 201, r.text
    if reason is None:
        assert r.json()["review"] == "auto_selected"
    else:
        assert r.json()["review"] == "needs_review"
        assert reason in r.json()["review_reasons"]


async def test_an_injury_selects_its_external_cause_and_needs_one(
    client, doctor, doctor_auth, make_person
):
    p = await make_person(doctor.facility_code, birth_date=date(1980, 3, 1), sex="male")
    body = cert(line("S06.9", "head injury", 2, "hours"), manner="accident")
    missing = await put(client, doctor_auth, p.id, body)
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["external_cause"]
    assert (await person_row(p.id)).deceased_on is None
    body |= {"external_cause": "V89.2", "injury_on": DIED.isoformat()}
    r = await put(client, doctor_auth, p.id, body)
    assert r.status_code == 201, r.text
    assert (r.json()["underlying_cause"], r.json()["review"]) == ("V89.2", "auto_selected")
    person = await person_row(p.id)
    assert (person.death_cause, person.death_other_causes) == ("V89.2", ["S06.9"])


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (cert(line("Z99.9")), "part1.0.code"),
        (cert(line("I21.9"), line("Z99.9")), "part1.1.code"),
        (cert(line("W19")), "part1.0.code"),
        (cert(line("I21")), "part1.0.code"),
        (
            cert(line("I21.9"), deceased_on=(date.today() + timedelta(days=1)).isoformat()),
            "deceased_on",
        ),
        (cert(line("I21.9"), deceased_on="1949-12-31"), "deceased_on"),
        (cert(line("I21.9"), external_cause="I21.9", manner="accident"), "external_cause"),
        (cert(line("I21.9"), place="facility"), "facility_code"),
        (cert(line("I21.9"), place="facility", facility_code="NO-SUCH"), "facility_code"),
        (cert(None, None), "part1"),
        (cert(line("I21.9"), pregnancy="at_death"), "pregnancy"),
    ],
)
async def test_bad_certificates_are_refused_naming_the_field_and_store_nothing(
    client, doctor, doctor_auth, make_person, body, field
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1), sex="male")
    r = await put(client, doctor_auth, p.id, body)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    person = await person_row(p.id)
    assert (person.deceased_on, person.death_cause) == (None, None)
    assert (
        await client.get(f"/api/v1/persons/{p.id}/death-certificate", headers=doctor_auth)
    ).status_code == 404


@pytest.mark.parametrize(("age", "ok"), [(9, False), (10, True), (54, True), (55, False)])
async def test_pregnancy_status_only_for_women_aged_10_to_54(
    client, doctor, doctor_auth, make_person, age, ok
):
    born = years_before(DIED, age, days=1)
    p = await make_person(doctor.facility_code, birth_date=born, sex="female")
    r = await put(client, doctor_auth, p.id, cert(line("O14.1"), pregnancy="at_death"))
    assert r.status_code == (201 if ok else 422), r.text
    if not ok:
        assert [e["field"] for e in r.json()["errors"]] == ["pregnancy"]


@pytest.mark.parametrize(("days_before_first_birthday", "ok"), [(1, True), (0, False), (-1, False)])
async def test_the_infant_block_only_under_one_year(
    client, doctor, doctor_auth, make_person, days_before_first_birthday, ok
):
    born = years_before(DIED, 1, days=-days_before_first_birthday)
    p = await make_person(doctor.facility_code, birth_date=born)
    body = cert(
        line("P22.0", "respiratory distress"),
        perinatal={
            "birth_weight_g": 1800,
            "gestation_weeks": 33,
            "mother_age": 24,
            "mother_conditions": ["P00.0"],
        },
    )
    r = await put(client, doctor_auth, p.id, body)
    assert r.status_code == (201 if ok else 422), r.text
    if ok:
        assert r.json()["perinatal"]["mother_conditions"] == ["P00.0"]
    else:
        assert [e["field"] for e in r.json()["errors"]] == ["perinatal"]


@pytest.mark.parametrize(("years", "ok"), [(4, True), (5, True), (6, False)])
async def test_an_interval_longer_than_the_life_is_refused(
    client, doctor, doctor_auth, make_person, years, ok
):
    p = await make_person(doctor.facility_code, birth_date=years_before(DIED, 5))
    r = await put(client, doctor_auth, p.id, cert(line("C91.0", "leukaemia", years, "years")))
    assert r.status_code == (201 if ok else 422), r.text
    if not ok:
        assert [e["field"] for e in r.json()["errors"]] == ["part1.0.interval_value"]


async def test_the_date_must_match_a_registered_death(client, doctor, doctor_auth, make_person):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    first = await put(client, doctor_auth, p.id, cert(line("I21.9")))
    assert first.status_code == 201
    other = cert(line("I21.9"), deceased_on=(DIED - timedelta(days=1)).isoformat())
    r = await put(client, doctor_auth, p.id, other, etag=first.headers["etag"])
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["deceased_on"]
    no_if_match = await put(client, doctor_auth, p.id, cert(line("I25.9")))
    assert no_if_match.status_code == 412
    replaced = await put(client, doctor_auth, p.id, cert(line("I25.9")), etag=first.headers["etag"])
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == 'W/"2"'
    assert (await person_row(p.id)).death_cause == "I25.9"


# ---- worklist, permissions, audit --------------------------------------------------------


async def test_the_worklist_lists_registered_deaths_without_certificate_of_the_facility(
    client, doctor, doctor_auth, make_person, make_user, login
):
    registrar = await login(await make_user("registrar"))
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    etag = (await client.get(f"/api/v1/persons/{p.id}", headers=registrar)).headers["etag"]
    r = await client.post(
        f"/api/v1/persons/{p.id}/death",
        json={"deceased_on": DIED.isoformat(), "cause": "I21.9"},
        headers={**registrar, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    missing = await client.get("/api/v1/death-certificates/missing", headers=doctor_auth)
    assert missing.status_code == 200
    assert p.id in [d["person_id"] for d in missing.json()]
    other = await login(await make_user("family_doctor"))
    theirs = await client.get("/api/v1/death-certificates/missing", headers=other)
    assert p.id not in [d["person_id"] for d in theirs.json()]
    assert (await put(client, doctor_auth, p.id, cert(line("I21.9")))).status_code == 201
    missing = await client.get("/api/v1/death-certificates/missing", headers=doctor_auth)
    assert p.id not in [d["person_id"] for d in missing.json()]


@pytest.mark.parametrize(
    "role",
    ["registrar", "nurse", "citizen", "employer", "insurance_analyst", "analyst", "statistician"],
)
async def test_roles_without_need_never_see_a_certificate(
    client, doctor, doctor_auth, make_person, make_user, login, role
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    assert (await put(client, doctor_auth, p.id, cert(line("I21.9")))).status_code == 201
    kw = {"facility_code": doctor.facility_code} if role in ("registrar", "nurse") else {}
    if role == "citizen":
        kw = {"person_id": p.id}
    auth = await login(await make_user(role, **kw))
    r = await client.get(f"/api/v1/persons/{p.id}/death-certificate", headers=auth)
    assert r.status_code == 403
    assert "I21.9" not in r.text
    assert (await put(client, auth, p.id, cert(line("I25.9")))).status_code == 403


async def test_a_doctor_of_another_facility_and_a_coder_cannot_certify(
    client, doctor, make_person, make_user, login, coder_auth
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    stranger = await login(await make_user("family_doctor"))
    assert (await put(client, stranger, p.id, cert(line("I21.9")))).status_code == 404
    assert (await put(client, coder_auth, p.id, cert(line("I21.9")))).status_code == 403
    assert (await person_row(p.id)).deceased_on is None


async def test_every_read_and_write_of_a_certificate_is_audited(
    client, doctor, doctor_auth, make_person
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    assert (await put(client, doctor_auth, p.id, cert(line("I21.9")))).status_code == 201
    assert (
        await client.get(f"/api/v1/persons/{p.id}/death-certificate", headers=doctor_auth)
    ).status_code == 200
    async with session_factory()() as s:
        rows = (
            await s.execute(
                select(AuditEvent.action, AuditEvent.username)
                .where(
                    AuditEvent.patient_id == p.id, AuditEvent.resource_type == "DeathCertificate"
                )
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [r.action for r in rows] == ["update", "read"]
    assert {r.username for r in rows} == {doctor.username}


async def test_one_certificate_per_person_is_a_database_constraint(
    client, db, doctor, doctor_auth, make_person
):
    from sqlalchemy.exc import IntegrityError

    from salomat.core.db import utcnow
    from salomat.domains.registry.models import DeathCertificate

    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    assert (await put(client, doctor_auth, p.id, cert(line("I21.9")))).status_code == 201
    db.add(
        DeathCertificate(
            person_id=p.id,
            deceased_on=DIED,
            part1=[],
            part2=[],
            manner="disease",
            place="unknown",
            surgery="unknown",
            autopsy="unknown",
            certifier_username="x",
            certified_at=utcnow(),
            underlying_cause="I21.9",
            review="auto_selected",
            review_reasons=[],
        )
    )
    with pytest.raises(IntegrityError):
        await db.flush()
    await db.rollback()


async def test_the_coder_reads_certificates_but_no_person_card(
    client, doctor, doctor_auth, coder_auth, make_person
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    assert (await put(client, doctor_auth, p.id, cert(line("I21.9")))).status_code == 201
    r = await client.get(f"/api/v1/persons/{p.id}/death-certificate", headers=coder_auth)
    assert r.status_code == 200
    assert (await client.get(f"/api/v1/persons/{p.id}", headers=coder_auth)).status_code == 403


async def test_a_corrected_certificate_is_selected_again_and_the_coders_decision_is_cleared(
    client, doctor, doctor_auth, coder_auth, make_person
):
    p = await make_person(doctor.facility_code, birth_date=date(1950, 1, 1))
    first = await put(client, doctor_auth, p.id, cert(line("R99")))
    reviewed = await client.post(
        f"/api/v1/persons/{p.id}/death-certificate/review",
        json={"underlying_cause": "I25.9", "reason": "history from the family"},
        headers={**coder_auth, "If-Match": first.headers["etag"]},
    )
    assert reviewed.json()["review"] == "reviewed"
    corrected = await put(
        client,
        doctor_auth,
        p.id,
        cert(line("I46.9"), line("I21.9")),
        etag=reviewed.headers["etag"],
    )
    assert corrected.status_code == 200, corrected.text
    out = corrected.json()
    assert (out["underlying_cause"], out["review"], out["reviewed_by"]) == (
        "I21.9",
        "auto_selected",
        None,
    )
    assert (await person_row(p.id)).death_cause == "I21.9"


async def test_certificate_coverage_counts_the_periods_deaths(
    client, db, doctor, doctor_auth, make_person
):
    from salomat.domains.registry import service

    day = date.today() - timedelta(days=400)  # a day no other test certifies a death on
    before = await service.certificate_coverage(db, day, day)
    people = [
        await make_person(doctor.facility_code, birth_date=date(1950, 1, 1)) for _ in range(2)
    ]
    on = {"deceased_on": day.isoformat()}
    assert (
        await put(client, doctor_auth, people[0].id, cert(line("I21.9"), **on))
    ).status_code == 201
    assert (
        await put(client, doctor_auth, people[1].id, cert(line("R99"), **on))
    ).status_code == 201
    after = await service.certificate_coverage(db, day, day)
    assert (
        after.deaths - before.deaths,
        after.certified - before.certified,
        after.needs_review - before.needs_review,
        after.ill_defined - before.ill_defined,
    ) == (2, 2, 1, 1)
