"""Prescriptions to dispense, arranged as ORM rows (independent of the prescribing rules).

Shared by the dispensing, FHIR MedicationDispense, race and pharmacy-page tests.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.db import utcnow
from salomat.domains.prescription.models import Medicine, Prescription
from tests.factories import national_id_for, unique

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
BIRTH = date(1961, 3, 9)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(10))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def make_medicine(
    db: AsyncSession,
    *,
    inn: str,
    form: str = "tablet",
    strength: str = "5 mg",
    units_per_package: int = 30,
    reference_price: int = 30_000,
    trade_name: str | None = None,
    active: bool = True,
) -> Medicine:
    m = Medicine(
        code=unique("MD"),
        inn=inn,
        atc="C08CA01",
        trade_name=trade_name or unique("Trade "),
        form=form,
        strength=strength,
        unit="tablet",
        units_per_package=units_per_package,
        reference_price=reference_price,
        active=active,
        updated_at=utcnow(),
    )
    db.add(m)
    await db.commit()
    return m


async def make_rx(
    db: AsyncSession,
    *,
    person_id: int,
    facility_id: int,
    medicine: Medicine,
    quantity: int = 60,
    dispensed: int = 0,
    status: str = "active",
    valid_until: date | None = None,
    issued_on: date | None = None,
    reimbursed: bool = True,
    pct: int = 50,
    diagnosis: str | None = "I10",
) -> Prescription:
    today = date.today()
    rx = Prescription(
        code=new_code(),
        person_id=person_id,
        inn=medicine.inn,
        medicine_id=medicine.id,
        diagnosis=diagnosis,
        reimbursed=reimbursed,
        reimbursement_pct=pct if reimbursed else 0,
        kind="reimbursed" if reimbursed else "regular",
        dose_units=1,
        times_per_day=2,
        days=quantity // 2,
        quantity_units=quantity,
        dispensed_units=dispensed,
        status=status,
        issued_on=issued_on or today - timedelta(days=3),
        valid_until=valid_until or today + timedelta(days=27),
        facility_id=facility_id,
        prescriber_username="doctor-fixture",
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    db.add(rx)
    await db.commit()
    return rx


@dataclass
class Case:
    """A patient with a national id, her polyclinic, one medicine and one prescription."""

    person: Any
    national_id: str
    clinic: Any
    medicine: Medicine
    rx: Prescription


async def make_case(db: AsyncSession, make_facility: Any, make_person: Any, **rx_kw: Any) -> Case:
    clinic = await make_facility()
    nid = national_id_for(BIRTH, "male")
    person = await make_person(
        facility_code=clinic.code, national_id=nid, birth_date=BIRTH, sex="male"
    )
    medicine = rx_kw.pop("medicine", None) or await make_medicine(db, inn=unique("amlodipine-"))
    rx = await make_rx(db, person_id=person.id, facility_id=clinic.id, medicine=medicine, **rx_kw)
    return Case(person, nid, clinic, medicine, rx)


async def pharmacist(make_facility: Any, make_user: Any) -> Any:
    """A pharmacist of a new pharmacy."""
    pharmacy = await make_facility(kind="pharmacy")
    return await make_user("pharmacist", facility_code=pharmacy.code)
