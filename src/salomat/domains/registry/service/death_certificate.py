"""The medical certificate of cause of death, and the selection of the underlying cause.

The form is WHO's international one (ICD-10 Volume 2, 2019 edition, §4.1.3): Part I
lines a-d, each a condition with the interval between onset and death, the condition on
line a leading directly to death and each lower line causing the one above; Part II other
significant conditions; manner of death, the external cause and the injury's date and
place, pregnancy status for women aged 10-54, place of death, surgery and autopsy, and
the fetal or infant death block for deaths under one year.

Underlying cause, what is implemented (docs/mortality.md says the same to a user):

* General Principle (Vol. 2 §4.2.1): the condition on the lowest used line of Part I is
  the starting point when the lines form a sequence. Without the ICD causality tables
  (the ACME decision tables, as Iris uses them) the sequence is accepted as reported, and
  that starting point is selected, unless one of the checks below sends the certificate
  to a coder.
* Injuries (Vol. 2 §4.2.2 "Selection rules", notes on chapter XIX/XX and §4.2.4 on
  external causes): a nature of injury (S00-T98) is never the underlying cause; the
  external cause (V01-Y98) is, and is required when an injury is on the certificate.
* Rule A, senility and other ill-defined conditions (Vol. 2 §4.2.3 in the 2016/2019
  editions, formerly Rule 4): a selected condition in R00-R99 with a well-defined
  condition reported elsewhere in Part I is not re-selected by us: it goes to a coder
  (``ill_defined_with_defined``); a certificate with ill-defined conditions only is also
  queued (``only_ill_defined``).
* Conflicting lines go to a coder: an interval on a lower line shorter than on a line
  above it (``interval_order``), the same code on two lines of Part I
  (``duplicate_code``), an injury reported as due to a disease on a lower line (a
  complication of care, a pathological fracture: ``injury_due_to_disease``), a
  condition "unlikely to cause death" (Vol. 2 §4.2.7 and its list) as the only
  condition (``unlikely_cause``), an external cause reported with no
  injury in Part I (``external_cause_without_injury``), a pregnant or recently pregnant
  woman whose cause is not maternal (``pregnancy_not_maternal``, Vol. 2 §5.8 on maternal
  mortality), a manner still under investigation (``pending_investigation``).

Not implemented: the causality tables, Rules 1-3, the modification rules B-F and the
linkage/specificity tables of Vol. 2 §4.2.3-4.2.6 and Vol. 2 §4.2.7's full list. A
certificate they would change is queued by the checks above, or (where no check fires)
keeps the starting point: a coder can reselect any certificate.

Once a certificate exists, the registry's ``Person.death_cause`` is its selected
underlying cause and ``death_other_causes`` the other codes it reports (same
transaction, audited, the person's version bumped): statistics read the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from salomat.core import audit
from salomat.core.db import utcnow
from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Invalid,
    InvalidState,
    NotFound,
    PreconditionFailed,
)
from salomat.core.policy import person_scope, require_person
from salomat.core.security import Principal
from salomat.domains.registry.models import DeathCertificate, Facility, Person
from salomat.domains.registry.schemas import DeathIn
from salomat.domains.registry.schemas.death_certificate import (
    CertificateReviewIn,
    CertificateToReview,
    DeathCertificateIn,
    DeathCertificateOut,
    DeathWithoutCertificate,
    Manner,
    PerinatalBlock,
    Pregnancy,
)
from salomat.domains.registry.service.people import _load
from salomat.domains.registry.service.person_death import icd10_cause, register_death
from salomat.domains.registry.service.person_entry import _save

__all__ = [
    "CertificateCheck",
    "CertificateCoverage",
    "PersonFacts",
    "Selection",
    "certificate_coverage",
    "certificates_to_review",
    "check_certificate",
    "deaths_without_certificate",
    "get_death_certificate",
    "review_death_certificate",
    "save_death_certificate",
    "select_underlying_cause",
]

RESOURCE = "DeathCertificate"
LINES = "abcd"

#: minutes in each interval unit (a month as 1/12 of a Julian year)
_MINUTES = {
    "minutes": 1,
    "hours": 60,
    "days": 1440,
    "months": 1440 * 365.25 / 12,
    "years": 1440 * 365.25,
}

#: Conditions unlikely to cause death (ICD-10 Vol. 2, 2019, §4.2.7 and its list): only
#: the three-character categories we are sure are on WHO's list; one of them as the only
#: condition on a certificate is queued for a coder. The full list is not implemented.
UNLIKELY_TO_CAUSE_DEATH = frozenset(
    {
        "B07",  # viral warts
        "B30",  # viral conjunctivitis
        "B35",  # dermatophytosis
        "B36",  # other superficial mycoses
        "B85",  # pediculosis and phthiriasis
        "H10",  # conjunctivitis
        "H25",  # senile cataract
        "H52",  # disorders of refraction and accommodation
        "J00",  # acute nasopharyngitis (common cold)
        "K02",  # dental caries
        "L60",  # nail disorders
        "L70",  # acne
        "L80",  # vitiligo
        "N46",  # male infertility
        "N97",  # female infertility
    }
)

#: the manners of death in which an external cause did it
_EXTERNAL_MANNERS = frozenset(
    {
        Manner.accident,
        Manner.self_harm,
        Manner.assault,
        Manner.legal_intervention,
        Manner.war,
    }
)


@dataclass(frozen=True)
class PersonFacts:
    """What the checks need to know about the person (pure: no database)."""

    birth_date: date
    sex: str
    #: the registered date of death, if any
    deceased_on: date | None = None
    today: date = field(default_factory=date.today)


@dataclass(frozen=True)
class Selection:
    underlying_cause: str
    #: empty: auto-selected; else the reasons it goes to a coder
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class CertificateCheck:
    """A certificate that passed the checks: its normalised codes and the selection."""

    part1: list[dict[str, Any] | None]
    part2: list[dict[str, Any]]
    external_cause: str | None
    perinatal: dict[str, Any] | None
    selection: Selection
    other_causes: tuple[str, ...]


def _completed_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _is_injury(code: str) -> bool:
    return code[0] in "ST"


def _is_external(code: str) -> bool:
    return code[0] in "VWXY"


#: the conditions ICD-10 Volume 2 (2019) Rule A regards as ill-defined besides chapter
#: XVIII's symptoms and signs (R00-R94, R96-R99; R95, sudden infant death, is not)
ILL_DEFINED = frozenset({"I46.1", "I46.9", "I95.9", "I99", "J96.0", "J96.9", "P28.5"})


def _is_ill_defined(code: str) -> bool:
    """Rule A's ill-defined conditions: R00-R94, R96-R99, and cardiac arrest, unspecified
    hypotension, respiratory failure and the like (``ILL_DEFINED``)."""
    return (code[0] == "R" and code[:3] != "R95") or code in ILL_DEFINED


def _code(code: str, name: str, errors: list[FieldError]) -> str | None:
    try:
        return icd10_cause(code, name)
    except Invalid as e:
        errors.extend(e.errors or [])
        return None


def select_underlying_cause(
    part1: list[tuple[str, int | None]],
    part2: list[str] = (),  # type: ignore[assignment]
    *,
    external_cause: str | None = None,
    manner: Manner = Manner.disease,
    pregnancy: Pregnancy | None = None,
) -> Selection:
    """The WHO General Principle for the simple cases, and what goes to a coder instead.

    ``part1``: Part I's used lines from a (top) to d (bottom), each (code, interval in
    minutes or None), codes already checked. See the module's docstring for the rules."""
    if not part1:
        raise ValueError("Part I has no condition")
    codes = [c for c, _ in part1]
    reasons: list[str] = []
    starting = codes[-1]
    if len(set(codes)) < len(codes):
        reasons.append("duplicate_code")
    known = [m for _, m in part1 if m is not None]
    for upper, lower in pairwise(known):
        if lower < upper:
            reasons.append("interval_order")
            break
    injuries = [c for c in codes if _is_injury(c)]
    if injuries:
        # the external cause is required with an injury: check_certificate refuses without
        selected = external_cause or starting
        if not _is_injury(starting):
            # a complication of care or an injury due to a disease reported below it: whether
            # the disease or the external cause is underlying needs the rules we do not have
            reasons.append("injury_due_to_disease")
    else:
        selected = starting
        if external_cause is not None:
            reasons.append("external_cause_without_injury")
    if _is_ill_defined(selected):
        if any(not _is_ill_defined(c) for c in codes):
            reasons.append("ill_defined_with_defined")
        else:
            reasons.append("only_ill_defined")
    if len(codes) == 1 and not part2 and codes[0][:3] in UNLIKELY_TO_CAUSE_DEATH:
        reasons.append("unlikely_cause")
    if (
        pregnancy in (Pregnancy.at_death, Pregnancy.within_42_days)
        and selected[0] != "O"
        and not _is_external(selected)
    ):
        reasons.append("pregnancy_not_maternal")
    if manner == Manner.pending:
        reasons.append("pending_investigation")
    return Selection(selected, tuple(dict.fromkeys(reasons)))


def check_certificate(data: DeathCertificateIn, person: PersonFacts) -> CertificateCheck:
    """Every check of the certificate against itself and the person; all wrong fields at
    once (``Invalid`` naming each), or the normalised certificate and its selection."""
    errors: list[FieldError] = []
    died = data.deceased_on
    if died > person.today:
        errors.append(FieldError("deceased_on", N_("is in the future")))
    if died < person.birth_date:
        errors.append(FieldError("deceased_on", N_("is before the birth date")))
    if person.deceased_on is not None and died != person.deceased_on:
        errors.append(
            FieldError(
                "deceased_on",
                N_("differs from the registered date of death (%(date)s)"),
                {"date": f"{person.deceased_on:%d.%m.%Y}"},
            )
        )
    age_minutes = (max((died - person.birth_date).days, 0) + 1) * 1440
    part1: list[dict[str, Any] | None] = []
    used: list[tuple[str, int | None]] = []
    for i, line in enumerate(data.part1):
        name = f"part1.{i}"
        if line is None:
            part1.append(None)
            continue
        code = _code(line.code, f"{name}.code", errors)
        if code is not None:
            if code[0] == "Z":
                errors.append(
                    FieldError(
                        f"{name}.code",
                        N_("%(code)s is a Z code (a factor, not a disease): it cannot cause death"),
                        {"code": code},
                    )
                )
            elif _is_external(code):
                errors.append(
                    FieldError(
                        f"{name}.code",
                        N_(
                            "%(code)s is an external cause: give it as the external cause, "
                            "and the injury on this line"
                        ),
                        {"code": code},
                    )
                )
        minutes: int | None = None
        if (line.interval_value is None) != (line.interval_unit is None):
            errors.append(
                FieldError(f"{name}.interval_unit", N_("give the interval's number and unit"))
            )
        elif line.interval_value is not None and line.interval_unit is not None:
            minutes = round(line.interval_value * _MINUTES[line.interval_unit])
            if minutes > age_minutes:
                errors.append(
                    FieldError(
                        f"{name}.interval_value",
                        N_("is longer than the person's life (born %(born)s)"),
                        {"born": f"{person.birth_date:%d.%m.%Y}"},
                    )
                )
        part1.append(
            {
                "line": LINES[i],
                "text": line.text,
                "code": code or line.code,
                "interval_value": line.interval_value,
                "interval_unit": line.interval_unit,
            }
        )
        if code is not None:
            used.append((code, minutes))
    if all(line is None for line in data.part1):
        errors.append(FieldError("part1", N_("give at least the condition on line a")))
    part2: list[dict[str, Any]] = []
    for i, cond in enumerate(data.part2):
        code = _code(cond.code, f"part2.{i}.code", errors)
        if code is not None and _is_external(code):
            errors.append(
                FieldError(
                    f"part2.{i}.code",
                    N_("%(code)s is an external cause: give it as the external cause"),
                    {"code": code},
                )
            )
        part2.append({"text": cond.text, "code": code or cond.code})
    external = None
    if data.external_cause is not None:
        external = _code(data.external_cause, "external_cause", errors)
        if external is not None and not _is_external(external):
            errors.append(
                FieldError(
                    "external_cause",
                    N_("%(code)s is not an external cause (V01-Y98)"),
                    {"code": external},
                )
            )
            external = None
        elif external is not None and data.manner == Manner.disease:
            errors.append(
                FieldError("external_cause", N_("is given but the manner of death is disease"))
            )
    if external is None and data.external_cause is None:
        if any(_is_injury(c) for c, _ in used):
            errors.append(
                FieldError(
                    "external_cause",
                    N_(
                        "is required: an injury (S00-T98) is on the certificate; give how it "
                        "happened (V01-Y98)"
                    ),
                )
            )
        elif data.manner in _EXTERNAL_MANNERS:
            errors.append(FieldError("external_cause", N_("is required for this manner of death")))
    if data.injury_on is not None:
        if data.manner == Manner.disease:
            errors.append(
                FieldError("injury_on", N_("is given but the manner of death is disease"))
            )
        elif data.injury_on > died or data.injury_on < person.birth_date:
            errors.append(FieldError("injury_on", N_("must be between the birth and the death")))
    age = _completed_years(person.birth_date, died) if died >= person.birth_date else 0
    if data.pregnancy is not None:
        if person.sex != "female":
            errors.append(FieldError("pregnancy", N_("is asked for women only")))
        elif not 10 <= age <= 54:
            errors.append(
                FieldError(
                    "pregnancy",
                    N_("is asked for women aged 10 to 54 (she was %(age)s)"),
                    {"age": age},
                )
            )
    if data.place.value == "facility" and not data.facility_code:
        errors.append(FieldError("facility_code", N_("is required when death was in a facility")))
    perinatal = _check_perinatal(data.perinatal, person, died, age, errors)
    if errors:
        raise Invalid.fields(errors)
    selection = select_underlying_cause(
        used,
        [c["code"] for c in part2],
        external_cause=external,
        manner=data.manner,
        pregnancy=data.pregnancy,
    )
    reported = [c for c, _ in reversed(used)] + [c["code"] for c in part2]
    others = tuple(c for c in dict.fromkeys(reported) if c != selection.underlying_cause)
    return CertificateCheck(part1, part2, external, perinatal, selection, others[:6])


def _check_perinatal(
    block: PerinatalBlock | None,
    person: PersonFacts,
    died: date,
    age: int,
    errors: list[FieldError],
) -> dict[str, Any] | None:
    if block is None:
        return None
    if age >= 1:
        errors.append(
            FieldError(
                "perinatal",
                N_("is for deaths under one year (the person was %(age)s)"),
                {"age": age},
            )
        )
        return None
    same_day = died == person.birth_date
    if block.stillborn and not same_day:
        errors.append(
            FieldError("perinatal.stillborn", N_("a stillbirth dies on the day of birth"))
        )
    if block.hours_survived is not None:
        if block.stillborn:
            errors.append(
                FieldError("perinatal.hours_survived", N_("is not given for a stillbirth"))
            )
        elif (died - person.birth_date).days > 1:
            errors.append(
                FieldError(
                    "perinatal.hours_survived",
                    N_("is for deaths within 24 hours of birth"),
                )
            )
    mothers = []
    for i, c in enumerate(block.mother_conditions):
        code = _code(c, f"perinatal.mother_conditions.{i}", errors)
        if code is not None:
            mothers.append(code)
    out = block.model_dump(mode="json")
    out["mother_conditions"] = mothers
    return out


# ---- the database side ---------------------------------------------------------------


async def _certificate(session: AsyncSession, person_id: int) -> DeathCertificate | None:
    return await session.scalar(
        select(DeathCertificate).where(DeathCertificate.person_id == person_id)
    )


async def _out(session: AsyncSession, cert: DeathCertificate) -> DeathCertificateOut:
    facility_code = None
    if cert.facility_id is not None:
        facility_code = await session.scalar(
            select(Facility.code).where(Facility.id == cert.facility_id)
        )
    return DeathCertificateOut(
        person_id=cert.person_id,
        deceased_on=cert.deceased_on,
        part1=cert.part1,
        part2=cert.part2,
        manner=cert.manner,
        external_cause=cert.external_cause,
        injury_on=cert.injury_on,
        injury_place=cert.injury_place,
        pregnancy=cert.pregnancy,
        place=cert.place,
        facility_code=facility_code,
        place_detail=cert.place_detail,
        surgery=cert.surgery,
        autopsy=cert.autopsy,
        perinatal=cert.perinatal,
        certifier=cert.certifier_username,
        certified_at=cert.certified_at,
        underlying_cause=cert.underlying_cause,
        review=cert.review,
        review_reasons=cert.review_reasons,
        reviewed_by=cert.reviewed_by,
        reviewed_at=cert.reviewed_at,
        review_note=cert.review_note,
        version=cert.version,
    )


def _check_cert_version(cert: DeathCertificate, expected: int | None) -> None:
    if expected is None:
        raise PreconditionFailed(N_("Send If-Match with the version you read (its ETag)."))
    if expected != cert.version:
        raise PreconditionFailed(
            N_(
                "The record changed since you read it (version %(current)s, "
                "you sent %(sent)s); reload and retry."
            ),
            params={"current": cert.version, "sent": expected},
        )


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except StaleDataError as e:
        raise PreconditionFailed("The certificate changed while you edited it; reload.") from e
    except IntegrityError as e:
        raise Conflict(N_("This person already has a death certificate; reload.")) from e


async def _follow(
    session: AsyncSession,
    principal: Principal,
    person: Person,
    cert: DeathCertificate,
    others: tuple[str, ...],
) -> None:
    """The registry's person takes the certificate's underlying cause (a new version)."""
    if (
        person.death_cause == cert.underlying_cause
        and tuple(person.death_other_causes or ()) == others
    ):
        return
    person.death_cause = cert.underlying_cause
    person.death_other_causes = list(others) or None
    await _save(session, principal, person)


async def get_death_certificate(
    session: AsyncSession, principal: Principal, person_id: int
) -> DeathCertificateOut:
    """The person's certificate (audited as a read of the person's data)."""
    await _load(session, principal, person_id)
    await require_person(
        session,
        principal,
        person_id,
        action="read",
        resource_type=RESOURCE,
        purpose="death certificate",
    )
    cert = await _certificate(session, person_id)
    if cert is None:
        raise NotFound(N_("Patient %(id)s has no death certificate."), params={"id": person_id})
    return await _out(session, cert)


async def save_death_certificate(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: DeathCertificateIn,
    *,
    expected_version: int | None,
) -> tuple[DeathCertificateOut, bool]:
    """Certify a death, or replace its certificate (``If-Match`` its version).

    A death not yet registered is registered from the certificate (as
    ``register_death``: attachment and care end, ``PersonDied`` is published). A
    replacement runs the selection again, so a coder's earlier decision no longer
    stands. Returns the certificate and whether it was created."""
    person = await _load(session, principal, person_id)
    await require_person(
        session,
        principal,
        person_id,
        action="update",
        resource_type=RESOURCE,
        purpose="death certificate",
    )
    if person.merged_into_id is not None:
        raise InvalidState(
            N_("Patient %(id)s was merged into %(into)s; update that record."),
            params={"id": person_id, "into": person.merged_into_id},
        )
    cert = await _certificate(session, person_id)
    if cert is not None:
        _check_cert_version(cert, expected_version)
    checked = check_certificate(
        data, PersonFacts(person.birth_date, person.sex, person.deceased_on)
    )
    facility_id = None
    if data.facility_code:
        facility_id = await session.scalar(
            select(Facility.id).where(Facility.code == data.facility_code)
        )
        if facility_id is None:
            raise Invalid.fields([FieldError("facility_code", N_("no facility has this code"))])
    if person.deceased_on is None:
        await register_death(
            session,
            principal,
            person_id,
            DeathIn(
                deceased_on=data.deceased_on,
                cause=checked.selection.underlying_cause,
                other_causes=list(checked.other_causes),
            ),
            expected_version=person.version,
        )
    sel = checked.selection
    values: dict[str, Any] = {
        "deceased_on": data.deceased_on,
        "part1": checked.part1,
        "part2": checked.part2,
        "manner": data.manner.value,
        "external_cause": checked.external_cause,
        "injury_on": data.injury_on,
        "injury_place": data.injury_place,
        "pregnancy": data.pregnancy.value if data.pregnancy else None,
        "place": data.place.value,
        "facility_id": facility_id,
        "place_detail": data.place_detail,
        "surgery": data.surgery.value,
        "autopsy": data.autopsy.value,
        "perinatal": checked.perinatal,
        "certifier_user_id": principal.user_id,
        "certifier_username": principal.username,
        "certifier_facility_id": principal.facility_id,
        "certified_at": utcnow(),
        "underlying_cause": sel.underlying_cause,
        "review": "needs_review" if sel.reasons else "auto_selected",
        "review_reasons": list(sel.reasons),
        "reviewed_by": None,
        "reviewed_at": None,
        "review_note": None,
    }
    created = cert is None
    if cert is None:
        cert = DeathCertificate(person_id=person_id, **values)
        session.add(cert)
    else:
        for k, v in values.items():
            setattr(cert, k, v)
    await _flush(session)
    await _follow(session, principal, person, cert, checked.other_causes)
    return await _out(session, cert), created


async def review_death_certificate(
    session: AsyncSession,
    principal: Principal,
    person_id: int,
    data: CertificateReviewIn,
    *,
    expected_version: int | None,
) -> DeathCertificateOut:
    """A mortality coder sets the underlying cause (with why); the person follows."""
    person = await _load(session, principal, person_id)
    await require_person(
        session,
        principal,
        person_id,
        action="update",
        resource_type=RESOURCE,
        purpose="death certificate review",
    )
    cert = await _certificate(session, person_id)
    if cert is None:
        raise NotFound(N_("Patient %(id)s has no death certificate."), params={"id": person_id})
    _check_cert_version(cert, expected_version)
    code = icd10_cause(data.underlying_cause, "underlying_cause")
    if code[0] == "Z":
        raise Invalid.fields(
            [
                FieldError(
                    "underlying_cause",
                    N_("%(code)s is a Z code: it cannot cause death"),
                    {"code": code},
                )
            ]
        )
    if _is_injury(code):
        raise Invalid.fields(
            [
                FieldError(
                    "underlying_cause",
                    N_(
                        "%(code)s is an injury: the underlying cause is its external cause "
                        "(V01-Y98)"
                    ),
                    {"code": code},
                )
            ]
        )
    reported = [line["code"] for line in reversed(cert.part1) if line is not None] + [
        c["code"] for c in cert.part2
    ]
    if cert.external_cause:
        reported.append(cert.external_cause)
    others = tuple(c for c in dict.fromkeys(reported) if c != code)[:6]
    cert.underlying_cause = code
    cert.review = "reviewed"
    cert.reviewed_by = principal.username
    cert.reviewed_at = utcnow()
    cert.review_note = data.reason
    await _flush(session)
    await _follow(session, principal, person, cert, others)
    return await _out(session, cert)


async def deaths_without_certificate(
    session: AsyncSession, principal: Principal, *, limit: int = 100
) -> list[DeathWithoutCertificate]:
    """Registered deaths of the people attached to the user's facility with no
    certificate yet, oldest death first (each person shown is audited)."""
    if principal.facility_id is None:
        return []
    rows = (
        await session.execute(
            select(
                Person.id,
                Person.family_name,
                Person.given_name,
                Person.birth_date,
                Person.sex,
                Person.deceased_on,
            )
            .outerjoin(DeathCertificate, DeathCertificate.person_id == Person.id)
            .where(
                Person.attached_facility_id == principal.facility_id,
                Person.deceased_on.is_not(None),
                Person.merged_into_id.is_(None),
                DeathCertificate.id.is_(None),
            )
            .order_by(Person.deceased_on, Person.id)
            .limit(limit)
        )
    ).all()
    await audit.record_listing(
        session,
        principal,
        [audit.Access(r.id, "death certificate worklist") for r in rows],
        action="search",
    )
    return [
        DeathWithoutCertificate(
            person_id=r.id,
            family_name=r.family_name,
            given_name=r.given_name,
            birth_date=r.birth_date,
            sex=r.sex,
            deceased_on=r.deceased_on,
        )
        for r in rows
    ]


async def certificates_to_review(
    session: AsyncSession, principal: Principal, *, limit: int = 100
) -> list[CertificateToReview]:
    """The coders' queue: certificates whose selection needs a coder, oldest first,
    within the user's person scope (each one shown is audited)."""
    rows = (
        await session.execute(
            select(
                DeathCertificate.person_id,
                Person.family_name,
                Person.given_name,
                DeathCertificate.deceased_on,
                DeathCertificate.underlying_cause,
                DeathCertificate.review_reasons,
                DeathCertificate.certified_at,
                DeathCertificate.version,
            )
            .join(Person, Person.id == DeathCertificate.person_id)
            .where(DeathCertificate.review == "needs_review")
            .order_by(DeathCertificate.certified_at, DeathCertificate.id)
            .limit(limit)
        )
    ).all()
    shown = []
    out = []
    for r in rows:
        scope = await person_scope(session, principal, r.person_id)
        if scope is None:
            continue
        shown.append(audit.Access(r.person_id, "death certificate review", scope.break_glass_grant))
        out.append(
            CertificateToReview(
                person_id=r.person_id,
                family_name=r.family_name,
                given_name=r.given_name,
                deceased_on=r.deceased_on,
                underlying_cause=r.underlying_cause,
                review_reasons=r.review_reasons,
                certified_at=r.certified_at,
                version=r.version,
            )
        )
    await audit.record_listing(session, principal, shown, action="search", resource_type=RESOURCE)
    return out


@dataclass(frozen=True)
class CertificateCoverage:
    """Data quality of the cause-of-death data for deaths in a period (counts only)."""

    deaths: int
    certified: int
    #: certificates still waiting for a coder
    needs_review: int
    #: deaths whose (selected or registered) underlying cause is ill-defined (R00-R99)
    ill_defined: int


async def certificate_coverage(
    session: AsyncSession, start: date, end: date
) -> CertificateCoverage:
    """How many registered deaths in [start, end] have a certificate, wait for a coder, or
    carry an ill-defined cause (WHO's usual quality measures of mortality data). One
    grouped statement; counts only, so not audited per person."""
    row = (
        await session.execute(
            select(
                func.count(Person.id).label("deaths"),
                func.count(DeathCertificate.id).label("certified"),
                func.count(case((DeathCertificate.review == "needs_review", 1))).label("queued"),
                func.count(
                    case(
                        (
                            or_(
                                and_(
                                    Person.death_cause.like("R%"),
                                    Person.death_cause.not_like("R95%"),
                                ),
                                Person.death_cause.in_(sorted(ILL_DEFINED)),
                            ),
                            1,
                        )
                    )
                ).label("ill_defined"),
            )
            .select_from(Person)
            .outerjoin(DeathCertificate, DeathCertificate.person_id == Person.id)
            .where(
                Person.deceased_on.between(start, end),
                Person.merged_into_id.is_(None),
            )
        )
    ).one()
    return CertificateCoverage(
        int(row.deaths), int(row.certified), int(row.queued), int(row.ill_defined)
    )
