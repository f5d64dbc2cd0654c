"""What the insured-status lookups give out: a provider's eligibility check (insured or
not, until when, on what basis; never who paid or how much), the fund analyst's full
status (with the payer), the citizen's own status with her payments month by month."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

#: ``state``: a protected category's cover as a provider reads it (the category unnamed)
Basis = Literal["contribution", "category", "state", "universal", "none", "deceased"]

__all__ = [
    "Basis",
    "EligibilityOut",
    "MyInsuranceOut",
    "PayerRef",
    "PaymentOut",
    "ServiceRef",
    "StatusOut",
]


class PayerRef(BaseModel):
    """Who paid: an employer, the state, the person herself. ``name`` is the payer's
    stored name, or for the state and the single aggregate payer (codes ``STATE`` and
    ``AGGREGATE``) their kind's label in the request's language."""

    code: str
    name: str
    kind: str
    kind_label: str


class StatusOut(BaseModel):
    """A person's insured status on a day, and the sentence that explains it (in the
    request's language). ``category``, ``payer`` and ``paid_for_month`` are given to the
    fund's analyst and to the person herself only; a provider sees the rest, with a
    protected category's cover as basis ``state`` and an explanation that does not name
    the category."""

    person_id: int
    on: date
    insured: bool
    basis: Basis
    basis_label: str
    #: the last day of the insured run that holds ``on`` (None: no end known, or not insured)
    until: date | None = None
    #: the protected category (the fund's analyst and the person only)
    category: str | None = None
    category_label: str | None = None
    #: when not insured: the first day without cover after the last month paid for
    not_insured_since: date | None = None
    explanation: str
    #: the month whose payment the status rests on (the last of the insured run)
    paid_for_month: date | None = None
    payer: PayerRef | None = None


class ServiceRef(BaseModel):
    code: str
    name: str
    package: str
    package_name: str


class EligibilityOut(BaseModel):
    """Whether a service is covered for a person on a day: the guaranteed package for
    everyone, the insurance package only for the insured."""

    national_id: str
    status: StatusOut
    service: ServiceRef | None = None
    covered: bool | None = None
    reason: str | None = None


class PaymentOut(BaseModel):
    """One contribution as paid, and the month it covers (a resumed payment covers the
    oldest arrear first; a second line for a month already covered adds no month)."""

    month: date
    covers_month: date | None
    paid_on: date
    #: minor units (tiyn, tiyin)
    amount: int
    currency: str
    kind: str
    kind_label: str
    payer: PayerRef


class MyInsuranceOut(BaseModel):
    """The citizen's page: her status (or her young child's) and the payments for her."""

    person_id: int
    name: str
    own: bool
    status: StatusOut
    payments: list[PaymentOut]
