"""Location mapper: a territorial unit (region, district, settlement) <-> FHIR R4 Location.

The unit's code is the national classifier's (SOATO in Uzbekistan, KATO in
Kazakhstan) in the system ``urn:salomat:territory``; its level is a ``type``
coding in ``urn:salomat:territory-level`` and the physical type is
``jdn`` (jurisdiction) for every level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.location import Location

from salomat.core.errors import FieldError, Invalid
from salomat.domains.registry.schemas import TerritoryOut
from salomat.fhir.common import EXT, TERRITORY_SYSTEM, meta, validated

LEVEL_SYSTEM = "urn:salomat:territory-level"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
RURAL_EXT = EXT + "rural"
#: IHE mCSD's type codes of Organizations and Locations (a territorial unit: jurisdiction)
MCSD_TYPES = "https://profiles.ihe.net/ITI/mCSD/CodeSystem/IHE.mCSD.Organization.Location.Types"

FIELDS = {
    "code": "Location.identifier",
    "level": "Location.type",
    "parent_code": "Location.partOf",
    "name": "Location.name",
    "is_rural": f"Location.extension('{RURAL_EXT}')",
    "latitude": "Location.position.latitude",
    "longitude": "Location.position.longitude",
}


def to_fhir(t: TerritoryOut, last_updated: datetime | None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(t.id),
        "meta": meta(t.version, last_updated),
        "identifier": [{"use": "official", "system": TERRITORY_SYSTEM, "value": t.code}],
        "status": "active",
        "mode": "instance",
        "name": t.name,
        "type": [
            {"coding": [{"system": LEVEL_SYSTEM, "code": t.level}]},
            {"coding": [{"system": MCSD_TYPES, "code": "jurisdiction", "display": "Jurisdiction"}]},
        ],
        "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": "jdn"}]},
    }
    aliases = [n for n in t.names.values() if n != t.name]
    if aliases:
        res["alias"] = aliases
    if t.is_rural is not None:
        res["extension"] = [{"url": RURAL_EXT, "valueBoolean": t.is_rural}]
    if t.latitude is not None and t.longitude is not None:
        res["position"] = {"latitude": t.latitude, "longitude": t.longitude}
    if t.parent_code:
        res["partOf"] = {
            "identifier": {"system": TERRITORY_SYSTEM, "value": t.parent_code},
            "display": t.parent_code,
        }
    return validated(Location, res)


def from_fhir(loc: Location) -> dict[str, Any]:
    """The ``TerritoryIn`` fields a Location gives (``names`` stay as they are)."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {"name": loc.name}
    codes = [i for i in loc.identifier or [] if i.system == TERRITORY_SYSTEM]
    if len(codes) != 1:
        errors.append(
            FieldError("Location.identifier", f"give one identifier in {TERRITORY_SYSTEM}")
        )
    else:
        values["code"] = codes[0].value
    levels = [c.code for t in loc.type or [] for c in t.coding or [] if c.system == LEVEL_SYSTEM]
    if len(levels) != 1:
        errors.append(
            FieldError(
                "Location.type",
                f"give one coding in {LEVEL_SYSTEM}: region, district or settlement",
            )
        )
    else:
        values["level"] = levels[0]
    rural = next((x for x in loc.extension or [] if x.url == RURAL_EXT), None)
    values["is_rural"] = rural.valueBoolean if rural is not None else None
    values["latitude"] = values["longitude"] = None
    if loc.position is not None:
        values["latitude"] = float(loc.position.latitude)
        values["longitude"] = float(loc.position.longitude)
    values["parent_code"] = None
    if loc.partOf is not None:
        ident = loc.partOf.identifier
        if ident is None or ident.system != TERRITORY_SYSTEM or loc.partOf.reference:
            errors.append(
                FieldError(
                    "Location.partOf", f"name the parent by its identifier in {TERRITORY_SYSTEM}"
                )
            )
        else:
            values["parent_code"] = ident.value
    if errors:
        raise Invalid.fields(errors)
    return values
