"""A person's insured status on a day, explained; whether a service is covered for her;
the citizen's own status and payments.

The status is not stored: it is computed on each lookup from the person's
contributions (one indexed statement, joined with their payers), her protected-category
memberships (one more) and the register's birth date, sex and death (one), through
``coverage.allocate`` and ``coverage.status_on``. A late payment or a corrected file
changes it at once.

Who sees what (docs/insurance.md):

- a provider (``insurance:eligibility``) checks anyone by national id, as a pharmacy
  checks a prescription: insured or not, until when, on what basis; never who paid nor
  how much, and never which protected category the state pays for (serving a sentence,
  a disability...): a provider reads only "insured by the state" (basis ``state``).
  Each check is audited on the person with its purpose;
- the fund's analyst (``insurance:manage``) sees the category and the payer;
- the citizen sees her own status and her young children's with the category, every
  payment month by month and who paid it; anyone else's record answers 404 like a
  missing one.

A lookup without a day answers for today in the country's time zone (the pack's
``timezone``), not the server's: at 00:30 on the 1st in Almaty it is the new month.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.policy import allowed, person_scope, require_person
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.insurance.models import CategoryMember, Contribution, Payer
from salomat.domains.insurance.schemas.status import (
    EligibilityOut,
    MyInsuranceOut,
    PayerRef,
    PaymentOut,
    ServiceRef,
    StatusOut,
)
from salomat.domains.insurance.service import labels
from salomat.domains.insurance.service.coverage import (
    Covered,
    Membership,
    Paid,
    Status,
    allocate,
    status_on,
)
from salomat.domains.insurance.service.rules import InsuranceRules, add_months, insurance_rules
from salomat.domains.registry import service as registry

__all__ = [
    "InsuredRecord",
    "ServiceCoverage",
    "coverage_for_people",
    "coverage_for_person",
    "eligibility_for",
    "insurance_status",
    "insured_record",
    "insured_records",
    "local_today",
    "my_insurance",
    "person_insurance",
    "service_eligibility",
]

#: the audit's resource type for a status read (FHIR's name for it)
RESOURCE = "Coverage"
PURPOSE_CHECK = "insurance eligibility check"
PURPOSE_FUND = "insurance fund: status"
PURPOSE_PORTAL = "citizen portal: insurance"
_MAX_ID = 32
#: a provider's basis for a protected category: the state pays, the category unnamed
STATE_LABEL = N_("insured by the state")


def _utcnow() -> datetime:
    """The clock (one seam: a test sets it)."""
    return datetime.now(UTC)


def local_today() -> date:
    """Today in the country's time zone (the pack's ``timezone``): a check at 00:30 on
    the 1st in Almaty answers for the new month, whatever the server's zone."""
    return pack.today(get_settings().country, _utcnow())


@dataclass(frozen=True)
class _Line:
    """A contribution row as the person's history shows it."""

    paid: Paid
    amount: int
    payer: PayerRef


@dataclass(frozen=True)
class InsuredRecord:
    """What the status of one person is computed from, and the result on ``day``."""

    person: registry.InsuredPerson
    day: date
    status: Status
    covered: dict[date, Covered]
    lines: list[_Line]
    rules: InsuranceRules

    def payer_of(self, c: Covered | None) -> PayerRef | None:
        if c is None:
            return None
        for line in self.lines:
            if line.paid.id == c.contribution_id:
                return line.payer
        return None


# ---- reading ---------------------------------------------------------------------------


async def _lines(session: AsyncSession, person_ids: Sequence[int]) -> dict[int, list[_Line]]:
    """The contributions of the people, each person's in one list (one statement)."""
    rows = await session.execute(
        select(
            Contribution.person_id,
            Contribution.id,
            Contribution.payer_id,
            Contribution.kind,
            Contribution.month,
            Contribution.paid_on,
            Contribution.amount,
            Payer.code,
            Payer.name,
            Payer.kind.label("payer_kind"),
        )
        .join(Payer, Payer.id == Contribution.payer_id)
        .where(Contribution.person_id.in_(sorted(set(person_ids))))
    )
    out: dict[int, list[_Line]] = {}
    for r in rows:
        out.setdefault(r.person_id, []).append(
            _Line(
                Paid(r.id, r.payer_id, r.kind, r.month, r.paid_on),
                r.amount,
                PayerRef(
                    code=r.code,
                    name=labels.payer_name(r.payer_kind, r.name),
                    kind=r.payer_kind,
                    kind_label=labels.label(labels.PAYER_KIND_LABELS, r.payer_kind),
                ),
            )
        )
    return out


async def _memberships(
    session: AsyncSession, person_ids: Sequence[int]
) -> dict[int, list[Membership]]:
    rows = await session.execute(
        select(
            CategoryMember.person_id,
            CategoryMember.category,
            CategoryMember.start_on,
            CategoryMember.end_on,
        ).where(CategoryMember.person_id.in_(sorted(set(person_ids))))
    )
    out: dict[int, list[Membership]] = {}
    for r in rows:
        out.setdefault(r.person_id, []).append(Membership(r.category, r.start_on, r.end_on))
    return out


def _record(
    rules: InsuranceRules,
    person: registry.InsuredPerson,
    day: date,
    lines: list[_Line],
    memberships: list[Membership],
) -> InsuredRecord:
    covered = allocate(rules, [x.paid for x in lines])
    status = status_on(
        rules,
        day,
        covered,
        birth=person.birth_date,
        sex=person.sex,
        deceased_on=person.deceased_on,
        memberships=memberships,
    )
    return InsuredRecord(person, day, status, covered, lines, rules)


async def insured_record(
    session: AsyncSession, person: registry.InsuredPerson, day: date
) -> InsuredRecord:
    """The status of ``person`` on ``day`` with what it rests on. Not audited: the
    caller audits what it shows (a claim's control rules read it too). Under a universal
    scheme (UZ) no contribution is read."""
    return (await insured_records(session, [person], day))[person.id]


async def insured_records(
    session: AsyncSession, people: Sequence[registry.InsuredPerson], day: date
) -> dict[int, InsuredRecord]:
    """``insured_record`` of many people in two statements (none under a universal
    scheme), whatever their number."""
    rules = insurance_rules()
    lines: dict[int, list[_Line]] = {}
    memberships: dict[int, list[Membership]] = {}
    if not rules.universal and people:
        ids = [p.id for p in people]
        lines = await _lines(session, ids)
        memberships = await _memberships(session, ids)
    return {
        p.id: _record(rules, p, day, lines.get(p.id, []), memberships.get(p.id, [])) for p in people
    }


# ---- the explanation -------------------------------------------------------------------


def _day(d: date) -> str:
    return d.strftime("%d.%m.%Y")


def _month(d: date) -> str:
    """ "December 2026" in the current language."""
    locale = i18n.babel_locale(i18n.current_language())
    return format_date(d, "LLLL y", locale=locale)


def _run_end(rec: InsuredRecord) -> Covered | None:
    """The last month paid for in the insured run that holds the day (the status's
    ``until`` is its grace's end), else the payment the status rests on."""
    s = rec.status
    if s.until is None or s.covered is None:
        return s.covered
    last = add_months(s.until.replace(day=1), -rec.rules.grace_months)
    found = rec.covered.get(last)
    if found is not None and found.month >= s.covered.month:
        return found
    later = [c for m, c in rec.covered.items() if s.covered.month <= m <= last]
    return max(later, key=lambda c: c.month) if later else s.covered


def _not_insured_since(rec: InsuredRecord) -> date | None:
    last = rec.status.last_covered
    if rec.status.basis != "none" or last is None:
        return None
    return add_months(last.month, rec.rules.grace_months + 1)


def _explain(rec: InsuredRecord, *, full: bool) -> str:
    """The sentence; ``full`` (the fund, the person) names the payer and the category."""
    s, g = rec.status, rec.rules.grace_months
    gettext = i18n.gettext
    if s.basis == "deceased":
        assert rec.person.deceased_on is not None
        return gettext(N_("Not insured: the person died on %(date)s.")) % {
            "date": _day(rec.person.deceased_on)
        }
    if s.basis == "universal":
        return gettext(N_("Covered by the State Health Insurance Fund like every resident."))
    if s.basis == "category" and not full:
        # a provider is not told which category (a sentence served, a disability...)
        if s.until is None:
            return gettext(N_("Insured by the state."))
        return gettext(N_("Insured until %(until)s by the state.")) % {"until": _day(s.until)}
    if s.basis == "category":
        params = {"category": labels.category_name(s.category)}
        if s.until is None:
            return gettext(N_("Insured by the state as %(category)s.")) % params
        return gettext(N_("Insured until %(until)s by the state as %(category)s.")) % {
            **params,
            "until": _day(s.until),
        }
    if s.basis == "contribution":
        end = _run_end(rec)
        assert end is not None
        until = _day(s.until) if s.until is not None else ""
        payer = rec.payer_of(end) if full else None
        if payer is not None:
            return gettext(N_("Insured until %(until)s: %(payer)s paid for %(month)s.")) % {
                "until": until,
                "payer": payer.name,
                "month": _month(end.month),
            }
        return gettext(N_("Insured until %(until)s: contributions are paid for %(month)s.")) % {
            "until": until,
            "month": _month(end.month),
        }
    last = s.last_covered
    if last is None:
        later = sorted(m for m in rec.covered if m > rec.day)
        if later:
            return gettext(N_("Not insured yet: the first month paid for is %(month)s.")) % {
                "month": _month(later[0])
            }
        return gettext(N_("Not insured: no contribution has been paid."))
    since = _not_insured_since(rec)
    assert since is not None
    # the pack's grace is several months (KZ: 3); a universal scheme never gets here
    grace = gettext(N_("the %(n)s months of grace have passed")) % {"n": g}
    payer = rec.payer_of(last) if full else None
    if payer is not None:
        return gettext(
            N_(
                "Not insured since %(since)s: the last month paid for was %(month)s "
                "(%(payer)s); %(grace)s."
            )
        ) % {"since": _day(since), "month": _month(last.month), "payer": payer.name, "grace": grace}
    return gettext(
        N_("Not insured since %(since)s: the last month paid for was %(month)s; %(grace)s.")
    ) % {"since": _day(since), "month": _month(last.month), "grace": grace}


def status_out(rec: InsuredRecord, *, full: bool) -> StatusOut:
    """The status as shown: ``full`` adds the protected category and the payer (the
    fund's analyst, the person); a provider reads a category's cover as basis ``state``,
    "insured by the state", and nothing that names the category."""
    s = rec.status
    end = _run_end(rec) if s.basis in ("contribution", "category") else None
    hidden = s.basis == "category" and not full
    return StatusOut(
        person_id=rec.person.id,
        on=rec.day,
        insured=s.insured,
        basis="state" if hidden else s.basis,  # type: ignore[arg-type]
        basis_label=(
            i18n.gettext(STATE_LABEL) if hidden else labels.label(labels.BASIS_LABELS, s.basis)
        ),
        until=s.until,
        category=s.category if full else None,
        category_label=labels.category_name(s.category) if full and s.category else None,
        not_insured_since=_not_insured_since(rec),
        explanation=_explain(rec, full=full),
        paid_for_month=end.month if end is not None and full else None,
        payer=rec.payer_of(end) if full else None,
    )


# ---- a provider's check by national id ---------------------------------------------------


def _national_id(value: str | None) -> str:
    v = (value or "").strip()
    if not v:
        raise Invalid.fields([FieldError("national_id", N_("is required"))])
    if len(v) > _MAX_ID or not (v.isascii() and v.isdigit()):
        raise Invalid.fields([FieldError("national_id", N_("must be digits only"))])
    return v


async def _by_national_id(
    session: AsyncSession, principal: Principal, national_id: str | None
) -> registry.InsuredPerson:
    value = _national_id(national_id)
    person = await registry.insured_person_by_national_id(session, value)
    if person is None:
        await audit.denied(
            session, principal, resource_type=RESOURCE, detail="no person with this national id"
        )
        raise NotFound(N_("No person with national id %(id)s."), params={"id": value})
    return person


def _full_view(principal: Principal) -> bool:
    return allowed(principal.role, "insurance:manage")


async def _checked(
    session: AsyncSession, principal: Principal, national_id: str | None, on: date | None
) -> InsuredRecord:
    person = await _by_national_id(session, principal, national_id)
    rec = await insured_record(session, person, on or local_today())
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=RESOURCE,
        resource_id=str(person.id),
        patient_id=person.id,
        purpose=PURPOSE_FUND if _full_view(principal) else PURPOSE_CHECK,
    )
    return rec


async def insurance_status(
    session: AsyncSession, principal: Principal, national_id: str | None, on: date | None = None
) -> StatusOut:
    """A person's insured status on ``on`` (today by default), found by national id: the
    payer only for the fund's analyst."""
    rec = await _checked(session, principal, national_id, on)
    return status_out(rec, full=_full_view(principal))


def _service(code: str | None) -> ServiceRef:
    value = (code or "").strip()
    if not value:
        raise Invalid.fields([FieldError("service", N_("is required"))])
    s = insurance_rules().services.get(value.upper()) or insurance_rules().services.get(value)
    if s is None:
        raise Invalid.fields(
            [
                FieldError(
                    "service",
                    N_("%(code)s is not a service of any benefit package"),
                    {"code": value[:40]},
                )
            ]
        )
    return ServiceRef(
        code=s.code,
        name=labels.service_name(s.code),
        package=s.package,
        package_name=labels.package_name(s.package),
    )


def _coverage_of_service(rec: InsuredRecord, service: ServiceRef) -> tuple[bool, str]:
    """Whether the service is covered for the person on the day, and why."""
    s = rec.status
    gettext = i18n.gettext
    params = {"package": service.package_name}
    if s.basis == "deceased":
        assert rec.person.deceased_on is not None
        return False, gettext(N_("Not covered: the person died on %(date)s.")) % {
            "date": _day(rec.person.deceased_on)
        }
    insured_only = bool(rec.rules.packages.get(service.package, {}).get("insured_only", False))
    if not insured_only:
        return True, gettext(N_("Covered: %(package)s is for everyone.")) % params
    if s.insured:
        if s.until is not None:
            return True, gettext(
                N_(
                    "Covered: the service is in %(package)s and the person is insured "
                    "until %(until)s."
                )
            ) % {**params, "until": _day(s.until)}
        return True, gettext(
            N_("Covered: the service is in %(package)s and the person is insured.")
        ) % params
    since = _not_insured_since(rec)
    if since is not None:
        return False, gettext(
            N_(
                "Not covered: the service is in %(package)s and the person is not insured "
                "since %(since)s."
            )
        ) % {**params, "since": _day(since)}
    return False, gettext(
        N_("Not covered: the service is in %(package)s and the person is not insured.")
    ) % params


async def service_eligibility(
    session: AsyncSession,
    principal: Principal,
    national_id: str | None,
    service_code: str | None = None,
    on: date | None = None,
) -> EligibilityOut:
    """A provider's check: the person's status and, when a service is named, whether it
    is covered (the guaranteed package for everyone, the insurance package for the
    insured) and why. An unknown service code is refused before anyone is looked up."""
    service = _service(service_code) if service_code not in (None, "") else None
    rec = await _checked(session, principal, national_id, on)
    out = EligibilityOut(
        national_id=rec.person.national_id or "",
        status=status_out(rec, full=_full_view(principal)),
    )
    if service is not None:
        covered, reason = _coverage_of_service(rec, service)
        out.service, out.covered, out.reason = service, covered, reason
    return out


# ---- the citizen -------------------------------------------------------------------------


def _payments(rec: InsuredRecord) -> list[PaymentOut]:
    covers = {c.contribution_id: c.month for c in rec.covered.values()}
    rows = sorted(rec.lines, key=lambda x: (x.paid.month, x.paid.paid_on, x.paid.id), reverse=True)
    return [
        PaymentOut(
            month=x.paid.month,
            covers_month=covers.get(x.paid.id),
            paid_on=x.paid.paid_on,
            amount=x.amount,
            currency=rec.rules.currency,
            kind=x.paid.kind,
            kind_label=labels.label(labels.CONTRIBUTION_KIND_LABELS, x.paid.kind),
            payer=x.payer,
        )
        for x in rows
    ]


async def _mine(
    session: AsyncSession, principal: Principal, person_id: int, day: date
) -> MyInsuranceOut:
    await require_person(
        session,
        principal,
        person_id,
        action="read",
        resource_type=RESOURCE,
        purpose=PURPOSE_PORTAL,
    )
    person = await registry.insured_person(session, person_id)
    if person is None:
        raise NotFound(N_("No such person."))
    rec = await insured_record(session, person, day)
    return MyInsuranceOut(
        person_id=person.id,
        name=person.name,
        own=person.id == principal.person_id,
        status=status_out(rec, full=True),
        payments=_payments(rec),
    )


async def my_insurance(
    session: AsyncSession, principal: Principal, on: date | None = None
) -> list[MyInsuranceOut]:
    """The citizen's status and payments, then her children's (under 18)."""
    if principal.person_id is None:
        return []
    day = on or local_today()
    people = [principal.person_id, *await registry.children_of(session, principal)]
    return [await _mine(session, principal, pid, day) for pid in dict.fromkeys(people)]


async def person_insurance(
    session: AsyncSession, principal: Principal, person_id: int, on: date | None = None
) -> MyInsuranceOut:
    """One person's status and payments for the citizen: herself or her young child;
    anyone else answers 404."""
    return await _mine(session, principal, person_id, on or local_today())


# ---- FHIR Coverage -------------------------------------------------------------------


async def _open(
    session: AsyncSession,
    principal: Principal,
    person_id: int | None,
    national_id: str | None,
    day: date,
) -> InsuredRecord:
    if national_id is not None:
        return await _checked(session, principal, national_id, day)
    assert person_id is not None
    person = await registry.insured_person(session, person_id)
    full = _full_view(principal)
    in_scope = person is not None and (
        full or await person_scope(session, principal, person_id) is not None
    )
    if person is None or person.merged_into_id is not None or not in_scope:
        await audit.denied(
            session,
            principal,
            resource_type=RESOURCE,
            resource_id=str(person_id),
            patient_id=person.id if person is not None else None,
            detail="outside the user's scope",
        )
        raise NotFound(N_("Coverage %(id)s not found."), params={"id": str(person_id)})
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=RESOURCE,
        resource_id=str(person_id),
        patient_id=person_id,
        purpose=PURPOSE_FUND if full else PURPOSE_CHECK,
    )
    return await insured_record(session, person, day)


async def coverage_for_person(
    session: AsyncSession,
    principal: Principal,
    *,
    person_id: int | None = None,
    national_id: str | None = None,
    on: date | None = None,
) -> tuple[registry.InsuredPerson, StatusOut]:
    """The status behind a FHIR Coverage: by national id (a provider's check, as the
    REST lookup), or by record id, which a provider opens only for a person in its scope
    (the fund's analyst for anyone)."""
    rec = await _open(session, principal, person_id, national_id, on or local_today())
    return rec.person, status_out(rec, full=_full_view(principal))


async def coverage_for_people(
    session: AsyncSession,
    person_ids: Sequence[int],
    *,
    principal: Principal,
    on: date | None = None,
) -> dict[int, list[tuple[registry.InsuredPerson, StatusOut]]]:
    """The status behind each person's FHIR Coverage on ``on`` (today by default), as
    ``coverage_for_person`` shows it to ``principal``, for a page of people in a fixed few
    statements: a bulk export or Patient/$everything, whose caller chose the people by
    scope and audits each person it writes (no scope check or audit here). A merged
    record has none (its Coverage read is 404)."""
    people = [
        p
        for p in (await registry.insured_people(session, person_ids)).values()
        if p.merged_into_id is None
    ]
    records = await insured_records(session, people, on or local_today())
    full = _full_view(principal)
    return {pid: [(rec.person, status_out(rec, full=full))] for pid, rec in records.items()}


@dataclass(frozen=True)
class ServiceCoverage:
    service: ServiceRef
    covered: bool
    reason: str


async def eligibility_for(
    session: AsyncSession,
    principal: Principal,
    *,
    person_id: int | None = None,
    national_id: str | None = None,
    services: list[str] = (),  # type: ignore[assignment]
    on: date | None = None,
    field: str = "service",
) -> tuple[registry.InsuredPerson, StatusOut, list[ServiceCoverage]]:
    """A FHIR CoverageEligibilityRequest: the status and each service's coverage. Every
    code is checked before the person is looked up; a wrong one is named by ``field``
    and its index."""
    refs: list[ServiceRef] = []
    for i, code in enumerate(services):
        try:
            refs.append(_service(code))
        except Invalid as e:
            raise Invalid.fields(
                [FieldError(f"{field}[{i}]", x.msgid, x.params) for x in e.errors]
            ) from None
    rec = await _open(session, principal, person_id, national_id, on or local_today())
    out = []
    for ref in refs:
        covered, reason = _coverage_of_service(rec, ref)
        out.append(ServiceCoverage(ref, covered, reason))
    return rec.person, status_out(rec, full=_full_view(principal)), out
