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
``svc-<n>``, or a search with ``type=professional`` or ``type=institutional``; POST is
the fund's alone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from starlette.routing import Match
from starlette.types import Scope

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.i18n import N_
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, UnitOfWorkRoute, router
from salomat.country import pack
from salomat.domains.insurance import service
from salomat.domains.insurance.schemas import ClaimIn, ClaimOut, SettlementOut
from salomat.domains.registry import service as registry
from salomat.fhir.common import (
    EXT,
    PAGING,
    Params,
    base_url,
    fhir_response,
    fields_as,
    instant,
    read_body,
    reference_id,
    searchset,
    validated,
)
from salomat.fhir.patient import national_system
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
STATUS_EXT = EXT + "claim-line-status"
FLAG_EXT = EXT + "claim-flag"
ITEM_PATIENT_EXT = EXT + "claim-item-patient"
FUND_TYPES = ("professional", "institutional")

SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Claim": {
        "type": ("token", "professional or institutional: the fund's service claims"),
        "patient": ("reference", "Patient/<id>"),
        "provider": ("reference", "Organization/<id>"),
        "created": ("date", "the claim's month, YYYY-MM"),
        "_id": ("token", "svc-<claim id>"),
    },
    "ClaimResponse": {
        "patient": ("reference", "Patient/<id>"),
        "requestor": ("reference", "Organization/<id>"),
        "request": ("reference", "Claim/svc-<id>"),
    },
    "PaymentReconciliation": {
        "requestor": ("reference", "Organization/<id>: the provider paid"),
        "created": ("date", "the settlement's month, YYYY-MM"),
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
    "Insurance fund service claims: ids svc-<n>, search with type=professional; create",
)


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with the fund's share of Claim merged into the
    pharmacies' entry, and its own types added."""
    out = []
    for res in resources:
        if res["type"] != "Claim":
            out.append(res)
            continue
        have = {i["code"] for i in res["interaction"]}
        names = {p["name"] for p in res.get("searchParam", [])}
        out.append(
            {
                **res,
                "interaction": res["interaction"]
                + [i for i in _CLAIM_CAPABILITY["interaction"] if i["code"] not in have],
                "searchParam": res.get("searchParam", [])
                + [p for p in _CLAIM_CAPABILITY["searchParam"] if p["name"] not in names],
                "documentation": "; ".join(
                    d for d in (res.get("documentation"), _CLAIM_CAPABILITY["documentation"]) if d
                ),
            }
        )
    if not any(r["type"] == "Claim" for r in out):
        out.append(_CLAIM_CAPABILITY)
    return out + CAPABILITIES


# ---- mapping -----------------------------------------------------------------------------


def _currency() -> str:
    return str(pack.load(get_settings().country).get("currency", "XXX"))


def _money(minor: int, currency: str) -> dict[str, Any]:
    return {"value": minor / 100, "currency": currency}


def _month_end(month: Any) -> Any:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def claim_resource(c: ClaimOut) -> dict[str, Any]:
    currency = _currency()
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
            "net": _money(li.amount_claimed, currency),
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
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{people[0]}"},
        "billablePeriod": {"start": c.month.isoformat(), "end": _month_end(c.month).isoformat()},
        "created": instant(c.submitted_at),
        "provider": {"reference": f"Organization/{c.facility_id}"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"display": "compulsory health insurance"}}
        ],
        "item": items,
        "total": _money(c.amount_claimed, currency),
    }
    if c.external_id:
        body["identifier"] = [{"system": CLAIM_SYSTEM, "value": c.external_id}]
    return validated(Claim, body)


def claim_response(c: ClaimOut) -> dict[str, Any]:
    currency = _currency()
    items = []
    decided = 0
    for i, li in enumerate(c.lines, start=1):
        adjudication: list[dict[str, Any]] = [
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                "amount": _money(li.amount_claimed, currency),
            }
        ]
        if li.status in ("accepted", "reduced", "rejected"):
            decided += 1
            adjudication.append(
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                    "amount": _money(li.amount_approved or 0, currency),
                    **({"reason": {"text": li.decision_note}} if li.decision_note else {}),
                }
            )
        elif li.status == "entered":
            adjudication.append(
                {
                    "category": {"coding": [{"system": ADJUDICATION, "code": "eligible"}]},
                    "amount": _money(li.amount_claimed, currency),
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
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{c.lines[0].person_id}"},
        "created": instant(c.submitted_at),
        "insurer": {"display": "compulsory health insurance fund"},
        "requestor": {"reference": f"Organization/{c.facility_id}"},
        "request": {"reference": f"Claim/{PREFIX}{c.id}"},
        "outcome": "partial" if pending else "complete",
        "item": items,
        "total": [
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                "amount": _money(c.amount_claimed, currency),
            },
            {
                "category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                "amount": _money(
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


def reconciliation(s: SettlementOut) -> dict[str, Any]:
    currency = _currency()

    def part(code: str, minor: int) -> dict[str, Any]:
        return {"type": {"text": code}, "amount": _money(minor, currency)}

    body = {
        "resourceType": "PaymentReconciliation",
        "id": f"{SETTLEMENT_PREFIX}{s.id}",
        "status": "active" if s.status == "closed" else "draft",
        "period": {"start": s.month.isoformat(), "end": _month_end(s.month).isoformat()},
        "created": instant(s.computed_at),
        "paymentIssuer": {"display": "compulsory health insurance fund"},
        "requestor": {"reference": f"Organization/{s.facility_id}"},
        "outcome": "complete" if s.status == "closed" else "partial",
        "paymentDate": _month_end(s.month).isoformat(),
        "paymentAmount": _money(s.total, currency),
        "detail": [
            part("capitation", s.capitation),
            part("services", s.services),
            part("pharmacy", s.pharmacy),
        ],
    }
    return validated(PaymentReconciliation, body)


# ---- routes ------------------------------------------------------------------------------


def _claimed(claim: Callable[[Scope], bool]) -> type[UnitOfWorkRoute]:
    """A route class matching only the requests ``claim`` accepts (the others go on to
    the pharmacies' Claim routes)."""

    class Claimed(UnitOfWorkRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            match, child = super().matches(scope)
            if match is not Match.NONE and not claim({**scope, **child}):
                return Match.NONE, {}
            return match, child

    return Claimed


def _fund_search(scope: Scope) -> bool:
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    for k, v in query:
        if k == "type" and any(t.rpartition("|")[2] in FUND_TYPES for t in v.split(",")):
            return True
        if k == "_id" and v.startswith(PREFIX):
            return True
    return False


def _fund_id(scope: Scope) -> bool:
    return str(scope.get("path_params", {}).get("claim_id", "")).startswith(PREFIX)


def _id(raw: str, prefix: str, kind: str) -> int:
    tail = raw[len(prefix) :] if raw.startswith(prefix) else ""
    if not (tail.isascii() and tail.isdigit()) or not 0 < int(tail) < 2**63:
        raise NotFound(N_("%(kind)s %(id)s not found."), params={"kind": kind, "id": raw[:40]})
    return int(tail)


def _ref(params: Params, name: str, kind: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    v = reference_id(raw, kind)
    if v is None:
        raise Invalid.fields([FieldError(name, N_("must be a %(kind)s id"), {"kind": kind})])
    return v


def _page(
    request: Request, t: str, params: Params, resources: list[dict[str, Any]]
) -> JSONResponse:
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(searchset(base_url(request), t, params.items, shown, len(resources), page))


async def _claims(session: Any, principal: Principal, params: Params) -> list[ClaimOut]:
    patient = _ref(params, "patient", "Patient")
    provider = _ref(params, "provider", "Organization") or _ref(params, "requestor", "Organization")
    created = params.get("created")
    month = service.claims.parse_month(created.removeprefix("eq"), "created") if created else None
    only = params.get("_id")
    if only is not None:
        return [await service.get_claim(session, principal, _id(only, PREFIX, "Claim"))]
    if params.get("request") is not None:
        ref = params.get("request") or ""
        return [
            await service.get_claim(
                session, principal, _id(ref.removeprefix("Claim/"), PREFIX, "Claim")
            )
        ]
    found = await service.list_claims(
        session, principal, month=month, facility_id=provider, person_id=patient, limit=200
    )
    return [await service.get_claim(session, principal, c.id) for c in found]


@router.post("/Claim", status_code=201)
async def create_claim(request: Request, session: DbSession, principal: Provider) -> JSONResponse:
    """A provider system's claim: its patient (national id identifier, or Patient/<id>),
    its items (service code, servicedDate, quantity) and its number (``identifier``)."""
    claim = await read_body(request, "Claim", Claim)
    nid = None
    if claim.patient is not None and claim.patient.identifier is not None:
        if claim.patient.identifier.system in (None, national_system()):
            nid = claim.patient.identifier.value
    elif claim.patient is not None and claim.patient.reference:
        pid = reference_id(claim.patient.reference, "Patient")
        if pid is not None:
            brief = (await registry.person_briefs(session, [pid])).get(pid)
            nid = brief.national_id if brief else None
    if not nid:
        raise Invalid.fields(
            [FieldError("Claim.patient", N_("name the patient by national id or Patient/<id>"))]
        )
    lines = []
    for i, item in enumerate(claim.item or []):
        codes = [
            c.code
            for c in (item.productOrService.coding or [])
            if c.system in (None, SERVICE_SYSTEM)
        ]
        lines.append(
            {
                "national_id": nid,
                "service_code": codes[0] if codes else "",
                "service_on": item.servicedDate,
                "quantity": int(item.quantity.value)
                if item.quantity and item.quantity.value
                else 1,
                "encounter_ref": (item.encounter[0].reference or item.encounter[0].display)
                if item.encounter
                else None,
            }
        )
        if item.servicedDate is None:
            raise Invalid.fields([FieldError(f"Claim.item[{i}].servicedDate", N_("required"))])
    external = next(
        (x.value for x in claim.identifier or [] if x.system in (None, CLAIM_SYSTEM)), None
    )
    data = validate(ClaimIn, {"external_id": external, "lines": lines})
    paths = {}
    for i in range(len(lines)):
        paths.update(
            {
                f"lines.{i}.national_id": "Claim.patient",
                f"lines.{i}.service_code": f"Claim.item[{i}].productOrService",
                f"lines.{i}.service_on": f"Claim.item[{i}].servicedDate",
                f"lines.{i}.quantity": f"Claim.item[{i}].quantity",
            }
        )
    with fields_as(paths):
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
    found = await _claims(session, principal, params)
    return _page(request, "Claim", params, [claim_resource(c) for c in found])


async def read_claim(session: DbSession, claim_id: str, principal: Reader) -> JSONResponse:
    c = await service.get_claim(session, principal, _id(claim_id, PREFIX, "Claim"))
    return fhir_response(claim_resource(c))


router.add_api_route(
    "/Claim", search_claims, methods=["GET"], route_class_override=_claimed(_fund_search)
)
router.add_api_route(
    "/Claim/{claim_id}", read_claim, methods=["GET"], route_class_override=_claimed(_fund_id)
)


@router.get("/ClaimResponse")
async def search_claim_responses(
    request: Request, session: DbSession, principal: Reader
) -> JSONResponse:
    params = Params(
        list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS["ClaimResponse"]) | PAGING
    )
    found = await _claims(session, principal, params)
    return _page(request, "ClaimResponse", params, [claim_response(c) for c in found])


@router.get("/ClaimResponse/{response_id}")
async def read_claim_response(
    session: DbSession, response_id: str, principal: Reader
) -> JSONResponse:
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
    created = params.get("created")
    month = service.claims.parse_month(created.removeprefix("eq"), "created") if created else None
    found = await service.list_settlements(
        session, principal, month=month, facility_id=_ref(params, "requestor", "Organization")
    )
    return _page(request, "PaymentReconciliation", params, [reconciliation(s) for s in found])


@router.get("/PaymentReconciliation/{reconciliation_id}")
async def read_reconciliation(
    session: DbSession, reconciliation_id: str, principal: Reader
) -> JSONResponse:
    sid = _id(reconciliation_id, SETTLEMENT_PREFIX, "PaymentReconciliation")
    return fhir_response(reconciliation(await service.get_settlement(session, principal, sid)))
