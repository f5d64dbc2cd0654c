"""What the e-prescription API takes and returns."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.text import Notes, OptNotes

__all__ = [
    "DispenseIn",
    "DispensingLookupIn",
    "DispensingOut",
    "DispensingQuoteOut",
    "DispensingViewOut",
    "FormularyImportReport",
    "FormularyRowError",
    "MedicineOut",
    "PrescriptionCancelIn",
    "PrescriptionIn",
    "PrescriptionOut",
    "SubstituteOut",
]


# ---- formulary (prescribing engineer) ------------------------------------------------


class MedicineOut(BaseModel):
    """One package of the formulary; ``reference_price`` in minor units (tiyin, tiyn)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    inn: str
    atc: str
    trade_name: str | None = None
    form: str
    strength: str
    unit: str
    units_per_package: int
    reference_price: int
    active: bool


class FormularyRowError(BaseModel):
    """Why one cell of the CSV was refused: its line (1 = the header), column and reason."""

    line: int
    column: str
    reason: str


class FormularyImportReport(BaseModel):
    """The import's answer: nothing is stored when ``errors`` is not empty."""

    rows: int
    created: int = 0
    updated: int = 0
    dry_run: bool = False
    stored: bool = False
    errors: list[FormularyRowError] = Field(default_factory=list)


# ---- prescriptions (prescribing engineer) --------------------------------------------


class PrescriptionIn(BaseModel):
    """A doctor's prescription: one formulary package, the dose and how long.

    The quantity is computed: ceil(dose_units × times_per_day × days) units.
    Types, reimbursement and limits are checked by the service against the
    country pack so REST, the web form and FHIR get the same refusals.
    """

    model_config = ConfigDict(extra="forbid")

    #: the formulary code of the package (``Medicine.code``)
    medicine: str = Field(min_length=1, max_length=32)
    #: ICD-10 code (e.g. I10, E11.9); required for a reimbursed prescription
    diagnosis: str | None = Field(None, max_length=8)
    #: the pack's prescription type (regular, reimbursed, long_term ...)
    kind: str = Field("regular", max_length=24)
    dose_units: float
    times_per_day: int
    days: int
    instructions: OptNotes = Field(None, max_length=500)


class PrescriptionCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Notes = Field(min_length=1, max_length=500)


class PrescriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    person_id: int
    inn: str
    medicine_id: int
    #: the formulary code of the package chosen by the doctor
    medicine_code: str | None = None
    atc: str | None = None
    medicine_label: str | None = None
    unit: str | None = None
    diagnosis: str | None = None
    reimbursed: bool
    reimbursement_pct: int
    kind: str
    dose_units: float
    times_per_day: int
    days: int
    quantity_units: int
    dispensed_units: int
    #: quantity_units - dispensed_units
    remaining_units: int = 0
    instructions: str | None = None
    status: str
    issued_on: date
    valid_until: date
    facility_id: int
    prescriber_username: str
    practitioner_id: int | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    source: str
    created_at: datetime
    updated_at: datetime
    version: int


# ---- dispensing (dispensing engineer) ------------------------------------------------


class DispensingLookupIn(BaseModel):
    """The pharmacist's only way in: the code the person reads out and their national id."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)
    national_id: str = Field(min_length=1, max_length=32)


class SubstituteOut(BaseModel):
    """A formulary package the pharmacy may give: same INN, form and strength."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    inn: str
    trade_name: str | None = None
    form: str
    strength: str
    unit: str
    units_per_package: int
    #: the fund's reference price of one package, in minor units
    reference_price: int
    #: the package the doctor chose
    prescribed: bool = False


class DispensingViewOut(BaseModel):
    """What the pharmacist sees of a prescription: no diagnosis, name and birth year only."""

    prescription_id: int
    code: str
    status: str
    kind: str
    inn: str
    medicine: SubstituteOut
    dose_units: float
    times_per_day: int
    days: int
    instructions: str | None = None
    quantity_units: int
    dispensed_units: int
    remaining_units: int
    issued_on: date
    valid_until: date
    reimbursed: bool
    reimbursement_pct: int
    patient_name: str
    patient_birth_year: int
    #: the packages of the same INN the pharmacy may give instead, cheapest per unit first
    packages: list[SubstituteOut] = Field(default_factory=list)
    #: why nothing can be dispensed now (expired, cancelled, fully dispensed, died), or None
    refusal: str | None = None


class DispenseIn(BaseModel):
    """One visit: ``units`` or ``packages`` (of the package given), its code and price.

    ``price`` is the pharmacy's price of ONE package of ``medicine_code``, in minor
    units; the amounts of the answer are for what was given.
    """

    model_config = ConfigDict(extra="forbid")

    units: int | None = Field(None, gt=0, le=100_000)
    packages: int | None = Field(None, gt=0, le=10_000)
    #: the package given (formulary code); the prescribed one when absent
    medicine_code: str | None = Field(None, min_length=1, max_length=32)
    price: int = Field(ge=0, le=1_000_000_000)


class DispensingOut(BaseModel):
    """One dispensing with its amounts in minor units: price = reimbursed + copayment."""

    id: int
    prescription_id: int
    person_id: int
    facility_id: int
    pharmacist_username: str
    medicine_id: int
    medicine_code: str
    inn: str
    trade_name: str | None = None
    strength: str | None = None
    #: the unit the quantity is counted in (tablet, ml, dose)
    unit: str | None = None
    substituted: bool
    units: int
    packages: float
    #: the pharmacy's price of what was given
    price: int
    reimbursement_pct: int
    reimbursed_amount: int
    copayment: int
    dispensed_at: datetime
    #: units left on the prescription after this dispensing
    remaining_units: int | None = None


# ---- claims to the fund and the citizen portal (claims engineer) ---------------------

__all__ += [
    "ClaimFlag",
    "ClaimLineOut",
    "ClaimOut",
    "ClaimReviewIn",
    "ClaimTotals",
    "MyDispensing",
    "MyPrescriptionOut",
]


class ClaimFlag(BaseModel):
    """One anomaly rule that fired on a claim line, with why (in the reviewer's words)."""

    rule: str
    reason: str


class ClaimLineOut(BaseModel):
    """The fund's share of one dispensing; amounts in minor units."""

    id: int
    claim_id: int
    claim_status: str
    facility_id: int
    facility_name: str
    month: date
    dispensing_id: int
    prescription_id: int
    prescription_code: str
    person_id: int
    inn: str
    medicine: str
    units: int
    dispensed_at: datetime
    amount: int
    #: entered | flagged | approved | rejected
    status: str
    flags: list[ClaimFlag] = Field(default_factory=list)
    reviewed_by: str | None = None
    #: the reviewer's note; on a rejected line, the reason for the rejection
    review_note: str | None = None
    reviewed_at: datetime | None = None


class ClaimTotals(BaseModel):
    """Sums of a claim's lines, in minor units (``flagged_lines`` is a count)."""

    lines: int = 0
    flagged_lines: int = 0
    claimed: int = 0
    approved: int = 0
    rejected: int = 0
    #: not yet reviewed (entered or flagged lines)
    pending: int = 0


class ClaimOut(BaseModel):
    """A pharmacy's claim for one month; ``lines`` only when one claim is read."""

    id: int
    facility_id: int
    facility_code: str
    facility_name: str
    #: the first day of the month claimed
    month: date
    #: open | submitted | approved | rejected
    status: str
    submitted_at: datetime | None = None
    version: int
    totals: ClaimTotals
    lines: list[ClaimLineOut] = Field(default_factory=list)


class ClaimReviewIn(BaseModel):
    """The analyst's decision on one line; a rejection needs its reason in ``note``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    decision: str = Field(pattern="^(approve|reject)$")
    note: OptNotes = Field(default=None, max_length=500)


class MyDispensing(BaseModel):
    """Where and when part of a prescription was given (the citizen's view)."""

    dispensed_at: datetime
    pharmacy: str
    medicine: str
    units: int
    copayment: int


class MyPrescriptionOut(BaseModel):
    """A prescription as its patient (or a parent) sees it on the portal."""

    id: int
    code: str
    person_id: int
    inn: str
    medicine: str
    #: active | dispensed | cancelled; ``expired`` when active but past its last valid day
    status: str
    issued_on: date
    valid_until: date
    quantity_units: int
    dispensed_units: int
    remaining_units: int
    unit: str
    instructions: str | None = None
    reimbursed: bool
    dispensings: list[MyDispensing] = Field(default_factory=list)


class DispensingQuoteOut(BaseModel):
    """What a dispensing would cost, before it is made (minor units)."""

    medicine_code: str
    units: int
    packages: float
    price: int
    reimbursement_pct: int
    reimbursed_amount: int
    copayment: int
    remaining_units: int
