"""The IARC/IACR 2004 multiple-primary rules, with the issue's vectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.cancer.service import icdo3
from salomat.domains.cancer.service.primaries import Decision, TumourKey, decide

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db

REASONS = {"first_tumour", "same_organ_same_group", "unspecified_histology", "systemic_once",
           "different_organ", "different_histology", "unknown_primary_site",
           "several_candidates"}  # fmt: skip


def key(id_: int | None, topography: str, histology: int) -> TumourKey:
    return TumourKey(id_, topography, histology)


def same(d: Decision, tumour_id: int, reason: str) -> None:
    assert (d.new_primary, d.tumour_id, d.reason, d.needs_registrar) == (
        False,
        tumour_id,
        reason,
        False,
    )


def new(d: Decision, reason: str) -> None:
    assert (d.new_primary, d.tumour_id, d.reason, d.needs_registrar) == (True, None, reason, False)


def test_the_first_tumour_is_a_primary():
    new(decide([], key(None, "C18.2", 8140)), "first_tumour")


# --- the vectors ----------------------------------------------------------------


def test_two_adenocarcinomas_of_the_colon_are_one_primary():
    same(decide([key(1, "C18.2", 8140)], key(None, "C18.7", 8140)), 1, "same_organ_same_group")


def test_squamous_then_adenocarcinoma_of_the_lung_are_two():
    new(decide([key(1, "C34.1", 8070)], key(None, "C34.1", 8140)), "different_histology")


def test_trachea_and_lung_are_one_organ():
    same(decide([key(1, "C33.9", 8070)], key(None, "C34.1", 8071)), 1, "same_organ_same_group")


def test_a_lymphoma_in_the_stomach_then_in_a_node_is_one():
    same(decide([key(1, "C16.2", 9680)], key(None, "C77.2", 9684)), 1, "systemic_once")


# --- rule 3: one tumour per organ -------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"), [("C19.9", "C20.9"), ("C01.9", "C02.1"), ("C00.1", "C06.9"), ("C65.9", "C67.2")]
)
def test_table_1_groups_are_one_organ(a, b):
    same(decide([key(7, a, 8140)], key(None, b, 8140)), 7, "same_organ_same_group")


def test_a_different_organ_is_a_new_primary_whatever_the_histology():
    new(decide([key(1, "C18.2", 8140)], key(None, "C50.4", 8140)), "different_organ")
    new(decide([key(1, "C18.9", 8140)], key(None, "C19.9", 8140)), "different_organ")


def test_the_new_primary_message_names_the_organ():
    d = decide([key(1, "C34.1", 8070)], key(None, "C33.9", 8140))
    assert d.params == {"organ": "C33-C34"}
    assert "C33-C34" in d.message % d.params


# --- unspecified histologies (groups 5 and 17) ------------------------------------------


@pytest.mark.parametrize(
    ("old", "newer"), [(8140, 8010), (8010, 8140), (8070, 8000), (8000, 8800), (8050, 8070)]
)
def test_an_unspecified_histology_in_the_organ_is_never_a_new_primary(old, newer):
    same(decide([key(3, "C16.2", old)], key(None, "C16.9", newer)), 3, "unspecified_histology")


def test_an_unspecified_histology_in_another_organ_is_a_new_primary():
    new(decide([key(3, "C16.2", 8140)], key(None, "C25.0", 8010)), "different_organ")


def test_an_unspecified_histology_matching_two_tumours_goes_to_the_registrar():
    existing = [key(1, "C34.1", 8070), key(2, "C34.3", 8140)]
    d = decide(existing, key(None, "C34.9", 8010))
    assert (d.new_primary, d.tumour_id, d.reason, d.needs_registrar) == (
        False,
        None,
        "several_candidates",
        True,
    )
    assert d.params == {"ids": "1, 2"}


# --- rule 4.1: systemic cancers once per person -----------------------------------------


@pytest.mark.parametrize(
    ("old", "newer"),
    [
        (9680, 9823),  # B-cell (9) then B-cell
        (9591, 9680),  # unspecified haematopoietic (14) then B-cell
        (9863, 9800),  # myeloid (8) then unspecified (14)
        (9650, 9663),  # Hodgkin (11)
        (9140, 9140),  # Kaposi sarcoma (15)
    ],
)
def test_a_systemic_cancer_is_counted_once_whatever_the_organ(old, newer):
    same(decide([key(5, "C44.5", old)], key(None, "C49.2", newer)), 5, "systemic_once")


@pytest.mark.parametrize(("old", "newer"), [(9680, 9863), (9650, 9680), (9702, 9680), (9140, 9680)])
def test_different_systemic_groups_are_different_primaries(old, newer):
    new(decide([key(5, "C77.2", old)], key(None, "C42.1", newer)), "different_organ")


def test_a_lymphoma_beside_a_carcinoma_of_the_organ_is_a_new_primary():
    new(decide([key(1, "C16.2", 8140)], key(None, "C16.2", 9680)), "different_histology")


def test_mesothelioma_follows_the_organ_rule():
    # rule 4.1 lists Kaposi sarcoma and groups 8-14 only
    new(decide([key(1, "C38.4", 9050)], key(None, "C48.2", 9050)), "different_organ")


def test_a_systemic_tumour_matching_two_goes_to_the_registrar():
    d = decide([key(1, "C16.2", 9680), key(2, "C42.1", 9823)], key(None, "C77.9", 9591))
    assert (d.reason, d.needs_registrar, d.tumour_id) == ("several_candidates", True, None)


# --- unknown primary site ---------------------------------------------------------------


def test_an_unknown_primary_in_a_patient_with_a_tumour_goes_to_the_registrar():
    d = decide([key(4, "C50.4", 8500)], key(None, "C80.9", 8140))
    assert (d.new_primary, d.tumour_id, d.reason, d.needs_registrar) == (
        False,
        4,
        "unknown_primary_site",
        True,
    )


def test_an_unknown_primary_as_first_tumour_is_a_primary():
    new(decide([], key(None, "C80.9", 8140)), "first_tumour")


def test_a_primary_found_after_an_unknown_primary_goes_to_the_registrar():
    d = decide([key(4, "C80.9", 8140)], key(None, "C25.0", 8140))
    assert (d.reason, d.needs_registrar, d.tumour_id) == ("unknown_primary_site", True, 4)


def test_a_lymphoma_coded_to_an_unknown_site_still_joins_the_patients_lymphoma():
    same(decide([key(2, "C77.2", 9680)], key(None, "C80.9", 9591)), 2, "systemic_once")


# --- properties -------------------------------------------------------------------------

_TOPOGRAPHIES = sorted(c for n in range(81) for c in icdo3.subsites(f"C{n:02d}"))
_KEYS = st.builds(
    TumourKey,
    id=st.integers(1, 10**6),
    topography=st.sampled_from(_TOPOGRAPHIES),
    histology=st.integers(8000, 9993),
)


@given(existing=st.lists(_KEYS, max_size=5, unique_by=lambda k: k.id), newer=_KEYS)
def test_decisions_are_consistent(existing, newer):
    d = decide(existing, newer.__class__(None, newer.topography, newer.histology))
    assert d.reason in REASONS
    assert d.message % d.params
    ids = {t.id for t in existing}
    if d.new_primary:
        assert d.tumour_id is None
    elif not d.needs_registrar or d.tumour_id is not None:
        assert d.tumour_id in ids
    # same organ and same histology group never make a new primary
    g = icdo3.histology_group(newer.histology)
    twin = any(
        icdo3.organ(t.topography) == icdo3.organ(newer.topography)
        and icdo3.histology_group(t.histology) == g
        for t in existing
    )
    if twin:
        assert not d.new_primary
    # time is not an input: the same facts decide the same, whatever the order given
    if not d.needs_registrar:
        assert (
            decide(list(reversed(existing)), TumourKey(None, newer.topography, newer.histology))
            == d
        )
