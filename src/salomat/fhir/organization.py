"""Organization mapper: a facility of the national network <-> FHIR R4 Organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.organization import Organization

from salomat.core.errors import FieldError, Invalid
from salomat.domains.registry.schemas import FacilityOut
from salomat.fhir.common import EXT, FACILITY_SYSTEM, TERRITORY_SYSTEM, meta, validated
from salomat.fhir.location import MCSD_TYPES  # every Organization here is a facility

TYPE_SYSTEM = "urn:salomat:facility-type"
PERINATAL_LEVEL_EXT = EXT + "perinatal-level"
SETTLEMENT_EXT = EXT + "settlement"

FIELDS = {
    "code": "Organization.identifier",
    "name": "Organization.name",
    "kind": "Organization.type",
    "perinatal_level": f"Organization.extension('{PERINATAL_LEVEL_EXT}')",
    "settlement_code": f"Organization.address[0].extension('{SETTLEMENT_EXT}')",
    "parent_code": "Organization.partOf",
    "address": "Organization.address[0].text",
    "phone": "Organization.telecom",
}


def to_fhir(f: FacilityOut, last_updated: datetime | None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Organization",
        "id": str(f.id),
        "meta": meta(f.version, last_updated),
        "identifier": [{"use": "official", "system": FACILITY_SYSTEM, "value": f.code}],
        "active": f.is_open,
        "type": [
            {"coding": [{"system": TYPE_SYSTEM, "code": f.kind}]},
            {"coding": [{"system": MCSD_TYPES, "code": "facility", "display": "Facility"}]},
        ],
        "name": f.name,
    }
    aliases = [n for n in f.names.values() if n != f.name]
    if aliases:
        res["alias"] = aliases
    if f.perinatal_level is not None:
        res["extension"] = [{"url": PERINATAL_LEVEL_EXT, "valueInteger": f.perinatal_level}]
    if f.phone:
        res["telecom"] = [{"system": "phone", "value": f.phone, "use": "work"}]
    if f.address or f.settlement_code:
        address: dict[str, Any] = {"use": "work"}
        if f.address:
            address["text"] = f.address
        if f.settlement_code:
            address["extension"] = [
                {
                    "url": SETTLEMENT_EXT,
                    "valueCoding": {"system": TERRITORY_SYSTEM, "code": f.settlement_code},
                }
            ]
        res["address"] = [address]
    if f.parent_code:
        res["partOf"] = {
            "identifier": {"system": FACILITY_SYSTEM, "value": f.parent_code},
            "display": f.parent_code,
        }
    return validated(Organization, res)


def from_fhir(o: Organization) -> dict[str, Any]:
    """The ``FacilityIn`` fields an Organization gives (``names``, beds and dates stay)."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {"name": o.name}
    codes = [i for i in o.identifier or [] if i.system == FACILITY_SYSTEM]
    if len(codes) != 1:
        errors.append(
            FieldError("Organization.identifier", f"give one identifier in {FACILITY_SYSTEM}")
        )
    else:
        values["code"] = codes[0].value
    kinds = [c.code for t in o.type or [] for c in t.coding or [] if c.system == TYPE_SYSTEM]
    if len(kinds) != 1:
        errors.append(FieldError("Organization.type", f"give one coding in {TYPE_SYSTEM}"))
    else:
        values["kind"] = kinds[0]
    level = next((x for x in o.extension or [] if x.url == PERINATAL_LEVEL_EXT), None)
    values["perinatal_level"] = level.valueInteger if level is not None else None
    phones = [t.value for t in o.telecom or [] if t.system == "phone"]
    values["phone"] = phones[0] if phones else None
    values["address"] = values["settlement_code"] = None
    if o.address:
        a = o.address[0]
        values["address"] = a.text or ", ".join(x for x in [*(a.line or []), a.city] if x) or None
        ext = next((x for x in a.extension or [] if x.url == SETTLEMENT_EXT), None)
        if ext is not None and ext.valueCoding is not None:
            values["settlement_code"] = ext.valueCoding.code
    values["parent_code"] = None
    if o.partOf is not None:
        ident = o.partOf.identifier
        if ident is None or ident.system != FACILITY_SYSTEM or o.partOf.reference:
            errors.append(
                FieldError(
                    "Organization.partOf", f"name the parent by its identifier in {FACILITY_SYSTEM}"
                )
            )
        else:
            values["parent_code"] = ident.value
    if errors:
        raise Invalid.fields(errors)
    return values
