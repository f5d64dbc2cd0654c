"""FHIR for the insurance fund's service claims: ``Claim`` (a provider system submits one;
read and search), ``ClaimResponse`` (the fund's adjudication of each item: claimed,
approved, the line's status and the control rules' reasons) and ``PaymentReconciliation``
(a provider's monthly settlement), all through the same services as
``/api/v1/insurance/...``: the same checks, scope (a provider its own facility's, the
fund all) and audit.

**Mapping.** A Claim is one stored claim, id ``svc-<claim id>``: its sender's number is
its identifier (``urn:salomat:insurance-claim``), each line an item
(``productOrService`` in ``urn:salomat:insurance-service``, ``servicedDate``,
``quantity``, ``net`` in the pack's currency), its patient the lines' person. FHIR's
Claim names one patient: a POSTed Claim makes lines for that patient only; a claim sent
through REST with several people names each item's person in an extension
(``claim-item-patient``) and the first as ``patient``. The ClaimResponse of a claim has
the same id; the PaymentReconciliation of a settlement is ``settlement-<id>``.

**Shared type.** ``Claim`` is also the pharmacies' (fhir/claim_api.py, ``claim:read``,
numeric ids). The routes here come first and claim only what is the fund's: an id
``svc-<n>``, or a search with ``type=professional`` or ``type=institutional``, the
sender's ``identifier`` or ``billing-period``; POST is the fund's alone.

**Search.** Claims are counted and paged in the database (``list_claims``); only the
page's claims are read, and only their people audited. ``created`` is when a claim was
received (``Claim.created``, with prefixes); the month a claim or settlement is for is
the custom ``billing-period``. A search that finds nothing is an empty searchset, even
by ``_id``; a read of a missing id answers 404.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from starlette.types import Scope

from salomat.core import i18n
from salomat.core.errors import FieldError, Invalid, NotFound, api_speaking
from salomat.core.i18n import N_
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance import service
from salomat.domains.insurance.schemas import ClaimIn, ClaimOut, SettlementOut
from salomat.domains.registry import service as registry
from salomat.fhir import capability
from salomat.fhir.common import (
    EXT,
    PAGING,
    Params,
    base_url,
    claimed_route,
    fhir_response,
    fields_as,
    instant,
    money,
    pack_currency,
    query_of,
    read_body,
    reference_id,
    reference_param,
    searchset,
    validated,
)
from salomat.fhir.insurance_coverage import FUND
from salomat.fhir.patient import national_system
from salomat.fhir.search import parse_date_param
from salomat.ui.forms import validate

router = router(tags=["fhir"])  # type: ignore[no-redef]
Reader = Annotated[Principal, Depends(Require("insurance:claim_read"))]
Provider = Annotated[Principal, Depends(Require("insurance:claim"))]

PREFIX = "svc-"
SETTLEMENT_PREFIX = "settlement-"
CLAIM_SYSTEM = "urn:salomat:insurance-claim"
SERVICE_SYSTEM = "urn:salomat:insurance-service"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
#: the parts of a settlement (PaymentReconciliation.detail.type)
PART_SYSTEM = "https://salomat.example/fhir/CodeSystem/settlement-part"
PARTS = {
    "capitation": N_("Per-capita payment"),
    "services": N_("Services"),
    "pharmacy": N_("Pharmacy"),
    "claim": N_("Service claim"),
}
COVERAGE = N_("Compulsory health insurance")
STATUS_EXT = EXT + "claim-line-status"
FLAG_EXT = EXT + "claim-flag"
ITEM_PATIENT_EXT = EXT + "claim-item-patient"
#: every claim of the fund's is professional; a search for institutional ones finds none
CLAIM_TYPE_CODE = "professional"
FUND_TYPES = ("professional", "institutional")
#: a custom parameter: the month a claim or settlement is for
BILLING_PERIOD = "billing-period"

SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Claim": {
        "type": ("token", "professional (every claim of the fund's; institutional finds none)"),
        "patient": ("reference", "Patient/<id>"),
        "provider": ("reference", "Organization/<id>"),
        "identifier": ("token", f"the sender's claim number: {CLAIM_SYSTEM}|<number> or <number>"),
        "created": ("date", "when the claim was received (Claim.created): eq, ge, gt, le, lt"),
        BILLING_PERIOD: ("date", "the month the claim is for (Claim.billablePeriod), YYYY-MM"),
        "_id": ("token", "svc-<claim id>"),
    },
    "ClaimResponse": {
        "patient": ("reference", "Patient/<id>"),
        "requestor": ("reference", "Organization/<id>"),
        "request": ("reference", "Claim/svc-<id>"),
    },
    "PaymentReconciliation": {
        "requestor": ("reference", "Organization/<id>: the provider paid"),
        BILLING_PERIOD: ("date", "the month settled (PaymentReconciliation.period), YYYY-MM"),
    },
}


def _capability(t: str, interactions: list[str], doc: str) -> dict[str, Any]:
    return {
        "type": t,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{t}",
        "documentation": doc,
        "interaction": [{"code": c} for c in interactions],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d} for n, (ty, d) in SEARCH_PARAMS[t].items()
        ]
        + [{"name": "_count", "type": "number"}],
    }


CAPABILITIES = [
    _capability(
        "ClaimResponse",
        ["read", "search-type"],
        "The insurance fund's adjudication of a service claim, id svc-<n>",
    ),
    _capability(
        "PaymentReconciliation",
        ["read", "search-type"],
        "A provider's monthly settlement with the insurance fund, id settlement-<n>",
    ),
]
_CLAIM_CAPABILITY = _capability(
    "Claim",
    ["read", "search-type", "create"],
    "Insurance fund service claims: ids svc-<n>, search with type=professional or the "
    "sender's identifier; create",
)


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with the fund's share of Claim merged into the
    pharmacies' entry (a parameter both have documented for each), and its own types
    added."""
    merged = capability.merge(
        resources,
        [_CLAIM_CAPABILITY],
        label="the fund's (type=professional)",
        their_label="pharmacies",
    )
    return merged + CAPABILITIES


# ---- mapping (called in the request's language) ------------------------------------------


def claim_resource(c: ClaimOut) -> dict[str, Any]:
    currency = pack_currency()
    people = list(dict.fromkeys(li.person_id for li in c.lines))
    items = []
    for i, li in enumerate(c.lines, start=1):
        item: dict[str, Any] = {
            "sequence": i,
            "productOrService": {
                "coding": [{"system": SERVICE_SYSTEM, "code": li.service_code}],
                "text": li.service_name,
            },
            "servicedDate": li.service_on.isoformat(),
            "quantity": {"value": li.quantity},
            "net": money(li.amount_claimed, currency),
        }
        if len(people) > 1:
            item["extension"] = [
                {
                    "url": ITEM_PATIENT_EXT,
                    "valueReference": {"reference": f"Patient/{li.person_id}"},
                }
            ]
        if li.encounter_ref:
            item["encounter"] = [{"display": li.encounter_ref}]
        items.append(item)
    body: dict[str, Any] = {
        "resourceType": "Claim",
        "id": f"{PREFIX}{c.id}",
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": CLAIM_TYPE_CODE}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{people[0]}"},
        "billablePeriod": {
            "start": c.month.isoformat(),
            "end": service.rules.month_end(c.month).isoformat(),
        },
        "created": instant(c.submitted_at),
        "provider": {"reference": f"Organization/{c.facility_id}"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"display": i18n.gettext(COVERAGE)}}
        ],
        "item": items,
        "total": money(c.amount_claimed, currency),
    }
    if c.external_id:
        body["identifier"] = [{"system": CLAIM_SYSTEM, "value": c.external_id}]
    return validated(Claim, body)


def claim_response(c: ClaimOut) -> dict[str, Any]:
    currency = pack_currency()
    items = []
    for i, li in enumerate(c.lines, start=1):
        adjudication: list[dict[str, Any]] = [
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                "amount": money(li.amount_claimed, currency),
            }
        ]
        if li.status in ("accepted", "reduced", "rejected"):
            adjudication.append(
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                    "amount": money(li.amount_approved or 0, currency),
                    **({"reason": {"text": li.decision_note}} if li.decision_note else {}),
                }
            )
        elif li.status == "entered":
            adjudication.append(
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "eligible"}]},
                    "amount": money(li.amount_claimed, currency),
                }
            )
        ext = [{"url": STATUS_EXT, "valueCode": li.status}] + [
            {
                "url": FLAG_EXT,
                "extension": [
                    {"url": "rule", "valueCode": f.rule},
                    {"url": "reason", "valueString": f.reason},
                ],
            }
            for f in li.flags
        ]
        items.append({"itemSequence": i, "extension": ext, "adjudication": adjudication})
    pending = any(li.status == "flagged" for li in c.lines)
    body = {
        "resourceType": "ClaimResponse",
        "id": f"{PREFIX}{c.id}",
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": CLAIM_TYPE_CODE}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{c.lines[0].person_id}"},
        "created": instant(c.submitted_at),
        "insurer": {"display": i18n.gettext(FUND)},
        "requestor": {"reference": f"Organization/{c.facility_id}"},
        "request": {"reference": f"Claim/{PREFIX}{c.id}"},
        "outcome": "partial" if pending else "complete",
        "item": items,
        "total": [
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                "amount": money(c.amount_claimed, currency),
            },
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                "amount": money(
                    sum(
                        (li.amount_approved or 0)
                        if li.status in ("accepted", "reduced", "rejected")
                        else li.amount_claimed
                        if li.status == "entered"
                        else 0
                        for li in c.lines
                    ),
                    currency,
                ),
            },
        ],
    }
    return validated(ClaimResponse, body)


def _part(code: str) -> dict[str, Any]:
    display = i18n.gettext(PARTS[code])
    return {"coding": [{"system": PART_SYSTEM, "code": code, "display": display}]}


def reconciliation(
    s: SettlementOut, claims: list[service.settled_claims.SettledClaim]
) -> dict[str, Any]:
    """A settlement: its three parts, then one detail per service claim (what its lines
    pay as they stand, ``request`` the Claim, ``response`` its ClaimResponse). The
    platform does not record the day the fund pays: ``paymentDate`` is absent with a
    reason (not yet paid for a draft)."""
    currency = pack_currency()
    detail: list[dict[str, Any]] = [
        {"type": _part(code), "amount": money(minor, currency)}
        for code, minor in (
            ("capitation", s.capitation),
            ("services", s.services),
            ("pharmacy", s.pharmacy),
        )
    ]
    for c in claims:
        request: dict[str, Any] = {"reference": f"Claim/{PREFIX}{c.claim_id}"}
        if c.external_id:
            request["identifier"] = {"system": CLAIM_SYSTEM, "value": c.external_id}
        detail.append(
            {
                "type": _part("claim"),
                "request": request,
                "response": {"reference": f"ClaimResponse/{PREFIX}{c.claim_id}"},
                "amount": money(c.amount, currency),
            }
        )
    closed = s.status == "closed"
    body = {
        "resourceType": "PaymentReconciliation",
        "id": f"{SETTLEMENT_PREFIX}{s.id}",
        "status": "active" if closed else "draft",
        "period": {
            "start": s.month.isoformat(),
            "end": service.rules.month_end(s.month).isoformat(),
        },
        "created": instant(s.computed_at),
        "paymentIssuer": {"display": i18n.gettext(FUND)},
        "requestor": {"reference": f"Organization/{s.facility_id}"},
        "outcome": "complete" if closed else "partial",
        "_paymentDate": {
            "extension": [
                {"url": DATA_ABSENT, "valueCode": "unsupported" if closed else "temp-unknown"}
            ]
        },
        "paymentAmount": money(s.total, currency),
        "detail": detail,
    }
    return validated(PaymentReconciliation, body)


# ---- routes ------------------------------------------------------------------------------


def _fund_search(scope: Scope) -> bool:
    """The fund's: a claim type of its own, one of its ids, the sender's number (the
    pharmacies' claims are not searched by identifier), or its billing period."""
    for k, v in query_of(scope):
        if k == "type" and any(t.rpartition("|")[2] in FUND_TYPES for t in v.split(",")):
            return True
        if k == "_id" and v.startswith(PREFIX):
            return True
        if k == "identifier" and v.rpartition("|")[0] in ("", CLAIM_SYSTEM):
            return True
        if k == BILLING_PERIOD:
            return True
    return False


def _fund_id(scope: Scope) -> bool:
    return str(scope.get("path_params", {}).get("claim_id", "")).startswith(PREFIX)


def _id(raw: str, prefix: str, kind: str) -> int:
    tail = raw[len(prefix) :] if raw.startswith(prefix) else ""
    if not (tail.isascii() and tail.isdigit()) or not 0 < int(tail) < 2**63:
        raise NotFound(N_("%(kind)s %(id)s not found."), params={"kind": kind, "id": raw[:40]})
    return int(tail)


def _all(params: Params, name: str) -> list[str]:
    return [v for k, v in params.items if k == name]


def _types_match(params: Params) -> bool:
    """Each ``type`` parameter (its values OR'ed, the parameters AND'ed) names the
    professional claim type (in the claim-type system, or without one)."""
    for value in _all(params, "type"):
        tokens = [t.rpartition("|") for t in value.split(",")]
        if not any(c == CLAIM_TYPE_CODE and sys in ("", CLAIM_TYPE) for sys, _, c in tokens):
            return False
    return True


def _identifier(params: Params) -> str | None:
    raw = params.get("identifier")
    if raw is None:
        return None
    system, bar, value = raw.rpartition("|")
    if bar and system not in ("", CLAIM_SYSTEM):
        raise Invalid.fields(
            [FieldError("identifier", N_("must be the claim number system %(system)s"),
                        {"system": CLAIM_SYSTEM})]
        )  # fmt: skip
    return value


def _month(params: Params) -> date | None:
    raw = params.get(BILLING_PERIOD)
    return service.rules.parse_month(raw.removeprefix("eq"), BILLING_PERIOD) if raw else None


def _matches(
    c: ClaimOut,
    params: Params,
    submitted: tuple[datetime | None, datetime | None],
    month: date | None,
) -> bool:
    """Does one claim read by id meet the search's other parameters?"""
    patient = reference_param(params.get("patient"), "Patient", "patient")
    provider = reference_param(params.get("provider"), "Organization", "provider")
    requestor = reference_param(params.get("requestor"), "Organization", "requestor")
    since, until = submitted
    number = _identifier(params)
    return (
        (patient is None or patient in {li.person_id for li in c.lines})
        and all(f is None or f == c.facility_id for f in (provider, requestor))
        and (month is None or month == c.month)
        and (since is None or c.submitted_at >= since)
        and (until is None or c.submitted_at < until)
        and (number is None or number == c.external_id)
    )


async def _claims(session: Any, principal: Principal, params: Params) -> tuple[list[ClaimOut], int]:
    """The page of claims a Claim or ClaimResponse search asks for, and how many match:
    the claims are counted and paged in the database, only the page's are read (and
    their people audited)."""
    page = params.page()
    created = _all(params, "created")
    submitted = parse_date_param(created, "created") if created else (None, None)
    month = _month(params)
    if not _types_match(params):
        return [], 0
    one = params.get("_id")
    if one is None and params.get("request") is not None:
        one = (params.get("request") or "").removeprefix("Claim/")
    if one is not None:
        try:
            c = await service.get_claim(session, principal, _id(one, PREFIX, "Claim"))
        except NotFound:
            return [], 0  # a search finds nothing; a read answers 404
        found = [c] if _matches(c, params, submitted, month) else []
        return found[page.offset : page.offset + page.limit], len(found)
    patient = reference_param(params.get("patient"), "Patient", "patient")
    provider = reference_param(params.get("provider"), "Organization", "provider")
    requestor = reference_param(params.get("requestor"), "Organization", "requestor")
    shown, total = await service.list_claims(
        session,
        principal,
        month=month,
        facility_id=provider or requestor,
        person_id=patient,
        submitted=submitted,
        external_id=_identifier(params),
        limit=page.limit,
        offset=page.offset,
        counted=True,
    )
    return [await service.get_claim(session, principal, c.id) for c in shown], total


def _searchset(
    request: Request, t: str, params: Params, resources: list[dict[str, Any]], total: int
) -> JSONResponse:
    return fhir_response(
        searchset(base_url(request), t, params.items, resources, total, params.page())
    )


async def _national_id(session: Any, claim: Claim) -> str:
    """The national id of the claim's patient: an identifier with it, or Patient/<id>;
    refused naming ``Claim.patient``."""
    patient = claim.patient
    if patient is not None and patient.identifier is not None:
        if patient.identifier.system in (None, national_system()) and patient.identifier.value:
            return patient.identifier.value
    elif patient is not None and patient.reference:
        pid = reference_id(patient.reference, "Patient")
        if pid is not None:
            brief = (await registry.person_briefs(session, [pid])).get(pid)
            if brief is None:
                raise Invalid.fields(
                    [FieldError("Claim.patient", N_("Patient %(id)s not found."), {"id": pid})]
                )
            if not brief.national_id:
                raise Invalid.fields(
                    [FieldError("Claim.patient",
                                N_("Patient %(id)s has no national id in the register"),
                                {"id": pid})]
                )  # fmt: skip
            return brief.national_id
    raise Invalid.fields(
        [FieldError("Claim.patient", N_("name the patient by national id or Patient/<id>"))]
    )


def _quantity(value: Decimal | None) -> int | None:
    """A whole number above 0 (1 when not given), None when it is not one."""
    if value is None:
        return 1
    if value <= 0 or value != value.to_integral_value():
        return None
    return int(value)


@router.post("/Claim", status_code=201)
async def create_claim(request: Request, session: DbSession, principal: Provider) -> JSONResponse:
    """A provider system's claim: its patient (national id identifier, or Patient/<id>),
    its items (service code, servicedDate, quantity: a whole number above 0) and its
    number (``identifier``). Every wrong element is named (``Claim.item[i]....``)."""
    claim = await read_body(request, "Claim", Claim)
    nid = await _national_id(session, claim)
    lines = []
    errors: list[FieldError] = []
    if not claim.item:
        errors.append(FieldError("Claim.item", N_("give at least one item")))
    for i, item in enumerate(claim.item or []):
        codes = [
            c.code
            for c in (item.productOrService.coding or [])
            if c.system in (None, SERVICE_SYSTEM)
        ]
        quantity = _quantity(item.quantity.value if item.quantity is not None else None)
        if quantity is None:
            errors.append(
                FieldError(f"Claim.item[{i}].quantity", N_("must be a positive whole number"))
            )
        if item.servicedDate is None:
            errors.append(FieldError(f"Claim.item[{i}].servicedDate", N_("required")))
        lines.append(
            {
                "national_id": nid,
                "service_code": codes[0] if codes else "",
                "service_on": item.servicedDate,
                "quantity": quantity,
                "encounter_ref": (item.encounter[0].reference or item.encounter[0].display)
                if item.encounter
                else None,
            }
        )
    if errors:
        raise Invalid.fields(errors)
    external = next(
        (x.value for x in claim.identifier or [] if x.system in (None, CLAIM_SYSTEM)), None
    )
    paths = {"external_id": "Claim.identifier", "lines": "Claim.item"}
    for i in range(len(lines)):
        paths.update(
            {
                f"lines.{i}.national_id": "Claim.patient",
                f"lines.{i}.service_code": f"Claim.item[{i}].productOrService",
                f"lines.{i}.service_on": f"Claim.item[{i}].servicedDate",
                f"lines.{i}.quantity": f"Claim.item[{i}].quantity",
                f"lines.{i}.encounter_ref": f"Claim.item[{i}].encounter",
            }
        )
    with api_speaking(request), fields_as(paths):
        data = validate(ClaimIn, {"external_id": external, "lines": lines})
        out = await service.submit_claim(session, principal, data)
        body = claim_resource(out)
    return fhir_response(
        body,
        201 if out.created else 200,
        {"Location": f"{base_url(request)}/Claim/{body['id']}"},
    )


async def search_claims(request: Request, session: DbSession, principal: Reader) -> JSONResponse:
    params = Params(
        list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS["Claim"]) | PAGING
    )
    with api_speaking(request):
        found, total = await _claims(session, principal, params)
        shown = [claim_resource(c) for c in found]
    return _searchset(request, "Claim", params, shown, total)


async def read_claim(
    request: Request, session: DbSession, claim_id: str, principal: Reader
) -> JSONResponse:
    with api_speaking(request):
        c = await service.get_claim(session, principal, _id(claim_id, PREFIX, "Claim"))
        return fhir_response(claim_resource(c))


router.add_api_route(
    "/Claim", search_claims, methods=["GET"], route_class_override=claimed_route(_fund_search)
)
router.add_api_route(
    "/Claim/{claim_id}", read_claim, methods=["GET"], route_class_override=claimed_route(_fund_id)
)


@router.get("/ClaimResponse")
async def search_claim_responses(
    request: Request, session: DbSession, principal: Reader
) -> JSONResponse:
    params = Params(
        list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS["ClaimResponse"]) | PAGING
    )
    with api_speaking(request):
        found, total = await _claims(session, principal, params)
        shown = [claim_response(c) for c in found]
    return _searchset(request, "ClaimResponse", params, shown, total)


@router.get("/ClaimResponse/{response_id}")
async def read_claim_response(
    request: Request, session: DbSession, response_id: str, principal: Reader
) -> JSONResponse:
    with api_speaking(request):
        c = await service.get_claim(session, principal, _id(response_id, PREFIX, "ClaimResponse"))
        return fhir_response(claim_response(c))


@router.get("/PaymentReconciliation")
async def search_reconciliations(
    request: Request, session: DbSession, principal: Reader
) -> JSONResponse:
    params = Params(
        list(request.query_params.multi_items()),
        frozenset(SEARCH_PARAMS["PaymentReconciliation"]) | PAGING,
    )
    page = params.page()
    found = await service.list_settlements(
        session,
        principal,
        month=_month(params),
        facility_id=reference_param(params.get("requestor"), "Organization", "requestor"),
    )
    shown = found[page.offset : page.offset + page.limit]
    claims = await service.settled_claims.settled_claims(session, principal, shown)
    with api_speaking(request):
        resources = [reconciliation(s, claims[s.id]) for s in shown]
    return _searchset(request, "PaymentReconciliation", params, resources, len(found))


@router.get("/PaymentReconciliation/{reconciliation_id}")
async def read_reconciliation(
    request: Request, session: DbSession, reconciliation_id: str, principal: Reader
) -> JSONResponse:
    sid = _id(reconciliation_id, SETTLEMENT_PREFIX, "PaymentReconciliation")
    s = await service.get_settlement(session, principal, sid)
    claims = await service.settled_claims.settled_claims(session, principal, [s])
    with api_speaking(request):
        return fhir_response(reconciliation(s, claims[s.id]))
