"""ICD-O-3 codes: topography and morphology parsing, histology groups, organs, ICD-10.

The code tables are data (``country/icdo3/*.csv``, codes only: the WHO term lists are
not ours to copy; see that directory's README). Sources: ICD-O-3.2 (WHO/IARC 2019);
the multiple-primary rules of IARC/IACR 2004 (IARC Internal Report 2004/02: Table 1,
the organ groups, and Table 2, the histology groups); ICD-10 (WHO 2019) for the
conversion, after the logic of the IARC/CDC ICD-O-3 → ICD-10 conversion tables,
simplified as each function says.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from salomat.core.errors import N_, FieldError, Invalid

__all__ = [
    "SYSTEMIC_GROUPS",
    "Morphology",
    "allowed_behaviours",
    "from_icd10",
    "histology_group",
    "icd10_of",
    "is_cancer_cause",
    "known_histology",
    "morphology",
    "organ",
    "subsites",
    "topography",
]

TABLES = Path(__file__).resolve().parents[3] / "country" / "icdo3"

#: IARC/IACR 2004 rule 4.1: "systemic (or multicentric) cancers potentially involving many
#: different organs are only counted once in any individual: Kaposi sarcoma (group 15) and
#: tumours of the haematopoietic system (groups 8-14)". Mesothelioma (group 7) is not in
#: that list: it follows the organ rule like any solid tumour.
SYSTEMIC_GROUPS = frozenset(range(8, 16))
#: the haematopoietic groups, 14 ("unspecified") being the same as any of 8-13
HAEMATOPOIETIC_GROUPS = frozenset(range(8, 15))
#: groups that never make a new primary in an organ that has a tumour (unspecified
#: carcinoma, unspecified neoplasm)
UNSPECIFIED_GROUPS = frozenset({5, 17})

_TOPO = re.compile(r"C([0-9]{2})\.?([0-9])?", re.ASCII)
_MORPH = re.compile(r"M?-?([0-9]{4})/?([0-9])", re.ASCII)


@lru_cache(maxsize=1)
def _topography_table() -> dict[str, tuple[str, ...]]:
    """site (3 characters) -> its codes, in the table's order."""
    sites: dict[str, list[str]] = {}
    with (TABLES / "topography.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            sites.setdefault(row["site"], []).append(row["code"])
    return {site: tuple(codes) for site, codes in sites.items()}


@lru_cache(maxsize=1)
def _topography_codes() -> frozenset[str]:
    return frozenset(c for codes in _topography_table().values() for c in codes)


@lru_cache(maxsize=1)
def _morphology_table() -> dict[int, frozenset[int]]:
    table: dict[int, frozenset[int]] = {}
    with (TABLES / "morphology.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            table[int(row["histology"])] = frozenset(int(b) for b in row["behaviours"])
    return table


def subsites(site: str) -> tuple[str, ...]:
    """The 4-character codes of a 3-character site (empty when it is not a site)."""
    return _topography_table().get(site, ())


def topography(code: str, field: str = "topography") -> str:
    """The normalised topography code ("c182", " C18.2 " -> "C18.2").

    A 3-character site is refused with its subsites named: ICD-O codes the subsite, and
    a registry that needs "site unknown within the organ" has the .9 (or .8) code for it.
    """
    text = code.strip().upper() if isinstance(code, str) else ""
    m = _TOPO.fullmatch(text)
    if m is None:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(code)s is not an ICD-O-3 topography code (C00.0-C80.9)"),
                    {"code": str(code).strip()[:20]},
                )
            ]
        )
    site = f"C{m.group(1)}"
    if m.group(2) is None:
        codes = subsites(site)
        if codes:
            raise Invalid.fields(
                [
                    FieldError(
                        field,
                        N_("%(code)s is a site: give its subsite (%(subsites)s)"),
                        {"code": site, "subsites": ", ".join(codes)},
                    )
                ]
            )
        normal = site
    else:
        normal = f"{site}.{m.group(2)}"
    if normal not in _topography_codes():
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(code)s is not an ICD-O-3 topography code (C00.0-C80.9)"),
                    {"code": normal},
                )
            ]
        )
    return normal


@dataclass(frozen=True)
class Morphology:
    histology: int
    behaviour: int

    @property
    def code(self) -> str:
        return f"{self.histology:04d}/{self.behaviour}"


def known_histology(histology: int) -> bool:
    """Whether the histology is in our table (a well-formed code that is not may still be
    valid: the checks report it for confirmation, never refuse it)."""
    return histology in _morphology_table()


def allowed_behaviours(histology: int) -> frozenset[int]:
    """The behaviours ICD-O-3 lists for a histology; all of 0-3 for one we do not know."""
    return _morphology_table().get(histology, frozenset({0, 1, 2, 3}))


def _behaviours_text(behaviours: frozenset[int]) -> str:
    return ", ".join(f"/{b}" for b in sorted(behaviours))


def morphology(code: str, field: str = "morphology") -> Morphology:
    """Histology and behaviour from "8140/3", "81403" or "M8140/3".

    /6 and /9 are refused: a registry registers the primary tumour, never a metastasis,
    and one that is malignant but of uncertain primacy is coded /3 (ICD-O-3 coding
    guideline). Any of /0-/3 goes with any histology (ICD-O-3 coding rule F, the
    behaviour code matrix: "use the appropriate behaviour code even if the exact term is
    not listed"); one the table does not list is for the registrar to confirm
    (``checks``: behaviour_histology), not refused.
    """
    text = code.strip().upper() if isinstance(code, str) else ""
    m = _MORPH.fullmatch(text)
    if m is None:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(code)s is not an ICD-O-3 morphology code (e.g. 8140/3)"),
                    {"code": str(code).strip()[:20]},
                )
            ]
        )
    histology, behaviour = int(m.group(1)), int(m.group(2))
    if not 8000 <= histology <= 9993:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("%(histology)s is not an ICD-O-3 histology code (8000-9993)"),
                    {"histology": m.group(1)},
                )
            ]
        )
    if behaviour == 6:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_(
                        "a metastasis (/6) is never registered as a primary: code the primary "
                        "site, or C80.9 (unknown primary) with the primary's histology"
                    ),
                )
            ]
        )
    if behaviour == 9:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_(
                        "behaviour /9 (primary or metastatic uncertain) is not registered: "
                        "code /3 for a malignant tumour"
                    ),
                )
            ]
        )
    if behaviour > 3:
        raise Invalid.fields(
            [
                FieldError(
                    field,
                    N_("/%(behaviour)s is not an ICD-O-3 behaviour code (0, 1, 2, 3)"),
                    {"behaviour": behaviour},
                )
            ]
        )
    return Morphology(histology, behaviour)


# --- histology groups (IARC/IACR 2004, Table 2) --------------------------------------

#: The ranges of Table 2 (ICD-O-3, 2000). Codes added since (ICD-O-3.1, 2011; ICD-O-3.2,
#: 2019) are placed by lineage in ``_LATER_CODES``, which is read first (9712 intravascular
#: large B-cell lymphoma lies inside the T/NK range 9700-9719 but is a B-cell lymphoma).
_GROUP_RANGES: tuple[tuple[int, tuple[tuple[int, int], ...]], ...] = (
    (1, ((8051, 8084), (8120, 8131))),
    (2, ((8090, 8110),)),
    (3, ((8140, 8149), (8160, 8162), (8190, 8221), (8260, 8337), (8350, 8551),
         (8570, 8576), (8940, 8941))),
    (4, ((8030, 8046), (8150, 8157), (8170, 8180), (8230, 8255), (8340, 8347),
         (8560, 8562), (8580, 8671))),
    (5, ((8010, 8015), (8020, 8022), (8050, 8050))),
    (6, ((8680, 8713), (8800, 8921), (8990, 8991), (9040, 9044), (9120, 9133),
         (9150, 9252), (9370, 9373), (9540, 9582))),
    (7, ((9050, 9055),)),
    (8, ((9840, 9840), (9861, 9931), (9945, 9946), (9950, 9950), (9961, 9964),
         (9980, 9987))),
    (9, ((9670, 9699), (9728, 9728), (9731, 9734), (9761, 9767), (9769, 9769),
         (9823, 9826), (9833, 9833), (9836, 9836), (9940, 9940))),
    (10, ((9700, 9719), (9729, 9729), (9768, 9768), (9827, 9831), (9834, 9834),
          (9837, 9837), (9948, 9948))),
    (11, ((9650, 9667),)),
    (12, ((9740, 9742),)),
    (13, ((9750, 9758),)),
    (14, ((9590, 9591), (9596, 9596), (9727, 9727), (9760, 9760), (9800, 9801),
          (9805, 9805), (9820, 9820), (9832, 9832), (9835, 9835), (9860, 9860),
          (9960, 9960), (9970, 9970), (9975, 9975), (9989, 9989))),
    (15, ((9140, 9140),)),
    (16, ((8720, 8790), (8930, 8936), (8950, 8983), (9000, 9030), (9060, 9110),
          (9260, 9365), (9380, 9539))),
    (17, ((8000, 8005),)),
)  # fmt: skip

_LATER_CODES: dict[int, int] = {
    8085: 1, 8086: 1,  # squamous cell carcinoma, HPV-positive / -negative
    8163: 3, 8339: 3, 8552: 3,  # pancreatobiliary, follicular thyroid, acinar-ductal
    8256: 4, 8257: 4,  # minimally invasive adenocarcinoma of lung, beside 8250-8255
    8714: 6, 9137: 6,  # malignant PEComa, intimal sarcoma
    9597: 9, 9712: 9, 9735: 9, 9737: 9, 9738: 9,  # B-cell lymphomas
    9811: 9, 9812: 9, 9813: 9, 9814: 9, 9815: 9, 9816: 9, 9817: 9, 9818: 9,  # B-ALL
    9724: 10, 9725: 10, 9726: 10,  # T-cell lymphoproliferations
    9759: 13,  # fibroblastic reticular cell tumour
    9806: 14, 9807: 14, 9808: 14, 9809: 14,  # mixed-phenotype acute leukaemias
    9971: 14,  # post-transplant lymphoproliferative disorder
    9965: 8, 9966: 8, 9967: 8, 9968: 8, 9991: 8, 9992: 8, 9993: 8,  # myeloid
}  # fmt: skip


def histology_group(histology: int) -> int:
    """The IARC/IACR 2004 histology group (1-17) of a histology code.

    A code in no range of Table 2 (one added to ICD-O since, and not in ``_LATER_CODES``)
    falls in 14 (unspecified haematopoietic) in 9590-9993, else in 16 (other specified):
    it is a specified neoplasm of its own type, and 14 is the haematopoietic group that
    never counts twice.
    """
    if histology in _LATER_CODES:
        return _LATER_CODES[histology]
    for group, ranges in _GROUP_RANGES:
        if any(lo <= histology <= hi for lo, hi in ranges):
            return group
    return 14 if 9590 <= histology <= 9993 else 16


def same_systemic(a: int, b: int) -> bool:
    """Two groups that rule 4.1 counts once: equal, or both haematopoietic with one of
    them group 14 (unspecified haematopoietic neoplasm)."""
    if a == b:
        return a in SYSTEMIC_GROUPS
    return a in HAEMATOPOIETIC_GROUPS and b in HAEMATOPOIETIC_GROUPS and 14 in (a, b)


def is_haematopoietic(histology: int) -> bool:
    return histology_group(histology) in HAEMATOPOIETIC_GROUPS


# --- organs (IARC/IACR 2004, Table 1) -------------------------------------------------


def _site_range(first: int, last: int) -> list[str]:
    return [f"C{n:02d}" for n in range(first, last + 1)]


_ORGAN_GROUPS: tuple[tuple[str, list[str]], ...] = (
    ("C01-C02", _site_range(1, 2)),
    ("C00,C03-C06", ["C00", *_site_range(3, 6)]),
    ("C09-C10,C12-C14", ["C09", "C10", *_site_range(12, 14)]),
    ("C19-C20", _site_range(19, 20)),
    ("C23-C24", _site_range(23, 24)),
    ("C33-C34", _site_range(33, 34)),
    ("C40-C41", _site_range(40, 41)),
    ("C65-C68", _site_range(65, 68)),
)
_ORGAN_OF_SITE = {site: key for key, sites in _ORGAN_GROUPS for site in sites}


def organ(code: str) -> str:
    """The multiple-primary "organ": the 3-character site, or the key of its Table 1 group
    (C33 and C34 are one organ, "C33-C34"). Keys are stable: they are stored."""
    site = code.strip().upper()[:3]
    return _ORGAN_OF_SITE.get(site, site)


# --- ICD-O-3 -> ICD-10 -----------------------------------------------------------------

#: ICD-10 categories with no 4-character subdivision (ICD-O's C61.9 is ICD-10's C61)
_ICD10_UNDIVIDED = frozenset(
    ["C01", "C07", "C12", "C19", "C20", "C23", "C33", "C37", "C52", "C55", "C56", "C58",
     "C61", "C64", "C65", "C66", "C73"]
)  # fmt: skip

_CNS_BENIGN = {
    "C70.0": "D32.0", "C70.1": "D32.1", "C70.9": "D32.9",
    "C71.0": "D33.0", "C71.1": "D33.0", "C71.2": "D33.0", "C71.3": "D33.0",
    "C71.4": "D33.0", "C71.5": "D33.0", "C71.6": "D33.1", "C71.7": "D33.1",
    "C71.8": "D33.2", "C71.9": "D33.2",
    "C72.0": "D33.4", "C72.1": "D33.4", "C72.2": "D33.3", "C72.3": "D33.3",
    "C72.4": "D33.3", "C72.5": "D33.3", "C72.8": "D33.7", "C72.9": "D33.9",
    "C75.1": "D35.2", "C75.2": "D35.3", "C75.3": "D35.4",
}  # fmt: skip
#: D42/D43/D44 subdivide as D32/D33/D35 do
_CNS_UNCERTAIN = {
    t: {"D35.2": "D44.3", "D35.3": "D44.4", "D35.4": "D44.5"}.get(d, "D4" + d[2:])
    for t, d in _CNS_BENIGN.items()
}


def _in(h: int, lo: int, hi: int) -> bool:
    return lo <= h <= hi


def _haematopoietic_icd10(h: int) -> str:
    """ICD-10 of a malignant haematopoietic histology (any site). ICD-10 classes the
    myeloproliferative neoplasms and myelodysplastic syndromes, /3 in ICD-O-3, under
    D45-D47; each is mapped to its ICD-10 category."""
    exact = {
        # Hodgkin lymphoma (ICD-10 2010 C81 subdivisions)
        9659: "C81.0", 9651: "C81.4", 9652: "C81.2",
        9653: "C81.3", 9654: "C81.3", 9655: "C81.3",
        9663: "C81.1", 9664: "C81.1", 9665: "C81.1", 9667: "C81.1",
        # follicular
        9695: "C82.0", 9691: "C82.1", 9698: "C82.2", 9597: "C82.6",
        # other B-cell and T-cell lymphomas
        9670: "C83.0", 9673: "C83.1", 9680: "C83.3", 9684: "C83.3", 9687: "C83.7",
        9727: "C83.5", 9728: "C83.5", 9729: "C83.5",
        9700: "C84.0", 9701: "C84.1", 9702: "C84.4", 9699: "C88.4", 9761: "C88.0",
        # plasma cell
        9732: "C90.0", 9733: "C90.1", 9734: "C90.2", 9731: "C90.3",
        # leukaemias
        9823: "C91.1", 9833: "C91.3", 9940: "C91.4", 9827: "C91.5", 9834: "C91.6",
        9826: "C91.8", 9820: "C91.9",
        9861: "C92.0", 9863: "C92.1", 9875: "C92.1", 9876: "C92.2", 9930: "C92.3",
        9866: "C92.4", 9867: "C92.5", 9860: "C92.9",
        9891: "C93.0", 9945: "C93.1", 9946: "C93.3",
        9840: "C94.0", 9910: "C94.2", 9742: "C94.3", 9931: "C94.4",
        9801: "C95.0", 9800: "C95.9",
        9740: "C96.2", 9741: "C96.2", 9755: "C96.8",
        # myeloproliferative neoplasms and myelodysplastic syndromes
        9950: "D45", 9960: "D47.1", 9975: "D47.1", 9963: "D47.1", 9962: "D47.3",
        9961: "D47.4", 9964: "D47.5",
    }  # fmt: skip
    if h in exact:
        return exact[h]
    if _in(h, 9650, 9667):
        return "C81.9"
    if _in(h, 9690, 9698):
        return "C82.9"
    if _in(h, 9811, 9818) or _in(h, 9835, 9837):
        return "C91.0"
    if _in(h, 9865, 9874) or _in(h, 9895, 9897) or h in (9911, 9920):
        return "C92.0"
    if _in(h, 9980, 9993):
        return "D46.9"
    if _in(h, 9590, 9729):
        return "C85.9"
    if _in(h, 9800, 9948):
        return "C95.9"
    return "C96.9"


def _in_situ_icd10(t: str, h: int) -> str:
    """D00-D09 by site (and, for skin, melanoma in situ D03 apart)."""
    site, sub = t[:3], t[4]
    n = int(site[1:])
    if _in(h, 8720, 8790):
        if site == "C44":
            return f"D03.{sub}"
        return "D03.9" if t == "C80.9" else "D03.8"
    if site == "C44":
        return f"D04.{sub}"
    if site == "C50":
        if h in (8519, 8520):
            return "D05.0"
        return "D05.1" if _in(h, 8500, 8507) else "D05.9"
    if site == "C53":
        return {"0": "D06.0", "1": "D06.1", "8": "D06.7"}.get(sub, "D06.9")
    by_site = {
        "C15": "D00.1", "C16": "D00.2", "C18": "D01.0", "C19": "D01.1", "C20": "D01.2",
        "C21": "D01.3", "C17": "D01.4", "C22": "D01.5", "C23": "D01.5", "C24": "D01.5",
        "C25": "D01.7", "C26": "D01.9", "C32": "D02.0", "C33": "D02.1", "C34": "D02.2",
        "C54": "D07.0", "C51": "D07.1", "C52": "D07.2", "C60": "D07.4", "C61": "D07.5",
        "C67": "D09.0", "C69": "D09.2",
    }  # fmt: skip
    if site in by_site:
        return by_site[site]
    if n <= 14:
        return "D00.0"
    if site in ("C30", "C31", "C38", "C39"):
        return "D02.3"
    if site in ("C55", "C56", "C57", "C58"):
        return "D07.3"
    if site in ("C62", "C63"):
        return "D07.6"
    if site in ("C64", "C65", "C66", "C68"):
        return "D09.1"
    if site in ("C73", "C74", "C75"):
        return "D09.3"
    return "D09.9"


def _liver_icd10(t: str, h: int) -> str:
    if h == 8970:
        return "C22.2"
    if h == 9120:
        return "C22.3"
    if histology_group(h) == 6:
        return "C22.4"
    if _in(h, 8170, 8175):
        return "C22.0"
    if h in (8160, 8161) or t == "C22.1":
        return "C22.1"
    return "C22.9" if histology_group(h) in UNSPECIFIED_GROUPS else "C22.7"


def icd10_of(topography: str, m: Morphology) -> str:
    """The ICD-10 code of a tumour (FHIR Condition.code, statistics by ICD-10).

    After the IARC/CDC conversion logic, simplified:
    - /3 haematopoietic (groups 8-14): by histology whatever the site (C81-C96; the
      MPN/MDS under D45-D47);
    - /3 Kaposi sarcoma 9140: C46 by site (skin .0, soft tissue .1, palate .2, lymph
      nodes .3, unknown .9, other .7); mesothelioma 9050-9055: C45 (pleura .0,
      peritoneum .1, pericardium/heart .2, unknown .9, other .7); melanoma 8720-8790 of
      the skin: C43 with the skin subsite; liver C22 by histology;
    - /3 solid tumour coded to a lymph node (C77) or to blood, marrow or the
      reticuloendothelial system (C42.0, .1, .3, .4): C80.9, as ICD-10 C77-C79 mean
      secondary; in the spleen (C42.2): C26.1;
    - /3 otherwise the topography code (ICD-O topography follows ICD-10 C00-C80; a
      category ICD-10 does not subdivide loses its ".9": C61.9 is C61);
    - /2: D00-D09 by site; /0 and /1: D32/D33/D35 and D42/D43/D44 for the CNS (the
      benign tumours a registry records), D36.9 / D48.9 (D47.9 haematopoietic) elsewhere.
    """
    t, h, b = topography, m.histology, m.behaviour
    site = t[:3]
    if b == 3:
        if is_haematopoietic(h):
            return _haematopoietic_icd10(h)
        if h == 9140:
            if site == "C44":
                return "C46.0"
            if site in ("C47", "C49"):
                return "C46.1"
            if site == "C05":
                return "C46.2"
            if site == "C77":
                return "C46.3"
            return "C46.9" if t == "C80.9" else "C46.7"
        if _in(h, 9050, 9055):
            if t == "C38.4":
                return "C45.0"
            if site == "C48":
                return "C45.1"
            if t == "C38.0":
                return "C45.2"
            return "C45.9" if t == "C80.9" else "C45.7"
        if _in(h, 8720, 8790) and site == "C44":
            return f"C43.{t[4]}"
        if site == "C22":
            return _liver_icd10(t, h)
        if site == "C77" or (site == "C42" and t != "C42.2"):
            return "C80.9"
        if t == "C42.2":
            return "C26.1"
        return site if site in _ICD10_UNDIVIDED else t
    if b == 2:
        return _in_situ_icd10(t, h)
    if b == 0:
        return _CNS_BENIGN.get(t, "D36.9")
    if t in _CNS_UNCERTAIN:
        return _CNS_UNCERTAIN[t]
    return "D47.9" if is_haematopoietic(h) else "D48.9"


# --- ICD-10 (a death certificate's cause) -> tumour facts ---------------------------

_ICD10 = re.compile(r"([A-Z])([0-9]{2})\.?([0-9])?", re.ASCII)
#: ICD-10 C categories that exist (C27-C29, C35-C36, C42, C59, C87, C89 and C98-C99 do not)
_ICD10_CANCER = frozenset(
    [*range(0, 27), *range(30, 35), *range(37, 42), *range(43, 59), *range(60, 87), 88,
     *range(90, 98)]
)  # fmt: skip
#: the 4-character code for an ICD-10 category whose ICD-O site has no .9: its "NOS"
#: subsite where ICD-O has one (pharynx, anus, liver, nasal cavity, other ill-defined
#: sites), else the overlapping-lesion code that spans the category
_DEFAULT_SUBSITE = {
    "C14": "C14.0",
    "C21": "C21.0",
    "C22": "C22.0",
    "C30": "C30.0",
    "C38": "C38.8",
    "C48": "C48.8",
    "C76": "C76.7",
}


def _icd10_parts(code: str) -> tuple[int, str | None] | None:
    if not isinstance(code, str):
        return None
    m = _ICD10.fullmatch(code.strip().upper())
    if m is None or m.group(1) != "C":
        return None
    n = int(m.group(2))
    return (n, m.group(3)) if n in _ICD10_CANCER else None


def is_cancer_cause(code: str) -> bool:
    """Whether an ICD-10 code is a malignant neoplasm (C00-C97)."""
    return _icd10_parts(code) is not None


def _site_code(site: str, sub: str | None) -> str:
    if sub is not None and f"{site}.{sub}" in _topography_codes():
        return f"{site}.{sub}"
    if site in _DEFAULT_SUBSITE:
        return _DEFAULT_SUBSITE[site]
    return f"{site}.9"


def from_icd10(code: str) -> tuple[str, Morphology] | None:
    """Tumour facts from an ICD-10 cause of death: None unless C00-C97.

    The site is the ICD-10 code itself for C00-C76 (a 3-character or an ICD-10-only
    subdivision becomes the ICD-O site's .9, or ``_DEFAULT_SUBSITE``; C26.1 spleen is
    ICD-O C42.2) with 8000/3; C77-C79 (secondary) and C80 are C80.9, the primary being
    unknown. The categories defined by histology give it: C43 melanoma (skin subsite),
    C45 mesothelioma, C46 Kaposi, C81-C96 haematopoietic; C97 (multiple independent
    primaries) is C80.9 8000/3 for the registrar to split.
    """
    parts = _icd10_parts(code)
    if parts is None:
        return None
    n, sub = parts
    site = f"C{n:02d}"
    if n == 43:
        return (f"C44.{sub}" if sub is not None else "C44.9"), Morphology(8720, 3)
    if n == 45:
        where = {"1": "C48.2", "2": "C38.0", "7": "C80.9"}.get(sub or "", "C38.4")
        return where, Morphology(9050, 3)
    if n == 46:
        where = {"0": "C44.9", "2": "C05.9", "3": "C77.9"}.get(sub or "", "C49.9")
        return where, Morphology(9140, 3)
    if n == 81:
        return "C77.9", Morphology(9650, 3)
    if 82 <= n <= 86 or n == 96:
        return "C77.9", Morphology(9590, 3)
    if n == 88:
        return "C42.1", Morphology(9760, 3)
    if n == 90:
        return "C42.1", Morphology(9732, 3)
    if 91 <= n <= 95:
        return "C42.1", Morphology(9800, 3)
    if 77 <= n <= 80 or n == 97:
        return "C80.9", Morphology(8000, 3)
    if n == 26 and sub == "1":
        return "C42.2", Morphology(8000, 3)
    return _site_code(site, sub), Morphology(8000, 3)
