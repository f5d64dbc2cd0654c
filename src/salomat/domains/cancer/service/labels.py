"""The words for the cancer registry's codes (msgids, translated where they are shown).

A code is stored and sent as is; a page shows its label in the page's language, and the
code itself beside it where a registrar reads codes (C18.2, 8140/3). The meanings are the
field's: the IARC basis of diagnosis (IARC/IACR, Jensen et al. 1991 "Cancer
registration: principles and methods", IARC Sci. Publ. 95, ch. 11 on quality), the
IARC/IACR 2004 multiple-primary rules and their histology groups (Table 2), the checks
of IARC Technical Report 42 ("Check and conversion programs"), the ENCR hierarchy of the
date of incidence (ENCR recommendations, 1997), ICD-O-3's behaviour and grade codes.
"""

from __future__ import annotations

from salomat.core import i18n
from salomat.core.errors import N_
from salomat.domains.cancer.service.common import cancer_rules

__all__ = [
    "BASIS_LABELS",
    "BEHAVIOUR_LABELS",
    "CHECK_LABELS",
    "DATE_KIND_LABELS",
    "DATE_LEVEL_LABELS",
    "DISEASE_STATUS_LABELS",
    "GRADE_LABELS",
    "HISTOLOGY_GROUP_LABELS",
    "LATERALITY_LABELS",
    "NOTIFICATION_STATUS_LABELS",
    "REASON_LABELS",
    "SOURCE_LABELS",
    "TREATMENT_LABELS",
    "TUMOUR_STATUS_LABELS",
    "VITAL_STATUS_LABELS",
    "site_group_name",
]

#: ``CancerNotification.source``
SOURCE_LABELS = {
    "clinician": N_("clinician's notification"),
    "pathology": N_("pathology report"),
    "discharge": N_("hospital discharge"),
    "death_certificate": N_("death certificate"),
    "system": N_("another information system"),
}

#: IARC basis of diagnosis; 5-7 are "microscopically verified", 0 is "death certificate
#: only" (the two quality indicators). Codes 3 and 8 are not used.
BASIS_LABELS = {
    0: N_("death certificate only"),
    1: N_("clinical only"),
    2: N_("clinical investigation (imaging, endoscopy, surgery without histology)"),
    4: N_("specific tumour markers"),
    5: N_("cytology or haematology"),
    6: N_("histology of a metastasis"),
    7: N_("histology of the primary tumour"),
    9: N_("unknown"),
}

#: what the date a source gives is (the form's choice), by ENCR level 1-4
DATE_KIND_LABELS = {
    "microscopic": N_("first microscopic confirmation (histology or cytology)"),
    "admission": N_("admission to hospital for this cancer"),
    "outpatient": N_("first outpatient consultation for this cancer"),
    "diagnosis": N_("date of diagnosis (none of the above)"),
}

#: the ENCR hierarchy of the date of incidence: the date of the highest level any of the
#: tumour's notifications gives (1 before 2 ... before 6)
DATE_LEVEL_LABELS = {
    1: N_("first histological or cytological confirmation"),
    2: N_("admission to hospital because of the cancer"),
    3: N_("first outpatient consultation because of the cancer"),
    4: N_("diagnosis, other than the above"),
    5: N_("death, the cancer found at autopsy"),
    6: N_("death, from the death certificate only"),
}

TUMOUR_STATUS_LABELS = {
    "registered": N_("registered"),
    "to_confirm": N_("waiting for the registry's confirmation"),
}

NOTIFICATION_STATUS_LABELS = {
    "consolidated": N_("joined to a tumour"),
    "to_review": N_("waiting for the registry"),
    "rejected": N_("set aside by the registry"),
}

#: why a notification made, joined or did not join a tumour (the multiple-primary
#: decision of the rules, IARC/IACR 2004, or of the registrar)
REASON_LABELS = {
    "first_tumour": N_("the patient's first tumour: a new primary"),
    "different_organ": N_("another organ: a new primary"),
    "different_histology": N_("another histology group in the same organ: a new primary"),
    "same_organ_same_group": N_("the same organ and histology group: the same tumour"),
    "unspecified_histology": N_(
        "an unspecified histology in an organ with a tumour: the same tumour"
    ),
    "systemic_once": N_("a systemic cancer is counted once: the same tumour"),
    "unknown_primary_site": N_("unknown primary site beside a known cancer"),
    "several_candidates": N_("could belong to more than one tumour"),
    "invalid_on_certificate": N_("the death certificate does not fit the patient"),
    "registrar_new_primary": N_("a new primary, decided by the registrar"),
    "registrar_attached": N_("joined to a tumour by the registrar"),
    "registrar_rejected": N_("set aside by the registrar"),
    "rare": N_("a rare combination to confirm"),
}

#: the checks (IARC Technical Report 42) by rule id: rare ones wait for a confirmation,
#: invalid ones refuse the report
CHECK_LABELS = {
    "age_site": N_("rare site for the patient's age"),
    "age_histology": N_("rare histology for the patient's age"),
    "sex_site": N_("site impossible for the patient's sex"),
    "behaviour_site": N_("in situ behaviour unusual at this site"),
    "site_histology": N_("rare histology at this site"),
    "unknown_histology": N_("histology code not in the registry's table"),
    "dates": N_("dates out of order (birth, diagnosis, death)"),
}

TREATMENT_LABELS = {
    "surgery": N_("surgery"),
    "radiotherapy": N_("radiotherapy"),
    "systemic": N_("systemic therapy (chemotherapy, hormone, targeted)"),
}

DISEASE_STATUS_LABELS = {
    "no_evidence": N_("no evidence of disease"),
    "with_disease": N_("with disease"),
    "unknown": N_("not known"),
}

VITAL_STATUS_LABELS = {
    "alive": N_("alive"),
    "dead": N_("deceased"),
}

#: ICD-O-3 fifth digit of the morphology
BEHAVIOUR_LABELS = {
    0: N_("benign"),
    1: N_("uncertain whether benign or malignant"),
    2: N_("in situ"),
    3: N_("malignant"),
}

#: ICD-O-3 sixth digit: differentiation (1-4) or cell lineage of lymphomas and leukaemias
GRADE_LABELS = {
    1: N_("grade I, well differentiated"),
    2: N_("grade II, moderately differentiated"),
    3: N_("grade III, poorly differentiated"),
    4: N_("grade IV, undifferentiated"),
    5: N_("T-cell"),
    6: N_("B-cell"),
    7: N_("null cell"),
    8: N_("NK cell"),
    9: N_("grade or cell type not determined"),
}

#: paired organs only (the model's codes)
LATERALITY_LABELS = {
    1: N_("right"),
    2: N_("left"),
    3: N_("one side, which not known"),
    4: N_("bilateral"),
    9: N_("side not known"),
}

#: IARC/IACR 2004, Table 2: the groups the multiple-primary rules compare
HISTOLOGY_GROUP_LABELS = {
    1: N_("squamous carcinoma"),
    2: N_("basal cell carcinoma"),
    3: N_("adenocarcinoma"),
    4: N_("other specified carcinoma"),
    5: N_("unspecified carcinoma"),
    6: N_("sarcoma and soft-tissue tumour"),
    7: N_("mesothelioma"),
    8: N_("myeloid neoplasm"),
    9: N_("B-cell neoplasm"),
    10: N_("T-cell or NK-cell neoplasm"),
    11: N_("Hodgkin lymphoma"),
    12: N_("mast-cell tumour"),
    13: N_("histiocytic or accessory lymphoid cell tumour"),
    14: N_("haematopoietic neoplasm, type unspecified"),
    15: N_("Kaposi sarcoma"),
    16: N_("other specified type of cancer"),
    17: N_("cancer, type unspecified"),
}

#: the pack's totals (every group covers these): never the name of one tumour's site
_TOTALS = frozenset({"all", "all_but_c44"})


def site_group_name(code: str | None, lang: str | None = None) -> str:
    """The pack's statistics site group of a topography or ICD-10 code (C18.2: colorectum)
    in ``lang`` (the current language by default); "" when no group covers it. Of several
    groups the narrowest is taken: the totals never name a site."""
    if not code or not code.startswith("C") or not (code[1:3].isascii() and code[1:3].isdigit()):
        return ""
    groups = [g for g in cancer_rules().site_groups if g.code not in _TOTALS and g.covers(code[:3])]
    if not groups:
        return ""
    narrowest = min(groups, key=lambda g: sum(hi - lo + 1 for lo, hi in g.ranges))
    return narrowest.name(lang or i18n.current_language())
