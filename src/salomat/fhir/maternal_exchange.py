"""Referrals as FHIR ``ServiceRequest`` (read, search) and antenatal contacts submitted
as a transaction ``Bundle`` (``POST /fhir``), issue 4 item 7.

Everything goes through the maternal service: scope, audit, and for a contact the
same ``ContactIn`` and ``record_contact`` as the REST API and the web form, so the
checks and the rule evaluation are identical. A transaction holds exactly one
antenatal contact: one ``Encounter`` and its ``Observation``s.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest

from salomat.core.errors import FieldError, Invalid
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import AdviceOut, ContactIn, PregnancyDetail, ReferralOut
from salomat.fhir import maternal as mapper
from salomat.fhir.common import (
    EXT,
    FACILITY_SYSTEM,
    PAGING,
    Params,
    base_url,
    etag,
    fhir_response,
    fields_as,
    instant,
    parse_if_match,
    read_body,
    resource_response,
    searchset,
    validated,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
ReferralReader = Annotated[Principal, Depends(Require("referral:read"))]
ContactWriter = Annotated[Principal, Depends(Require("pregnancy:contact"))]

SNOMED = "http://snomed.info/sct"
REFERRAL_KIND = "urn:salomat:referral-kind"
REFERRAL_STATUS_EXT = EXT + "referral-status"
REQUIRED_LEVEL_EXT = EXT + "required-care-level"
#: Salomat's referral status -> ServiceRequest.status
STATUS = {
    "sent": "active",
    "accepted": "active",
    "seen": "active",
    "returned": "completed",
    "declined": "revoked",
    "cancelled": "revoked",
}
SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "patient": ("reference", "the woman, Patient/<id>; this or performer is required"),
    "performer": (
        "reference",
        "the receiving facility's code (its inbox; only for that facility's own staff)",
    ),
    "status": (
        "token",
        "active (sent, accepted, seen), completed (returned), revoked (declined, cancelled)",
    ),
}
CAPABILITY: dict[str, Any] = {
    "type": "ServiceRequest",
    "profile": "http://hl7.org/fhir/StructureDefinition/ServiceRequest",
    "interaction": [{"code": "read"}, {"code": "search-type"}],
    "searchParam": [
        {"name": n, "type": ty, "documentation": d} for n, (ty, d) in SEARCH_PARAMS.items()
    ]
    + [{"name": "_count", "type": "number"}],
}
#: system-level interactions in ``/fhir/metadata``
SYSTEM_INTERACTIONS: list[dict[str, Any]] = [
    {
        "code": "transaction",
        "documentation": "one antenatal contact: an Encounter and its Observations",
    }
]


# ---- ServiceRequest ---------------------------------------------------------------------


def _org(fid: int | None, code: str | None) -> dict[str, Any] | None:
    if fid is None:
        return None
    ref: dict[str, Any] = {"reference": f"Organization/{fid}"}
    if code:
        ref["identifier"] = {"system": FACILITY_SYSTEM, "value": code}
    return ref


def service_request(r: ReferralOut) -> dict[str, Any]:
    ext: list[dict[str, Any]] = [{"url": REFERRAL_STATUS_EXT, "valueCode": r.status}]
    if r.required_level is not None:
        ext.append({"url": REQUIRED_LEVEL_EXT, "valueInteger": r.required_level})
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(r.id),
        "meta": {"versionId": str(r.version)},
        "extension": ext,
        "status": STATUS[r.status],
        "intent": "order",
        "category": [
            {"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}]}
        ],
        "code": {
            "coding": [{"system": REFERRAL_KIND, "code": r.kind}],
            "text": f"{r.kind} referral",
        },
        "subject": {"reference": f"Patient/{r.person_id}"},
        "authoredOn": instant(r.sent_at),
        "requester": _org(r.from_facility_id, r.from_facility_code),
        "performer": [_org(r.to_facility_id, r.to_facility_code)],
        "reasonCode": [{"text": r.reason}],
        "supportingInfo": [{"reference": f"EpisodeOfCare/{r.pregnancy_id}"}],
    }
    if r.conclusion:
        res["note"] = [{"text": f"{r.status}: {r.conclusion}"}]
    return validated(ServiceRequest, {k: v for k, v in res.items() if v is not None})


@router.get("/ServiceRequest")
async def search_service_requests(
    request: Request, session: Session, principal: ReferralReader
) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    raw_patient, performer, status = (
        params.get("patient"),
        params.get("performer"),
        params.get("status"),
    )
    if status is not None and status not in set(STATUS.values()):
        raise Invalid.fields([FieldError("status", "must be active, completed or revoked")])
    if raw_patient is not None:
        pid = raw_patient.removeprefix("Patient/")
        if not (pid.isascii() and pid.isdigit()):
            raise Invalid.fields([FieldError("patient", "must be a Patient id or Patient/<id>")])
        found = [
            r
            for p in await service.list_pregnancies(session, principal, int(pid))
            for r in await service.list_referrals(session, principal, p.id)
        ]
        if performer is not None:
            found = [r for r in found if r.to_facility_code == performer]
    elif performer is not None:
        found = await service.inbox(session, principal, performer, status=None)
    else:
        raise Invalid.fields(
            [FieldError("patient", "is required"), FieldError("performer", "is required")]
        )
    resources = [service_request(r) for r in found]
    if status is not None:
        resources = [r for r in resources if r["status"] == status]
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), "ServiceRequest", params.items, shown, len(resources), page)
    )


@router.get("/ServiceRequest/{referral_id}")
async def read_service_request(
    request: Request, session: Session, referral_id: RowId, principal: ReferralReader
) -> JSONResponse:
    r = await service.get_referral(session, principal, referral_id)
    return resource_response(request, service_request(r))


# ---- the contact transaction --------------------------------------------------------------

ONLY_CONTACTS = (
    "Only antenatal contacts are supported in a transaction: "
    "one Encounter and its Observations, each with request.method POST."
)
_REF = re.compile(r"(\w+)/(\d{1,18})", re.ASCII)
#: LOINC -> (ContactIn fields, one per reading; UCUM unit; integer?)
QUANTITIES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "29463-7": (("weight_kg",), "kg", False),
    "8302-2": (("height_cm",), "cm", False),
    "718-7": (("haemoglobin_g_l",), "g/L", True),
    "1558-6": (("fasting_glucose_mmol_l",), "mmol/L", False),
    "55283-6": (("fetal_heart_rate_1", "fetal_heart_rate_2"), "/min", True),
    "11881-0": (("fundal_height_cm",), "cm", False),
}
BP_PANEL, PROTEIN, GA = "85354-9", "20454-5", "11884-4"
PROTEIN_VALUES = ("none", "+", "++", "+++", "++++")
#: ContactIn field -> the measure part of its Observation id
MEASURE_OF = {
    "weight_kg": "weight",
    "height_cm": "height",
    "haemoglobin_g_l": "hb",
    "fasting_glucose_mmol_l": "glucose",
    "fetal_heart_rate_1": "fhr1",
    "fetal_heart_rate_2": "fhr2",
    "fundal_height_cm": "fundal",
    "urine_protein": "protein",
    "systolic_1": "bp1",
    "systolic_2": "bp2",
}


class _Contact:
    """A transaction's contact as ``ContactIn`` values, and where each came from."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.paths: dict[str, str] = {}
        self.errors: list[FieldError] = []
        #: entry index -> the measure part of the Observation id it became
        self.measures: dict[int, str] = {}

    def bad(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def put(self, fields: tuple[str, ...], value: Any, path: str) -> str | None:
        """The first free field of ``fields`` (one per reading); None when all are taken."""
        for f in fields:
            if f not in self.values:
                self.values[f] = value
                self.paths[f] = path
                return f
        self.bad(path, f"at most {len(fields)} of this measure in one contact")
        return None


def _loinc(res: dict[str, Any]) -> str | None:
    codes = [
        c.get("code")
        for c in (res.get("code") or {}).get("coding", [])
        if c.get("system") == mapper.LOINC
    ]
    return codes[0] if codes else None


def _quantity(q: Any, unit: str, integer: bool, path: str, c: _Contact) -> float | int | None:
    if not isinstance(q, dict) or q.get("value") is None:
        c.bad(path, f"a valueQuantity in {unit} is required")
        return None
    code = q.get("code") or q.get("unit")
    if code != unit or q.get("system", mapper.UCUM) != mapper.UCUM:
        c.bad(path, f"must be in UCUM {unit}")
        return None
    v = q["value"]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        c.bad(path, "must be a number")
        return None
    if integer:
        if v != int(v):
            c.bad(path, f"must be a whole number of {unit}")
            return None
        return int(v)
    return float(v)


def _observation(i: int, res: dict[str, Any], c: _Contact) -> None:
    at = f"Bundle.entry[{i}].resource"
    code = _loinc(res)
    if code == GA:
        c.measures[i] = "ga"  # computed from the pregnancy's dating; the value sent is ignored
        return
    if code == BP_PANEL:
        parts = {
            _loinc(comp): (j, comp.get("valueQuantity"))
            for j, comp in enumerate(res.get("component", []))
        }
        if set(parts) != {mapper.SYSTOLIC, mapper.DIASTOLIC}:
            c.bad(f"{at}.component", "a BP panel has one systolic and one diastolic component")
            return
        (sj, sq), (dj, dq) = parts[mapper.SYSTOLIC], parts[mapper.DIASTOLIC]
        s_path, d_path = (f"{at}.component[{j}].valueQuantity" for j in (sj, dj))
        s = _quantity(sq, "mm[Hg]", True, s_path, c)
        d = _quantity(dq, "mm[Hg]", True, d_path, c)
        if s is None or d is None:
            return
        field = c.put(("systolic_1", "systolic_2"), s, s_path)
        if field is not None:
            n = field[-1]
            c.values[f"diastolic_{n}"], c.paths[f"diastolic_{n}"] = d, d_path
            c.measures[i] = MEASURE_OF[field]
        return
    if code == PROTEIN:
        v = res.get("valueString")
        if v not in PROTEIN_VALUES:
            c.bad(f"{at}.valueString", f"must be one of {', '.join(PROTEIN_VALUES)}")
            return
        if c.put(("urine_protein",), v, f"{at}.valueString"):
            c.measures[i] = "protein"
        return
    if code in QUANTITIES:
        fields, unit, integer = QUANTITIES[code]
        path = f"{at}.valueQuantity"
        v = _quantity(res.get("valueQuantity"), unit, integer, path, c)
        if v is not None and (field := c.put(fields, v, path)) is not None:
            c.measures[i] = MEASURE_OF[field]
        return
    known = ", ".join(sorted({*QUANTITIES, BP_PANEL, PROTEIN, GA}))
    c.bad(f"{at}.code", f"not a supported LOINC code (known: {known})")


def _reference(value: Any, kind: str, path: str, c: _Contact) -> int | None:
    hit = _REF.fullmatch(value or "") if isinstance(value, str) else None
    if hit is None or hit.group(1) != kind:
        c.bad(path, f"must be {kind}/<id>")
        return None
    return int(hit.group(2))


def _advice_outcome(detail: PregnancyDetail, contact_id: int) -> dict[str, Any]:
    """The advice after this contact as an OperationOutcome (Encounter entry's outcome)."""

    def issue(a: AdviceOut) -> dict[str, Any]:
        return {
            "severity": "warning" if a.urgency in ("emergency", "urgent") else "information",
            "code": "informational",
            "details": {
                "coding": [
                    {"system": mapper.ADVICE_SYSTEM, "code": a.code},
                    {"system": mapper.DAK_RULE_SYSTEM, "code": a.rule_id},
                ],
                "text": a.action,
            },
            "diagnostics": f"DetectedIssue/{a.id}",
        }

    issues = [issue(a) for a in detail.advice]
    if detail.risk_level is not None:
        issues.append(
            {
                "severity": "information",
                "code": "informational",
                "details": {
                    "coding": [
                        {
                            "system": mapper.RISK_SYSTEM,
                            "code": mapper.RISK[detail.risk_level],
                        }
                    ],
                    "text": f"risk {detail.risk_level}",
                },
                "diagnostics": f"RiskAssessment/{detail.id}",
            }
        )
    if not issues:
        issues = [{"severity": "information", "code": "informational", "diagnostics": "no advice"}]
    return {"resourceType": "OperationOutcome", "issue": issues}


async def transaction(request: Request, session: Session, principal: ContactWriter) -> JSONResponse:
    """One antenatal contact as a transaction Bundle; answers a transaction-response.

    Served as ``POST /fhir`` by ``fhir.api`` (a route of this prefix-less router may
    not have an empty path)."""
    await read_body(request, "Bundle", Bundle)  # structure, named by element (400)
    bundle = json.loads(await request.body())
    entries = bundle.get("entry") or []
    kinds = [(e.get("resource") or {}).get("resourceType") for e in entries]
    methods = {(e.get("request") or {}).get("method") for e in entries}
    if (
        bundle.get("type") != "transaction"
        or kinds.count("Encounter") != 1
        or set(kinds) - {"Encounter", "Observation"}
        or methods != {"POST"}
    ):
        raise Invalid.fields([FieldError("Bundle", ONLY_CONTACTS)], detail=ONLY_CONTACTS)
    k = kinds.index("Encounter")
    enc, at = entries[k]["resource"], f"Bundle.entry[{k}]"
    c = _Contact()
    person = _reference(
        enc.get("subject", {}).get("reference"), "Patient", f"{at}.resource.subject", c
    )
    episodes = enc.get("episodeOfCare") or [{}]
    pregnancy = _reference(
        episodes[0].get("reference"), "EpisodeOfCare", f"{at}.resource.episodeOfCare[0]", c
    )
    start = (enc.get("period") or {}).get("start")
    try:
        on = date.fromisoformat(start[:10]) if isinstance(start, str) else None
    except ValueError:
        on = None
    if on is None:
        c.bad(f"{at}.resource.period.start", "the contact's date is required")
    else:
        c.values["on"], c.paths["on"] = on, f"{at}.resource.period.start"
    full_url = entries[k].get("fullUrl")
    for i, e in enumerate(entries):
        if i == k:
            continue
        res = e["resource"]
        subject = (res.get("subject") or {}).get("reference")
        if subject is not None and person is not None and subject != f"Patient/{person}":
            c.bad(f"Bundle.entry[{i}].resource.subject", "must be the Encounter's subject")
        ref = (res.get("encounter") or {}).get("reference")
        if ref is not None and ref != full_url:
            c.bad(f"Bundle.entry[{i}].resource.encounter", "must be the Encounter's fullUrl")
        _observation(i, res, c)
    if_match = (entries[k].get("request") or {}).get("ifMatch")
    with fields_as(
        {"If-Match": f"{at}.request.ifMatch", "meta.versionId": f"{at}.resource.meta.versionId"}
    ):
        expected = parse_if_match(if_match, body_version=(enc.get("meta") or {}).get("versionId"))
    if c.errors:
        raise Invalid.fields(c.errors)
    assert pregnancy is not None
    assert person is not None
    with fields_as(c.paths):
        detail = await service.record_contact(
            session, principal, pregnancy, ContactIn(**c.values), expected_version=expected
        )
    if detail.person_id != person:  # rolls the contact back
        raise Invalid.fields(
            [FieldError(f"{at}.resource.subject", "is not the woman of this EpisodeOfCare")]
        )
    contact = max(detail.contacts, key=lambda x: x.id)
    response = []
    for i in range(len(entries)):
        if i == k:
            response.append(
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"Encounter/{contact.id}",
                        "etag": etag(detail.version),  # the EpisodeOfCare's, for the next contact
                        "outcome": _advice_outcome(detail, contact.id),
                    }
                }
            )
        else:
            measure = c.measures.get(i, "ga")
            response.append(
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"Observation/{contact.id}-{measure}",
                    }
                }
            )
    out = {"resourceType": "Bundle", "type": "transaction-response", "entry": response}
    return fhir_response(validated(Bundle, out))
