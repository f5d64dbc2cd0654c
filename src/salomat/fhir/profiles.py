"""The national profiles: one declarative source (``PROFILES``), rendered to FHIR R4
``StructureDefinition`` resources (a constraint on the R4 core type, with a
``differential`` only: no snapshot generator runs offline here) and read by
``profiles_check`` for ``$validate``.

Every constraint is true of what our own mappers emit (tests/fhir/test_profiles.py feeds
them through both validators). The values come from where the platform keeps them: the
national id systems, formats and check digits from the country packs
(``country/national_id``), the value sets and binding strengths from the terminology
(``terminology_bindings.BINDINGS``), the identifier systems and codes from the mappers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from salomat import __version__
from salomat.core.i18n import N_
from salomat.country import pack
from salomat.domains.record.service import RESOURCE_TYPES as RECORD_TYPES
from salomat.fhir import dispense, maternal, prescription
from salomat.fhir.terminology import CANONICAL, PUBLISHER
from salomat.fhir.terminology_bindings import BINDINGS

BASE = "http://hl7.org/fhir/StructureDefinition/"
PROFILE_BASE = f"{CANONICAL}StructureDefinition/"
FHIR_VERSION = "4.0.1"
#: the date the profiles were last changed (StructureDefinition.date)
DATE = "2026-12-06"


@dataclass(frozen=True)
class Invariant:
    key: str
    #: error | warning
    severity: str
    #: what a person reads (English in the resource, translated in $validate answers)
    human: str
    #: FHIRPath, evaluated on each instance of the element
    expression: str


@dataclass(frozen=True)
class Element:
    #: the element id: the path, a slice named after a colon (Patient.identifier:pinfl.value)
    id: str
    min: int | None = None
    #: "1", "*", ...
    max: str | None = None
    must_support: bool = False
    #: ("fixedUri", "urn:...") or ("patternCodeableConcept", {...}): the FHIR member name
    #: and its value
    fixed: tuple[str, Any] | None = None
    #: (strength, value set url)
    binding: tuple[str, str] | None = None
    constraints: tuple[Invariant, ...] = ()
    #: slicing of a repeating element by the value of a child (``system``)
    slice_by: str | None = None
    short: str | None = None

    @property
    def path(self) -> str:
        """The element path without slice names."""
        return ".".join(step.split(":")[0] for step in self.id.split("."))

    @property
    def slice_name(self) -> str | None:
        last = self.id.split(".")[-1]
        return last.split(":")[1] if ":" in last else None


@dataclass(frozen=True)
class Profile:
    id: str
    type: str
    name: str
    title: str
    description: str
    elements: tuple[Element, ...] = field(default=())

    @property
    def url(self) -> str:
        return PROFILE_BASE + self.id


# ---- the national id: format and check digit from each country's pack -----------------


def _digit(i: int) -> str:
    return f"value.substring({i}, 1).toInteger()"


def _weighted(weights: list[int], n: int) -> str:
    return " + ".join(f"{_digit(i)} * {weights[i % len(weights)]}" for i in range(n))


def _check_digit_expression(rules: dict[str, Any]) -> str:
    """The pack's check-digit rule as FHIRPath over the identifier's ``value``."""
    if rules["scheme"] == "pinfl":
        return f"(({_weighted(rules['check_weights'], 13)}) mod 10) = {_digit(13)}"
    if rules["scheme"] == "iin":
        first = f"(({_weighted(rules['check_weights'], 11)}) mod 11)"
        second = f"(({_weighted(rules['check_weights_second'], 11)}) mod 11)"
        return f"iif({first} = 10, {second} = {_digit(11)}, {first} = {_digit(11)})"
    raise pack.PackError(f"unknown national id scheme {rules['scheme']!r}")


def _national_id_slices() -> list[Element]:
    out: list[Element] = []
    for country in pack.countries():
        rules = pack.load(country).get("national_id")
        if not rules:
            continue
        slice_id = f"Patient.identifier:{rules['scheme']}"
        prefix = f"sal-{rules['scheme']}"
        # the format: the pack's pattern, the century-and-sex digit 1-6 where the scheme
        # puts it (national-ids.md)
        where = 6 if rules["scheme"] == "iin" else 0
        out += [
            Element(
                slice_id,
                min=0,
                max="1",
                must_support=True,
                short=f"{rules['name']} ({country}): the national id",
                constraints=(
                    Invariant(
                        f"{prefix}-1",
                        "error",
                        N_("The national id has the format of its country's number."),
                        f"value.matches('{rules['pattern']}') and "
                        f"value.substring({where}, 1).matches('^[1-6]$')",
                    ),
                    Invariant(
                        f"{prefix}-2",
                        # the pack's documented switch: a wrong check digit an error or a
                        # warning (national-ids.md)
                        "error" if rules.get("check_digit", "error") == "error" else "warning",
                        N_("The check digit (the last digit) of the national id is right."),
                        f"value.matches('{rules['pattern']}') implies "
                        f"({_check_digit_expression(rules)})",
                    ),
                ),
            ),
            Element(f"{slice_id}.system", min=1, fixed=("fixedUri", rules["system"])),
            Element(f"{slice_id}.value", min=1, must_support=True),
        ]
    return out


# ---- bindings: the terminology's, one source ------------------------------------------


def _choice(path: str) -> str:
    """``MedicationRequest.medicationCodeableConcept`` as the element it is a type of
    (``medication[x]``): a differential names the choice element."""
    head, _, last = path.rpartition(".")
    if last.endswith("CodeableConcept") and last != "CodeableConcept":
        return f"{head}.{last.removesuffix('CodeableConcept')}[x]"
    return path


def _bindings(resource_type: str) -> list[Element]:
    return [
        Element(
            _choice(b.path),
            binding=(b.strength, b.value_set),
            must_support=b.strength == "required",
        )
        for b in BINDINGS.get(resource_type, ())
    ]


def _merge(elements: list[Element]) -> tuple[Element, ...]:
    """One element per id, in the order first named: a binding and a cardinality of the
    same element become one differential element."""
    out: dict[str, Element] = {}
    for e in elements:
        prev = out.get(e.id)
        if prev is None:
            out[e.id] = e
            continue
        out[e.id] = Element(
            e.id,
            min=e.min if e.min is not None else prev.min,
            max=e.max or prev.max,
            must_support=e.must_support or prev.must_support,
            fixed=e.fixed or prev.fixed,
            binding=e.binding or prev.binding,
            constraints=prev.constraints + e.constraints,
            slice_by=e.slice_by or prev.slice_by,
            short=e.short or prev.short,
        )
    slices = {e.slice_name: i for i, e in enumerate(out.values()) if e.slice_name}
    return tuple(sorted(out.values(), key=lambda e: _order(e.id, slices)))


def _model_of(annotation: Any) -> type[Any] | None:
    """The R4B model a field's annotation names (``Optional[List[ObservationComponentType]]``)."""
    from fhir.resources.R4B import get_fhir_model_class

    found = re.search(r"(\w+)Type\b", str(annotation))
    if found is None:
        return None
    try:
        return get_fhir_model_class(found.group(1))
    except KeyError:
        return None


def _order(element_id: str, slices: dict[str | None, int]) -> tuple[tuple[int, int], ...]:
    """Where the element stands in the base resource (a differential lists its elements
    in the base's order, a slice after its element, a slice's children after it)."""
    from fhir.resources.R4B import get_fhir_model_class

    steps = element_id.split(".")
    model: Any = get_fhir_model_class(steps[0])
    key = []
    for step in steps[1:]:
        name, _, slice_name = step.partition(":")
        seq = model.elements_sequence() if model is not None else []
        if name.endswith("[x]"):
            name = next((n for n in seq if n.startswith(name[:-3])), name)
        index = seq.index(name) if name in seq else len(seq)
        key.append((index, slices.get(slice_name, -1) + 1 if slice_name else 0))
        field_info = model.model_fields.get(name) if model is not None else None
        model = _model_of(field_info.annotation) if field_info is not None else None
    return tuple(key)


def _patient_reference(path: str, key: str) -> Element:
    return Element(
        path,
        min=1,
        must_support=True,
        constraints=(
            Invariant(
                key,
                "error",
                N_("The patient is a Patient of this server (Patient/<id>)."),
                "reference.exists() and reference.startsWith('Patient/')",
            ),
        ),
    )


@lru_cache(maxsize=1)
def profiles() -> tuple[Profile, ...]:
    """Every national profile; read once (the packs and the bindings do not change while
    the server runs)."""
    out = [
        Profile(
            "salomat-patient",
            "Patient",
            "SalomatPatient",
            "Patient with the national id",
            "A person of the national index: the national id (PINFL in Uzbekistan, IIN in "
            "Kazakhstan) as an identifier in the country's system, in its format and with "
            "its check digit; the name, sex and birth date every registration has.",
            _merge(
                [
                    Element(
                        "Patient.identifier",
                        must_support=True,
                        slice_by="system",
                        short="the national id, sliced by system",
                    ),
                    *_national_id_slices(),
                    Element("Patient.name", min=1, must_support=True),
                    Element("Patient.name.family", min=1),
                    Element("Patient.gender", min=1, must_support=True),
                    Element("Patient.birthDate", min=1, must_support=True),
                ]
            ),
        ),
        Profile(
            "salomat-pregnancy",
            "EpisodeOfCare",
            "SalomatPregnancy",
            "Pregnancy (antenatal care episode)",
            "A pregnancy under antenatal care: an EpisodeOfCare of type pregnancy, its "
            "patient, managing facility and period, with the estimated delivery date.",
            _merge(
                [
                    Element(
                        "EpisodeOfCare.type",
                        min=1,
                        must_support=True,
                        fixed=(
                            "patternCodeableConcept",
                            {"coding": [{"system": maternal.EPISODE_TYPE, "code": "pregnancy"}]},
                        ),
                    ),
                    _patient_reference("EpisodeOfCare.patient", "sal-preg-1"),
                    Element("EpisodeOfCare.managingOrganization", must_support=True),
                    Element("EpisodeOfCare.period", min=1, must_support=True),
                    Element("EpisodeOfCare.period.start", min=1),
                    Element(
                        "EpisodeOfCare",
                        constraints=(
                            Invariant(
                                "sal-preg-2",
                                "error",
                                N_("A pregnancy has its estimated delivery date (extension)."),
                                f"extension.where(url = '{maternal.EDD_EXT}').exists()",
                            ),
                        ),
                    ),
                ]
            ),
        ),
        Profile(
            "salomat-pregnancy-observation",
            "Observation",
            "SalomatPregnancyObservation",
            "Antenatal reading",
            "A reading of an antenatal contact (blood pressure, weight, haemoglobin, fetal "
            "heart rate, ...): a LOINC code, the patient, the date, and a value or components.",
            _merge(
                [
                    Element("Observation.code", min=1, must_support=True),
                    *_bindings("Observation"),
                    _patient_reference("Observation.subject", "sal-pobs-1"),
                    Element("Observation.effective[x]", min=1, must_support=True),
                    Element(
                        "Observation",
                        constraints=(
                            Invariant(
                                "sal-pobs-2",
                                "error",
                                N_("The reading is coded in LOINC."),
                                f"code.coding.where(system = '{maternal.LOINC}').exists()",
                            ),
                            Invariant(
                                "sal-pobs-3",
                                "error",
                                N_("The reading has a value or components."),
                                "value.exists() or component.exists()",
                            ),
                        ),
                    ),
                ]
            ),
        ),
        Profile(
            "salomat-pregnancy-condition",
            "Condition",
            "SalomatPregnancyCondition",
            "Condition of a pregnancy",
            "A condition the antenatal register records or its rules raise: the patient, "
            "a code (ICD-10 where one maps, beside the register's own code) and the date "
            "it was recorded.",
            _merge(
                [
                    Element("Condition.code", min=1, must_support=True),
                    *_bindings("Condition"),
                    _patient_reference("Condition.subject", "sal-pcond-1"),
                    Element("Condition.recordedDate", min=1, must_support=True),
                    Element("Condition.category", min=1),
                ]
            ),
        ),
        Profile(
            "salomat-immunization",
            "Immunization",
            "SalomatImmunization",
            "Immunization of the national calendar",
            "A dose given: the vaccine from the national value set (the national code, "
            "beside it the CVX code; or, when the product is not known, the vaccine group: "
            "the calendar's antigen), the patient and when it was given.",
            _merge(
                [
                    Element("Immunization.vaccineCode", min=1, must_support=True),
                    *_bindings("Immunization"),
                    _patient_reference("Immunization.patient", "sal-imm-1"),
                    Element("Immunization.occurrence[x]", min=1, must_support=True),
                    Element("Immunization.protocolApplied", must_support=True),
                ]
            ),
        ),
        Profile(
            "salomat-medication-request",
            "MedicationRequest",
            "SalomatMedicationRequest",
            "E-prescription",
            "An e-prescription: its code (the one the pharmacy looks it up by), an order "
            "for the patient, the medicine, the dosage and the validity period; the "
            "reimbursement percentage as an extension.",
            _merge(
                [
                    Element(
                        "MedicationRequest.identifier",
                        min=1,
                        must_support=True,
                        slice_by="system",
                    ),
                    Element("MedicationRequest.identifier:code", min=1, max="1"),
                    Element(
                        "MedicationRequest.identifier:code.system",
                        min=1,
                        fixed=("fixedUri", prescription.CODE_SYSTEM),
                    ),
                    Element("MedicationRequest.identifier:code.value", min=1),
                    Element("MedicationRequest.intent", fixed=("fixedCode", "order")),
                    Element("MedicationRequest.medication[x]", must_support=True),
                    *_bindings("MedicationRequest"),
                    _patient_reference("MedicationRequest.subject", "sal-rx-1"),
                    Element("MedicationRequest.authoredOn", min=1, must_support=True),
                    Element("MedicationRequest.dosageInstruction", min=1, must_support=True),
                    Element("MedicationRequest.dispenseRequest", min=1),
                    Element("MedicationRequest.dispenseRequest.validityPeriod", min=1),
                    Element(
                        "MedicationRequest",
                        constraints=(
                            Invariant(
                                "sal-rx-2",
                                "error",
                                N_("The reimbursement is a percentage from 0 to 100."),
                                f"extension.where(url = '{prescription.REIMBURSEMENT}')"
                                ".value.all($this >= 0 and $this <= 100)",
                            ),
                        ),
                    ),
                ]
            ),
        ),
        Profile(
            "salomat-medication-dispense",
            "MedicationDispense",
            "SalomatMedicationDispense",
            "Dispensing of an e-prescription",
            "A pharmacy's dispensing: the prescription it fills, the patient, the pharmacy, "
            "the quantity and the moment; the price is the fund's share plus the co-payment "
            "(minor units, extensions).",
            _merge(
                [
                    Element("MedicationDispense.medication[x]", must_support=True),
                    _patient_reference("MedicationDispense.subject", "sal-disp-1"),
                    Element(
                        "MedicationDispense.authorizingPrescription",
                        min=1,
                        max="1",
                        must_support=True,
                    ),
                    Element("MedicationDispense.performer", min=1, must_support=True),
                    Element("MedicationDispense.quantity", min=1, must_support=True),
                    Element("MedicationDispense.whenHandedOver", min=1, must_support=True),
                    Element(
                        "MedicationDispense",
                        constraints=(
                            Invariant(
                                "sal-disp-2",
                                "error",
                                N_("The price is the fund's share plus the co-payment."),
                                f"extension.where(url = '{dispense.PRICE}').exists() implies "
                                f"(extension.where(url = '{dispense.PRICE}').value = "
                                f"extension.where(url = '{dispense.REIMBURSED}').value + "
                                f"extension.where(url = '{dispense.COPAYMENT}').value)",
                            ),
                        ),
                    ),
                ]
            ),
        ),
    ]
    # the shared record's types with a national rule (a binding): the patient and the
    # terminology's bindings
    for t in RECORD_TYPES:
        if not BINDINGS.get(t):
            continue
        out.append(
            Profile(
                f"salomat-record-{t.lower()}",
                t,
                f"SalomatRecord{t}",
                f"{t} of the shared health record",
                f"A {t} another system sends to the shared health record: about a Patient "
                "of this server, its coded elements bound to the national value sets.",
                _merge(
                    [
                        *_bindings(t),
                        _patient_reference(f"{t}.subject", f"sal-shr-{t[:4].lower()}-1"),
                    ]
                ),
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def by_url() -> dict[str, Profile]:
    return {p.url: p for p in profiles()}


@lru_cache(maxsize=1)
def by_id() -> dict[str, Profile]:
    return {p.id: p for p in profiles()}


def of_type(resource_type: str) -> list[Profile]:
    return [p for p in profiles() if p.type == resource_type]


def types() -> list[str]:
    """The resource types that have a profile, in order."""
    return list(dict.fromkeys(p.type for p in profiles()))


# ---- rendering ------------------------------------------------------------------------


def _element(e: Element, profile: Profile) -> dict[str, Any]:
    out: dict[str, Any] = {"id": e.id, "path": e.path}
    if e.slice_name:
        out["sliceName"] = e.slice_name
    if e.slice_by:
        out["slicing"] = {
            "discriminator": [{"type": "value", "path": e.slice_by}],
            "rules": "open",
        }
    if e.short:
        out["short"] = e.short
    if e.min is not None:
        out["min"] = e.min
    if e.max is not None:
        out["max"] = e.max
    if e.fixed is not None:
        out[e.fixed[0]] = e.fixed[1]
    if e.constraints:
        out["constraint"] = [
            {
                "key": c.key,
                "severity": c.severity,
                "human": c.human,
                "expression": c.expression,
                "source": profile.url,
            }
            for c in e.constraints
        ]
    if e.must_support:
        out["mustSupport"] = True
    if e.binding is not None:
        out["binding"] = {"strength": e.binding[0], "valueSet": e.binding[1]}
    return out


def structure_definition(p: Profile) -> dict[str, Any]:
    """The profile as a StructureDefinition: a differential only (no snapshot)."""
    return {
        "resourceType": "StructureDefinition",
        "id": p.id,
        "meta": {"versionId": "1"},
        "url": p.url,
        "version": __version__,
        "name": p.name,
        "title": p.title,
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": PUBLISHER,
        "description": p.description,
        "fhirVersion": FHIR_VERSION,
        "kind": "resource",
        "abstract": False,
        "type": p.type,
        "baseDefinition": BASE + p.type,
        "derivation": "constraint",
        "differential": {"element": [_element(e, p) for e in p.elements]},
    }
