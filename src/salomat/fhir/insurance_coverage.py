"""FHIR Coverage and CoverageEligibilityRequest/Response of the insurance fund.

The insured status is not stored but computed on each call (``insurance.service``), so:

- ``Coverage/<person id>`` is the person's cover today (the country's day; ``?date=
  YYYY-MM-DD`` for another day): ``status`` active when insured, cancelled when not;
  ``period.end`` the last insured day; ``type`` the basis (contributions, a protected
  category, universal); the explanation in an extension. A provider reads a protected
  category's cover as ``type`` ``state`` ("insured by the state") with no ``class`` and
  an explanation that does not name it; the category (``class``) is the fund's
  analyst's only. Search by ``beneficiary`` / ``patient`` (Patient/<id>) or
  ``beneficiary:identifier`` / ``identifier`` (the national id, ``<system>|<value>`` or
  the value alone). A provider opens a person by record id only in its scope; by
  national id anyone, as the REST check (audited as an eligibility check). A provider
  never reads who paid; the fund's analyst reads it in the explanation, as in the REST
  status.
- ``POST /CoverageEligibilityRequest`` answers ``200`` with a computed
  ``CoverageEligibilityResponse`` (not stored: there is no read or search of
  responses): ``insurance[0].inforce`` and, per ``item`` (``productOrService`` a service
  code of the pack's packages), ``excluded`` and the reason in ``description``. The
  patient is a ``Patient/<id>`` reference or an identifier with the national id;
  ``servicedDate`` is the day (today in the country's time zone by default). An
  unknown code is refused naming the item.

Permission: ``insurance:eligibility`` (providers and the fund's analyst).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid, NotFound, api_speaking
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance import service
from salomat.fhir.common import (
    EXT,
    PAGING,
    Params,
    base_url,
    fhir_response,
    read_body,
    reference_id,
    searchset,
    validated,
)
from salomat.fhir.patient import national_system
from salomat.fhir.search import parse_date_param

router = router(tags=["fhir"])  # type: ignore[no-redef]
Checker = Annotated[Principal, Depends(Require("insurance:eligibility"))]

BASIS_SYSTEM = "https://salomat.example/fhir/CodeSystem/insurance-basis"
SERVICE_SYSTEM = "https://salomat.example/fhir/CodeSystem/insurance-service"
PACKAGE_SYSTEM = "https://salomat.example/fhir/CodeSystem/insurance-package"
EXPLANATION = f"{EXT}insurance-explanation"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
FUND = N_("Health insurance fund")

SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "beneficiary": ("reference", "Patient/<id>"),
    "patient": ("reference", "Patient/<id>"),
    "beneficiary:identifier": ("token", "the national id: <system>|<value> or <value>"),
    "identifier": ("token", "the beneficiary's national id, as beneficiary:identifier"),
    "date": ("date", "the day the cover is computed for (today by default), YYYY-MM-DD"),
}
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "Coverage",
        "profile": "http://hl7.org/fhir/StructureDefinition/Coverage",
        "documentation": "The insured status of a person, computed on each call: "
        "Coverage/<Patient id> (docs/insurance.md)",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d} for n, (ty, d) in SEARCH_PARAMS.items()
        ]
        + [{"name": "_count", "type": "number"}],
    },
    {
        "type": "CoverageEligibilityRequest",
        "profile": "http://hl7.org/fhir/StructureDefinition/CoverageEligibilityRequest",
        "documentation": "POST answers 200 with a computed CoverageEligibilityResponse "
        "(not stored): insurance[].inforce and per item excluded with the reason",
        "interaction": [{"code": "create"}],
    },
]


def _day(values: list[str], field: str) -> date | None:
    """The one day ``date`` names (``2026-09-30``, ``eq2026-09-30``, or bounds that
    narrow to it such as ``ge2026-09-30&le2026-09-30``): the cover is computed for a day;
    None when not given (today in the country's time zone)."""
    values = [v for v in values if v != ""]
    if not values:
        return None
    since, until = parse_date_param(values, field)
    if (
        since is None
        or until is None
        or until - since != timedelta(days=1)
        or since.time() != datetime.min.time()
    ):
        raise Invalid.fields([FieldError(field, N_("must name one day, YYYY-MM-DD"))])
    return since.date()


def _patient_ref(person_id: int, nid: str | None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": f"Patient/{person_id}"}
    if nid:
        ref["identifier"] = {"system": national_system(), "value": nid}
    return ref


def coverage(person: Any, s: Any) -> dict[str, Any]:
    """The Coverage of a person on a day (``s``: the service's ``StatusOut``)."""
    from fhir.resources.R4B.coverage import Coverage

    res: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": str(person.id),
        "extension": [{"url": EXPLANATION, "valueString": s.explanation}],
        "status": "active" if s.insured else "cancelled",
        "type": {
            "coding": [{"system": BASIS_SYSTEM, "code": s.basis, "display": s.basis_label}],
            "text": s.basis_label,
        },
        "beneficiary": _patient_ref(person.id, person.national_id),
        "payor": [{"display": i18n.gettext(FUND)}],
    }
    if s.insured:
        period: dict[str, str] = {"start": s.on.isoformat()}
        if s.until is not None:
            period["end"] = s.until.isoformat()
        res["period"] = period
    if s.category:  # only in the fund's analyst's status (status_out full)
        res["class"] = [
            {
                "type": {"coding": [{"system": COVERAGE_CLASS, "code": "group"}]},
                "value": s.category,
                "name": s.category_label,
            }
        ]
    return validated(Coverage, res)


def _identifier(raw: str) -> str:
    system, bar, value = raw.rpartition("|")
    if bar and system and system != national_system():
        raise Invalid.fields(
            [FieldError("identifier", N_("must be the national id system %(system)s"),
                        {"system": national_system()})]
        )  # fmt: skip
    return value


@router.get("/Coverage")
async def search_coverage(request: Request, session: DbSession, principal: Checker) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    page = params.page()
    day = _day([v for k, v in params.items if k == "date"], "date")
    person_ref = params.get("beneficiary") or params.get("patient")
    token = params.get("beneficiary:identifier") or params.get("identifier")
    person_id = national_id = None
    if person_ref is not None:
        person_id = reference_id(person_ref, "Patient")
        if person_id is None:
            raise Invalid.fields(
                [FieldError("beneficiary", N_("must be a Patient id or Patient/<id>"))]
            )
    elif token is not None:
        national_id = _identifier(token)
    else:
        raise Invalid.fields(
            [FieldError("beneficiary", N_("beneficiary or identifier is required"))]
        )
    with api_speaking(request):
        try:
            person, s = await service.coverage_for_person(
                session, principal, person_id=person_id, national_id=national_id, on=day
            )
        except NotFound:
            found = []  # a search finds nobody; a read by id answers 404
        else:
            found = [coverage(person, s)]
    shown = found[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), "Coverage", params.items, shown, len(found), page)
    )


@router.get("/Coverage/{coverage_id}")
async def read_coverage(
    request: Request, session: DbSession, coverage_id: str, principal: Checker
) -> JSONResponse:
    person_id = reference_id(coverage_id, "Coverage")
    if person_id is None or "/" in coverage_id:
        raise NotFound(N_("Coverage %(id)s not found."), params={"id": coverage_id[:40]})
    unknown = sorted(set(request.query_params) - {"date"})
    if unknown:
        raise Invalid.fields([FieldError(k, N_("unsupported parameter")) for k in unknown])
    day = _day(request.query_params.getlist("date"), "date")
    with api_speaking(request):
        person, s = await service.coverage_for_person(
            session, principal, person_id=person_id, on=day
        )
        return fhir_response(coverage(person, s))


def _codes(req: Any) -> list[str]:
    out = []
    for i, item in enumerate(req.item or []):
        pos = item.productOrService
        codings = (pos.coding or []) if pos is not None else []
        code = next((c.code for c in codings if c.code), None)
        if code is None:
            raise Invalid.fields(
                [FieldError(f"CoverageEligibilityRequest.item[{i}].productOrService",
                            N_("is required"))]
            )  # fmt: skip
        out.append(code)
    return out


@router.post("/CoverageEligibilityRequest")
async def check_eligibility(
    request: Request, session: DbSession, principal: Checker
) -> JSONResponse:
    """The answer is computed and returned with 200; nothing is stored."""
    from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
    from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse

    req = await read_body(request, "CoverageEligibilityRequest", CoverageEligibilityRequest)
    patient = req.patient
    person_id = national_id = None
    if patient.reference:
        person_id = reference_id(patient.reference, "Patient")
        if person_id is None:
            raise Invalid.fields(
                [FieldError("CoverageEligibilityRequest.patient.reference",
                            N_("must be a Patient id or Patient/<id>"))]
            )  # fmt: skip
    elif patient.identifier is not None and patient.identifier.value:
        national_id = _identifier(
            f"{patient.identifier.system or ''}|{patient.identifier.value}"
            if patient.identifier.system
            else patient.identifier.value
        )
    else:
        raise Invalid.fields(
            [FieldError("CoverageEligibilityRequest.patient",
                        N_("a Patient reference or the national id is required"))]
        )  # fmt: skip
    day = req.servicedDate or (
        req.servicedPeriod.start.date() if req.servicedPeriod and req.servicedPeriod.start else None
    )
    if isinstance(day, datetime):
        day = day.date()
    codes = _codes(req)
    with api_speaking(request):
        person, s, items = await service.eligibility_for(
            session,
            principal,
            person_id=person_id,
            national_id=national_id,
            services=codes,
            on=day,
            field="CoverageEligibilityRequest.item",
        )
        fund = i18n.gettext(FUND)
    request_ref: dict[str, Any] = {"display": "CoverageEligibilityRequest (not stored)"}
    if req.identifier:
        ident = req.identifier[0]
        request_ref["identifier"] = {
            k: v for k, v in (("system", ident.system), ("value", ident.value)) if v
        }
    res: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": list(req.purpose or ["validation"]),
        "patient": _patient_ref(person.id, person.national_id),
        "servicedDate": s.on.isoformat(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "request": request_ref,
        "outcome": "complete",
        "disposition": s.explanation,
        "insurer": {"display": fund},
        "insurance": [
            {
                "coverage": {"reference": f"Coverage/{person.id}"},
                "inforce": s.insured,
                **({"benefitPeriod": {"start": s.on.isoformat(), "end": s.until.isoformat()}}
                   if s.insured and s.until else {}),
                **(
                    {
                        "item": [
                            {
                                "category": {
                                    "coding": [{"system": PACKAGE_SYSTEM,
                                                "code": x.service.package,
                                                "display": x.service.package_name}]
                                },
                                "productOrService": {
                                    "coding": [{"system": SERVICE_SYSTEM,
                                                "code": x.service.code,
                                                "display": x.service.name}]
                                },
                                "name": x.service.name,
                                "excluded": not x.covered,
                                "description": x.reason,
                            }
                            for x in items
                        ]
                    }
                    if items
                    else {}
                ),
            }
        ],
    }  # fmt: skip
    return fhir_response(validated(CoverageEligibilityResponse, res))
