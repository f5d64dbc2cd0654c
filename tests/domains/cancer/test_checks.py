"""The IARC edit checks: each rule at its boundary (one below, at, one above), as the
domain notes state them (IARC Technical Report 42)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.domains.cancer.service import checks, icdo3
from salomat.domains.cancer.service.icdo3 import Morphology

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

INCIDENCE = date(2024, 6, 15)
TODAY = date(2025, 1, 10)
DAY = timedelta(days=1)


def born_aged(age: int, *, day_before_birthday: bool = False) -> date:
    """A birth date making the patient ``age`` on INCIDENCE (or ``age`` the day before
    the next birthday)."""
    if day_before_birthday:
        return date(INCIDENCE.year - age - 1, INCIDENCE.month, INCIDENCE.day) + timedelta(days=1)
    return date(INCIDENCE.year - age, INCIDENCE.month, INCIDENCE.day)


def run(**kw) -> list[checks.Finding]:
    args = {
        "sex": "female",
        "birth_date": date(1970, 3, 1),
        "incidence_date": INCIDENCE,
        "death_date": None,
        "topography": "C18.2",
        "morphology": Morphology(8140, 3),
        "today": TODAY,
    }
    args.update(kw)
    return checks.check(**args)


def rules(findings, severity=None) -> list[str]:
    return [f.rule for f in findings if severity is None or f.severity == severity]


def test_an_ordinary_record_has_no_finding():
    assert run() == []


def test_age_is_in_completed_years():
    assert checks.age_at(date(2000, 6, 15), date(2024, 6, 15)) == 24
    assert checks.age_at(date(2000, 6, 16), date(2024, 6, 15)) == 23
    assert checks.age_at(date(2000, 2, 29), date(2024, 2, 28)) == 23
    assert born_aged(4, day_before_birthday=True) < born_aged(4)
    assert checks.age_at(born_aged(4, day_before_birthday=True), INCIDENCE) == 4


# --- age/site: "age < 5 with C53 or C61; age < 20 with C15, C19-C21, C23-C24, C38.4,
# C50, C53-C55" -------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "rare"), [(3, True), (4, True), (5, False), (6, False)])
def test_prostate_under_5_is_rare(age, rare):
    found = run(sex="male", birth_date=born_aged(age), topography="C61.9")
    assert rules(found) == (["age_site"] if rare else [])
    if rare:
        (f,) = found
        assert (f.severity, f.field, f.params["age"], f.params["limit"]) == (
            "rare",
            "topography",
            age,
            5,
        )


def test_the_day_before_the_fifth_birthday_is_still_4():
    found = run(sex="male", birth_date=born_aged(4, day_before_birthday=True), topography="C61.9")
    assert rules(found) == ["age_site"]


@pytest.mark.parametrize(("age", "rare"), [(19, True), (20, False), (21, False)])
def test_breast_under_20_is_rare(age, rare):
    assert rules(run(birth_date=born_aged(age), topography="C50.4")) == (
        ["age_site"] if rare else []
    )


@pytest.mark.parametrize(("age", "limit"), [(3, 5), (4, 5), (5, 20), (19, 20), (20, None)])
def test_cervix_has_both_limits(age, limit):
    found = run(birth_date=born_aged(age), topography="C53.9", morphology=Morphology(8070, 3))
    assert [f.params["limit"] for f in found] == ([limit] if limit else [])


@pytest.mark.parametrize(
    "topography",
    ["C15.9", "C19.9", "C20.9", "C21.0", "C23.9", "C24.0", "C38.4", "C54.1", "C55.9"],
)
def test_other_adult_sites_under_20_are_rare(topography):
    assert rules(run(birth_date=born_aged(19), topography=topography)) == ["age_site"]
    assert rules(run(birth_date=born_aged(20), topography=topography)) == []


@pytest.mark.parametrize("topography", ["C16.9", "C18.9", "C22.0", "C38.0", "C38.3", "C56.9"])
def test_sites_not_listed_are_not_flagged_at_19(topography):
    assert "age_site" not in rules(run(birth_date=born_aged(19), topography=topography))


# --- age/histology ----------------------------------------------------------------------


@pytest.mark.parametrize(("age", "rare"), [(24, True), (25, True), (26, False)])
@pytest.mark.parametrize("histology", [9823, 9732, 9730])
def test_myeloma_and_cll_at_25_or_younger_are_rare(age, rare, histology):
    found = run(birth_date=born_aged(age), topography="C42.1", morphology=Morphology(histology, 3))
    assert ("age_histology" in rules(found)) == rare


@pytest.mark.parametrize(("age", "rare"), [(14, True), (15, True), (16, False)])
def test_cml_at_15_or_younger_is_rare(age, rare):
    found = run(birth_date=born_aged(age), topography="C42.1", morphology=Morphology(9863, 3))
    assert rules(found) == (["age_histology"] if rare else [])


@pytest.mark.parametrize(("age", "rare"), [(14, False), (15, True), (16, True)])
def test_nephroblastoma_from_15_is_rare(age, rare):
    found = run(birth_date=born_aged(age), topography="C64.9", morphology=Morphology(8960, 3))
    assert rules(found) == (["age_histology"] if rare else [])


@pytest.mark.parametrize(
    ("histology", "topography"),
    [(8910, "C49.0"), (8961, "C64.9"), (8962, "C64.9"), (8970, "C22.0"), (8981, "C34.1"),
     (8991, "C49.9"), (9072, "C56.9"), (9470, "C71.6"), (9687, "C77.2"), (9750, "C42.1")],
)  # fmt: skip
def test_childhood_types_at_15_are_rare(histology, topography):
    # 8961 and 8962 are ICD-O-2 nephroblastoma codes, absent from ICD-O-3 (and our table)
    m = Morphology(histology, 3)
    assert "age_histology" not in rules(
        run(birth_date=born_aged(14), topography=topography, morphology=m)
    )
    found = run(birth_date=born_aged(15), topography=topography, morphology=m)
    assert "age_histology" in rules(found, "rare")


# --- sex/site ---------------------------------------------------------------------------


def test_a_male_with_a_cervix_tumour_is_refused_naming_the_field():
    found = run(sex="male", topography="C53.9", morphology=Morphology(8070, 3))
    assert [(f.rule, f.severity, f.field) for f in found] == [("sex_site", "invalid", "topography")]
    with pytest.raises(Invalid) as e:
        checks.raise_invalid(found)
    assert [err.field for err in e.value.errors] == ["topography"]
    assert "C53.9" in e.value.errors[0].english


@pytest.mark.parametrize(
    ("sex", "topography", "invalid"),
    [("male", "C50.9", False), ("male", "C51.0", True), ("male", "C58.9", True),
     ("male", "C60.9", False), ("female", "C58.9", False), ("female", "C60.0", True),
     ("female", "C63.9", True), ("female", "C64.9", False), ("unknown", "C53.9", False),
     ("unknown", "C61.9", False)],
)  # fmt: skip
def test_sex_site(sex, topography, invalid):
    found = run(sex=sex, topography=topography, morphology=Morphology(8000, 3))
    assert ("sex_site" in rules(found, "invalid")) == invalid


# --- behaviour/site ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topography", "rare"),
    [("C39.9", False), ("C40.0", True), ("C41.9", True), ("C42.1", True), ("C44.5", False),
     ("C47.0", True), ("C48.0", False), ("C49.9", True), ("C50.9", False), ("C69.2", False),
     ("C70.0", True), ("C71.0", True), ("C72.0", True), ("C73.9", False)],
)  # fmt: skip
def test_in_situ_where_there_is_no_epithelium_is_rare(topography, rare):
    found = run(topography=topography, morphology=Morphology(8000, 2))
    assert ("behaviour_site" in rules(found, "rare")) == rare


def test_in_situ_in_the_brain_is_rare():
    (f,) = run(topography="C71.1", morphology=Morphology(8140, 2))
    assert (f.rule, f.severity, f.field) == ("behaviour_site", "rare", "morphology")


# --- histology --------------------------------------------------------------------------


def test_a_histology_missing_from_our_table_is_rare():
    (f,) = run(morphology=Morphology(8999, 3))
    assert (f.rule, f.severity, f.field, f.params) == (
        "unknown_histology",
        "rare",
        "morphology",
        {"histology": "8999"},
    )


@pytest.mark.parametrize(
    ("topography", "histology", "severity"),
    [
        ("C42.1", 8720, "invalid"),  # melanoma in bone marrow
        ("C42.2", 8743, "invalid"),
        ("C44.5", 8720, None),
        ("C77.2", 8720, None),  # not flagged: a node of an unknown primary is coded otherwise
        ("C71.0", 9510, "invalid"),  # retinoblastoma outside the eye
        ("C69.2", 9510, None),
        ("C64.9", 8970, "invalid"),  # hepatoblastoma outside the liver
        ("C22.0", 8970, None),
        ("C48.0", 8960, "rare"),  # extrarenal nephroblastoma
        ("C64.9", 8960, None),
        ("C34.1", 9050, "rare"),
        ("C38.4", 9050, None),
        ("C48.2", 9052, None),
        ("C63.7", 9050, None),
        ("C16.2", 9680, None),  # extranodal lymphoma is real
        ("C71.0", 9680, None),
        ("C44.3", 9700, None),
        ("C56.9", 8340, "rare"),  # thyroid carcinoma in struma ovarii
        ("C73.9", 8340, None),
        ("C61.9", 8090, "rare"),
        ("C51.0", 8090, None),
    ],
)
def test_site_histology(topography, histology, severity):
    found = [f for f in run(topography=topography, morphology=Morphology(histology, 3))
             if f.rule == "site_histology"]  # fmt: skip
    assert [f.severity for f in found] == ([severity] if severity else [])
    assert all(f.field == "morphology" for f in found)


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("death", "invalid"),
    [(INCIDENCE - DAY, True), (INCIDENCE, False), (INCIDENCE + DAY, False)],
)
def test_incidence_after_death_is_refused(death, invalid):
    found = run(death_date=death)
    assert rules(found, "invalid") == (["dates"] if invalid else [])
    if invalid:
        with pytest.raises(Invalid) as e:
            checks.raise_invalid(found)
        assert [err.field for err in e.value.errors] == ["incidence_date"]


@pytest.mark.parametrize(
    ("birth", "invalid"),
    [(INCIDENCE + DAY, True), (INCIDENCE, False), (INCIDENCE - DAY, False)],
)
def test_incidence_before_birth_is_refused(birth, invalid):
    found = run(birth_date=birth, topography="C71.0", morphology=Morphology(9470, 3))
    assert rules(found, "invalid") == (["dates"] if invalid else [])


@pytest.mark.parametrize(
    ("today", "invalid"),
    [(INCIDENCE - DAY, True), (INCIDENCE, False), (INCIDENCE + DAY, False)],
)
def test_incidence_in_the_future_is_refused(today, invalid):
    assert rules(run(today=today), "invalid") == (["dates"] if invalid else [])


def test_one_refusal_names_every_wrong_field():
    found = run(sex="male", topography="C53.9", death_date=INCIDENCE - timedelta(days=3))
    with pytest.raises(Invalid) as e:
        checks.raise_invalid(found)
    assert sorted(err.field for err in e.value.errors) == ["incidence_date", "topography"]


def test_rare_findings_do_not_refuse():
    found = run(birth_date=born_aged(19), topography="C50.9")
    assert checks.rare(found)
    assert not checks.invalid(found)
    checks.raise_invalid(found)


# --- properties -------------------------------------------------------------------------

_TOPOGRAPHIES = sorted(c for n in range(81) for c in icdo3.subsites(f"C{n:02d}"))
_RULES = {"sex_site", "age_site", "age_histology", "behaviour_site", "unknown_histology",
          "behaviour_histology", "site_histology", "dates"}  # fmt: skip
_FIELDS = {"topography", "morphology", "incidence_date"}


@given(
    sex=st.sampled_from(["male", "female", "other"]),
    birth=st.dates(date(1900, 1, 1), date(2030, 1, 1)),
    incidence=st.dates(date(1900, 1, 1), date(2030, 1, 1)),
    death=st.none() | st.dates(date(1900, 1, 1), date(2030, 1, 1)),
    topography=st.sampled_from(_TOPOGRAPHIES),
    histology=st.integers(8000, 9993),
    behaviour=st.sampled_from([0, 1, 2, 3]),
)
def test_check_never_raises_and_reports_known_rules(
    sex, birth, incidence, death, topography, histology, behaviour
):
    found = checks.check(
        sex=sex,
        birth_date=birth,
        incidence_date=incidence,
        death_date=death,
        topography=topography,
        morphology=Morphology(histology, behaviour),
        today=TODAY,
    )
    for f in found:
        assert f.rule in _RULES
        assert f.field in _FIELDS
        assert f.severity in ("invalid", "rare")
        assert f.message % f.params  # every message fills from its params
    refused: set[str] = set()
    try:
        checks.raise_invalid(found)
    except Invalid as e:
        refused = {err.field for err in e.errors}
    assert refused == {f.field for f in checks.invalid(found)}
