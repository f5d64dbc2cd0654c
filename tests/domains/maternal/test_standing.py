"""Diagnoses stand on the pregnancy until a clinician resolves them (issue 12 item 1).

Through the REST API as a clinician uses it; the web page's resolve form is in
test_web_standing.py. Reference: ../shared/domain/maternal.md, "A diagnosis made at
one contact ... stays on the pregnancy until a clinician resolves it with a reason".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from salomat.core.audit import AuditEvent
from salomat.domains.maternal.models import Diagnosis, Pregnancy
from salomat.domains.maternal.service import reevaluate_current

pytestmark = pytest.mark.anyio
TODAY = date.today()


@pytest.fixture
async def clinic(client, make_facility, make_person, make_user, login) -> dict[str, Any]:
    fac = await make_facility()
    woman = await make_person(facility_code=fac.code)
    account = await make_user("family_doctor", facility_code=fac.code)
    doctor = await login(account)
    lmp = TODAY - timedelta(weeks=30)
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 2, "parity": 1},
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]

    async def contact(days_ago: int, **values: Any) -> dict[str, Any]:
        etag = (await client.get(f"/api/v1/pregnancies/{pid}", headers=doctor)).headers["etag"]
        r = await client.post(
            f"/api/v1/pregnancies/{pid}/contacts",
            json={"on": (TODAY - timedelta(days=days_ago)).isoformat(), **values},
            headers={**doctor, "If-Match": etag},
        )
        assert r.status_code == 201, r.text
        return r.json()

    return {
        "pid": pid,
        "fac": fac,
        "woman": woman,
        "doctor": doctor,
        "username": account.username,
        "contact": contact,
    }


SEVERE = {
    "systolic_1": 165,
    "diastolic_1": 112,
    "systolic_2": 162,
    "diastolic_2": 111,
    "urine_protein": "+++",
    "haemoglobin_g_l": 65,
    "fasting_glucose_mmol_l": 7.4,
}
NORMAL = {"systolic_1": 118, "diastolic_1": 76, "systolic_2": 116, "diastolic_2": 74}


def standing(body: dict) -> dict[str, dict]:
    return {d["family"]: d for d in body["diagnoses"] if d["status"] == "active"}


async def test_severe_pre_eclampsia_stands_after_a_normal_contact_until_resolved(client, clinic):
    """The issue's case: severe pre-eclampsia, diabetes and severe anaemia at one contact,
    then a normal blood pressure and no laboratory tests."""
    first = await clinic["contact"](14, **SEVERE)
    assert (first["risk_level"], first["care_level"]) == ("high", 3)
    later = await clinic["contact"](0, **NORMAL)
    held = standing(later)
    assert held["pre_eclampsia"]["code"] == "severe_pre_eclampsia"
    assert held["diabetes_in_pregnancy"]["code"] == "diabetes_in_pregnancy"
    assert held["anaemia"]["code"] == "severe_anaemia"
    # where it came from: the first contact
    c1 = first["contacts"][-1]
    assert held["pre_eclampsia"]["first_contact_id"] == c1["id"]
    assert held["pre_eclampsia"]["first_contact_number"] == 1
    assert held["pre_eclampsia"]["first_on"] == c1["on"]
    assert (later["risk_level"], later["care_level"]) == ("high", 3)
    advice = {a["code"]: a for a in later["advice"]}
    assert advice["severe_pre_eclampsia"]["details"]["standing"] is True
    assert advice["severe_pre_eclampsia"]["details"]["since"] == c1["on"]
    # still on the high-risk worklist reasons: no level-3 referral accepted
    r = await client.get("/api/v1/worklists/antenatal", headers=clinic["doctor"])
    assert r.status_code == 200, r.text
    (row,) = [w for w in r.json() if w["pregnancy_id"] == clinic["pid"]]
    assert "high_risk_no_referral" in {x["code"] for x in row["reasons"]}

    # a clinician resolves them one by one; the risk falls only then
    pid, doctor = clinic["pid"], clinic["doctor"]
    for family in ("pre_eclampsia", "diabetes_in_pregnancy", "anaemia"):
        r = await client.get(f"/api/v1/pregnancies/{pid}", headers=doctor)
        d = standing(r.json())[family]
        res = await client.post(
            f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve",
            json={"reason": "resolved", "note": "treated at the perinatal centre"},
            headers={**doctor, "If-Match": r.headers["etag"]},
        )
        assert res.status_code == 200, res.text
    body = res.json()
    assert standing(body) == {}
    assert (body["risk_level"], body["care_level"]) == ("low", 1)
    resolved = {d["family"]: d for d in body["diagnoses"]}
    assert resolved["pre_eclampsia"]["resolved_by"] == clinic["username"]
    assert resolved["pre_eclampsia"]["resolution_note"] == "treated at the perinatal centre"
    # the same contacts do not raise it again; a new contact with the finding does
    assert standing(await clinic["contact"](0, **NORMAL)) == {}
    again = await clinic["contact"](0, **{**NORMAL, "haemoglobin_g_l": 95})
    assert standing(again)["anaemia"]["code"] == "moderate_anaemia"


async def test_severity_escalates_and_never_falls_while_standing(client, clinic):
    await clinic["contact"](21, haemoglobin_g_l=104)  # 30 weeks less 3: anaemia (< 110)
    body = await clinic["contact"](14, haemoglobin_g_l=65)
    assert standing(body)["anaemia"]["code"] == "severe_anaemia"
    body = await clinic["contact"](7, haemoglobin_g_l=100)
    assert standing(body)["anaemia"]["code"] == "severe_anaemia"
    assert standing(body)["anaemia"]["first_contact_number"] == 1


async def test_resolving_needs_a_reason_a_current_version_and_an_active_diagnosis(client, clinic):
    body = await clinic["contact"](0, **SEVERE)
    pid, doctor = clinic["pid"], clinic["doctor"]
    d = standing(body)["pre_eclampsia"]
    url = f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve"
    etag = (await client.get(f"/api/v1/pregnancies/{pid}", headers=doctor)).headers["etag"]
    for bad, field in (
        ({"reason": "better", "note": "fine now"}, "reason"),
        ({"reason": "resolved", "note": "  "}, "note"),
        ({"reason": "resolved"}, "note"),
    ):
        r = await client.post(url, json=bad, headers={**doctor, "If-Match": etag})
        assert r.status_code == 422, r.text
        assert field in r.text
    ok = {"reason": "entered_in_error", "note": "typed into the wrong record"}
    assert (await client.post(url, json=ok, headers=doctor)).status_code == 412
    stale = {**doctor, "If-Match": '"0"'}
    assert (await client.post(url, json=ok, headers=stale)).status_code == 412
    r = await client.post(url, json=ok, headers={**doctor, "If-Match": etag})
    assert r.status_code == 200, r.text
    etag = r.headers["etag"]
    # the same resolution again changes nothing: answered as it is; another one is refused
    r = await client.post(url, json=ok, headers={**doctor, "If-Match": etag})
    assert (r.status_code, r.headers["etag"]) == (200, etag)
    other_note = {**ok, "note": "a different note"}
    r = await client.post(url, json=other_note, headers={**doctor, "If-Match": etag})
    assert r.status_code == 409
    other = f"/api/v1/pregnancies/{pid}/diagnoses/999999/resolve"
    assert (
        await client.post(other, json=ok, headers={**doctor, "If-Match": etag})
    ).status_code == 404


async def test_resolving_is_audited_and_out_of_scope_is_404(
    client, clinic, db, make_facility, make_user, login
):
    body = await clinic["contact"](0, **SEVERE)
    pid = clinic["pid"]
    d = standing(body)["pre_eclampsia"]
    stranger = await login(
        await make_user("family_doctor", facility_code=(await make_facility()).code)
    )
    r = await client.post(
        f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve",
        json={"reason": "resolved", "note": "not mine"},
        headers={**stranger, "If-Match": '"1"'},
    )
    assert r.status_code == 404
    assert (
        await client.get(f"/api/v1/pregnancies/{pid}/diagnoses", headers=stranger)
    ).status_code == 404
    listed = await client.get(f"/api/v1/pregnancies/{pid}/diagnoses", headers=clinic["doctor"])
    assert {x["family"] for x in listed.json() if x["status"] == "active"} == {
        "pre_eclampsia",
        "diabetes_in_pregnancy",
        "anaemia",
    }
    etag = (await client.get(f"/api/v1/pregnancies/{pid}", headers=clinic["doctor"])).headers[
        "etag"
    ]
    r = await client.post(
        f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve",
        json={"reason": "resolved", "note": "seen"},
        headers={**clinic["doctor"], "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.outcome, AuditEvent.username).where(
                AuditEvent.resource_type == "EpisodeOfCare",
                AuditEvent.patient_id == clinic["woman"].id,
            )
        )
    ).all()
    assert ("update", "success", clinic["username"]) in rows
    assert any(o == "failure" and u != clinic["username"] for _, o, u in rows), rows
    # the resolution itself: which diagnosis, how and why
    (detail,) = (
        await db.execute(
            select(AuditEvent.detail).where(
                AuditEvent.resource_type == "Condition",
                AuditEvent.patient_id == clinic["woman"].id,
                AuditEvent.action == "update",
            )
        )
    ).scalars()
    assert detail == f"diagnosis {d['id']} (severe_pre_eclampsia) resolved as resolved: seen"


async def test_a_nurse_records_contacts_but_does_not_resolve_diagnoses(
    client, clinic, make_user, login
):
    from tests.domains.maternal.test_standing import SEVERE as severe

    body = await clinic["contact"](0, **severe)
    pid = clinic["pid"]
    d = standing(body)["pre_eclampsia"]
    fac_code = (
        (await client.get("/api/v1/me", headers=clinic["doctor"])).json().get("facility_code")
    )
    nurse = await login(await make_user("nurse", facility_code=fac_code))
    etag = (await client.get(f"/api/v1/pregnancies/{pid}", headers=nurse)).headers["etag"]
    r = await client.post(
        f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve",
        json={"reason": "resolved", "note": "looks fine"},
        headers={**nurse, "If-Match": etag},
    )
    assert r.status_code == 403
    assert standing((await client.get(f"/api/v1/pregnancies/{pid}", headers=nurse)).json())


async def test_ids_beyond_64_bits_are_refused_not_a_server_error(client, clinic):
    huge = 2**64
    r = await client.post(
        f"/api/v1/pregnancies/{clinic['pid']}/diagnoses/{huge}/resolve",
        json={"reason": "resolved", "note": "x" * 5},
        headers={**clinic["doctor"], "If-Match": '"1"'},
    )
    assert r.status_code == 422, r.text
    r = await client.get(f"/api/v1/pregnancies/{huge}/diagnoses", headers=clinic["doctor"])
    assert r.status_code == 422, r.text


async def test_the_nightly_job_restores_what_the_history_gives(client, clinic, db):
    """A pregnancy evaluated before standing diagnoses existed (the rows gone, the risk
    fallen) is put right by the re-evaluation, as the migration does."""
    await clinic["contact"](14, **SEVERE)
    await clinic["contact"](0, **NORMAL)
    pid = clinic["pid"]
    await db.execute(Diagnosis.__table__.delete().where(Diagnosis.pregnancy_id == pid))
    await db.execute(
        update(Pregnancy).where(Pregnancy.id == pid).values(risk_level="low", care_level=1)
    )
    await db.commit()
    batch = await reevaluate_current(db)
    await db.commit()
    assert batch.updated >= 1
    p = await db.get(Pregnancy, pid)
    await db.refresh(p)
    assert (p.risk_level, p.care_level) == ("high", 3)
    fams = set(
        (await db.execute(select(Diagnosis.family).where(Diagnosis.pregnancy_id == pid))).scalars()
    )
    assert {"pre_eclampsia", "diabetes_in_pregnancy", "anaemia"} <= fams


async def test_the_migration_replays_a_history_stored_before_standing_diagnoses(client, clinic, db):
    """Migration 0012's data step (``backfill_standing``) on a pregnancy whose contacts were
    stored and evaluated by the old rules: the severe contact's diagnoses stand, the risk is
    raised (never lowered), and a second run stores nothing twice."""
    import sqlalchemy as sa

    from salomat.domains.maternal.service.migration_support import backfill_standing
    from tests.conftest import TEST_URL

    await clinic["contact"](14, **SEVERE)
    await clinic["contact"](0, **NORMAL)
    pid = clinic["pid"]
    await db.execute(Diagnosis.__table__.delete().where(Diagnosis.pregnancy_id == pid))
    await db.execute(
        update(Pregnancy).where(Pregnancy.id == pid).values(risk_level="low", care_level=1)
    )
    await db.commit()
    engine = sa.create_engine(TEST_URL.replace("+aiosqlite", ""))
    try:
        with engine.begin() as conn:
            assert backfill_standing(conn, only=[pid]) == (1, 3)
        with engine.begin() as conn:
            assert backfill_standing(conn, only=[pid]) == (0, 0)
    finally:
        engine.dispose()
    db.expire_all()
    p = await db.get(Pregnancy, pid)
    assert (p.risk_level, p.care_level) == ("high", 3)
    codes = dict(
        (
            await db.execute(
                select(Diagnosis.family, Diagnosis.code).where(Diagnosis.pregnancy_id == pid)
            )
        ).all()
    )
    assert codes == {
        "pre_eclampsia": "severe_pre_eclampsia",
        "diabetes_in_pregnancy": "diabetes_in_pregnancy",
        "anaemia": "severe_anaemia",
    }


def test_a_resolved_family_is_neither_raised_nor_escalated_by_the_contacts_before_it():
    """Pure ``standing.plan``: severe anaemia at contact 1, resolved after contact 2 was
    recorded; a milder anaemia at contact 3 raises a new row, and contact 1's severe
    finding does not escalate it."""
    from datetime import UTC, datetime

    from salomat.domains.maternal.service import rules, standing

    def finding(i: int, code: str) -> standing.Finding:
        a = rules.Advice("DT.25", code, {}, "", "routine", "")
        return standing.Finding(i, "anaemia", a)

    at = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    resolved = {"anaemia": datetime(2026, 1, 2, 12, tzinfo=UTC)}
    found = [finding(0, "severe_anaemia"), finding(1, "severe_anaemia"), finding(2, "anaemia")]
    (change,) = standing.plan(found, at, {}, resolved)
    assert (change.advice.code, change.first_index, change.existing) == ("anaemia", 2, None)

    class Row:
        code = "anaemia"

    # the next evaluation, with the new milder row standing: nothing to escalate
    assert standing.plan(found, at, {"anaemia": Row()}, resolved) == []


async def test_resolving_what_the_latest_contact_gave_lowers_the_risk_until_it_comes_back(
    client, clinic
):
    body = await clinic["contact"](0, **SEVERE)
    pid, doctor = clinic["pid"], clinic["doctor"]
    assert (body["risk_level"], body["care_level"]) == ("high", 3)
    for family in ("pre_eclampsia", "diabetes_in_pregnancy", "anaemia"):
        r = await client.get(f"/api/v1/pregnancies/{pid}", headers=doctor)
        d = standing(r.json())[family]
        res = await client.post(
            f"/api/v1/pregnancies/{pid}/diagnoses/{d['id']}/resolve",
            json={"reason": "entered_in_error", "note": "another woman's results"},
            headers={**doctor, "If-Match": r.headers["etag"]},
        )
        assert res.status_code == 200, res.text
    body = res.json()
    codes = {a["code"] for a in body["advice"]}
    assert not codes & {"severe_pre_eclampsia", "diabetes_in_pregnancy", "severe_anaemia"}
    assert (body["risk_level"], body["care_level"]) == ("low", 1)
    r = await clinic["contact"](0, **SEVERE)  # a new contact with the findings again
    assert {"pre_eclampsia", "diabetes_in_pregnancy", "anaemia"} <= set(standing(r))
    assert (r["risk_level"], r["care_level"]) == ("high", 3)


async def test_the_migration_keeps_what_the_earlier_rules_advised_for_a_clinician_to_judge(
    client, clinic, db
):
    """145/80 then 130/95 was "hypertension" under the rules before issue 12 (components
    mixed across readings). The replay gives nothing now; the migration keeps it standing,
    marked, so the risk does not fall until a clinician rules it out."""
    import sqlalchemy as sa

    from salomat.domains.maternal.models import AdviceItem
    from salomat.domains.maternal.service.migration_support import backfill_standing
    from tests.conftest import TEST_URL

    body = await clinic["contact"](
        0, systolic_1=145, diastolic_1=80, systolic_2=130, diastolic_2=95
    )
    assert "hypertension" not in {a["code"] for a in body["advice"]}
    pid, contact_id = clinic["pid"], body["contacts"][-1]["id"]
    old = AdviceItem(
        pregnancy_id=pid,
        person_id=clinic["woman"].id,
        contact_id=contact_id,
        rule_id="DT.17",
        code="hypertension",
        values={"systolic": [145, 130], "diastolic": [80, 95]},
        details={},
        action="Hypertension: counsel",
        urgency="routine",
        source="DAK",
        created_at=datetime.fromisoformat(
            body["contacts"][-1]["recorded_at"].replace("Z", "+00:00")
        ),
        active=True,
    )
    db.add(old)
    await db.execute(Diagnosis.__table__.delete().where(Diagnosis.pregnancy_id == pid))
    await db.execute(
        update(Pregnancy).where(Pregnancy.id == pid).values(risk_level="high", care_level=2)
    )
    await db.commit()
    engine = sa.create_engine(TEST_URL.replace("+aiosqlite", ""))
    try:
        with engine.begin() as conn:
            assert backfill_standing(conn, only=[pid]) == (0, 1)
    finally:
        engine.dispose()
    db.expire_all()
    (d,) = (await db.execute(select(Diagnosis).where(Diagnosis.pregnancy_id == pid))).scalars()
    assert (d.family, d.code, d.first_contact_id) == ("hypertension", "hypertension", contact_id)
    assert d.values["stored_by_earlier_rules"] is True
    p = await db.get(Pregnancy, pid)
    assert (p.risk_level, p.care_level) == ("high", 2)
