"""A provider's monthly settlement: capitation + service lines (unflagged at the claimed
amount, decided at the approved amount, flagged only once decided) + approved pharmacy
claims, which the e-prescription domain pushes when a claim is submitted and reviewed.

Amounts by hand from KZ/insurance_services.csv (minor units, tiyn): EMERG-CALL
18 500.00 KZT = 1 850 000; DIALYSIS 41 200.00 KZT = 4 120 000.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

import pytest

from salomat.core.errors import InvalidState
from salomat.core.security import Principal
from salomat.domains.insurance.schemas.claims import DecisionIn
from salomat.domains.insurance.service import review, settlement
from tests.domains.insurance.claim_fixtures import line, register_death, submit

pytestmark = pytest.mark.anyio


def _source_id() -> int:
    """A pharmacy claim id no prescription test makes (they count from 1)."""
    return 10**12 + secrets.randbelow(10**9)


async def test_a_settlement_adds_capitation_services_and_pharmacy(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person, dead = await make_insuree(), await make_insuree()
    await register_death(db, dead, month + timedelta(days=1))
    d = [month + timedelta(days=i) for i in range(6)]
    out = await submit(
        db,
        p,
        [
            line(person, "EMERG-CALL", d[1]),  # left entered: 1 850 000
            line(person, "DIALYSIS", d[1]),  # accepted: 4 120 000
            line(person, "DIALYSIS", d[2]),  # reduced to 3 000 000
            line(person, "EMERG-CALL", d[3]),  # rejected: 0
            line(dead, "EMERG-CALL", d[4]),  # after death: flagged, waits
        ],
    )
    ids = [li.id for li in out.lines]
    assert out.lines[4].status == "flagged"
    await review.decide_line(db, reviewer, ids[1], DecisionIn(decision="accept"))
    await review.decide_line(
        db, reviewer, ids[2], DecisionIn(decision="reduce", amount_approved=3_000_000, reason="x")
    )
    await review.decide_line(db, reviewer, ids[3], DecisionIn(decision="reject", reason="y"))
    await settlement.record_pharmacy_claim(
        db, _source_id(), p.facility.id, month, "submitted", 500_000, 400_000
    )
    # still open at the pharmacy: not the fund's yet
    await settlement.record_pharmacy_claim(db, _source_id(), p.facility.id, month, "open", 999, 999)
    await db.commit()

    s = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()
    # nobody was attached on the first day of a month long past (they were registered today)
    assert (s.capitation, s.services, s.pharmacy) == (0, 8_970_000, 400_000)
    assert s.total == 9_370_000
    assert s.pending_lines == 1

    await review.decide_line(db, reviewer, ids[4], DecisionIn(decision="accept"))
    again = await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.commit()
    assert again.id == s.id
    assert (again.services, again.total, again.pending_lines) == (10_820_000, 11_220_000, 0)

    csv = await settlement.settlement_csv(db, reviewer, s.id)
    rows = csv.text.splitlines()
    assert rows[0] == "part,group,people,coefficient,amount"
    assert rows[-4:] == [
        "capitation,,0,,0.00",
        "services,,,,108200.00",
        "pharmacy,,,,4000.00",
        "total,,,,112200.00",
    ]
    assert csv.filename == f"settlement-{p.facility.code}-{month:%Y-%m}.csv"

    closed = await settlement.close_settlement(db, reviewer, s.id)
    await db.commit()
    assert closed.status == "closed"
    with pytest.raises(InvalidState):
        await settlement.compute_settlement(db, reviewer, p.facility.id, month)
    await db.rollback()

    # the provider reads its own settlement, another provider nothing
    mine = await settlement.list_settlements(db, p.principal, month=month)
    assert [x.id for x in mine] == [s.id]
    other = await make_provider()
    assert await settlement.list_settlements(db, other.principal, month=month) == []


async def test_a_pharmacy_claim_joins_the_settlement_when_submitted_and_reviewed(
    db, make_facility, make_person, reviewer
):
    """Through the prescription domain's own claim: two dispensings of 250.00 each at a
    pharmacy last month; submitted, the fund pays both as things stand (no rule flagged
    them); one rejected by the fund's analyst leaves 250.00."""
    from salomat.domains.prescription import service as prescription
    from salomat.domains.prescription.schemas import ClaimReviewIn
    from tests.domains.prescription.claim_rows import dispense, last_month, make_rx

    clinic = await make_facility()
    pharmacy = await make_facility("pharmacy")
    person = await make_person()
    rx = await make_rx(db, person.id, clinic.id)
    d1 = await dispense(db, rx, pharmacy.id, amount=25_000)
    await dispense(db, rx, pharmacy.id, amount=25_000, at=last_month(day=12))
    month = last_month().date().replace(day=1)
    pharmacist = Principal(
        user_id=0, username="ph", role="pharmacist", session_id="t", facility_id=pharmacy.id
    )
    claims = await prescription.list_claims(db, pharmacist)
    claim_id = claims[0].id
    await prescription.submit_claim(db, pharmacist, claim_id)
    await db.commit()
    s = await settlement.compute_settlement(db, reviewer, pharmacy.id, month)
    await db.commit()
    assert (s.pharmacy, s.services, s.capitation) == (50_000, 0, 0)

    lines = (await prescription.get_claim(db, reviewer, claim_id)).lines
    first = next(li for li in lines if li.dispensing_id == d1.id)
    await prescription.review_claim_line(
        db, reviewer, first.id, ClaimReviewIn(decision="reject", note="no stamp")
    )
    await db.commit()
    s = await settlement.compute_settlement(db, reviewer, pharmacy.id, month)
    await db.commit()
    assert s.pharmacy == 25_000


async def test_every_provider_of_a_month_is_settled(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    month = fresh_month()
    a, b = await make_provider(), await make_provider()
    person = await make_insuree()
    await submit(db, a, [line(person, "EMERG-CALL", month)])
    await submit(db, b, [line(person, "DIALYSIS", month + timedelta(days=1))])
    out = await settlement.compute_settlements(db, reviewer, month)
    await db.commit()
    by_facility = {s.facility_id: s.total for s in out}
    assert by_facility[a.facility.id] == 1_850_000
    assert by_facility[b.facility.id] == 4_120_000
    assert date(month.year, month.month, 1) == out[0].month


async def test_lines_the_outlier_batch_flags_after_submission_wait_in_the_settlement(
    db, make_facility, make_person, reviewer
):
    """A pharmacy's claim submitted with two lines of 250.00 no rule had flagged: the fund
    would pay 500.00. The monthly outlier batch then flags the busy prescriber's line
    (10 reimbursed prescriptions against peers' 2 and 3, as in the prescription tests):
    the settlement pays 250.00 until the fund's analyst decides that line."""
    from salomat.domains.prescription import service as prescription
    from salomat.domains.prescription.schemas import ClaimReviewIn
    from tests.domains.prescription.claim_rows import dispense, make_medicine, make_rx

    month = date(2003, 8, 1)  # a month of its own (the batch compares a month's prescribers)
    clinic = await make_facility("sanatorium")
    pharmacy = await make_facility("pharmacy")
    person = await make_person()
    m = await make_medicine(db)
    rxs: dict[str, list[object]] = {}
    for who, n in {"peer-a": 2, "peer-b": 3, "busy": 10}.items():
        rxs[who] = [
            await make_rx(
                db,
                person.id,
                clinic.id,
                medicine=m,
                prescriber=who,
                issued_on=month,
                quantity=5,
                status="expired",
            )
            for _ in range(n)
        ]
    at = datetime(2003, 8, 20, 6, tzinfo=UTC)
    busy = await dispense(db, rxs["busy"][0], pharmacy.id, at=at, units=5, amount=25_000)
    await dispense(db, rxs["peer-a"][0], pharmacy.id, at=at, units=5, amount=25_000)
    pharmacist = Principal(
        user_id=0, username="ph", role="pharmacist", session_id="t", facility_id=pharmacy.id
    )
    (claim,) = await prescription.list_claims(db, pharmacist)
    await prescription.submit_claim(db, pharmacist, claim.id)
    await db.commit()
    s = await settlement.compute_settlement(db, reviewer, pharmacy.id, month)
    await db.commit()
    assert s.pharmacy == 50_000

    assert await prescription.flag_outliers(db, month) == 1
    await db.commit()
    s = await settlement.compute_settlement(db, reviewer, pharmacy.id, month)
    await db.commit()
    assert s.pharmacy == 25_000  # the flagged line waits for the fund's decision

    lines = (await prescription.get_claim(db, reviewer, claim.id)).lines
    flagged = next(li for li in lines if li.dispensing_id == busy.id)
    await prescription.review_claim_line(
        db, reviewer, flagged.id, ClaimReviewIn(decision="approve")
    )
    await db.commit()
    s = await settlement.compute_settlement(db, reviewer, pharmacy.id, month)
    await db.commit()
    assert s.pharmacy == 50_000


async def test_a_month_is_settled_in_statements_that_do_not_grow_with_providers(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    """Every provider's settlement of a month in the same number of statements for two
    providers as for six (set-wise: the amounts grouped by facility, the rows written
    together), each provider paid its own line."""
    from sqlalchemy import event

    engine = db.bind.sync_engine if hasattr(db.bind, "sync_engine") else db.bind
    person = await make_insuree()

    async def settle(n: int) -> tuple[int, dict[int, int]]:
        month = fresh_month()
        providers = [await make_provider() for _ in range(n)]
        for i, p in enumerate(providers):
            await submit(db, p, [line(person, "EMERG-CALL", month + timedelta(days=i))])
        statements: list[str] = []

        def count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            out = await settlement.compute_settlements(db, reviewer, month)
            await db.commit()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        mine = {p.facility.id for p in providers}
        return len(statements), {s.facility_id: s.total for s in out if s.facility_id in mine}

    two, paid_two = await settle(2)
    six, paid_six = await settle(6)
    assert list(paid_two.values()) == [1_850_000] * 2
    assert list(paid_six.values()) == [1_850_000] * 6
    assert six == two, (two, six)
