"""The norm engine against the domain note (../shared/domain/phc-planning.md).

The reference is written here from the note, not from the pack: vector 1's settlements
under the three KZ editions, and every band edge (one below / at / one above) as the
edition's words give it (docs/planning.md explains the inclusivity chosen).
"""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.country import pack
from salomat.domains.planning.service import norms
from salomat.domains.planning.service.norms import Band, BandError

KZ = norms.planning_pack("KZ")
UZ = norms.planning_pack("UZ")

W, MP = "health_worker", "medical_point"
FAP, VA = "feldsher_obstetric_point", "physician_ambulatory"

# the note's vector 1: 35 / 180 / 420 / 1,200 / 3,400 people
VECTOR_1 = {
    "kz-2022": [W, MP, MP, FAP, VA],
    "kz-2021-action-plan": [W, MP, FAP, FAP, FAP],
    "kz-2017": [None, MP, MP, FAP, VA],
}


@pytest.mark.parametrize(("code", "expected"), VECTOR_1.items())
def test_vector_1_units_by_edition(code: str, expected: list[str | None]) -> None:
    e = KZ.edition(code)
    got = [norms.required_unit(p, e) for p in (35, 180, 420, 1200, 3400)]
    assert got == expected


# (population, unit) at every edge: one below, at, one above
EDGES = {
    # "<50 worker; 50-500 МП; 500-1,500 FAP; 1,500-5,000 ВА" (a range's upper figure
    # starts the next band, as "<50" starts the medical point's at 50)
    "kz-2022": [
        (0, W),
        (49, W),
        (50, MP),
        (51, MP),
        (499, MP),
        (500, FAP),
        (501, FAP),
        (1499, FAP),
        (1500, VA),
        (1501, VA),
        (4999, VA),
        (5000, None),
        (5001, None),
    ],
    # "≤50 worker; ≤300 МП; >300 FAP"
    "kz-2021-action-plan": [
        (0, W),
        (49, W),
        (50, W),
        (51, MP),
        (299, MP),
        (300, MP),
        (301, FAP),
        (10**7, FAP),
    ],
    # "МП 50-800, FAP 800-1,500, ВА 1,500-10,000; below 50 none"
    "kz-2017": [
        (49, None),
        (50, MP),
        (51, MP),
        (799, MP),
        (800, FAP),
        (801, FAP),
        (1499, FAP),
        (1500, VA),
        (1501, VA),
        (9999, VA),
        (10000, None),
    ],
}


@pytest.mark.parametrize(
    ("code", "population", "unit"),
    [(code, p, u) for code, cases in EDGES.items() for p, u in cases],
)
def test_band_edges(code: str, population: int, unit: str | None) -> None:
    assert norms.required_unit(population, KZ.edition(code)) == unit


def test_editions_carry_source_and_dates() -> None:
    by_code = {e.code: e for e in KZ.editions}
    assert set(by_code) == set(VECTOR_1)
    assert str(by_code["kz-2022"].valid_from) == "2022-07-16"
    assert "ДСМ-133/2020" in by_code["kz-2022"].source
    assert "ДСМ-59" in by_code["kz-2022"].source
    for e in [*KZ.editions, *UZ.editions]:
        assert e.source
        assert e.title.get("en")
        assert e.title.get("ru")


def test_edition_in_force_on_a_day() -> None:
    from datetime import date

    assert KZ.edition(on=date(2022, 7, 15)).code == "kz-2021-action-plan"
    assert KZ.edition(on=date(2022, 7, 16)).code == "kz-2022"
    assert KZ.edition(on=date(2018, 1, 1)).code == "kz-2017"


def test_unknown_edition_is_422_naming_the_field() -> None:
    with pytest.raises(Invalid) as e:
        KZ.edition("kz-1999")
    assert [f.field for f in e.value.errors] == ["edition"]


def test_negative_population_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        norms.required_unit(-1, KZ.edition("kz-2022"))


@given(st.sampled_from([*KZ.editions, *UZ.editions]), st.integers(0, 10**8))
def test_every_population_has_exactly_one_band(edition: norms.NormEdition, population: int) -> None:
    matching = [b for b in edition.bands if b.contains(population)]
    assert len(matching) == 1
    assert norms.required_unit(population, edition) == matching[0].unit


def test_overlapping_bands_refused_naming_edition_and_band() -> None:
    bands = [Band(0, 49, W), Band(40, 499, MP), Band(500, None, FAP)]
    with pytest.raises(BandError, match=r"kz-test.*40-499"):
        norms.validate_bands(bands, "kz-test")


def test_gap_refused() -> None:
    with pytest.raises(BandError, match=r"gap: 50-59"):
        norms.validate_bands([Band(0, 49, W), Band(60, None, MP)], "x")


def test_open_band_not_last_refused() -> None:
    with pytest.raises(BandError, match="no upper bound"):
        norms.validate_bands([Band(0, None, W), Band(50, None, MP)], "x")


def test_pack_with_overlapping_edition_refused_on_load() -> None:
    data = copy.deepcopy(pack.load("KZ", "planning"))  # the pack is read-only: change a copy
    data["norms"][2]["bands"][1]["max_population"] = 600  # 50-600 over 500-1499
    with pytest.raises(BandError, match=r"kz-2022.*500-1499"):
        norms.parse_pack("KZ", data, pack.load("KZ", "pack"))


@st.composite
def partitions(draw: st.DrawFn) -> list[Band]:
    cuts = sorted(set(draw(st.lists(st.integers(1, 10**6), max_size=6))))
    edges = [0, *cuts]
    return [
        Band(lo, (edges[i + 1] - 1) if i + 1 < len(edges) else None, None)
        for i, lo in enumerate(edges)
    ]


@given(partitions(), st.data())
def test_partitions_accepted_and_any_shift_refused(bands: list[Band], data: st.DataObject) -> None:
    assert norms.validate_bands(bands) == tuple(bands)
    if len(bands) > 1:
        i = data.draw(st.integers(1, len(bands) - 1))
        delta = data.draw(st.sampled_from([-1, 1]))
        b = bands[i]
        moved = Band(b.min_population + delta, b.max_population, b.unit)
        if moved.max_population is None or moved.min_population <= moved.max_population:
            with pytest.raises(BandError):
                norms.validate_bands([*bands[:i], moved, *bands[i + 1 :]])


def test_higher_unit_meets_lower_need() -> None:
    assert KZ.need_met(MP, {FAP})
    assert KZ.need_met(FAP, {FAP})
    assert not KZ.need_met(VA, {FAP})
    assert not KZ.need_met(W, set())
    assert KZ.need_met(None, set())


def test_facility_kinds_map_to_units() -> None:
    assert KZ.unit_of("outpatient_clinic") == VA
    assert KZ.unit_of("feldsher_obstetric_point") == FAP
    assert KZ.unit_of("pharmacy") is None
    assert UZ.unit_of("family_polyclinic") == "polyclinic"


# the note's vector 4: 12,400 adults + 3,100 children = 15,500 people
def test_vector_4_posts() -> None:
    assert norms.posts_needed(15_500, 3000) == 6  # UZ brigade <= 3,000: ceil(5.17)
    assert norms.posts_needed(15_500, 1700) == 10  # 2030 target 1,700: ceil(9.12)
    assert norms.fte_needed(15_500, 1700) == Decimal("9.12")  # KZ 1 GP : 1,700
    assert norms.posts_needed(3000, 3000) == 1
    assert norms.posts_needed(3001, 3000) == 2
    assert norms.posts_needed(2999, 3000) == 1
    assert norms.posts_needed(0, 3000) == 0


def test_uz_brigade_editions() -> None:
    from datetime import date

    assert UZ.staffing_edition(on=date(2026, 1, 1)).brigade_population == 3000
    assert UZ.staffing_edition(on=date(2030, 1, 1)).brigade_population == 1700
    assert UZ.access.threshold_km == 10
    assert UZ.access.threshold_level == "polyclinic"


def test_malformed_pack_is_a_pack_error(monkeypatch: pytest.MonkeyPatch) -> None:
    data = copy.deepcopy(pack.load("KZ", "planning"))  # the pack is read-only: change a copy
    del data["units"][0]["level"]
    monkeypatch.setattr(
        pack, "load", lambda c, name="pack": data if name == "planning" else pack._read(c, name)
    )
    norms._load.cache_clear()
    try:
        with pytest.raises(pack.PackError, match=r"KZ/planning\.yaml"):
            norms._load("KZ")
    finally:
        norms._load.cache_clear()


def test_unit_outside_the_units_refused() -> None:
    data = copy.deepcopy(pack.load("KZ", "planning"))  # the pack is read-only: change a copy
    data["norms"][0]["bands"][1]["unit"] = "castle"
    with pytest.raises(pack.PackError, match="castle"):
        norms.parse_pack("KZ", data, pack.load("KZ", "pack"))


def test_mobile_weekend_read_with_the_other_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The team's days off come from ``norms.current()`` (the pack read once), not from a
    second read of the pack file."""
    import dataclasses

    from salomat.domains.planning.service import mobile

    for cc in ("UZ", "KZ"):
        assert norms.planning_pack(cc).mobile.weekend == (5, 6)
    base = norms.planning_pack("KZ")
    six_days = dataclasses.replace(base, mobile=dataclasses.replace(base.mobile, weekend=(6,)))
    monkeypatch.setattr(norms, "current", lambda: six_days)
    assert mobile.mobile_weekend() == (6,)


@pytest.mark.parametrize("weekend", [[0, 1, 2, 3, 4, 5, 6], [7], [-1]])
def test_pack_weekend_out_of_range_refused(weekend: list[int]) -> None:
    data = copy.deepcopy(pack.load("KZ", "planning"))  # the pack is read-only: change a copy
    data["mobile"]["weekend"] = weekend
    with pytest.raises(pack.PackError, match="weekend"):
        norms.parse_pack("KZ", data, pack.load("KZ", "pack"))


# UZ: the decrees set no settlement size below which a unit is required (PP-215's mahalla
# medical points go to remote mahallas, found by the access report; 3,000 is PP-185's
# people per brigade): nothing by size under 3,000, a family doctor point from 3,000
# (UNVERIFIED, Salomat's reading)
@pytest.mark.parametrize(
    ("population", "unit"),
    [(0, None), (35, None), (420, None), (2999, None), (3000, VA), (3001, VA)],
)
def test_uz_no_unit_by_size_under_3000(population: int, unit: str | None) -> None:
    assert norms.required_unit(population, UZ.edition("uz-pp215-2022")) == unit
