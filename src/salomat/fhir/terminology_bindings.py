"""Incoming codes checked against the bindings of our profiles: one check for every write
that takes a coded element from another system (the shared record's resources, their
``$validate`` and Bundle entries, ``Immunization``, ``MedicationRequest``).

Two strengths (docs/exchange.md, "Terminology"):

- ``required``: the element needs a coding from the value set, and a coding in a system
  the set draws on must be one of the set's codes (Immunization.vaccineCode).
- ``extensible``: any coding is taken, a hospital's local code system too (issue 18: the
  record keeps what was sent); only a coding that names a code system this server
  governs or holds whole (our ``urn:salomat:*`` systems, ICD-10, ICD-O-3) must carry a
  code of that system. A fragment (LOINC, ATC, CVX, SNOMED CT) is never a reason to
  refuse: we know only part of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.fhir.terminology import Terminology, current, value_set_url


@dataclass(frozen=True)
class Binding:
    #: the element as FHIRPath from the resource type (repeats are walked)
    path: str
    value_set: str
    strength: str = "extensible"


#: the bindings of our profiles, by resource type
BINDINGS: dict[str, tuple[Binding, ...]] = {
    "Immunization": (
        Binding("Immunization.vaccineCode", value_set_url("immunization-vaccine"), "required"),
        Binding("Immunization.site", value_set_url("immunization-site")),
    ),
    "MedicationRequest": (
        Binding("MedicationRequest.reasonCode", value_set_url("icd-10")),
        Binding("MedicationRequest.medicationCodeableConcept", value_set_url("atc")),
        Binding("MedicationRequest.courseOfTherapyType", value_set_url("prescription-type")),
    ),
    "Condition": (
        Binding("Condition.code", value_set_url("icd-10")),
        Binding("Condition.bodySite", value_set_url("icd-o-3")),
    ),
    "Observation": (
        Binding("Observation.code", value_set_url("maternal-readings")),
        Binding("Observation.component.code", value_set_url("maternal-readings")),
    ),
    "Procedure": (Binding("Procedure.reasonCode", value_set_url("icd-10")),),
    "Encounter": (Binding("Encounter.reasonCode", value_set_url("icd-10")),),
    "AllergyIntolerance": (),
    "DiagnosticReport": (Binding("DiagnosticReport.conclusionCode", value_set_url("icd-10")),),
    "DocumentReference": (),
}


def _walk(node: Any, steps: list[str], at: str) -> list[tuple[str, Any]]:
    """(path with indexes, value) of each element the steps reach."""
    if isinstance(node, list):
        out: list[tuple[str, Any]] = []
        for i, item in enumerate(node):
            out += _walk(item, steps, f"{at}[{i}]")
        return out
    if not steps:
        return [(at, node)]
    if not isinstance(node, dict) or steps[0] not in node:
        return []
    return _walk(node[steps[0]], steps[1:], f"{at}.{steps[0]}")


def check_concept(terms: Terminology, concept: Any, binding: Binding) -> list[FieldError]:
    """The one check of a CodeableConcept against its element's binding: the wrong
    codings, each named by the element (``Immunization.vaccineCode``, as the domains name
    it) with its system, code and the value set."""
    at = binding.path
    vs = terms.value_sets.get(binding.value_set)
    if not isinstance(concept, dict) or vs is None:
        return []
    codings = concept.get("coding")
    codings = codings if isinstance(codings, list) else []
    errors: list[FieldError] = []
    in_set = False
    for coding in codings:
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            continue
        where = at
        cs = terms.systems.get(system)
        if cs is not None and cs.resolver is not None:
            # a database-kept system (the formulary, the territories): the domain that
            # takes the resource looks the code up itself, with its own message
            continue
        values = {"system": system, "code": code, "vs": vs.url}
        if system in vs.systems:
            if vs.member(terms, system, code) is not None:
                in_set = True
                continue
            if binding.strength == "required" or (cs is not None and cs.authoritative):
                errors.append(
                    FieldError(
                        where, N_("%(system)s|%(code)s is not in the value set %(vs)s"), values
                    )
                )
        elif cs is not None and cs.authoritative and cs.find(code) is None:
            errors.append(
                FieldError(
                    where,
                    N_("%(code)s is not a code of %(system)s (value set %(vs)s)"),
                    values,
                )
            )
    if binding.strength == "required" and not in_set and not errors:
        errors.append(
            FieldError(at, N_("needs a coding from the value set %(vs)s"), {"vs": vs.url})
        )
    return errors


def binding_errors(resource: Any, terms: Terminology | None = None) -> list[FieldError]:
    """Every coded element of ``resource`` (FHIR JSON) checked against its binding."""
    if not isinstance(resource, dict):
        return []
    kind = resource.get("resourceType")
    bindings = BINDINGS.get(kind) if isinstance(kind, str) else None
    if not bindings:
        return []
    terms = terms or current()
    errors: list[FieldError] = []
    for b in bindings:
        steps = b.path.split(".")[1:]
        found = _walk(resource, steps, kind)
        if not found and b.strength == "required":
            continue  # a missing element is the resource's own check (cardinality)
        for _, value in found:
            errors += check_concept(terms, value, b)
    return errors


def _json(resource: Any) -> Any:
    dump = getattr(resource, "model_dump", None)
    return dump(mode="json", by_alias=True, exclude_none=True) if dump else resource


@contextmanager
def codes_checked(resource: Any) -> Iterator[None]:
    """Around a typed write's own checks (its mapper and service): a code outside its
    element's binding is refused 422 together with whatever else those checks name, so
    one answer names every wrong element. Raising after the service flushed is safe: the
    unit of work commits only a request that ends well."""
    errors = binding_errors(_json(resource))
    try:
        yield
    except Invalid as e:
        if not errors:
            raise
        raise Invalid.fields(_merged(errors, e.errors)) from None
    if errors:
        raise Invalid.fields(_merged(errors, []))


def _merged(ours: list[FieldError], theirs: list[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for e in [*ours, *theirs]:
        key = (e.field, e.message)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out
