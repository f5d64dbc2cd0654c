"""Where each code system's concepts come from: the table its domain keeps (read through the
domain's service) or the mapper's own table, never a copy. ``code_systems`` and
``value_sets`` are called once per country by ``terminology.terminology``.

URLs are the ones the mappers already emit (fhir/*.py); a name in several languages
comes from the pack's ``name``/``names`` table or, for a label the code keeps, from
the message catalogue (uz, ru, kk).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, get_args

from salomat import __version__
from salomat.core import i18n
from salomat.core.i18n import N_
from salomat.core.policy import Role
from salomat.domains.cancer.schemas import STAGE_GROUP, TNM_M, TNM_N, TNM_T
from salomat.domains.cancer.service.labels import BASIS_LABELS
from salomat.domains.child.service import growth as child_growth
from salomat.domains.epidemic.service import revaccination_sql
from salomat.domains.epidemic.service import rules as epidemic_rules
from salomat.domains.immunization import service as immunization
from salomat.domains.insurance import service as insurance
from salomat.domains.insurance.schemas import Basis as InsuranceBasis
from salomat.domains.insurance.service.status import STATE_LABEL as INSURED_BY_STATE
from salomat.domains.maternal.schemas import ReferralKind
from salomat.domains.maternal.service import codes as maternal_codes
from salomat.domains.maternal.service import external_readings as maternal
from salomat.domains.planning import service as planning
from salomat.domains.prescription import service as prescription
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import Level as TerritoryLevel
from salomat.domains.sanatorium import service as sanatorium
from salomat.domains.screening import service as screening
from salomat.domains.sickleave import service as sickleave
from salomat.fhir import (
    audit_event,
    facility_registry,
    insurance_claims,
    insurance_coverage,
    location,
    maternal_condition,
    organization,
    practitioner,
)
from salomat.fhir import cancer as cancer_mapper
from salomat.fhir import child as child_mapper
from salomat.fhir import epidemic as epidemic_mapper
from salomat.fhir import epidemic_coverage as coverage_mapper
from salomat.fhir import epidemic_situation as situation_mapper
from salomat.fhir import immunization as immunization_mapper
from salomat.fhir import maternal as maternal_mapper
from salomat.fhir import mobile_encounter as mobile_mapper
from salomat.fhir import prescription as prescription_mapper
from salomat.fhir import sanatorium as sanatorium_mapper
from salomat.fhir import screening as screening_mapper
from salomat.fhir import sick_leave as sick_leave_mapper
from salomat.fhir import terminology_external as external
from salomat.fhir.common import TERRITORY_SYSTEM
from salomat.fhir.terminology import (
    CANONICAL,
    CodeSystem,
    Concept,
    Include,
    ValueSet,
    concept,
)

CVX = external.CVX
LOINC = external.LOINC


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


def _band_names(low: int, high: int | None) -> dict[str, str]:
    """An age band's names: English, and each language that translates it."""
    out = {"en": coverage_mapper.age_name(low, high, "en")}
    for lang in ("uz", "ru", "kk"):
        text = coverage_mapper.age_name(low, high, lang)
        if text != out["en"]:
            out[lang] = text
    return out


def _named(table: dict[str, str]) -> Iterable[Concept]:
    """A code table whose names are catalogue msgids."""
    return (concept(code, _catalogue(label)) for code, label in table.items())


def _tnm_find(code: str) -> Concept | None:
    """A TNM category or stage group the cancer registry takes (its own patterns)."""
    if not isinstance(code, str) or len(code) > 24:
        return None
    patterns = (TNM_T, TNM_N, TNM_M, STAGE_GROUP)
    return Concept(code, None) if any(re.fullmatch(p, code) for p in patterns) else None


async def _territories(session: Any, codes: list[str]) -> dict[str, Concept]:
    found = await registry.territory_names_by_code(session, codes)
    out = {}
    for code, (name, names) in found.items():
        named = concept(code, names)
        out[code] = Concept(code, named.display or name, named.names)
    return out


async def _medicines(session: Any, codes: list[str]) -> dict[str, Concept]:
    found = await prescription.medicines_by_code(session, codes)
    return {
        code: Concept(code, prescription_mapper.medicine_label(m), _en_name(m))
        for code, m in found.items()
    }


def _en_name(m: Any) -> tuple[tuple[str, str], ...]:
    return (("en", prescription_mapper.medicine_label(m)),)


def _national_more(country: str) -> list[CodeSystem]:
    """The pregnancy register's, the growth chart's, the encounter and document types,
    the audit's roles, the fund's settlement parts and the registry's TNM."""
    national = maternal_codes.national_codes(country)
    advice = _ours(
        "maternal-advice",
        maternal_mapper.ADVICE_SYSTEM,
        "Antenatal advice (what the rules advise; DetectedIssue.code, Condition.code)",
        "the pregnancy register's advice codes and the pack's national rules",
        (
            *_named(maternal_codes.ADVICE),
            *(concept(code, _catalogue(action)) for _, code, action in national),
        ),
    )
    dak = _ours(
        "who-anc-dak-rule",
        maternal_mapper.DAK_RULE_SYSTEM,
        "Antenatal rules: WHO ANC DAK decision tables and the pack's national rules",
        "WHO SMART Guidelines ANC Digital Adaptation Kit (WHO-SRH-21.2) decision tables the "
        "rules implement, and the pack's national rules",
        (
            *_named(maternal_codes.DAK_RULES),
            *(concept(rule, _catalogue(action)) for rule, _, action in national),
        ),
    )
    conditions = CodeSystem(
        id="maternal-condition",
        url=maternal_condition.CONDITION_SYSTEM,
        name="SalomatMaternalCondition",
        title="Chronic conditions recorded at pregnancy registration",
        description=(
            "Chronic conditions recorded at registration: the ones the antenatal rules read "
            "and the register maps to ICD-10. A clinician may record another code, so the "
            "system is open: these are the codes this server knows (content fragment)."
        ),
        content="fragment",
        version=__version__,
        concepts=tuple(_named(maternal_codes.CONDITIONS)),
    )
    growth = _ours(
        "growth-classification",
        child_mapper.CLASS_SYSTEM,
        "Child growth classification (WHO z-score cut-offs)",
        "the growth chart's WHO classification and the implausible-value flag",
        (
            *_named(child_growth.CLASSIFICATIONS),
            concept(child_growth.IMPLAUSIBLE, _catalogue(N_("implausible value"))),
        ),
    )
    episode = _ours(
        "episode-type",
        maternal_mapper.EPISODE_TYPE,
        "Episode of care types",
        "the pregnancy register's episode",
        (concept(maternal_mapper.PREGNANCY[0], _catalogue(maternal_mapper.PREGNANCY[1])),),
    )
    encounter = _ours(
        "encounter-type",
        maternal_mapper.ENCOUNTER_TYPE,
        "Encounter types",
        "the antenatal contact and the sanatorium stay",
        (
            concept(
                maternal_mapper.ANTENATAL_CONTACT[0],
                _catalogue(maternal_mapper.ANTENATAL_CONTACT[1]),
            ),
            concept(sanatorium_mapper.STAY_TYPE, _catalogue(N_("Sanatorium stay"))),
        ),
    )
    document = _ours(
        "document-category",
        sick_leave_mapper.CATEGORY_SYSTEM,
        "Document categories",
        "the sick-leave certificate",
        (concept(sick_leave_mapper.CATEGORY[0], _catalogue(sick_leave_mapper.CATEGORY[1])),),
    )
    characteristic = _ours(
        "sanatorium-characteristic",
        sanatorium_mapper.CHARACTERISTIC_SYSTEM,
        "Sanatorium service characteristics",
        "the sanatorium's bed counts",
        (concept(sanatorium_mapper.BEDS[0], _catalogue(sanatorium_mapper.BEDS[1])),),
    )
    parts = _ours(
        "settlement-part",
        insurance_claims.PART_SYSTEM,
        "Parts of a monthly settlement with the fund",
        "the insurance fund's settlement parts",
        _named(insurance_claims.PARTS),
    )
    roles = _ours(
        "role",
        audit_event.ROLE_SYSTEM,
        "Platform roles (the audit's agent roles)",
        "the platform's roles",
        (concept(r.value, {**_catalogue(r.value), "en": r.value.replace("_", " ")}) for r in Role),
    )
    tnm = CodeSystem(
        id="uicc-tnm",
        url=cancer_mapper.TNM_SYSTEM,
        name="SalomatUiccTnm",
        title="UICC TNM categories and stage groups (as written)",
        description=(
            "UICC TNM categories (T, N and M with their prefixes, subdivisions and "
            "suffixes) and stage groups as the cancer registry takes them; the coding's "
            "version is the TNM edition. Validated by the registry's own patterns, not "
            "listed (content not-present)."
        ),
        content="not-present",
        version="",
        finder=_tnm_find,
    )
    territories = CodeSystem(
        id="territory",
        url=TERRITORY_SYSTEM,
        name="SalomatTerritory",
        title="Territories (regions, districts, settlements)",
        description=(
            "The territorial register's codes (regions, districts, settlements), kept in the "
            "database and changed by the registry: validated and looked up, not listed "
            "(content not-present); GET /fhir/Location lists them."
        ),
        content="not-present",
        version="",
        resolver=_territories,
    )
    formulary = CodeSystem(
        id="formulary",
        url=prescription_mapper.FORMULARY,
        name="SalomatFormulary",
        title="National formulary (medicine packages)",
        description=(
            "The national formulary's package codes, kept in the database and imported from "
            "the drug register: validated and looked up, not listed (content not-present); "
            "GET /fhir/Medication lists them."
        ),
        content="not-present",
        version="",
        resolver=_medicines,
    )
    queue = _ours(
        "sanatorium-queue",
        sanatorium_mapper.QUEUE_SYSTEM,
        "Sanatorium queue entry inputs and outputs (Task.input, Task.output)",
        "the sanatorium mapper's queue parameters",
        _named(sanatorium_mapper.QUEUE_PARAMS),
    )
    return [
        territories,
        formulary,
        queue,
        advice,
        dak,
        conditions,
        growth,
        episode,
        encounter,
        document,
        characteristic,
        parts,
        roles,
        tnm,
    ]


def _screening(country: str) -> list[CodeSystem]:
    """Screening's: its Observation category, the pack's programmes (screening and
    disease-management, every edition), the measurements and their coded results, the
    recall Task's code and the HEARTS indicators (fhir/screening.py)."""
    rules = screening.screening_rules(country)
    programmes: dict[str, dict[str, str]] = {}
    for edition in rules.editions:
        for p in (*edition.programmes.values(), *edition.dmps.values()):
            programmes.setdefault(p.code, p.names)
    results = dict.fromkeys(c for m in rules.measurements.values() for c in m.codes)
    m = screening_mapper
    return [
        _ours(
            "observation-category",
            m.CATEGORY_SYSTEM,
            "Observation categories (national)",
            "the screening mapper's category",
            (
                concept(m.CATEGORY_CODE, _catalogue("Screening")),
                concept(m.FOLLOWUP_CATEGORY_CODE, _catalogue("Disease-management follow-up")),
            ),
        ),
        _ours(
            "screening-programme",
            m.PROGRAMME_SYSTEM,
            "Screening and disease-management programmes",
            "screening.yaml screening and dmp programmes",
            (concept(code, names) for code, names in programmes.items()),
        ),
        _ours(
            "screening-measurement",
            m.MEASUREMENT_SYSTEM,
            "Screening measurements",
            "screening.yaml measurements",
            (
                Concept(k, m.MEASUREMENT_NAMES.get(k), (("en", m.MEASUREMENT_NAMES.get(k, k)),))
                for k in rules.measurements
            ),
        ),
        _ours(
            "screening-result",
            m.RESULT_SYSTEM,
            "Coded screening results (smoking, cytology, HPV, BI-RADS, FOBT)",
            "screening.yaml measurements' codes",
            (Concept(code, None) for code in results),
        ),
        _ours(
            "screening-task",
            m.RECALL_SYSTEM,
            "Screening and disease-management tasks",
            "the screening mapper's recall Task",
            (concept(m.RECALL_CODE, _catalogue("Recall of an overdue patient")),),
        ),
        _ours(
            "hearts-indicator",
            m.HEARTS_SYSTEM,
            "HEARTS / Simple control indicators",
            "the screening mapper's Measure groups (the indicators service's figures)",
            (concept(g.code, _catalogue(g.title)) for g in m.GROUPS),
        ),
    ]


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
    healthcare_services = _ours(
        "healthcare-service",
        facility_registry.SERVICE_SYSTEM,
        "Healthcare services (the facility registry)",
        "the facility registry mapper's services",
        _named(facility_registry.SERVICE_LABELS),
    )
    phc_units = _ours(
        "phc-unit",
        facility_registry.UNIT_SYSTEM,
        "Primary-care unit levels",
        "planning.yaml units",
        (concept(u.code, dict(u.names)) for u in planning.planning_pack(country).units.values()),
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
        "the immunization schedule's statuses (names as the vaccination card shows them)",
        _named(immunization.schedule.STATUS_LABELS),
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
        "the pregnancy register's referral kinds and the sanatorium referral",
        (
            *(
                concept(kind, _catalogue(maternal_codes.REFERRAL_KINDS[kind]))
                for kind in get_args(ReferralKind)
            ),
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
    mobile_services = _ours(
        "mobile-service",
        mobile_mapper.SERVICE_SYSTEM,
        "Services of a mobile medical team",
        "the mobile teams' visits as Encounter.type",
        _named(mobile_mapper.SERVICE_NAMES),
    )
    bed_profiles = _ours(
        "bed-profile",
        epidemic_mapper.PROFILE_SYSTEM,
        "Hospital bed profiles (epidemic capacity)",
        "epidemic.yaml bed_profiles",
        (concept(p.code, dict(p.names)) for p in epidemic_rules.bed_profiles(country)),
    )
    bed_flows = _ours(
        "bed-flow",
        epidemic_mapper.FLOW_SYSTEM,
        "A hospital day's patient flows (epidemic capacity)",
        "the capacity MeasureReport's admitted and discharged populations",
        _named(epidemic_mapper.FLOW_NAMES),
    )
    situation_measures = _ours(
        "epidemic-situation-measure",
        situation_mapper.MEASURE_SYSTEM,
        "Measures of a region's epidemic situation",
        "the situation MeasureReport's groups",
        _named(situation_mapper.MEASURES),
    )
    epidemic_pack = epidemic_rules.epidemic_pack(country)
    zones = _ours(
        "epidemic-zone",
        situation_mapper.ZONE_SYSTEM,
        "Epidemic zones (every edition of the matrix)",
        "epidemic.yaml matrix.editions zones",
        (concept(code, names) for code, names in situation_mapper.zones(epidemic_pack).items()),
    )
    scenarios = _ours(
        "forecast-scenario",
        situation_mapper.SCENARIO_SYSTEM,
        "Forecast scenarios of the epidemic situation",
        "epidemic.yaml forecast.scenarios",
        (concept(sc.code, dict(sc.names)) for sc in epidemic_pack.scenarios),
    )
    revaccination_denominators = _ours(
        "revaccination-denominator",
        coverage_mapper.DENOMINATOR_SYSTEM,
        "Denominators of revaccination coverage",
        "the revaccination MeasureReport's groups",
        _named(coverage_mapper.DENOMINATORS),
    )
    revaccination_ages = _ours(
        "revaccination-age-group",
        coverage_mapper.AGE_GROUP_SYSTEM,
        "Age groups of revaccination coverage",
        "epidemic.yaml revaccination.age_bands",
        (
            concept(code, _band_names(lo, hi))
            for code, lo, hi in coverage_mapper.age_codes(
                revaccination_sql.definition(country).age_bands
            )
        ),
    )

    return [
        *_national_more(country),
        *_screening(country),
        vaccines,
        sites,
        series,
        forecast,
        facility_types,
        specialties,
        positions,
        healthcare_services,
        phc_units,
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
        mobile_services,
        bed_profiles,
        bed_flows,
        revaccination_denominators,
        revaccination_ages,
        situation_measures,
        zones,
        scenarios,
        *external.code_systems(country),
    ]


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
