"""Edit checks on a tumour record, after the IARC "Check" program (IARC Technical Report
42, "Check and conversion programs for cancer registries", Ferlay, Burkhard, Whelan &
Parkin 2005).

A finding is "invalid" (the record is refused) or "rare" (an unlikely combination that
the registrar confirms once before it counts). Ages are in completed years at the date
of incidence.

The age/histology list names myeloma 9730, its ICD-O-2 code; ICD-O-3 numbers plasma
cell myeloma 9732, so both are matched. It also names 9890, an ICD-O-2 code with no
ICD-O-3 successor of that number: it is matched as written (no ICD-O-3 morphology
reaches it) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from salomat.core.errors import N_, FieldError, Invalid
from salomat.domains.cancer.service import icdo3
from salomat.domains.cancer.service.icdo3 import Morphology

__all__ = ["Finding", "age_at", "check", "invalid", "raise_invalid", "rare"]

Severity = Literal["invalid", "rare"]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    field: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)


def age_at(birth: date, on: date) -> int:
    """Age in completed years on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _site(t: str) -> int:
    return int(t[1:3])


# --- age/site, rare: "age < 5 with C53 or C61; age < 20 with C15, C19-C21, C23-C24,
# C38.4, C50, C53-C55" ----------------------------------------------------------------
_UNDER_5_SITES = frozenset({53, 61})
_UNDER_20_SITES = frozenset({15, 19, 20, 21, 23, 24, 50, 53, 54, 55})
_UNDER_20_CODES = frozenset({"C38.4"})

# --- age/histology, rare ----------------------------------------------------------------
#: age <= 25: myeloma (9730 ICD-O-2, 9732 ICD-O-3), chronic lymphocytic leukaemia, 9890
_MAX_25 = frozenset({9730, 9732, 9823, 9890})
#: age <= 15: chronic myeloid leukaemia
_MAX_15 = frozenset({9863})
#: age >= 15: childhood types (embryonal rhabdomyosarcoma, nephroblastoma and its
#: ICD-O-2 variants 8961-8962, hepatoblastoma, embryonal carcinosarcoma, embryonal
#: sarcoma, polyembryoma, medulloblastoma, Burkitt lymphoma, malignant histiocytosis)
_CHILDHOOD = frozenset({8910, 8960, 8961, 8962, 8970, 8981, 8991, 9072, 9470, 9687, 9750})

# --- behaviour/site, rare: in situ where there is no epithelium -------------------------
_NO_IN_SITU_SITES = frozenset({40, 41, 42, 47, 49, 70, 71, 72})

# --- sex/site, invalid ------------------------------------------------------------------
_FEMALE_SITES = frozenset(range(51, 59))
_MALE_SITES = frozenset(range(60, 64))


def _site_histology(t: str, h: int, b: int) -> list[Finding]:
    """Site/histology combinations, kept to the ones we are sure of.

    Invalid (impossible as a primary): melanoma 8720-8790 in blood, bone marrow, spleen
    or the reticuloendothelial system (C42: no melanocytes; melanoma there is a
    metastasis); retinoblastoma 9510-9514 outside the eye (C69, a tumour of the retina);
    hepatoblastoma 8970 outside the liver (C22).

    Rare (real but unusual, or usually a miscoded metastasis): nephroblastoma 8960
    outside the kidney (extrarenal Wilms tumours exist); malignant mesothelioma 9050-9053
    outside the serosae (pleura and pericardium C38, peritoneum C48, tunica vaginalis
    C63.7) and unknown primary C80.9; basal cell carcinoma 8090-8098 outside the skin
    (C44), the lip (C00), vulva (C51), penis (C60) and scrotum (C63.2); thyroid
    carcinomas 8330-8350 outside the thyroid (C73: struma ovarii and
    thyroglossal duct are the exceptions); hepatocellular carcinoma 8170-8175 outside the
    liver; renal cell carcinoma 8312, 8316-8319 outside the kidney; medulloblastoma
    9470-9478 outside the brain (C71); mammary Paget disease 8540, 8541, 8543 outside
    the breast (C50; the extramammary one is 8542).

    Haematopoietic histologies outside C42/C77 are never flagged: extranodal lymphoma
    (stomach, skin, brain) is common and real.
    """
    site, n = t[:3], _site(t)
    impossible = (
        (8720 <= h <= 8790 and site == "C42")
        or (9510 <= h <= 9514 and site != "C69")
        or (h == 8970 and site != "C22")
    )
    unusual = (
        (h == 8960 and site != "C64")
        or (9050 <= h <= 9053 and b == 3 and site not in ("C38", "C48")
            and t not in ("C63.7", "C80.9"))
        or (8090 <= h <= 8098 and b == 3 and n not in (0, 44, 51, 60) and t != "C63.2")
        or (8330 <= h <= 8350 and b == 3 and site != "C73")
        or (8170 <= h <= 8175 and site != "C22")
        or ((h == 8312 or 8316 <= h <= 8319) and site != "C64")
        or (9470 <= h <= 9478 and site != "C71")
        or (h in (8540, 8541, 8543) and site != "C50")
    )  # fmt: skip
    params = {"morphology": f"{h:04d}/{b}", "topography": t}
    if impossible:
        message = N_("%(morphology)s cannot be a primary tumour of %(topography)s")
        return [Finding("site_histology", "invalid", "morphology", message, params)]
    if unusual:
        message = N_("%(morphology)s is rare as a primary tumour of %(topography)s: confirm it")
        return [Finding("site_histology", "rare", "morphology", message, params)]
    return []


def check(
    *,
    sex: str,
    birth_date: date,
    incidence_date: date,
    death_date: date | None,
    topography: str,
    morphology: Morphology,
    today: date,
) -> list[Finding]:
    """Every finding on one tumour record (parsed codes; ``sex`` "male" or "female",
    another value skips the sex/site check). Nothing is stored and nothing raised:
    ``raise_invalid`` refuses, the registrar confirms the rare ones."""
    t, h, b = topography, morphology.histology, morphology.behaviour
    n = _site(t)
    found: list[Finding] = []
    dates = {"incidence_date": incidence_date.isoformat()}

    if death_date is not None and incidence_date > death_date:
        found.append(
            Finding(
                "dates",
                "invalid",
                "incidence_date",
                N_("the date of incidence %(incidence_date)s is after the death on %(death_date)s"),
                {**dates, "death_date": death_date.isoformat()},
            )
        )
    if incidence_date < birth_date:
        found.append(
            Finding(
                "dates",
                "invalid",
                "incidence_date",
                N_(
                    "the date of incidence %(incidence_date)s is before the birth on %(birth_date)s"
                ),
                {**dates, "birth_date": birth_date.isoformat()},
            )
        )
    if incidence_date > today:
        found.append(
            Finding(
                "dates",
                "invalid",
                "incidence_date",
                N_("the date of incidence %(incidence_date)s is in the future"),
                dates,
            )
        )

    if (sex == "male" and n in _FEMALE_SITES) or (sex == "female" and n in _MALE_SITES):
        found.append(
            Finding(
                "sex_site",
                "invalid",
                "topography",
                N_("%(topography)s is a female genital site and the patient is male")
                if sex == "male"
                else N_("%(topography)s is a male genital site and the patient is female"),
                {"topography": t},
            )
        )

    if incidence_date >= birth_date:
        age = age_at(birth_date, incidence_date)
        limit = 5 if n in _UNDER_5_SITES and age < 5 else None
        if limit is None and (n in _UNDER_20_SITES or t in _UNDER_20_CODES) and age < 20:
            limit = 20
        if limit is not None:
            found.append(
                Finding(
                    "age_site",
                    "rare",
                    "topography",
                    N_("%(topography)s at age %(age)s (under %(limit)s) is rare: confirm it"),
                    {"topography": t, "age": age, "limit": limit},
                )
            )
        params: dict[str, Any] = {"morphology": morphology.code, "age": age}
        if h in _MAX_25 and age <= 25:
            found.append(
                Finding(
                    "age_histology",
                    "rare",
                    "morphology",
                    N_("%(morphology)s at age %(age)s (%(limit)s or younger) is rare: confirm it"),
                    {**params, "limit": 25},
                )
            )
        if h in _MAX_15 and age <= 15:
            found.append(
                Finding(
                    "age_histology",
                    "rare",
                    "morphology",
                    N_("%(morphology)s at age %(age)s (%(limit)s or younger) is rare: confirm it"),
                    {**params, "limit": 15},
                )
            )
        if h in _CHILDHOOD and age >= 15:
            found.append(
                Finding(
                    "age_histology",
                    "rare",
                    "morphology",
                    N_("%(morphology)s, a childhood tumour, at age %(age)s is rare: confirm it"),
                    params,
                )
            )

    if b == 2 and n in _NO_IN_SITU_SITES:
        found.append(
            Finding(
                "behaviour_site",
                "rare",
                "morphology",
                N_("an in situ tumour (/2) in %(topography)s is rare: confirm it"),
                {"topography": t},
            )
        )

    if not icdo3.known_histology(h):
        found.append(
            Finding(
                "unknown_histology",
                "rare",
                "morphology",
                N_("histology %(histology)s is not in our ICD-O-3 table: confirm the code"),
                {"histology": f"{h:04d}"},
            )
        )

    elif b not in icdo3.allowed_behaviours(h):
        found.append(
            Finding(
                "behaviour_histology",
                "rare",
                "morphology",
                N_("ICD-O-3 lists %(histology)s only with behaviour %(allowed)s: confirm /%(b)s"),
                {
                    "histology": f"{h:04d}",
                    "allowed": ", ".join(f"/{x}" for x in sorted(icdo3.allowed_behaviours(h))),
                    "b": b,
                },
            )
        )

    found += _site_histology(t, h, b)
    return found


def invalid(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "invalid"]


def rare(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "rare"]


def raise_invalid(findings: Sequence[Finding]) -> None:
    """Refuse the record when a finding is invalid: one ``Invalid`` naming each wrong
    field (nothing is stored). Rare findings do not refuse."""
    bad = invalid(findings)
    if bad:
        raise Invalid.fields([FieldError(f.field, f.message, f.params) for f in bad])
