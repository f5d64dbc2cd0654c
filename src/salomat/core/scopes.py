"""SMART system scopes and what each lets a client system do (SMART Backend Services).

A client system acts in one of our roles (accounts: ``ClientSystem``). It may use a
permission only if its role holds it *and* one of its granted scopes covers it:
``PERMISSION_ACCESS`` names, for every permission, the FHIR resource types it reads or
writes. A scope is ``system/<Type|*>.<read|write|*>`` (SMART v1) or
``system/<Type|*>.<cruds>`` (SMART v2: c create, r read, u update, d delete, s search).
A read permission is covered by a scope with ``r`` or ``s`` for one of its types, a write
permission by one with ``c``, ``u`` or ``d``. Scopes with query parameters (v2
``?category=``) are not supported and refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

READ_LETTERS = frozenset("rs")
WRITE_LETTERS = frozenset("cud")
ALL_LETTERS = READ_LETTERS | WRITE_LETTERS
_V1 = {"read": READ_LETTERS, "write": WRITE_LETTERS, "*": ALL_LETTERS}
_SCOPE = re.compile(r"^system/(\*|[A-Z][A-Za-z]{1,63})\.(read|write|\*|c?r?u?d?s?)$")


@dataclass(frozen=True)
class Access:
    """What a permission does: read or write resources of these FHIR types."""

    types: frozenset[str]
    kind: Literal["read", "write"]


def _r(*types: str) -> Access:
    return Access(frozenset(types), "read")


def _w(*types: str) -> Access:
    return Access(frozenset(types), "write")


#: Every permission (core.policy.PERMISSIONS): what it reads or writes, ``None`` when no
#: client system may ever use it (administration, the audit, break-the-glass, a citizen's
#: or employer's own portal), ``ALWAYS`` for its own session. tests/core/test_scopes.py
#: checks that every permission is here and every type is an R4 resource.
ALWAYS = Access(frozenset(), "read")
PERMISSION_ACCESS: dict[str, Access | None] = {
    "session:self": ALWAYS,
    "user:manage": None,
    "user:read": None,
    "audit:read": None,
    "audit:self": None,
    "facility:read": _r("Organization", "Location", "HealthcareService"),
    "facility:manage": None,
    "territory:read": _r("Location"),
    "territory:manage": None,
    "practitioner:read": _r("Practitioner", "PractitionerRole"),
    "practitioner:manage": None,
    "person:create": _w("Patient"),
    "person:read": _r("Patient"),
    "person:search": _r("Patient"),
    "person:update": _w("Patient"),
    "person:death": _w("Patient"),
    "person:merge": _w("Patient"),
    "death_certificate:read": _r("Observation"),
    "death_certificate:certify": _w("Observation"),
    "death_certificate:review": _w("Observation"),
    "person:relate": _w("Patient", "RelatedPerson"),
    # a machine has no emergency: it never breaks the glass
    "break_glass:request": None,
    "pregnancy:read": _r("EpisodeOfCare", "Condition", "Observation", "Encounter"),
    "pregnancy:register": _w("EpisodeOfCare", "Condition"),
    "pregnancy:contact": _w("Encounter", "Observation"),
    "pregnancy:diagnose": _w("Condition"),
    "referral:send": _w("ServiceRequest"),
    "referral:read": _r("ServiceRequest"),
    "referral:receive": _w("ServiceRequest"),
    "worklist:read": _r("Task"),
    "pregnancy:portal": None,
    "maternal_dashboard:read": _r("MeasureReport"),
    "immunization:read": _r("Immunization", "ImmunizationRecommendation"),
    "immunization:record": _w("Immunization"),
    "immunization:worklist": _r("ImmunizationRecommendation"),
    "immunization:portal": None,
    "immunization:coverage": _r("MeasureReport"),
    "child:read": _r("Observation", "Encounter"),
    "child:record": _w("Observation", "Encounter"),
    "child:portal": None,
    "formulary:read": _r("Medication"),
    "formulary:manage": None,
    "prescription:write": _w("MedicationRequest"),
    "prescription:read": _r("MedicationRequest"),
    "prescription:dispense": _w("MedicationDispense"),
    "claim:read": _r("Claim", "ClaimResponse"),
    "claim:review": _w("ClaimResponse"),
    "prescription:portal": None,
    "sick_leave:read": _r("DocumentReference"),
    "sick_leave:issue": _w("DocumentReference"),
    "sick_leave:vkk": _w("DocumentReference"),
    "sick_leave:portal": None,
    "sick_leave:employer": None,
    "sick_leave:analytics": _r("MeasureReport"),
    "sanatorium:refer": _w("ServiceRequest"),
    "sanatorium:read": _r("ServiceRequest", "Appointment", "Encounter"),
    "sanatorium:queue": _w("ServiceRequest"),
    "sanatorium:manage": _w("HealthcareService", "Slot"),
    "sanatorium:admit": _w("Encounter", "Appointment"),
    "sanatorium:portal": None,
    "sanatorium:dashboard": _r("MeasureReport"),
    "cancer:notify": _w("Condition"),
    "cancer:read": _r("Condition", "Observation"),
    "cancer:register": _w("Condition", "Observation"),
    "cancer:follow_up": _w("Observation", "Encounter"),
    "cancer:statistics": _r("MeasureReport"),
    # national health indicators (docs/statistics.md): a data warehouse reads them as FHIR
    # Measure and MeasureReport; recomputing a period is the ministry's own
    "statistics:read": _r("Measure", "MeasureReport"),
    "statistics:compute": None,
    # screening and disease-management programmes (docs/screening.md, fhir/screening_api.py):
    # measurements, visits, enrolments and their schedule; results another system submits;
    # the recall Tasks of the overdue worklist; the HEARTS indicators. The citizen's own
    # screenings due are her portal's
    "screening:read": _r("Observation", "Condition", "Encounter", "EpisodeOfCare", "CarePlan"),
    "screening:record": _w("Observation", "Encounter"),
    "screening:enrol": _w("EpisodeOfCare", "CarePlan"),
    "screening:worklist": _r("Task"),
    "screening:portal": None,
    "screening:coverage": _r("Measure", "MeasureReport"),
    # planning the primary-care network (docs/planning.md): the facility registry as mCSD
    # reads it (Location, Organization, HealthcareService, PractitionerRole); census imports
    # and scenarios are the planner's own; a mobile team's visits are Encounters
    "planning:read": _r("Location", "Organization", "HealthcareService", "PractitionerRole"),
    "planning:edit": None,
    "planning:mobile": _w("Encounter"),
    # epidemic surveillance (docs/epidemic.md): a notification is a Condition with its lab
    # Observation; capacity is a SANER-style MeasureReport
    "epidemic:report": _w("Condition", "Observation"),
    "epidemic:capacity": _w("MeasureReport"),
    "epidemic:read": _r("MeasureReport"),
    "epidemic:cases": _r("Condition", "Observation"),
    "insurance:manage": _w("Coverage", "Account"),
    "insurance:eligibility": _r("Coverage", "CoverageEligibilityResponse"),
    "insurance:claim": _w("Claim"),
    "insurance:claim_read": _r("Claim", "ClaimResponse"),
    "insurance:review": _w("ClaimResponse"),
    "insurance:dashboard": _r("MeasureReport"),
    "insurance:portal": None,
    # the shared health record keeps any clinical resource a system sends (docs/record.md)
    "record:read": _r(
        "Observation",
        "Condition",
        "DocumentReference",
        "AllergyIntolerance",
        "Procedure",
        "DiagnosticReport",
        "MedicationStatement",
        "Encounter",
    ),
    "record:write": _w(
        "Observation",
        "Condition",
        "DocumentReference",
        "AllergyIntolerance",
        "Procedure",
        "DiagnosticReport",
        "MedicationStatement",
        "Encounter",
    ),
    "record:naming": None,
    "bulk:export": _r("Patient", "Group"),
    "jobs:read": None,
    "client:manage": None,
    "subscription:manage": _w("Subscription"),
    "subscription:admin": None,
    "terminology:read": _r("CodeSystem", "ValueSet", "ConceptMap", "StructureDefinition"),
    "employer:read": None,
    "employer:manage": None,
}


@dataclass(frozen=True)
class SystemScope:
    resource_type: str  # a FHIR type or "*"
    letters: frozenset[str]


def parse(scope: str) -> SystemScope | None:
    """``system/Patient.read`` -> (Patient, {r, s}); None for what is no system scope."""
    m = _SCOPE.match(scope)
    if m is None or not m.group(2):
        return None
    verb = m.group(2)
    letters = _V1.get(verb) or frozenset(verb)
    return SystemScope(m.group(1), frozenset(letters))


def _covers_access(s: SystemScope, access: Access) -> bool:
    if access is ALWAYS:
        return True
    wanted = READ_LETTERS if access.kind == "read" else WRITE_LETTERS
    if not s.letters & wanted:
        return False
    return s.resource_type == "*" or s.resource_type in access.types


def covers(scopes: Iterable[str], permission: str) -> bool:
    """Whether one of ``scopes`` covers ``permission`` (an undeclared one: KeyError)."""
    access = PERMISSION_ACCESS[permission]
    if access is None:
        return False
    if access is ALWAYS:
        return True
    for raw in scopes:
        s = parse(raw)
        if s is not None and _covers_access(s, access):
            return True
    return False


def reads(scopes: Iterable[str], resource_type: str) -> bool:
    """Whether one of ``scopes`` reads resources of ``resource_type`` (a bulk export's
    types: each must be read by a granted scope, whatever permission lets the role)."""
    for raw in scopes:
        s = parse(raw)
        if s is not None and s.letters & READ_LETTERS and s.resource_type in ("*", resource_type):
            return True
    return False


def includes(granted: Iterable[str], asked: str) -> bool:
    """Whether a granted scope includes the asked one (``system/*.read`` includes
    ``system/Patient.rs``)."""
    a = parse(asked)
    if a is None:
        return False
    for raw in granted:
        g = parse(raw)
        if g is None:
            continue
        if g.resource_type in ("*", a.resource_type) and a.letters <= g.letters:
            return True
    return False


def useful_permissions(scope: str, holds: Iterable[str]) -> list[str]:
    """Of the permissions in ``holds``, those ``scope`` covers (besides the own session)."""
    return [
        p for p in holds if PERMISSION_ACCESS.get(p) not in (None, ALWAYS) and covers([scope], p)
    ]


def resource_types() -> list[str]:
    """Every FHIR type a permission reads or writes, sorted (for scopes_supported)."""
    return sorted({t for a in PERMISSION_ACCESS.values() if a is not None for t in a.types})
