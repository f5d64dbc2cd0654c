"""A provider's monthly settlement: capitation + service lines (unflagged at the claimed
amount, decided at the approved amount, flagged only once decided) + approved pharmacy
claims, which the e-prescription domain pushes when a claim is submitted and reviewed.

Amounts by hand from KZ/insurance_services.csv (minor units, tiyn): EMERG-CALL
18 500.00 KZT = 1 850 000; DIALYSIS 41 200.00 KZT = 4 120 000.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

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
