"""Dispensing: a pharmacist finds one prescription by code and national id, then gives units.

The units are added by one conditional UPDATE that only succeeds while they
fit (DESIGN rule 9); the check constraint on ``prescription`` backs it. Two
pharmacies racing for the last units both run that UPDATE: on PostgreSQL the
second waits for the first's row lock, re-evaluates the condition on the new
row and updates nothing, so it answers 409 with how many units remain (never
a 412: the ORM version counter is not what guards this path).

Money (minor units, integers):

- ``price`` = the pharmacy's package price × units / units per package,
  rounded half up to the minor unit;
- the fund's share = rate × min(pharmacy package price, reference price)
  × units / units per package, rounded DOWN (the fund never pays more than
  its rate);
- the co-payment = price - the fund's share, so the two always add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, events
from salomat.core.audit import AuditEvent
from salomat.core.db import utcnow
from salomat.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    InvalidState,
    NotFound,
    TooManyRequests,
)
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.domains.prescription.models import Dispensing, Medicine, Prescription
from salomat.domains.prescription.schemas import (
    DispenseIn,
    DispensingOut,
    DispensingQuoteOut,
    DispensingViewOut,
    SubstituteOut,
)
from salomat.domains.prescription.service.prescribing import normalise_code
from salomat.domains.registry import service as registry

__all__ = [
    "LOOKUP_LIMIT",
    "MedicineDispensed",
    "dispense",
    "dispensing_amounts",
    "dispensing_view",
    "find_for_dispensing",
    "get_dispensing",
    "list_dispensings",
    "person_dispensings",
    "quote_dispensing",
]

RX = "MedicationRequest"
RESOURCE = "MedicationDispense"
PHARMACY_KIND = "pharmacy"
#: failed lookups a user may make in ``LOOKUP_WINDOW`` before being made to wait
LOOKUP_LIMIT = 20
LOOKUP_WINDOW = timedelta(minutes=15)
LOOKUP_MISS = "no prescription with this code and national id"
#: how long a lookup opens a prescription to the pharmacy that made it
OPEN_FOR = timedelta(hours=12)
#: the audit purpose of a lookup by code and national id: only this opens ``OPEN_FOR``
LOOKUP_PURPOSE = "dispensing: code and national id presented"


@dataclass(frozen=True)
class MedicineDispensed:
    """Published after a dispensing is stored, in the same transaction: claims add a line.

    ``amount`` is the fund's share in minor units (what a claim line asks for).
    """

    dispensing_id: int
    prescription_id: int
    person_id: int
    facility_id: int
    amount: int
    dispensed_at: datetime


# ---- money ---------------------------------------------------------------------------


def dispensing_amounts(
    package_price: int, reference_price: int, units: int, units_per_package: int, pct: int
) -> tuple[int, int, int]:
    """(price, fund's share, co-payment) in minor units for ``units`` given.

    Exact integer arithmetic: the price rounds half up, the fund's share down.
    """
    price = (2 * package_price * units + units_per_package) // (2 * units_per_package)
    basis = min(package_price, reference_price)
    fund = basis * units * pct // (units_per_package * 100)
    fund = min(fund, price)
    return price, fund, price - fund


# ---- helpers -------------------------------------------------------------------------


async def _pharmacy(session: AsyncSession, principal: Principal) -> int:
    """The caller's facility, which must be a pharmacy."""
    if principal.facility_id is None:
        raise Forbidden("Dispensing is done by a pharmacy; your account has no facility.")
    fac = await registry.get_facility(session, principal.facility_id)
    if fac.kind != PHARMACY_KIND:
        raise Forbidden("Dispensing is done by a pharmacy; your facility is not one.")
    return principal.facility_id


def _substitute(m: Medicine, prescribed_id: int) -> SubstituteOut:
    out = SubstituteOut.model_validate(m)
    out.prescribed = m.id == prescribed_id
    return out


def _same_product(a: Medicine, b: Medicine) -> bool:
    """Substitution keeps the INN, the form and the strength (a unit stays a unit)."""

    def norm(v: str) -> str:
        return "".join(v.lower().split())

    return (
        norm(a.inn) == norm(b.inn)
        and norm(a.form) == norm(b.form)
        and norm(a.strength) == norm(b.strength)
    )


async def _packages(
    session: AsyncSession, rx: Prescription, prescribed: Medicine
) -> list[Medicine]:
    rows = (
        (
            await session.execute(
                select(Medicine).where(
                    func.lower(Medicine.inn) == rx.inn.lower(),
                    Medicine.active.is_(True) | (Medicine.id == prescribed.id),
                )
            )
        )
        .scalars()
        .all()
    )
    found = [m for m in rows if _same_product(m, prescribed)]
    found.sort(key=lambda m: (m.reference_price / m.units_per_package, m.code))
    return found


def _refusal(rx: Prescription, today: date, deceased_on: date | None) -> str | None:
    if rx.status == "cancelled":
        return "The prescription was cancelled."
    if rx.dispensed_units >= rx.quantity_units or rx.status == "dispensed":
        return "The prescription is already fully dispensed: 0 units remain."
    if rx.valid_until < today:
        return ("The prescription expired on {day}.").format(day=f"{rx.valid_until:%d.%m.%Y}")
    if deceased_on is not None and today >= deceased_on:
        return ("The patient died on {day}; nothing can be dispensed.").format(
            day=f"{deceased_on:%d.%m.%Y}"
        )
    return None


async def _throttle(session: AsyncSession, principal: Principal) -> None:
    since = utcnow() - LOOKUP_WINDOW
    misses = await session.scalar(
        select(func.count()).where(
            AuditEvent.user_id == principal.user_id,
            AuditEvent.occurred_at >= since,
            AuditEvent.action == "denied",
            AuditEvent.resource_type == RX,
            AuditEvent.detail == LOOKUP_MISS,
        )
    )
    if (misses or 0) >= LOOKUP_LIMIT:
        raise TooManyRequests(
            "Too many lookups did not match; wait a few minutes, "
            "then check the code and the national id.",
            headers={"Retry-After": str(int(LOOKUP_WINDOW.total_seconds()))},
        )


async def _view(
    session: AsyncSession, rx: Prescription, who: registry.PharmacyIdentity
) -> DispensingViewOut:
    prescribed = await session.get(Medicine, rx.medicine_id)
    assert prescribed is not None
    packages = await _packages(session, rx, prescribed)
    return DispensingViewOut(
        prescription_id=rx.id,
        code=rx.code,
        status=rx.status,
        kind=rx.kind,
        inn=rx.inn,
        medicine=_substitute(prescribed, prescribed.id),
        dose_units=rx.dose_units,
        times_per_day=rx.times_per_day,
        days=rx.days,
        instructions=rx.instructions,
        quantity_units=rx.quantity_units,
        dispensed_units=rx.dispensed_units,
        remaining_units=rx.quantity_units - rx.dispensed_units,
        issued_on=rx.issued_on,
        valid_until=rx.valid_until,
        reimbursed=rx.reimbursed,
        reimbursement_pct=rx.reimbursement_pct if rx.reimbursed else 0,
        patient_name=who.name,
        patient_birth_year=who.birth_year,
        packages=[_substitute(m, prescribed.id) for m in packages],
        refusal=_refusal(rx, date.today(), who.deceased_on),
    )


# ---- lookup --------------------------------------------------------------------------


async def find_for_dispensing(
    session: AsyncSession, principal: Principal, code: str, national_id: str
) -> DispensingViewOut:
    """One prescription, found by its code AND the patient's national id (never by browsing).

    A wrong pair answers exactly like a missing code (404) and is audited as a
    denied read; after ``LOOKUP_LIMIT`` misses in a quarter of an hour the user
    must wait. A match is audited as a read and opens the prescription to this
    pharmacy for ``dispense`` for ``OPEN_FOR``.
    """
    await _pharmacy(session, principal)
    await _throttle(session, principal)
    code_n = normalise_code(code)
    rx = (
        await session.execute(select(Prescription).where(Prescription.code == code_n))
    ).scalar_one_or_none()
    person_id = await registry.person_id_by_national_id(session, national_id)
    if rx is None or person_id is None or rx.person_id != person_id:
        await audit.denied(
            session,
            principal,
            resource_type=RX,
            resource_id=str(rx.id) if rx is not None else None,
            patient_id=rx.person_id if rx is not None else None,
            detail=LOOKUP_MISS,
        )
        raise NotFound(
            "No prescription matches this code and national id; check both and try again."
        )
    who = await registry.pharmacy_identity(session, rx.person_id)
    if who is None:  # pragma: no cover - the foreign key keeps the person
        raise NotFound(
            "No prescription matches this code and national id; check both and try again."
        )
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=RX,
        resource_id=str(rx.id),
        patient_id=rx.person_id,
        purpose=LOOKUP_PURPOSE,
    )
    return await _view(session, rx, who)


async def _opened_here(
    session: AsyncSession, principal: Principal, rx: Prescription, facility_id: int
) -> bool:
    """Whether a pharmacist of this pharmacy looked it up (code + national id) lately.

    Only the lookup counts: reloading the pharmacist's page (also a ``read``)
    does not stretch the window.
    """
    hit = await session.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.patient_id == rx.person_id,
            AuditEvent.resource_type == RX,
            AuditEvent.resource_id == str(rx.id),
            AuditEvent.facility_id == facility_id,
            AuditEvent.action == "read",
            AuditEvent.outcome == "success",
            AuditEvent.purpose == LOOKUP_PURPOSE,
            AuditEvent.occurred_at >= utcnow() - OPEN_FOR,
        )
        .limit(1)
    )
    return hit is not None


async def _opened_prescription(
    session: AsyncSession, principal: Principal, prescription_id: int
) -> tuple[Prescription, int]:
    facility_id = await _pharmacy(session, principal)
    rx = await session.get(Prescription, prescription_id)
    if rx is None or not await _opened_here(session, principal, rx, facility_id):
        await audit.denied(
            session,
            principal,
            resource_type=RX,
            resource_id=str(prescription_id),
            patient_id=rx.person_id if rx is not None else None,
            detail="not looked up by code and national id at this pharmacy",
        )
        raise NotFound(
            f"Prescription {prescription_id} not found; look it up by its code and the national id."
        )
    return rx, facility_id


# ---- dispense ------------------------------------------------------------------------


def _remaining_conflict(remaining: int, asked: int) -> Conflict:
    if remaining <= 0:
        detail = "The prescription is already fully dispensed: 0 units remain."
    else:
        detail = f"Only {remaining} units remain on this prescription; {asked} were asked."
    return Conflict(
        detail,
        errors=[FieldError("units", detail)],
        extensions={"remaining_units": max(remaining, 0)},
    )


async def _explain_refusal(session: AsyncSession, prescription_id: int, units: int) -> None:
    """The conditional UPDATE changed nothing: read the row as it is now and say why."""
    row = (
        await session.execute(
            select(
                Prescription.status,
                Prescription.quantity_units,
                Prescription.dispensed_units,
                Prescription.valid_until,
            ).where(Prescription.id == prescription_id)
        )
    ).one()
    if row.status == "cancelled":
        raise InvalidState("The prescription was cancelled.")
    if row.valid_until < date.today():
        raise InvalidState(
            ("The prescription expired on {day}.").format(day=f"{row.valid_until:%d.%m.%Y}")
        )
    raise _remaining_conflict(row.quantity_units - row.dispensed_units, units)


async def _given_medicine(
    session: AsyncSession, prescribed: Medicine, code: str | None
) -> Medicine:
    if code is None or code.strip() == prescribed.code:
        return prescribed
    given = (
        await session.execute(select(Medicine).where(Medicine.code == code.strip()))
    ).scalar_one_or_none()
    if given is None or not given.active:
        raise Invalid.fields(
            [FieldError("medicine_code", ("is not an active package of the formulary"))]
        )
    if given.inn.strip().lower() != prescribed.inn.strip().lower():
        raise Invalid.fields(
            [
                FieldError(
                    "medicine_code",
                    (f"is {given.inn}; only {prescribed.inn} (the prescribed INN) may be given"),
                )
            ]
        )
    if not _same_product(given, prescribed):
        raise Invalid.fields(
            [
                FieldError(
                    "medicine_code",
                    f"is {given.form} {given.strength}; "
                    f"the prescription is for {prescribed.form} {prescribed.strength}",
                )
            ]
        )
    return given


def _units(data: DispenseIn, given: Medicine) -> int:
    if (data.units is None) == (data.packages is None):
        raise Invalid.fields(
            [FieldError("units", ("give either units or packages (exactly one of them)"))]
        )
    return data.units if data.units is not None else data.packages * given.units_per_package  # type: ignore[operator]


def _out(d: Dispensing, given: Medicine, rx: Prescription, remaining: int | None) -> DispensingOut:
    return DispensingOut(
        id=d.id,
        prescription_id=d.prescription_id,
        person_id=d.person_id,
        facility_id=d.facility_id,
        pharmacist_username=d.pharmacist_username,
        medicine_id=given.id,
        medicine_code=given.code,
        inn=given.inn,
        trade_name=given.trade_name,
        strength=given.strength,
        unit=given.unit,
        substituted=given.id != rx.medicine_id,
        units=d.units,
        packages=d.packages,
        price=d.price,
        reimbursement_pct=rx.reimbursement_pct if rx.reimbursed else 0,
        reimbursed_amount=d.reimbursed_amount,
        copayment=d.copayment,
        dispensed_at=d.dispensed_at,
        remaining_units=remaining,
    )


async def dispense(
    session: AsyncSession, principal: Principal, prescription_id: int, data: DispenseIn
) -> DispensingOut:
    """Give all or part of what remains, at this pharmacy; a substitute within the INN.

    Refused: a prescription not looked up here (404), cancelled, expired, fully
    dispensed, a patient who died, more units than remain (409 naming
    ``units`` with how many remain), another INN (422 naming ``medicine_code``).
    """
    rx, facility_id = await _opened_prescription(session, principal, prescription_id)
    prescribed = await session.get(Medicine, rx.medicine_id)
    assert prescribed is not None
    given = await _given_medicine(session, prescribed, data.medicine_code)
    units = _units(data, given)
    today = date.today()
    if rx.status == "cancelled":
        raise InvalidState("The prescription was cancelled.")
    if rx.valid_until < today:
        raise InvalidState(
            ("The prescription expired on {day}.").format(day=f"{rx.valid_until:%d.%m.%Y}")
        )
    await registry.require_alive(session, rx.person_id, today)
    if units > rx.quantity_units - rx.dispensed_units:
        raise _remaining_conflict(rx.quantity_units - rx.dispensed_units, units)

    now = utcnow()
    after = Prescription.dispensed_units + units
    result = await session.execute(
        update(Prescription)
        .where(
            Prescription.id == rx.id,
            Prescription.status == "active",
            after <= Prescription.quantity_units,
            Prescription.valid_until >= today,
        )
        .values(
            dispensed_units=after,
            status=case((after >= Prescription.quantity_units, "dispensed"), else_="active"),
            version=Prescription.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await _explain_refusal(session, rx.id, units)
    # the row changed under the identity map: read what is stored now
    await session.refresh(rx)

    pct = rx.reimbursement_pct if rx.reimbursed else 0
    price, fund, copay = dispensing_amounts(
        data.price, given.reference_price, units, given.units_per_package, pct
    )
    d = Dispensing(
        prescription_id=rx.id,
        person_id=rx.person_id,
        facility_id=facility_id,
        pharmacist_username=principal.username,
        medicine_id=given.id,
        units=units,
        packages=round(units / given.units_per_package, 4),
        price=price,
        reimbursed_amount=fund,
        copayment=copay,
        dispensed_at=now,
    )
    session.add(d)
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=RESOURCE,
        resource_id=str(d.id),
        patient_id=rx.person_id,
        purpose="dispensing",
        detail=f"MedicationRequest/{rx.id}: {units} units of {given.code}",
    )
    await events.publish(
        session,
        MedicineDispensed(d.id, rx.id, rx.person_id, facility_id, fund, now),
    )
    await events.publish(
        session, events.ResourceChanged("MedicationDispense", str(d.id), rx.person_id)
    )
    return _out(d, given, rx, rx.quantity_units - rx.dispensed_units)


# ---- reads ---------------------------------------------------------------------------


async def _outs(
    session: AsyncSession, rows: list[Dispensing], rxs: dict[int, Prescription]
) -> list[DispensingOut]:
    ids = {d.medicine_id for d in rows}
    meds = {
        m.id: m
        for m in (await session.execute(select(Medicine).where(Medicine.id.in_(ids)))).scalars()
    }
    return [_out(d, meds[d.medicine_id], rxs[d.prescription_id], None) for d in rows]


async def list_dispensings(
    session: AsyncSession, principal: Principal, prescription_id: int
) -> list[DispensingOut]:
    """A prescription's dispensings, oldest first, for the pharmacy that looked it up."""
    rx, _fac = await _opened_prescription(session, principal, prescription_id)
    rows = list(
        (
            await session.execute(
                select(Dispensing)
                .where(Dispensing.prescription_id == rx.id)
                .order_by(Dispensing.dispensed_at, Dispensing.id)
            )
        ).scalars()
    )
    await audit.record(
        session,
        principal,
        action="search",
        resource_type=RESOURCE,
        resource_id=str(rx.id),
        patient_id=rx.person_id,
        purpose="dispensing",
    )
    return await _outs(session, rows, {rx.id: rx})


async def dispensing_view(
    session: AsyncSession, principal: Principal, prescription_id: int
) -> DispensingViewOut:
    """The pharmacist's view again (after a dispensing), for the pharmacy that looked it up."""
    rx, _fac = await _opened_prescription(session, principal, prescription_id)
    await session.refresh(rx)
    who = await registry.pharmacy_identity(session, rx.person_id)
    assert who is not None
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=RX,
        resource_id=str(rx.id),
        patient_id=rx.person_id,
        purpose="dispensing",
    )
    return await _view(session, rx, who)


async def quote_dispensing(
    session: AsyncSession, principal: Principal, prescription_id: int, data: DispenseIn
) -> DispensingQuoteOut:
    """The price, the fund's share and the co-payment of a dispensing, storing nothing."""
    rx, _fac = await _opened_prescription(session, principal, prescription_id)
    prescribed = await session.get(Medicine, rx.medicine_id)
    assert prescribed is not None
    given = await _given_medicine(session, prescribed, data.medicine_code)
    units = _units(data, given)
    remaining = rx.quantity_units - rx.dispensed_units
    if units > remaining:
        raise _remaining_conflict(remaining, units)
    pct = rx.reimbursement_pct if rx.reimbursed else 0
    price, fund, copay = dispensing_amounts(
        data.price, given.reference_price, units, given.units_per_package, pct
    )
    return DispensingQuoteOut(
        medicine_code=given.code,
        units=units,
        packages=round(units / given.units_per_package, 4),
        price=price,
        reimbursement_pct=pct,
        reimbursed_amount=fund,
        copayment=copay,
        remaining_units=remaining,
    )


async def get_dispensing(
    session: AsyncSession, principal: Principal, dispensing_id: int
) -> DispensingOut:
    """One dispensing for a clinician or the citizen in the person's scope (FHIR read)."""
    d = await session.get(Dispensing, dispensing_id)
    if d is None:
        await audit.denied(
            session, principal, resource_type=RESOURCE, resource_id=str(dispensing_id)
        )
        raise NotFound(f"MedicationDispense {dispensing_id} not found.")
    try:
        await require_person(session, principal, d.person_id, action="read", resource_type=RESOURCE)
    except NotFound:
        raise NotFound(f"MedicationDispense {dispensing_id} not found.") from None
    rx = await session.get(Prescription, d.prescription_id)
    assert rx is not None
    return (await _outs(session, [d], {rx.id: rx}))[0]


async def person_dispensings(
    session: AsyncSession,
    principal: Principal,
    person_id: int | None,
    *,
    prescription_id: int | None = None,
) -> list[DispensingOut]:
    """A person's dispensings, or one prescription's, newest first (FHIR search).

    The reader needs the person in scope (audited); a prescription that does not
    exist or is out of scope answers like a missing one.
    """
    if person_id is None:
        if prescription_id is None:
            raise Invalid.fields([FieldError("patient", "give patient or prescription")])
        owner = await session.scalar(
            select(Prescription.person_id).where(Prescription.id == prescription_id)
        )
        if owner is None:
            await audit.denied(
                session, principal, resource_type=RX, resource_id=str(prescription_id)
            )
            raise NotFound(f"MedicationRequest {prescription_id} not found.")
        person_id = int(owner)
    try:
        await require_person(session, principal, person_id, action="search", resource_type=RESOURCE)
    except NotFound:
        what = (
            f"MedicationRequest {prescription_id}"
            if prescription_id is not None
            else f"Patient {person_id}"
        )
        raise NotFound(f"{what} not found.") from None
    stmt = select(Dispensing).where(Dispensing.person_id == person_id)
    if prescription_id is not None:
        stmt = stmt.where(Dispensing.prescription_id == prescription_id)
    rows = list(
        (
            await session.execute(
                stmt.order_by(Dispensing.dispensed_at.desc(), Dispensing.id.desc())
            )
        ).scalars()
    )
    rx_ids = {d.prescription_id for d in rows}
    rxs = {
        r.id: r
        for r in (
            await session.execute(select(Prescription).where(Prescription.id.in_(rx_ids)))
        ).scalars()
    }
    return await _outs(session, rows, rxs)
