"""Providers' claims (issue 17, slice C): lines at the pack's tariffs, refusals naming the
line and field with nothing stored, the sender's number making a resend harmless, a
provider seeing its own facility's claims only, reads audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.core.errors import Invalid, NotFound
from salomat.domains.insurance.models import ClaimLine, ServiceClaim
from salomat.domains.insurance.schemas.claims import ClaimIn
from salomat.domains.insurance.service import claims
from tests.domains.insurance.claim_fixtures import (
    line,
    pay,
    submit,
)

pytestmark = pytest.mark.anyio


async def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    return int(await db.scalar(select(func.count()).select_from(model)))


async def test_lines_are_priced_at_the_pack_tariff_times_quantity(
    kz, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree(date(1950, 1, 1), "male")
    await pay(db, person, month)  # insured: the insurance package's lines stay unflagged
    out = await submit(
        db,
        p,
        [
            # KZ insurance_services.csv: CONS-CARDIO 4800.00 KZT, MRI-BRAIN 38000.00 KZT
            line(person, "CONS-CARDIO", month + timedelta(days=2), quantity=2, encounter_ref="E-1"),
            line(person, "MRI-BRAIN", month + timedelta(days=3)),
        ],
        external_id="K-1",
    )
    assert out.created is True
    assert out.month == month
    amounts = [(li.service_code, li.amount_claimed, li.package) for li in out.lines]
    assert amounts == [("CONS-CARDIO", 960000, "insurance"), ("MRI-BRAIN", 3800000, "insurance")]
    assert out.amount_claimed == 4760000
    assert out.lines[0].encounter_ref == "E-1"
    assert out.lines[0].national_id == person.national_id
    assert all(li.status == "entered" for li in out.lines)


async def test_the_same_external_id_returns_the_stored_claim(
    kz, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree()
    first = await submit(db, p, [line(person, "LAB-CBC", month)], external_id="same-1")
    lines_before = await _count(db, ClaimLine)
    again = await submit(db, p, [line(person, "LAB-CBC", month)], external_id="same-1")
    assert again.id == first.id
    assert again.created is False
    assert await _count(db, ClaimLine) == lines_before
    # another provider may use the same number for its own claim
    other = await make_provider()
    theirs = await submit(db, other, [line(person, "LAB-CBC", month)], external_id="same-1")
    assert theirs.id != first.id


async def test_bad_lines_are_named_and_nothing_is_stored(
    kz, db, make_provider, make_insuree, fresh_month
):
    month = fresh_month()
    p = await make_provider()
    person = await make_insuree(date(1950, 3, 15))
    claims_before, lines_before = await _count(db, ServiceClaim), await _count(db, ClaimLine)
    data = ClaimIn.model_validate(
        {
            "external_id": "bad-1",
            "lines": [
                line(person, "LAB-CBC", month),  # good
                line(person, "NOT-A-SERVICE", month),
                {"national_id": "000000000000", "service_code": "LAB-CBC", "service_on": month},
                # tomorrow where the service counts days (the pack's zone, not the server's)
                line(person, "LAB-CBC", claims.local_today() + timedelta(days=1)),
                line(person, "LAB-CBC", date(1950, 3, 14)),  # the day before birth
                line(person, "LAB-CBC", month + timedelta(days=40)),  # another month
            ],
        }
    )
    with pytest.raises(Invalid) as e:
        await claims.submit_claim(db, p.principal, data)
    await db.rollback()
    fields = {err.field: err.english for err in e.value.errors}
    assert fields == {
        "lines.1.service_code": "NOT-A-SERVICE is not a service of any benefit package",
        "lines.2.national_id": "no person is registered with this national id",
        "lines.3.service_on": "is in the future",
        "lines.4.service_on": "is before the person's birth",
        "lines.5.service_on": (
            f"is not in the claim's month ({month:%m.%Y}): one claim covers one month"
        ),
    }
    assert await _count(db, ServiceClaim) == claims_before
    assert await _count(db, ClaimLine) == lines_before


async def test_the_day_of_birth_is_accepted(kz, db, make_provider, make_insuree):
    p = await make_provider()
    born = date.today().replace(day=1) - timedelta(days=40)
    baby = await make_insuree(born, "male")
    out = await submit(db, p, [line(baby, "EMERG-CALL", born)])
    assert out.lines[0].service_on == born
    assert out.lines[0].package == "guaranteed"


async def test_a_provider_sees_only_its_own_claims_and_reads_are_audited(
    kz, db, make_provider, make_insuree, reviewer, fresh_month
):
    from salomat.core.audit import AuditEvent

    month = fresh_month()
    mine, other = await make_provider(), await make_provider()
    person = await make_insuree()
    c = await submit(db, mine, [line(person, "LAB-CBC", month)])
    with pytest.raises(NotFound):
        await claims.get_claim(db, other.principal, c.id)
    await db.rollback()
    assert [x.id for x in await claims.list_claims(db, other.principal, month=month)] == []
    assert [x.id for x in await claims.list_claims(db, mine.principal, month=month)] == [c.id]
    seen = await claims.get_claim(db, reviewer, c.id)
    await db.commit()
    assert seen.lines[0].person_id == person.id
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.username).where(
                AuditEvent.patient_id == person.id, AuditEvent.resource_type == "Claim"
            )
        )
    ).all()
    assert ("create", mine.principal.username) in rows
    assert ("read", reviewer.username) in rows
