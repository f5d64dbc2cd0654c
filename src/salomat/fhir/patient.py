"""Patient mapper: a person of the national index <-> FHIR R4 Patient (R4B models).

Names are kept in the script the clerk typed and transliterated into the
other (``PersonOut.name_script`` and the ``*_alt`` fields). Both go out as
``HumanName``: the entered one first with ``use = official``, the
transliteration second without ``use`` and marked with the Salomat
``transliteration`` extension; each names its script with the core
``language`` extension (``und-Latn`` or ``und-Cyrl``: the script is known, the
language is not). The patronymic is the second ``given``. docs/fhir.md has
the whole mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.patient import Patient

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid
from salomat.country import national_id as nid
from salomat.domains.registry.schemas import PersonOut
from salomat.fhir.common import (
    EXT,
    FACILITY_SYSTEM,
    TERRITORY_SYSTEM,
    instant,
    reference_id,
    validated,
)

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
LANGUAGE_EXT = "http://hl7.org/fhir/StructureDefinition/language"
TRANSLITERATION_EXT = EXT + "transliteration"
DUPLICATE_REASON_EXT = EXT + "duplicate-reason"
SETTLEMENT_EXT = EXT + "settlement"
SECTION_EXT = EXT + "section"

#: the REST field each service error names -> the Patient element the client sent
FIELDS = {
    "national_id": "Patient.identifier",
    "family_name": "Patient.name[0].family",
    "given_name": "Patient.name[0].given[0]",
    "patronymic": "Patient.name[0].given[1]",
    "birth_date": "Patient.birthDate",
    "sex": "Patient.gender",
    "phone": "Patient.telecom",
    "address": "Patient.address[0].text",
    "settlement_code": f"Patient.address[0].extension('{SETTLEMENT_EXT}')",
    "attached_facility_code": "Patient.generalPractitioner[0]",
    "facility_code": "Patient.generalPractitioner[0]",
    "section_code": f"Patient.generalPractitioner[0].extension('{SECTION_EXT}')",
    "start_on": "Patient.generalPractitioner[0]",
    "duplicate_reason": f"Patient.extension('{DUPLICATE_REASON_EXT}')",
}


def national_system() -> str:
    return _system_uri(get_settings().country)


@lru_cache
def _system_uri(country: str) -> str:
    """The pack's national id system, read once per country (a bulk export asks for every
    Patient)."""
    return nid.system_uri(country)


def _lang(script: str) -> dict[str, str]:
    return {"url": LANGUAGE_EXT, "valueCode": f"und-{script.capitalize()}"}


def _human_name(
    family: str, given: str, patronymic: str | None, script: str, *, entered: bool
) -> dict[str, Any]:
    given_names = [given, *([patronymic] if patronymic else [])]
    name: dict[str, Any] = {
        "text": " ".join([family, *given_names]),
        "family": family,
        "given": given_names,
        "extension": [_lang(script)],
    }
    if entered:
        name["use"] = "official"
    else:
        name["extension"].append({"url": TRANSLITERATION_EXT, "valueBoolean": True})
    return name


def to_fhir(p: PersonOut) -> dict[str, Any]:
    """One version of a person as a Patient (validated)."""
    res: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(p.id),
        "meta": {"versionId": str(p.version), "lastUpdated": instant(p.updated_at)},
        "active": p.merged_into_id is None,
        "gender": p.sex,
        "birthDate": p.birth_date.isoformat(),
    }
    if p.national_id:
        res["identifier"] = [
            {
                "use": "official",
                "type": {"coding": [{"system": V2_0203, "code": "NI"}]},
                "system": national_system(),
                "value": p.national_id,
            }
        ]
    names = [_human_name(p.family_name, p.given_name, p.patronymic, p.name_script, entered=True)]
    if p.family_name_alt and p.given_name_alt:
        other = "cyrl" if p.name_script == "latn" else "latn"
        names.append(
            _human_name(p.family_name_alt, p.given_name_alt, p.patronymic_alt, other, entered=False)
        )
    res["name"] = names
    if p.phone:
        res["telecom"] = [{"system": "phone", "value": p.phone, "use": "mobile"}]
    if p.address or p.settlement_code:
        address: dict[str, Any] = {"use": "home", "country": get_settings().country}
        if p.address:
            address["text"] = p.address
        if p.settlement_code:
            address["extension"] = [
                {
                    "url": SETTLEMENT_EXT,
                    "valueCoding": {"system": TERRITORY_SYSTEM, "code": p.settlement_code},
                }
            ]
        res["address"] = [address]
    if p.deceased_on is not None:
        res["deceasedDateTime"] = p.deceased_on.isoformat()
    if p.attached_facility_id is not None:
        gp: dict[str, Any] = {"reference": f"Organization/{p.attached_facility_id}"}
        if p.attached_facility_code:
            gp["identifier"] = {"system": FACILITY_SYSTEM, "value": p.attached_facility_code}
            gp["display"] = p.attached_facility_code
        if p.section_code:
            gp["extension"] = [{"url": SECTION_EXT, "valueString": p.section_code}]
        res["generalPractitioner"] = [gp]
    if p.merged_into_id is not None:
        res["link"] = [
            {"other": {"reference": f"Patient/{p.merged_into_id}"}, "type": "replaced-by"}
        ]
    return validated(Patient, res)


# ---- incoming ------------------------------------------------------------------------


@dataclass
class Incoming:
    """What a client's Patient says, in the registry's terms."""

    family_name: str | None = None
    given_name: str | None = None
    patronymic: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    national_id: str | None = None
    phone: str | None = None
    address: str | None = None
    settlement_code: str | None = None
    #: ``Organization/<id>`` as the id, or the facility code from an identifier
    facility_id: int | None = None
    facility_code: str | None = None
    section_code: str | None = None
    duplicate_reason: str | None = None
    deceased: bool | date | None = None
    active: bool | None = None
    replaced_by: int | None = None
    errors: list[FieldError] = field(default_factory=list)

    def person(self) -> dict[str, Any]:
        """The fields of ``PersonIn`` / ``PersonPatch``."""
        return {
            "national_id": self.national_id,
            "family_name": self.family_name,
            "given_name": self.given_name,
            "patronymic": self.patronymic,
            "birth_date": self.birth_date,
            "sex": self.sex,
            "phone": self.phone,
            "settlement_code": self.settlement_code,
            "address": self.address,
        }


def _ext(elem: Any, url: str) -> Any:
    return next((x for x in (getattr(elem, "extension", None) or []) if x.url == url), None)


def from_fhir(p: Patient, *, require_identity: bool = True) -> Incoming:
    """Read what Salomat stores from a Patient; every element it cannot take is an error.

    Elements Salomat does not keep (maritalStatus, contact, communication, ...)
    are ignored; identifiers of other systems, a second entered name, a third
    given name and gender ``other``/``unknown`` are refused, since dropping
    them would lose what the client meant.
    """
    out = Incoming()
    err = out.errors.append
    system = national_system()
    for i, ident in enumerate(p.identifier or []):
        if ident.system != system:
            err(
                FieldError(
                    f"Patient.identifier[{i}].system",
                    f"only the national id ({system}) is stored",
                )
            )
        elif out.national_id is not None:
            err(FieldError(f"Patient.identifier[{i}]", "give one national id"))
        else:
            out.national_id = ident.value
    entered = [(i, n) for i, n in enumerate(p.name or []) if not _ext(n, TRANSLITERATION_EXT)]
    if not entered:
        if require_identity:
            err(FieldError("Patient.name", "give the name (family and given)"))
    else:
        i, name = entered[0]
        if len(entered) > 1:
            err(
                FieldError(
                    f"Patient.name[{entered[1][0]}]",
                    "give one name; the transliteration is made by the server",
                )
            )
        given = list(name.given or [])
        out.family_name = name.family
        out.given_name = given[0] if given else None
        out.patronymic = given[1] if len(given) > 1 else None
        if len(given) > 2:
            err(FieldError(f"Patient.name[{i}].given", "the given name and the patronymic only"))
        if require_identity and not name.family:
            err(FieldError(f"Patient.name[{i}].family", "required"))
        if require_identity and not given:
            err(FieldError(f"Patient.name[{i}].given", "required"))
    if p.gender is not None and p.gender not in ("male", "female"):
        err(FieldError("Patient.gender", "must be male or female"))
    else:
        out.sex = p.gender
    if require_identity and p.gender is None:
        err(FieldError("Patient.gender", "required"))
    if p.birthDate is None:
        if require_identity:
            err(FieldError("Patient.birthDate", "required"))
    elif not isinstance(p.birthDate, date) or isinstance(p.birthDate, datetime):
        err(FieldError("Patient.birthDate", "give the full date (YYYY-MM-DD)"))
    else:
        out.birth_date = p.birthDate
    phones = [t for t in p.telecom or [] if t.system == "phone"]
    out.phone = phones[0].value if phones else None
    if p.address:
        a = p.address[0]
        parts = [*(a.line or []), a.city, a.district, a.state]
        out.address = a.text or ", ".join(x for x in parts if x) or None
        settlement = _ext(a, SETTLEMENT_EXT)
        if settlement is not None:
            coding = settlement.valueCoding
            if coding is None or coding.system != TERRITORY_SYSTEM or not coding.code:
                err(
                    FieldError(
                        f"Patient.address[0].extension('{SETTLEMENT_EXT}')",
                        f"a valueCoding with system {TERRITORY_SYSTEM} and the settlement's code",
                    )
                )
            else:
                out.settlement_code = coding.code
    _general_practitioner(p, out)
    reason = _ext(p, DUPLICATE_REASON_EXT)
    if reason is not None:
        out.duplicate_reason = reason.valueString
    if p.deceasedBoolean is not None:
        out.deceased = p.deceasedBoolean
    elif p.deceasedDateTime is not None:
        out.deceased = (
            p.deceasedDateTime.date()
            if isinstance(p.deceasedDateTime, datetime)
            else p.deceasedDateTime
        )
    out.active = p.active
    for i, link in enumerate(p.link or []):
        ref = link.other.reference or ""
        if link.type != "replaced-by" or not ref.startswith("Patient/"):
            err(FieldError(f"Patient.link[{i}]", "only replaced-by links to a Patient are kept"))
        elif (replaced_by := reference_id(ref, "Patient")) is not None:
            out.replaced_by = replaced_by
    return out


def _general_practitioner(p: Patient, out: Incoming) -> None:
    refs = p.generalPractitioner or []
    if len(refs) > 1:
        out.errors.append(
            FieldError("Patient.generalPractitioner", "one primary-care facility at most")
        )
        return
    if not refs:
        return
    ref, path = refs[0], "Patient.generalPractitioner[0]"
    target = ref.reference or ""
    if target.startswith("Organization/") and reference_id(target, "Organization") is not None:
        out.facility_id = reference_id(target, "Organization")
    elif not target and ref.identifier is not None and ref.identifier.system == FACILITY_SYSTEM:
        out.facility_code = ref.identifier.value
    else:
        out.errors.append(
            FieldError(
                path,
                "must be the primary-care facility: Organization/<id>, or an identifier "
                f"in {FACILITY_SYSTEM}",
            )
        )
        return
    section = _ext(ref, SECTION_EXT)
    if section is not None:
        out.section_code = section.valueString


def check(incoming: Incoming) -> Incoming:
    if incoming.errors:
        raise Invalid.fields(incoming.errors)
    return incoming
