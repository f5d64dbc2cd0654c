"""Practitioner and PractitionerRole mappers: the registry of health workers.

A practitioner's specialty and licence are one ``qualification`` (the
licence number as its identifier, the validity as its period); a role is a
position (``urn:salomat:position``) at a facility, for a section if the
position serves one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole

from salomat.core.errors import FieldError, Invalid
from salomat.domains.registry.schemas import PractitionerOut, PractitionerRoleOut
from salomat.fhir.common import EXT, FACILITY_SYSTEM, meta, reference_id, validated
from salomat.fhir.patient import V2_0203, national_system

LICENCE_SYSTEM = "urn:salomat:practitioner-licence"
SPECIALTY_SYSTEM = "urn:salomat:specialty"
POSITION_SYSTEM = "urn:salomat:position"
SECTION_EXT = EXT + "section"
#: the role's full-time equivalent (valueDecimal, 0 < fte <= 1.5; one person's roles at one
#: time sum to at most 1.5): the filled posts of staffing plans (docs/fhir.md)
FTE_EXT = EXT + "fte"

FIELDS = {
    "national_id": "Practitioner.identifier",
    "family_name": "Practitioner.name[0].family",
    "given_name": "Practitioner.name[0].given[0]",
    "patronymic": "Practitioner.name[0].given[1]",
    "sex": "Practitioner.gender",
    "specialty": "Practitioner.qualification[0].code",
    "licence_number": "Practitioner.qualification[0].identifier",
    "licence_valid_until": "Practitioner.qualification[0].period.end",
    "phone": "Practitioner.telecom",
    "active": "Practitioner.active",
}
ROLE_FIELDS = {
    "facility_code": "PractitionerRole.organization",
    "position": "PractitionerRole.code",
    "section_code": f"PractitionerRole.extension('{SECTION_EXT}')",
    "fte": f"PractitionerRole.extension('{FTE_EXT}')",
    "start_on": "PractitionerRole.period.start",
    "end_on": "PractitionerRole.period.end",
}


def to_fhir(p: PractitionerOut, last_updated: datetime | None) -> dict[str, Any]:
    identifiers = []
    if p.national_id:
        identifiers.append(
            {
                "use": "official",
                "type": {"coding": [{"system": V2_0203, "code": "NI"}]},
                "system": national_system(),
                "value": p.national_id,
            }
        )
    if p.licence_number:
        identifiers.append(
            {
                "type": {"coding": [{"system": V2_0203, "code": "LN"}]},
                "system": LICENCE_SYSTEM,
                "value": p.licence_number,
            }
        )
    given = [p.given_name, *([p.patronymic] if p.patronymic else [])]
    qualification: dict[str, Any] = {
        "code": {"coding": [{"system": SPECIALTY_SYSTEM, "code": p.specialty}]}
    }
    if p.licence_number:
        qualification["identifier"] = [{"system": LICENCE_SYSTEM, "value": p.licence_number}]
    if p.licence_valid_until:
        qualification["period"] = {"end": p.licence_valid_until.isoformat()}
    res: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": str(p.id),
        "meta": meta(p.version, last_updated),
        "active": p.active,
        "name": [
            {
                "use": "official",
                "text": " ".join([p.family_name, *given]),
                "family": p.family_name,
                "given": given,
            }
        ],
        "qualification": [qualification],
    }
    if identifiers:
        res["identifier"] = identifiers
    if p.sex:
        res["gender"] = p.sex
    if p.phone:
        res["telecom"] = [{"system": "phone", "value": p.phone, "use": "work"}]
    return validated(Practitioner, res)


def from_fhir(p: Practitioner) -> dict[str, Any]:
    """The ``PractitionerIn`` fields (plus ``active``) a Practitioner gives."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {"national_id": None, "licence_number": None}
    system = national_system()
    for i, ident in enumerate(p.identifier or []):
        if ident.system == system:
            values["national_id"] = ident.value
        elif ident.system == LICENCE_SYSTEM:
            values["licence_number"] = ident.value
        else:
            errors.append(
                FieldError(
                    f"Practitioner.identifier[{i}].system",
                    f"only the national id ({system}) and the licence ({LICENCE_SYSTEM})",
                )
            )
    if len(p.name or []) != 1:
        errors.append(FieldError("Practitioner.name", "give one name"))
    else:
        name = p.name[0]
        given = list(name.given or [])
        values["family_name"] = name.family
        values["given_name"] = given[0] if given else None
        values["patronymic"] = given[1] if len(given) > 1 else None
        if len(given) > 2:
            errors.append(
                FieldError("Practitioner.name[0].given", "the given name and the patronymic only")
            )
    if p.gender is not None and p.gender not in ("male", "female"):
        errors.append(FieldError("Practitioner.gender", "must be male or female"))
    values["sex"] = p.gender
    phones = [t.value for t in p.telecom or [] if t.system == "phone"]
    values["phone"] = phones[0] if phones else None
    values["licence_valid_until"] = None
    quals = p.qualification or []
    specialties = [
        c.code for q in quals for c in (q.code.coding or []) if c.system == SPECIALTY_SYSTEM
    ]
    if len(specialties) != 1:
        errors.append(
            FieldError(
                "Practitioner.qualification", f"give one qualification coded in {SPECIALTY_SYSTEM}"
            )
        )
    else:
        q = next(q for q in quals if any(c.system == SPECIALTY_SYSTEM for c in q.code.coding or []))
        values["specialty"] = specialties[0]
        if q.period is not None and q.period.end is not None:
            end = q.period.end
            values["licence_valid_until"] = end.date() if isinstance(end, datetime) else end
        licences = [i.value for i in q.identifier or [] if i.system == LICENCE_SYSTEM]
        if licences:
            values["licence_number"] = licences[0]
    values["active"] = p.active
    if errors:
        raise Invalid.fields(errors)
    return values


def role_to_fhir(r: PractitionerRoleOut, last_updated: datetime | None) -> dict[str, Any]:
    today = date.today()
    res: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": str(r.id),
        "meta": meta(r.version, last_updated),
        "active": r.start_on <= today and (r.end_on is None or r.end_on >= today),
        "period": {"start": r.start_on.isoformat()},
        "practitioner": {"reference": f"Practitioner/{r.practitioner_id}"},
        "organization": {
            "reference": f"Organization/{r.facility_id}",
            "identifier": {"system": FACILITY_SYSTEM, "value": r.facility_code},
            "display": r.facility_code,
        },
        "code": [{"coding": [{"system": POSITION_SYSTEM, "code": r.position}]}],
    }
    if r.end_on:
        res["period"]["end"] = r.end_on.isoformat()
    res["extension"] = [{"url": FTE_EXT, "valueDecimal": r.fte}]
    if r.section_code:
        res["extension"].append({"url": SECTION_EXT, "valueString": r.section_code})
    return validated(PractitionerRole, res)


def _ref_id(ref: Any, kind: str) -> int | None:
    target = (ref.reference or "") if ref is not None else ""
    return reference_id(target, kind) if target.startswith(f"{kind}/") else None


def role_from_fhir(r: PractitionerRole) -> dict[str, Any]:
    """The practitioner's id, the facility (id or code) and the ``PractitionerRoleIn`` fields."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {"practitioner_id": _ref_id(r.practitioner, "Practitioner")}
    if values["practitioner_id"] is None:
        errors.append(FieldError("PractitionerRole.practitioner", "must be Practitioner/<id>"))
    values["facility_id"] = _ref_id(r.organization, "Organization")
    values["facility_code"] = None
    if values["facility_id"] is None:
        ident = r.organization.identifier if r.organization is not None else None
        if ident is not None and ident.system == FACILITY_SYSTEM and ident.value:
            values["facility_code"] = ident.value
        else:
            errors.append(
                FieldError(
                    "PractitionerRole.organization",
                    f"must be Organization/<id> or an identifier in {FACILITY_SYSTEM}",
                )
            )
    positions = [
        c.code for cc in r.code or [] for c in cc.coding or [] if c.system == POSITION_SYSTEM
    ]
    if len(positions) != 1:
        errors.append(FieldError("PractitionerRole.code", f"give one coding in {POSITION_SYSTEM}"))
    else:
        values["position"] = positions[0]
    section = next((x for x in r.extension or [] if x.url == SECTION_EXT), None)
    values["section_code"] = section.valueString if section is not None else None
    ftes = [x for x in r.extension or [] if x.url == FTE_EXT]
    if len(ftes) > 1:
        errors.append(FieldError(ROLE_FIELDS["fte"], "give one full-time equivalent"))
    elif ftes:
        if ftes[0].valueDecimal is None:
            errors.append(
                FieldError(ROLE_FIELDS["fte"], "give the full-time equivalent as valueDecimal")
            )
        else:
            # absent: a new role is a full post, an update keeps the role's
            values["fte"] = ftes[0].valueDecimal
    start = r.period.start if r.period is not None else None
    end = r.period.end if r.period is not None else None
    values["start_on"] = start.date() if isinstance(start, datetime) else start
    values["end_on"] = end.date() if isinstance(end, datetime) else end
    if values["start_on"] is None:
        errors.append(FieldError("PractitionerRole.period.start", "required"))
    if errors:
        raise Invalid.fields(errors)
    return values
