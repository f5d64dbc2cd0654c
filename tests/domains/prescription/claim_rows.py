"""Prescriptions and dispensings inserted as rows, with ``MedicineDispensed`` published.

The claims tests do not depend on the prescribing and dispensing services:
they arrange the rows those services would store and publish the event the
dispensing service publishes, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import events
from salomat.domains.prescription.models import Dispensing, Medicine, Prescription
from salomat.domains.prescription.service import MedicineDispensed
from tests.factories import unique

NOW = datetime.now(UTC)


def last_month(day: int = 10, hour: int = 6) -> datetime:
    """A moment in the previous calendar month (06:00 UTC: the same day in Tashkent)."""
    first = NOW.date().replace(day=1)
    prev = (first - timedelta(days=1)).replace(day=day)
    return datetime(prev.year, prev.month, prev.day, hour, tzinfo=UTC)


@dataclass
class Rx:
    prescription: Prescription
    medicine: Medicine


async def make_medicine(db: AsyncSession, inn: str | None = None) -> Medicine:
    m = Medicine(
        code=unique("M"),
        inn=inn or unique("inn-"),
        atc="C09AA05",
        trade_name=unique("Ramipril-"),
        form="tablet",
        strength="5 mg",
        unit="tablet",
        units_per_package=30,
        reference_price=30000,
        active=True,
        updated_at=NOW,
    )
    db.add(m)
    await db.flush()
    return m


async def make_rx(
    db: AsyncSession,
    person_id: int,
    facility_id: int,
    *,
    medicine: Medicine | None = None,
    issued_on: date | None = None,
    valid_until: date | None = None,
    prescriber: str = "doctor-a",
    reimbursed: bool = True,
    quantity: int = 60,
    status: str = "active",
) -> Rx:
    m = medicine or await make_medicine(db)
    issued = issued_on or last_month(day=1).date()
    p = Prescription(
        code=unique("RX").upper(),
        person_id=person_id,
        inn=m.inn,
        medicine_id=m.id,
        diagnosis="I10" if reimbursed else None,
        reimbursed=reimbursed,
        reimbursement_pct=100 if reimbursed else 0,
        kind="reimbursed" if reimbursed else "regular",
        dose_units=1,
        times_per_day=1,
        days=quantity,
        quantity_units=quantity,
        dispensed_units=0,
        status=status,
        issued_on=issued,
        valid_until=valid_until or issued + timedelta(days=60),
        facility_id=facility_id,
        prescriber_username=prescriber,
        source="local",
        created_at=NOW,
        updated_at=NOW,
    )
    db.add(p)
    await db.flush()
    return Rx(p, m)


async def dispense(
    db: AsyncSession,
    rx: Rx,
    pharmacy_id: int,
    *,
    at: datetime | None = None,
    units: int = 30,
    amount: int = 25000,
    commit: bool = True,
) -> Dispensing:
    """A dispensing row and its event, as the dispensing service stores and publishes them."""
    p = rx.prescription
    d = Dispensing(
        prescription_id=p.id,
        person_id=p.person_id,
        facility_id=pharmacy_id,
        pharmacist_username="pharmacist-x",
        medicine_id=rx.medicine.id,
        units=units,
        packages=units / rx.medicine.units_per_package,
        price=amount + 5000,
        reimbursed_amount=amount,
        copayment=5000,
        dispensed_at=at or last_month(),
    )
    db.add(d)
    await db.execute(
        update(Prescription)
        .where(Prescription.id == p.id)
        .values(dispensed_units=Prescription.dispensed_units + units)
        .execution_options(synchronize_session=False)
    )
    await db.flush()
    await events.publish(
        db,
        MedicineDispensed(
            dispensing_id=d.id,
            prescription_id=p.id,
            person_id=p.person_id,
            facility_id=pharmacy_id,
            amount=amount,
            dispensed_at=d.dispensed_at,
        ),
    )
    if commit:
        await db.commit()
    return d


def flags_of(line: Any) -> list[str]:
    return [f["rule"] for f in line["flags"]]
