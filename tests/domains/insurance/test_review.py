"""The reviewer's decisions on claim lines: accept, reduce (less than claimed, with a
reason), reject (with a reason); audited; a decided line is not decided again; the
queue of flagged lines by rule and facility."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from salomat.core.audit import AuditEvent
from salomat.core.errors import Conflict, Invalid, NotFound
from salomat.domains.insurance.models import ClaimLine
from salomat.domains.insurance.schemas.claims import DecisionIn
from salomat.domains.insurance.service import review
from tests.domains.insurance.claim_fixtures import line, register_death, submit

pytestmark = pytest.mark.anyio


async def _claim(db, make_provider, make_insuree, month):  # type: ignore[no-untyped-def]
    p = await make_provider()
    person = await make_insuree()
    out = await submit(
        db,
        p,
        [
            line(person, "EMERG-CALL", month + timedelta(days=1)),  # 18 500.00 KZT
            line(person, "DIALYSIS", month + timedelta(days=1)),  # 41 200.00 KZT
            line(person, "DIALYSIS", month + timedelta(days=2)),
        ],
    )
    return p, person, out


async def test_accept_reduce_and_reject(kz, db, make_provider, make_insuree, reviewer, fresh_month):
    _, person, out = await _claim(db, make_provider, make_insuree, fresh_month())
    a, r, x = (li.id for li in out.lines)
    accepted = await review.decide_line(db, reviewer, a, DecisionIn(decision="accept"))
    reduced = await review.decide_line(
        db, reviewer, r, DecisionIn(decision="reduce", amount_approved=30000, reason="one hour")
    )
    rejected = await review.decide_line(
        db, reviewer, x, DecisionIn(decision="reject", reason="not done")
    )
    await db.commit()
    assert (accepted.status, accepted.amount_approved) == (
        "accepted",
        18500 * 100,
    )  # EMERG-CALL: 18 500.00 KZT
    assert (reduced.status, reduced.amount_approved, reduced.decision_note) == (
        "reduced",
        30000,
        "one hour",
    )
    assert (rejected.status, rejected.amount_approved) == ("rejected", 0)
    assert accepted.decided_by == reviewer.username
    audited = (
        await db.execute(
            select(AuditEvent.resource_id).where(
                AuditEvent.patient_id == person.id,
                AuditEvent.action == "update",
                AuditEvent.username == reviewer.username,
            )
        )
    ).scalars()
    assert sorted(audited) == sorted(f"line-{i}" for i in (a, r, x))


async def test_a_decision_needs_its_reason_and_a_smaller_amount(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    _, _, out = await _claim(db, make_provider, make_insuree, fresh_month())
    line_id, claimed = out.lines[1].id, out.lines[1].amount_claimed
    cases = [
        (DecisionIn(decision="reject"), {"reason": "say why the line is reduced or rejected"}),
        (
            DecisionIn(decision="reduce", amount_approved=claimed, reason="x"),
            {"amount_approved": f"must be less than the amount claimed ({claimed / 100:.2f})"},
        ),
        (
            DecisionIn(decision="reduce"),
            {
                "reason": "say why the line is reduced or rejected",
                "amount_approved": "give the amount approved",
            },
        ),
        (
            DecisionIn(decision="accept", amount_approved=5),
            {"amount_approved": "is given only when a line is reduced"},
        ),
    ]
    for data, expected in cases:
        with pytest.raises(Invalid) as e:
            await review.decide_line(db, reviewer, line_id, data)
        assert {err.field: err.english for err in e.value.errors} == expected
        await db.rollback()


async def test_a_decided_line_is_not_decided_again(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    _, _, out = await _claim(db, make_provider, make_insuree, fresh_month())
    line_id = out.lines[0].id
    await review.decide_line(db, reviewer, line_id, DecisionIn(decision="accept"))
    await db.commit()
    with pytest.raises(Conflict) as e:
        await review.decide_line(db, reviewer, line_id, DecisionIn(decision="reject", reason="x"))
    assert e.value.status == 409
    assert "accepted" in str(e.value)
    await db.rollback()


async def test_a_provider_cannot_read_another_providers_line(
    kz, db, make_provider, make_insuree, fresh_month
):
    _, _, out = await _claim(db, make_provider, make_insuree, fresh_month())
    other = await make_provider()
    with pytest.raises(NotFound):
        await review.get_line(db, other.principal, out.lines[0].id)
    await db.rollback()


async def test_the_queue_by_rule_and_facility(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    month = fresh_month()
    a, b = await make_provider(), await make_provider()
    dead, man = await make_insuree(), await make_insuree(sex="male")
    await register_death(db, dead, month)
    late = await submit(db, a, [line(dead, "EMERG-CALL", month + timedelta(days=3))])
    gyn = await submit(db, b, [line(man, "MAMMO-SCREEN", month + timedelta(days=3))])
    q = await review.review_queue(db, reviewer, month=month)
    assert [li.id for li in q] == [late.lines[0].id, gyn.lines[0].id]
    q = await review.review_queue(db, reviewer, month=month, rule="after_death")
    assert [li.id for li in q] == [late.lines[0].id]
    q = await review.review_queue(db, reviewer, month=month, facility_id=b.facility.id)
    assert [li.id for li in q] == [gyn.lines[0].id]
    assert q[0].flags[0].rule == "sex_age"
    with pytest.raises(Invalid):
        await review.review_queue(db, reviewer, rule="nonsense")
    await db.rollback()


async def test_the_queue_by_rule_reads_only_the_lines_it_shows(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    """The rule is chosen in SQL: of a month's flagged lines, only those carrying the rule
    are read from the database (none of the others is loaded into the session)."""
    month = fresh_month()
    p = await make_provider()
    person, dead = await make_insuree(), await make_insuree()
    await register_death(db, dead, month + timedelta(days=1))
    day = month + timedelta(days=5)
    out = await submit(
        db,
        p,
        [
            line(dead, "EMERG-CALL", day),  # after_death
            line(person, "DIALYSIS", day),
            line(person, "DIALYSIS", day),  # duplicate
            line(person, "EMERG-CALL", day),
            line(person, "EMERG-CALL", day),  # duplicate
        ],
    )
    after_death, _, dup1, _, dup2 = (li.id for li in out.lines)
    db.expunge_all()
    loaded: list[int] = []

    def read(target: ClaimLine, context: object) -> None:
        loaded.append(target.id)

    event.listen(ClaimLine, "load", read)
    try:
        queue = await review.review_queue(db, reviewer, rule="duplicate", month=month)
    finally:
        event.remove(ClaimLine, "load", read)
    assert [li.id for li in queue] == [dup1, dup2]
    assert sorted(loaded) == [dup1, dup2]
    first = await review.review_queue(db, reviewer, rule="duplicate", month=month, limit=1)
    assert [li.id for li in first] == [dup1]
    dead_only = await review.review_queue(db, reviewer, rule="after_death", month=month)
    assert [li.id for li in dead_only] == [after_death]
    assert await review.review_queue(db, reviewer, rule="sex_age", month=month) == []
