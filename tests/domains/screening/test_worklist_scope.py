"""The DMP worklists decide who may be listed set-wise (``policy.person_scopes``): the same
people as asking ``person_scope`` one by one (attached here, in care here, a live
break-the-glass grant; nobody else), and a number of SQL statements that does not grow
with the number of people on the list."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, update

from salomat.core.db import utcnow
from salomat.core.policy import person_scope, person_scopes
from salomat.core.security import Principal
from salomat.domains.screening import service
from salomat.domains.screening.schemas import EnrolmentIn

pytestmark = pytest.mark.anyio

DAY = date(2025, 6, 30)


async def _enrol_many(scr, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """``n`` patients attached here, enrolled in hypertension in January (overdue by June)."""
    ids = []
    for _ in range(n):
        p = await scr.make_patient()
        await service.enrol(
            scr.db, scr.principal(), p.id,
            EnrolmentIn(programme="hypertension", diagnosis_code="I10",
                        enrolled_on=date(2025, 1, 1), next_visit_due=date(2025, 2, 1)),
        )  # fmt: skip
        ids.append(p.id)
    await scr.db.commit()
    return ids


async def _move_away(scr, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """The patients leave for the other polyclinic; their enrolments stay here."""
    from salomat.domains.registry.models import Person

    await scr.db.execute(
        update(Person).where(Person.id.in_(ids)).values(attached_facility_id=scr.other.id)
    )
    await scr.db.commit()


def _count_statements(db):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def hook(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = db.bind.sync_engine
    event.listen(engine, "before_cursor_execute", hook)
    return seen, lambda: event.remove(engine, "before_cursor_execute", hook)


async def _listed(scr, who: str = "doctor") -> set[int]:  # type: ignore[no-untyped-def]
    w = await service.dmp_worklist(scr.db, scr.principal(who), "overdue", DAY)
    await scr.db.commit()
    return {r.person_id for r in w.patients}


async def test_the_same_people_as_person_scope_one_by_one(scr, kz, today):
    from salomat.domains.accounts.models import BreakGlassGrant
    from salomat.domains.registry.models import CareRelationship

    today(date(2025, 9, 1))
    stay = await _enrol_many(scr, 3)
    gone = await _enrol_many(scr, 4)  # moved away, nothing holds them here
    in_care = await _enrol_many(scr, 2)  # moved away, an open referral here
    granted = await _enrol_many(scr, 1)  # moved away, the doctor's break-the-glass grant
    expired = await _enrol_many(scr, 1)  # moved away, a grant that has run out
    await _move_away(scr, gone + in_care + granted + expired)
    now = utcnow()
    for pid in in_care:
        scr.db.add(
            CareRelationship(
                person_id=pid, facility_id=scr.polyclinic.id, kind="referral", opened_at=now
            )
        )
    for pid, until in ((granted[0], now + timedelta(hours=1)), (expired[0], now)):
        scr.db.add(
            BreakGlassGrant(
                user_id=scr.doctor_account.id, person_id=pid, facility_id=scr.polyclinic.id,
                reason="emergency", created_at=now - timedelta(hours=1), expires_at=until,
            )
        )  # fmt: skip
    await scr.db.commit()
    everyone = stay + gone + in_care + granted + expired

    # the reference: the rule asked person by person, as the worklist did before
    doctor = scr.principal()
    one_by_one = {pid: await person_scope(scr.db, doctor, pid) for pid in everyone}
    expected = {pid for pid, s in one_by_one.items() if s is not None}
    assert expected == set(stay + in_care + granted)
    assert await _listed(scr) == expected
    # and with the same reasons, the grant kept as a grant
    assert await person_scopes(scr.db, doctor, everyone) == {
        pid: s for pid, s in one_by_one.items() if s is not None
    }
    assert (await person_scopes(scr.db, doctor, granted))[granted[0]].break_glass_grant

    # the nurse of the facility: the same people less the doctor's own grant
    assert await _listed(scr, "nurse") == set(stay + in_care)
    # the other polyclinic's doctor: nobody (the enrolments are this facility's)
    assert await _listed(scr, "other") == set()
    # an empty list asks nothing and grants nothing
    assert await person_scopes(scr.db, doctor, []) == {}


async def test_a_role_without_the_worklist_is_refused(client, login, scr, make_user):
    analyst = await make_user("analyst")
    auth = await login(analyst)
    r = await client.get("/api/v1/screening/worklists/overdue", headers=auth)
    assert r.status_code == 403
    r = await client.get("/api/v1/screening/worklists/invitations", headers=auth)
    assert r.status_code == 403


async def _statements_for(scr, n: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(people listed, statements run) for an overdue list of ``n`` patients, half of
    whom moved away (the ones the old code asked about one by one)."""
    ids = await _enrol_many(scr, n)
    await _move_away(scr, ids[n // 2 :])
    seen, stop = _count_statements(scr.db)
    try:
        listed = await _listed(scr)
    finally:
        stop()
    return len(listed & set(ids)), len(seen)


async def test_statements_do_not_grow_with_the_list(scr, kz, today):
    today(date(2025, 9, 1))
    small_listed, small = await _statements_for(scr, 10)
    assert small_listed == 5
    # 100 more on the same facility's list (the first 10 stay on it: 110 in all)
    big_listed, big = await _statements_for(scr, 100)
    assert big_listed == 50
    assert big == small, (small, big)


async def test_a_citizen_holds_only_herself(scr):
    p = await scr.make_patient()
    me = Principal(user_id=1, username="c", role="citizen", session_id="t", person_id=p.id)
    assert set(await person_scopes(scr.db, me, [p.id, p.id + 1])) == {p.id}
    stranger = Principal(user_id=1, username="c", role="citizen", session_id="t")
    assert await person_scopes(scr.db, stranger, [p.id]) == {}
