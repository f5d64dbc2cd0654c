"""The antenatal worklist as a batch: the per-woman answer, in a bounded number of statements.

At a national scale a facility lists hundreds of pregnancies; reading each
one's contacts and scope one by one took over a thousand statements. These
tests pin the batch to what the per-woman path gives (rows, reasons and the
audit rows' reasons, break-the-glass included) and count its statements.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from salomat.core.audit import AuditEvent
from salomat.core.db import get_engine
from salomat.core.policy import person_scope
from salomat.core.security import Principal
from salomat.domains.maternal import service as maternal
from salomat.domains.maternal.service import pregnancy as preg
from salomat.domains.maternal.service import rules
from tests.domains.maternal.test_referrals import facility
from tests.domains.maternal.test_worklists import register

pytestmark = pytest.mark.anyio

TODAY = date.today()


def _principal(account: Any, fac: Any) -> Principal:
    return Principal(
        user_id=account.id,
        username=account.username,
        role=account.role,
        session_id="t",
        facility_id=fac.id,
        facility_code=fac.code,
    )


async def _move(db, person_id: int, facility_id: int) -> None:
    from salomat.domains.registry.models import Person

    await db.execute(
        update(Person).where(Person.id == person_id).values(attached_facility_id=facility_id)
    )
    await db.commit()


async def _contact(client, headers, pregnancy_id: int, on: date) -> None:
    etag = (await client.get(f"/api/v1/pregnancies/{pregnancy_id}", headers=headers)).headers[
        "etag"
    ]
    r = await client.post(
        f"/api/v1/pregnancies/{pregnancy_id}/contacts",
        json={"on": on.isoformat(), "systolic_1": 118, "diastolic_1": 76},
        headers={**headers, "If-Match": etag},
    )
    assert r.status_code == 201, r.text


async def _expected(db, listed_ids: list[int]) -> list[dict[str, Any]]:
    """Each listed pregnancy's row as the per-woman path builds it (its contacts read alone)."""
    from salomat.domains.maternal.models import Pregnancy

    out = []
    for pid in listed_ids:
        p = await db.get(Pregnancy, pid)
        contacts = await preg._contacts(db, pid)
        facts = preg._facts(p, contacts, TODAY)
        due = {
            f"contact_{d.status}"
            for d in rules.schedule(facts, preg._country())
            if d.status in ("due", "overdue")
        }
        out.append({"pregnancy_id": pid, "person_id": p.person_id, "due": due})
    return out


async def test_the_batch_lists_and_audits_each_woman_as_her_own_scope_says(
    client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    other = await facility(db, "family_polyclinic", place.settlement)
    doctor_account = await make_user("family_doctor", facility_code=poly.code)
    doctor = await login(doctor_account)
    nurse_account = await make_user("nurse", facility_code=poly.code)
    nurse = await login(nurse_account)
    their_doctor = await login(await make_user("family_doctor", facility_code=other.code))

    # attached and registered here, seen twice
    here = await make_person(facility_code=poly.code)
    p_here = await register(client, here, doctor, 30)
    await _contact(client, doctor, p_here["id"], TODAY - timedelta(days=40))
    await _contact(client, doctor, p_here["id"], TODAY - timedelta(days=10))
    # attached elsewhere, in care here, registered there and seen here once
    in_care = await make_person(facility_code=other.code)
    from salomat.domains.registry import service as registry

    await registry.open_care_relationship(db, in_care.id, poly.id, kind="referral", source="t")
    await db.commit()
    p_care = await register(client, in_care, their_doctor, 37)
    await _contact(client, doctor, p_care["id"], TODAY - timedelta(days=3))
    # registered elsewhere, attached here since
    moved_in = await make_person(facility_code=other.code)
    p_in = await register(client, moved_in, their_doctor, 37)
    await _move(db, moved_in.id, poly.id)
    # registered here, gone elsewhere: out of scope...
    gone = await make_person(facility_code=poly.code)
    await register(client, gone, doctor, 37)
    await _move(db, gone.id, other.id)
    # ...unless the nurse broke the glass for her
    glass = await make_person(facility_code=poly.code)
    p_glass = await register(client, glass, doctor, 37)
    await _move(db, glass.id, other.id)
    r = await client.post(
        "/api/v1/break-glass",
        json={"person_id": glass.id, "reason": "she came in bleeding, record needed"},
        headers=nurse,
    )
    assert r.status_code == 201, r.text
    grant = r.json()["id"]

    resp = await client.get("/api/v1/worklists/antenatal", headers=nurse)
    assert resp.status_code == 200, resp.text
    rows = resp.json()
    listed = {row["person_id"]: row for row in rows}
    assert set(listed) == {here.id, in_care.id, moved_in.id, glass.id}
    # earliest EDD first
    assert [(r["edd"], r["pregnancy_id"]) for r in rows] == sorted(
        (r["edd"], r["pregnancy_id"]) for r in rows
    )
    assert {p_here["id"], p_care["id"], p_in["id"], p_glass["id"]} == {
        row["pregnancy_id"] for row in rows
    }
    # each row's contact reasons are those of her own contacts, read alone
    principal = _principal(nurse_account, poly)
    for want in await _expected(db, [row["pregnancy_id"] for row in rows]):
        got = {x["code"] for x in listed[want["person_id"]]["reasons"]}
        assert got & {"contact_due", "contact_overdue"} == want["due"]

    # the audit rows: one per woman shown, with the reason person_scope gives her
    audit = (
        await db.execute(
            select(AuditEvent.patient_id, AuditEvent.purpose, AuditEvent.break_glass_grant_id)
            .where(
                AuditEvent.username == nurse_account.username,
                AuditEvent.resource_type == preg.RESOURCE,
                AuditEvent.action == "search",
            )
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [a.patient_id for a in audit] == [row["person_id"] for row in rows]
    for a in audit:
        scope = await person_scope(db, principal, a.patient_id)
        assert scope is not None
        assert a.purpose == scope.reason
        assert a.break_glass_grant_id == scope.break_glass_grant
    reasons = {a.patient_id: a.purpose for a in audit}
    assert reasons[here.id] == reasons[moved_in.id] == "attached to the user's facility"
    assert reasons[in_care.id] == "open care relationship (referral)"
    assert reasons[glass.id].startswith("break-the-glass")
    assert {a.patient_id: a.break_glass_grant_id for a in audit}[glass.id] == grant


async def test_a_worklist_of_30_pregnancies_takes_a_bounded_number_of_statements(
    client, db, make_place, make_person, make_user, login
):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    nurse_account = await make_user("nurse", facility_code=poly.code)
    women = [await make_person(facility_code=poly.code) for _ in range(30)]
    for i, woman in enumerate(women):
        p = await register(client, woman, doctor, 36 + i % 4)
        if i % 3 == 0:
            await _contact(client, doctor, p["id"], TODAY - timedelta(days=5 + i))

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        rows = await maternal.antenatal_worklist(db, _principal(nurse_account, poly))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    await db.rollback()
    # no birth place planned at 36 weeks or more: every one of them is listed
    assert {r.person_id for r in rows} == {w.id for w in women}
    # pregnancies, scopes, referrals, contacts, the audit rows: not one statement per woman
    assert len(statements) <= 10, statements
