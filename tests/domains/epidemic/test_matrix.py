"""The zone matrix against the domain note's vector 4 and history (written from the note).

Vector 4: 1.2 M people, 4,620 cases in 7 days → 4,620/7/12 = 55.0 per 100k as a daily
average (red if R > 1), 385 per 100k as the weekly sum. The August 2020 rule with Rt 1.20
and occupancy 75 % tightens (1.20 > 1.15 and 75 > 70) although Rt < 1.3 and occupancy < 90.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.country import pack
from salomat.domains.epidemic.service import matrix
from salomat.domains.epidemic.service.matrix import EditionError, evaluate, parse_edition
from salomat.domains.epidemic.service.rules import epidemic_pack

pytestmark = pytest.mark.no_db

KZ = epidemic_pack("KZ")
UZ = epidemic_pack("UZ")
RAW = {e["code"]: e for e in pack.load("KZ", "epidemic")["matrix"]["editions"]}


def test_vector_4_both_readings() -> None:
    assert matrix.incidence_per_100k(4620, 1_200_000, 7, "daily_average") == pytest.approx(55.0)
    assert matrix.incidence_per_100k(4620, 1_200_000, 7, "window_sum") == pytest.approx(385.0)


def test_vector_4_red_by_the_daily_average() -> None:
    e = KZ.edition("kz-2020-11")
    assert e.reading == "daily_average"
    inc = e.incidence(4620, 1_200_000)
    assert round(inc, 1) == 55.0
    assert evaluate(e, {"incidence_per_100k": inc, "rt": 1.05}).zone == "red"
    assert evaluate(e, {"incidence_per_100k": inc, "rt": 1.0}).zone is None  # not covered


def test_the_reading_changes_the_zone() -> None:
    """1,000 cases in a week in 1.2 M: 11.9 per 100k a day, 83.3 in the week."""
    daily = KZ.edition("kz-2020-11")
    weekly = dataclasses.replace(daily, reading="window_sum")
    metrics = {"rt": 0.9}
    assert (
        evaluate(daily, {**metrics, "incidence_per_100k": daily.incidence(1000, 1_200_000)}).zone
        == "green"
    )
    assert (
        evaluate(weekly, {**metrics, "incidence_per_100k": weekly.incidence(1000, 1_200_000)}).zone
        is None
    )
    assert (
        evaluate(weekly, {"rt": 1.1, "incidence_per_100k": weekly.incidence(1000, 1_200_000)}).zone
        == "red"
    )


@pytest.mark.parametrize(
    ("rt", "occupancy", "zone"),
    [
        (1.20, 75, "tighten"),  # the note's vector: the combined rule
        (1.15, 75, "hold"),  # Rt at 1.15 is not above it
        (1.16, 70, "hold"),  # occupancy at 70 is not above it
        (1.16, 71, "tighten"),
        (1.30, 60, "hold"),
        (1.31, 60, "tighten"),
        (1.0, 90, "hold"),
        (1.0, 91, "tighten"),
        (None, 95, "tighten"),  # Rt not known, occupancy alone decides
    ],
)
def test_august_2020_rule(rt: float | None, occupancy: float, zone: str) -> None:
    e = KZ.edition("kz-2020-08")
    assert evaluate(e, {"rt": rt, "bed_occupancy_pct": occupancy}).zone == zone


def test_nan_metric_is_not_known() -> None:
    e = KZ.edition("kz-2020-11")
    got = evaluate(e, {"rt": np.float32("nan"), "incidence_per_100k": np.float64(60)})
    assert (got.zone, got.missing) == (None, ("rt",))
    assert evaluate(e, {"rt": np.float32(1.5), "incidence_per_100k": np.int64(60)}).zone == "red"


def test_unknown_metric_stops_the_evaluation() -> None:
    e = KZ.edition("kz-2020-08")
    got = evaluate(e, {"rt": None, "bed_occupancy_pct": 75})
    assert got.zone is None
    assert got.missing == ("rt",)
    assert got.reason == "Zone not determined: an indicator the rules need is not known."
    assert set(matrix.METRIC_LABELS) == set(matrix.METRICS)


@pytest.mark.parametrize(
    ("incidence", "rt", "zone"),
    [
        (50.0, 1.1, "yellow"),
        (50.01, 1.1, "red"),
        (25.0, 1.1, "yellow"),
        (24.99, 1.1, None),
        (49.99, 0.99, "green"),
    ],
)
def test_2020_zone_edges(incidence: float, rt: float, zone: str | None) -> None:
    assert (
        evaluate(KZ.edition("kz-2020-11"), {"incidence_per_100k": incidence, "rt": rt}).zone == zone
    )


def test_brown_red_takes_precedence() -> None:
    e = KZ.edition("kz-2021-brown-red")
    m = {
        "incidence_per_100k": 60,
        "rt": 1.2,
        "bed_occupancy_pct": 71,
        "beds_occupied_per_100k": 201,
    }
    assert evaluate(e, m).zone == "brown_red"
    assert evaluate(e, {**m, "bed_occupancy_pct": 70}).zone == "red"


def test_2022_edition_yellow_only_above_2500_beds() -> None:
    e = KZ.edition("kz-2022-07")
    assert evaluate(e, {"beds_occupied": 2500}).zone == "green"
    assert evaluate(e, {"beds_occupied": 2501}).zone == "yellow"
    assert "hospitalised_per_100k" in e.reports


def test_editions_in_force_by_day() -> None:
    assert KZ.edition(on=date(2020, 9, 1)).code == "kz-2020-08"
    assert KZ.edition(on=date(2022, 7, 14)).code == "kz-2021-brown-red"
    assert KZ.edition(on=date(2022, 7, 15)).code == "kz-2022-07"
    with pytest.raises(Invalid) as e:
        KZ.edition("kz-1999")
    assert e.value.errors[0].field == "edition"


def test_every_kz_edition_unverified() -> None:
    assert all(e.unverified for e in KZ.editions)


def test_uz_who_style_levels() -> None:
    (e,) = UZ.editions
    assert e.unverified
    assert e.reading == "window_sum"
    got = [evaluate(e, {"incidence_per_100k": x}).zone for x in (19.9, 20, 49.9, 50, 149.9, 150)]
    assert got == ["ct1", "ct2", "ct2", "ct3", "ct3", "ct4"]


# ---- bad editions ------------------------------------------------------------------


def _bad(change: Any, code: str = "kz-2020-11") -> str:
    raw = copy.deepcopy(RAW[code])
    change(raw)
    with pytest.raises(EditionError) as e:
        parse_edition(raw, "matrix.editions[1]")
    assert isinstance(e.value, pack.PackError)
    return str(e.value)


def test_unknown_metric_refused_naming_the_field() -> None:
    def f(raw: dict[str, Any]) -> None:
        raw["rules"][0]["when"]["all"][1]["metric"] = "r_t"

    msg = _bad(f)
    assert "matrix.editions[1][kz-2020-11].rules[0].when.all[1].metric" in msg
    assert "'r_t'" in msg


def test_unknown_operator_and_zone_refused() -> None:
    def op(raw: dict[str, Any]) -> None:
        raw["rules"][0]["when"]["all"][0]["op"] = "=>"

    def zone(raw: dict[str, Any]) -> None:
        raw["rules"][2]["zone"] = "blue"

    assert ".rules[0].when.all[0].op" in _bad(op)
    assert ".rules[2].zone" in _bad(zone)


def test_contradictory_thresholds_refused() -> None:
    def f(raw: dict[str, Any]) -> None:
        raw["rules"][0]["when"]["all"].append({"metric": "rt", "op": "<", "value": 0.9})

    assert ".rules[0].when: contradictory" in _bad(f)


def test_touching_bounds_contradict_unless_both_closed() -> None:
    base = {
        "code": "x",
        "valid_from": "2020-01-01",
        "title": {"en": "x"},
        "zones": [{"code": "a", "names": {"en": "a"}}],
    }
    strict = {
        **base,
        "rules": [
            {
                "zone": "a",
                "when": {
                    "all": [
                        {"metric": "rt", "op": ">", "value": 1},
                        {"metric": "rt", "op": "<=", "value": 1},
                    ]
                },
            }
        ],
    }
    with pytest.raises(EditionError, match="contradictory"):
        parse_edition(strict)
    closed = {
        **base,
        "rules": [
            {
                "zone": "a",
                "when": {
                    "all": [
                        {"metric": "rt", "op": ">=", "value": 1},
                        {"metric": "rt", "op": "<=", "value": 1},
                    ]
                },
            }
        ],
    }
    assert evaluate(parse_edition(closed), {"rt": 1.0}).zone == "a"


def test_overlapping_thresholds_refused() -> None:
    """kursiv.media's yellow "R < 1" overlaps green "< 50 and R < 1" on the same indicators."""

    def f(raw: dict[str, Any]) -> None:
        raw["rules"][1]["when"]["all"][2]["op"] = "<"

    msg = _bad(f)
    assert ".rules[2].when: overlapping thresholds" in msg
    assert "incidence_per_100k in [25, 50)" in msg


def test_overlap_at_a_shared_edge_refused() -> None:
    def f(raw: dict[str, Any]) -> None:
        raw["rules"][0]["when"]["all"][0]["op"] = ">="  # red from 50, yellow up to 50

    assert "incidence_per_100k in [50, 50]" in _bad(f)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("incidence_reading", "weekly"),
        ("incidence_window_days", 0),
        ("otherwise", "blue"),
        ("valid_from", "soon"),
    ],
)
def test_edition_fields_checked(field: str, value: Any) -> None:
    def f(raw: dict[str, Any]) -> None:
        raw[field] = value

    assert f"[kz-2020-11].{field}" in _bad(f)


_metric = st.sampled_from(matrix.METRICS)
_cond = st.builds(
    lambda m, o, v: {"metric": m, "op": o, "value": v},
    _metric,
    st.sampled_from([">", ">=", "<", "<="]),
    st.integers(0, 5),
)


@given(
    st.lists(st.lists(_cond, min_size=1, max_size=3), min_size=1, max_size=4),
    st.dictionaries(_metric, st.integers(-1, 6)),
)
@settings(max_examples=150, deadline=None)
def test_an_accepted_edition_gives_one_zone_per_point(
    rules: list[list[dict[str, Any]]], point: dict[str, int]
) -> None:
    """If an edition passes the check, rules of different zones on the same indicators
    never both hold for one point."""
    raw = {
        "code": "p",
        "valid_from": "2020-01-01",
        "title": {"en": "p"},
        "zones": [{"code": f"z{i}", "names": {"en": "z"}} for i in range(len(rules))],
        "rules": [{"zone": f"z{i}", "when": {"all": c}} for i, c in enumerate(rules)],
    }
    try:
        e = parse_edition(raw)
    except EditionError:
        return
    full = {m: point.get(m, 0) for m in matrix.METRICS}
    holding = [r for r in e.rules if r.when.holds(full, set())]
    for a in holding:
        for b in holding:
            ma = {c.metric for c in a.when.of}
            mb = {c.metric for c in b.when.of}
            if a.zone != b.zone and ma == mb:
                pytest.fail(f"{a} and {b} both hold at {full}")
