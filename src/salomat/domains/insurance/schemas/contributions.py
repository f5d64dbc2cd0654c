"""What the fund's contribution side takes in and gives out: payers, employment,
protected-category members, payment files and their results, expected contributions
and arrears, the dashboards (issue 17, docs/insurance.md).

Money crosses the API in major units as a decimal string ("25500.00"); the tables keep
minor units.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PayerKind = Literal[
    "employer", "entrepreneur", "independent", "self_employed", "state", "aggregate"
]
_NID = r"^[0-9]{1,32}$"
_MONTH = r"^[0-9]{4}-[0-9]{2}$"


class PayerIn(BaseModel):
    """A payer: an employer or an entrepreneur by business id, an independent or platform
    self-employed person by national id, the state (one payer, code STATE), or the single
    aggregate payment's collector (one payer, code AGGREGATE, owed no expected amount)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: PayerKind
    business_id: str | None = Field(default=None, max_length=32)
    national_id: str | None = Field(default=None, max_length=32, pattern=_NID)
    name: str | None = Field(default=None, max_length=300)


class PayerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    code: str
    name: str
    employer_id: int | None = None
    person_id: int | None = None
    created_at: datetime


class EmploymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payer: str = Field(min_length=1, max_length=32)
    national_id: str = Field(min_length=1, max_length=32, pattern=_NID)
    start_on: date
    end_on: date | None = None
    monthly_wage: Decimal = Field(ge=0, le=Decimal("9999999999999"), decimal_places=2)


class EmploymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    payer_id: int
    payer_code: str
    person_id: int
    national_id: str | None
    start_on: date
    end_on: date | None
    monthly_wage: Decimal


class CategoryMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    national_id: str = Field(min_length=1, max_length=32, pattern=_NID)
    category: str = Field(min_length=1, max_length=32)
    start_on: date
    end_on: date | None = None


class CategoryMemberOut(BaseModel):
    id: int
    person_id: int
    national_id: str | None
    category: str
    start_on: date
    end_on: date | None


class ContributionLineIn(BaseModel):
    """One line as a payment file has it; every value is checked by the import (an error
    names the line and the field), so they arrive as text."""

    model_config = ConfigDict(extra="forbid")

    payer: str | None = Field(default=None, max_length=64)
    national_id: str | None = Field(default=None, max_length=64)
    month: str | None = Field(default=None, max_length=32)
    amount: str | int | float | None = Field(default=None)
    paid_on: str | None = Field(default=None, max_length=32)
    kind: str | None = Field(default=None, max_length=32)


class ContributionsIn(BaseModel):
    """Contribution lines sent through the API: taken whole or not at all; the same lines
    sent again add nothing."""

    model_config = ConfigDict(extra="forbid")

    lines: list[ContributionLineIn] = Field(min_length=1, max_length=50_000)


class ImportResult(BaseModel):
    import_id: int
    #: the same file (or lines) was imported before: nothing was added
    already_imported: bool
    filename: str | None
    lines: int
    #: lines stored by this import
    added: int
    #: lines already stored from an earlier file or call
    duplicates: int
    total: Decimal
    imported_at: datetime


class ImportOut(BaseModel):
    id: int
    filename: str | None
    lines: int
    duplicates: int
    total: Decimal
    imported_by: str
    imported_at: datetime


class ArrearsMonth(BaseModel):
    month: str
    expected: Decimal
    paid: Decimal
    arrears: Decimal
    #: by contribution kind (employer, employee, ...): expected and paid
    by_kind: dict[str, dict[str, Decimal]] = {}


class ArrearsPerson(BaseModel):
    person_id: int
    national_id: str | None
    month: str
    kind: str
    expected: Decimal
    paid: Decimal
    arrears: Decimal


class PayerArrears(BaseModel):
    payer: PayerOut
    month_from: str
    month_to: str
    expected: Decimal
    paid: Decimal
    arrears: Decimal
    months: list[ArrearsMonth]
    people: list[ArrearsPerson] = []


class ArrearsRow(BaseModel):
    payer_id: int
    code: str
    kind: str
    name: str
    expected: Decimal
    paid: Decimal
    arrears: Decimal


class CollectedRow(BaseModel):
    month: str
    kind: str
    expected: Decimal
    collected: Decimal


class SpendingRow(BaseModel):
    region: str | None
    facility_code: str | None
    facility_name: str | None
    package: str
    lines: int
    spent: Decimal
    plan: Decimal | None = None


class FlagRow(BaseModel):
    rule: str
    lines: int
    open: int
    accepted: int
    reduced: int
    rejected: int
    claimed: Decimal


class FundDashboard(BaseModel):
    month_from: str
    month_to: str
    collected: list[CollectedRow]
    spending_by_region: list[SpendingRow]
    spending_by_provider: list[SpendingRow]
    flags: list[FlagRow]


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    year: int = Field(ge=2000, le=2100)
    region: str = Field(min_length=1, max_length=32)
    package: str = Field(min_length=1, max_length=16)
    amount: Decimal = Field(ge=0, le=Decimal("9999999999999"), decimal_places=2)


class PlanOut(BaseModel):
    year: int
    region: str
    package: str
    amount: Decimal
