"""The facility registry other systems read (IHE mCSD): a facility's site as a FHIR R4
Location and the services it offers as a HealthcareService.

- **Location** ``facility-<facility id>`` (the territory Locations keep their plain
  numeric ids): physicalType ``bu`` (building), ``type`` the mCSD ``facility`` code and the
  facility type of the country pack (``urn:salomat:facility-type``: medical point,
  feldsher-obstetric point, physician ambulatory, family polyclinic, ...) and, for a
  primary-care type, its unit level of the planning pack (``urn:salomat:phc-unit``),
  ``managingOrganization`` the facility's Organization, ``partOf`` its settlement's
  Location, ``position`` the settlement's coordinates (a facility carries none of its own
  yet; the extension ``position-source`` says ``settlement``), the name in the pack's
  languages as ``alias`` and as HL7 ``translation`` extensions of ``name``.
- **HealthcareService** ``facility-<facility id>``: ``category`` the facility type,
  ``type`` the services it offers, in the local code system
  ``urn:salomat:healthcare-service``: ``primary_care`` when the pack marks its type
  ``primary_care``, ``obstetric_care`` when the facility has a perinatal level (given as
  the extension ``perinatal-level``, as on the Organization); ``providedBy`` the Organization,
  ``location`` the site.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location

from salomat.core.i18n import N_
from salomat.domains.planning import service as planning
from salomat.domains.registry.service import FacilitySite
from salomat.fhir.common import EXT, FACILITY_SYSTEM, TERRITORY_SYSTEM, meta, validated
from salomat.fhir.location import MCSD_TYPES, PHYSICAL_TYPE
from salomat.fhir.organization import PERINATAL_LEVEL_EXT, TYPE_SYSTEM

#: HL7's translation of a string into another language (on a primitive's ``_name``)
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
SITE_PREFIX = "facility-"
SERVICE_PREFIX = "facility-"
SERVICE_SYSTEM = "urn:salomat:healthcare-service"
#: the primary-care unit levels of the planning pack (planning.yaml ``units``: health
#: worker, medical point, feldsher-obstetric point, physician ambulatory, polyclinic), the
#: unit each facility type is (``facility_units``)
UNIT_SYSTEM = "urn:salomat:phc-unit"
POSITION_SOURCE_EXT = EXT + "position-source"

#: the services' names (English; uz, ru, kk from the message catalogue)
SERVICE_LABELS: dict[str, str] = {
    "primary_care": N_("Primary health care"),
    "obstetric_care": N_("Obstetric care (childbirth)"),
}


def site_id(facility_id: int) -> str:
    return f"{SITE_PREFIX}{facility_id}"


def parse_site_id(value: str) -> int | None:
    """The facility id of ``facility-<id>``, else None."""
    rest = value.removeprefix(SITE_PREFIX)
    if rest == value or not (rest.isascii() and rest.isdigit()) or len(rest) > 9:
        return None
    return int(rest) or None


def services_of(kind_attrs: dict[str, Any], perinatal_level: int | None) -> list[str]:
    """The service codes a facility offers: primary care when the pack marks its type
    ``primary_care``, obstetric care when the facility has a perinatal level (the
    registry's, among the ones the pack allows its type)."""
    codes = []
    if kind_attrs.get("primary_care"):
        codes.append("primary_care")
    if perinatal_level is not None:
        codes.append("obstetric_care")
    return codes


def _translations(name: str, names: dict[str, str]) -> dict[str, Any] | None:
    ext = [
        {
            "url": TRANSLATION,
            "extension": [
                {"url": "lang", "valueCode": lang},
                {"url": "content", "valueString": text},
            ],
        }
        for lang, text in sorted(names.items())
        if text and text != name
    ]
    return {"extension": ext} if ext else None


def unit_of(kind: str) -> str | None:
    """The primary-care unit a facility type is, by the deployed country's planning pack."""
    return planning.planning_pack().unit_of(kind)


def kinds_of_unit(unit: str) -> list[str]:
    """The facility types that are the unit ``unit``."""
    return [k for k, u in planning.planning_pack().facility_units.items() if u == unit]


def site_to_fhir(site: FacilitySite) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Location",
        "id": site_id(site.id),
        "meta": meta(site.version, site.updated_at),
        "identifier": [{"use": "official", "system": FACILITY_SYSTEM, "value": site.code}],
        "status": "active" if site.is_open else "inactive",
        "mode": "instance",
        "name": site.name,
        "type": [
            {"coding": [{"system": MCSD_TYPES, "code": "facility", "display": "Facility"}]},
            {"coding": [{"system": TYPE_SYSTEM, "code": site.kind}]},
        ],
        "physicalType": {
            "coding": [{"system": PHYSICAL_TYPE, "code": "bu", "display": "Building"}]
        },
        "managingOrganization": {
            "reference": f"Organization/{site.id}",
            "identifier": {"system": FACILITY_SYSTEM, "value": site.code},
            "display": site.name,
        },
    }
    unit = unit_of(site.kind)
    if unit is not None:
        res["type"].append({"coding": [{"system": UNIT_SYSTEM, "code": unit}]})
    translated = _translations(site.name, site.names)
    if translated:
        res["_name"] = translated
    aliases = sorted({n for n in site.names.values() if n and n != site.name})
    if aliases:
        res["alias"] = aliases
    if site.phone:
        res["telecom"] = [{"system": "phone", "value": site.phone, "use": "work"}]
    if site.address:
        res["address"] = {"use": "work", "text": site.address}
    if site.latitude is not None and site.longitude is not None:
        res["position"] = {"latitude": site.latitude, "longitude": site.longitude}
        res["extension"] = [{"url": POSITION_SOURCE_EXT, "valueCode": "settlement"}]
    if site.settlement_id is not None and site.settlement_code:
        res["partOf"] = {
            "reference": f"Location/{site.settlement_id}",
            "identifier": {"system": TERRITORY_SYSTEM, "value": site.settlement_code},
            "display": site.settlement_name or site.settlement_code,
        }
    return validated(Location, res)


def service_to_fhir(site: FacilitySite, kind_attrs: dict[str, Any]) -> dict[str, Any]:
    codes = services_of(kind_attrs, site.perinatal_level)
    res: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": f"{SERVICE_PREFIX}{site.id}",
        "meta": meta(site.version, site.updated_at),
        "identifier": [{"use": "official", "system": FACILITY_SYSTEM, "value": site.code}],
        "active": site.is_open,
        "providedBy": {
            "reference": f"Organization/{site.id}",
            "identifier": {"system": FACILITY_SYSTEM, "value": site.code},
            "display": site.name,
        },
        "category": [{"coding": [{"system": TYPE_SYSTEM, "code": site.kind}]}],
        "location": [{"reference": f"Location/{site_id(site.id)}", "display": site.name}],
        "name": site.name,
    }
    if codes:
        res["type"] = [{"coding": [{"system": SERVICE_SYSTEM, "code": c}]} for c in codes]
    if site.perinatal_level is not None:
        res["extension"] = [{"url": PERINATAL_LEVEL_EXT, "valueInteger": site.perinatal_level}]
    if site.phone:
        res["telecom"] = [{"system": "phone", "value": site.phone, "use": "work"}]
    return validated(HealthcareService, res)
