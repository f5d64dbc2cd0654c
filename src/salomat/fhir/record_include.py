"""``_include`` and ``_revinclude`` of the record's own searches: what the page's
matches name and what names them, each read through the record's service (or the
registry's, for Patients) under the caller's scope.
"""

from __future__ import annotations

from typing import Any

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.policy import allowed, person_scope
from salomat.core.security import Principal
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery
from salomat.domains.registry import service as registry
from salomat.fhir import patient as patient_mapper
from salomat.fhir import record as mapper
from salomat.fhir.common import (
    Params,
    reference_id,
)
from salomat.fhir.record_params import RESOURCE_TYPES

# ---- _include and _revinclude ---------------------------------------------------------------

#: ``_include=<Type>:<param>``: the type each reference parameter names
INCLUDES: dict[str, dict[str, str]] = {
    t: {
        **({"encounter": "Encounter"} if t != "Encounter" else {}),
        **({"subject": "Patient"} if t != "AllergyIntolerance" else {}),
        "patient": "Patient",
        **({"result": "Observation"} if t == "DiagnosticReport" else {}),
    }
    for t in RESOURCE_TYPES
}
INCLUDE_DOC = (
    "_include=<Type>:<param> (encounter, subject, patient, DiagnosticReport:result; "
    "*:<param> or * for the searched type) adds what the matches name; "
    "_revinclude=<Type>:encounter on an Encounter search adds the record's resources of "
    "the matched encounters (at most the page limit of each); search.mode include, only "
    "what the caller may read; :iterate not supported (422); on a search merged with "
    "another register's (by patient) as well: the Patient and the shared record's "
    "resources (shr-<n>) the page names, another register's references not followed"
)


def include_wanted(resource_type: str, params: Params) -> tuple[list[tuple[str, str]], list[str]]:
    """(the includes as (param, target type), the revincluded types), refused naming
    ``_include`` or ``_revinclude`` when not ones the record answers."""
    includes: list[tuple[str, str]] = []
    revincludes: list[str] = []
    errors: list[FieldError] = []
    for key, raw in params.items:
        if key == "_include":
            ours = INCLUDES[resource_type]
            source, _, rest = raw.partition(":")
            param, _, target = rest.partition(":")
            if raw == "*":
                wanted = list(ours.items())
            elif source in (resource_type, "*") and param in ours and target in ("", ours[param]):
                wanted = [(param, ours[param])]
            else:
                errors.append(
                    FieldError(
                        "_include",
                        N_("%(value)s: include one of %(known)s"),
                        {
                            "value": raw,
                            "known": ", ".join(f"{resource_type}:{p}" for p in ours) or "-",
                        },
                    )
                )
                continue
            includes += [w for w in wanted if w not in includes]
        elif key == "_revinclude":
            source, _, rest = raw.partition(":")
            param, _, target = rest.partition(":")
            if (
                resource_type == "Encounter"
                and source in RESOURCE_TYPES
                and source != "Encounter"
                and param == "encounter"
                and target in ("", "Encounter")
            ):
                if source not in revincludes:
                    revincludes.append(source)
            else:
                errors.append(
                    FieldError(
                        "_revinclude",
                        N_(
                            "%(value)s: the shared record answers <Type>:encounter on an "
                            "Encounter search"
                        ),
                        {"value": raw},
                    )
                )
    if errors:
        raise Invalid.fields(errors)
    return includes, revincludes


def _reference_ids(value: Any, target: str) -> list[int]:
    """The record's row ids of ``target`` a reference (or a list of them) names."""
    refs = value if isinstance(value, list) else [value]
    out = []
    for ref in refs:
        raw = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(raw, str):
            continue
        parts = raw.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2] == target:
            rid = record.row_id(parts[-1])
            if rid is not None:
                out.append(rid)
    return out


async def _patients(
    session: Any, principal: Principal, person_ids: list[int]
) -> list[dict[str, Any]]:
    """The Patients of ``person_ids`` the caller may read (the registry's scope, each
    shown audited as a Patient search audits it); none without ``person:read``."""
    if not person_ids or not allowed(principal.role, "person:read"):
        return []
    shown = []
    for person, codes in await registry.people_with_codes(session, person_ids):
        scope = await person_scope(session, principal, person.id)
        if scope is not None:
            shown.append((person, codes, scope))
    await audit.record_listing(
        session,
        principal,
        [audit.Access(p.id, scope.reason, scope.break_glass_grant) for p, _, scope in shown],
        resource_type="Patient",
    )
    return [
        patient_mapper.to_fhir(await registry.person_out(session, p, codes=codes))
        for p, codes, _ in shown
    ]


def person_of(resource: dict[str, Any]) -> int | None:
    """The registry's person a resource's subject (or patient) names, if it names one."""
    ref = resource.get("subject") or resource.get("patient")
    raw = ref.get("reference") if isinstance(ref, dict) else None
    return reference_id(raw, "Patient") if isinstance(raw, str) else None


async def included(
    session: Any,
    principal: Principal,
    resource_type: str,
    page: list[dict[str, Any]],
    persons: list[int],
    includes: list[tuple[str, str]],
    revincludes: list[str],
) -> list[dict[str, Any]]:
    """What the page's matches (FHIR resources, the record's or another register's) name
    (``includes``; ``persons`` are the Patients they name) and what names them
    (``revincludes``, of the record's Encounters among them), read through the record's
    service (or the registry's, for Patients): one search per include, what the caller
    may not read left out; none twice, no match again. Another register's references are
    not followed (only the record's ids, shr-<n>, are looked up)."""
    out: list[dict[str, Any]] = []
    seen = {(r["resourceType"], r["id"]) for r in page}
    top = get_settings().max_page_size
    for param, target in includes:
        if target == "Patient":
            found = await _patients(session, principal, list(dict.fromkeys(persons)))
        else:
            wanted = list(
                dict.fromkeys(i for r in page for i in _reference_ids(r.get(param), target))
            )
            if not wanted:
                continue
            got = await record.search_resources(
                session, principal, target, RecordQuery(ids=wanted, limit=len(wanted))
            )
            found = [mapper.to_fhir(s) for s in got.items]
        for res in found:
            key = (res["resourceType"], res["id"])
            if key not in seen:
                seen.add(key)
                out.append(res)
    encounters = [
        rid
        for r in page
        if resource_type == "Encounter" and (rid := record.row_id(str(r["id"]))) is not None
    ]
    for source in revincludes if encounters else []:
        got = await record.search_resources(
            session, principal, source, RecordQuery(encounter_ids=encounters, limit=top)
        )
        for s in got.items:
            if (source, s.fhir_id) not in seen:
                seen.add((source, s.fhir_id))
                out.append(mapper.to_fhir(s))
    return out
