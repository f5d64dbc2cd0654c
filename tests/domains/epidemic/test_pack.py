"""The epidemic pack of both countries: read once, checked, sources and UNVERIFIED marks
kept; a malformed file refused naming the field."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from salomat.country import pack
from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.rt import estimate_rt

pytestmark = pytest.mark.no_db


@pytest.mark.parametrize("country", ["KZ", "UZ"])
def test_pack_loads(country: str) -> None:
    p = rules.epidemic_pack(country)
    assert p is rules.epidemic_pack(country.lower())  # cached once
    w = p.serial_interval
    assert w[0] == 0
    assert abs(w.sum() - 1) <= 1e-9
    assert (np.arange(len(w)) * w).sum() == pytest.approx(4.7, abs=0.01)  # Nishiura 2020
    assert "Nishiura" in p.serial_interval_source
    assert not w.flags.writeable
    assert not p.hospital.los.flags.writeable
    assert p.rt.prior.shape == pytest.approx(1)
    assert p.rt.prior.scale == pytest.approx(5)
    assert p.rt.window_days == 7
    assert p.rt.cv_max == 0.3
    assert p.rt.truncate_days == 5
    assert p.scenario_multipliers() == {"lower": 0.8, "unchanged": 1.0, "higher": 1.2}
    assert p.horizon_range == (14, 28)
    for s in p.scenarios:
        assert set(s.names) >= {"uz", "ru", "kk", "en"}
    # hospital parameters are placeholders, not the note's test vector (5 %, 10 d, 15 %, 8 d)
    assert p.hospital.illustrative
    assert "UNVERIFIED" in p.hospital_source
    assert p.hospital.hospitalisation_ratio != 0.05
    assert p.hospital.icu_share != 0.15
    assert "UNVERIFIED" in p.revaccination_source
    assert all(e.unverified for e in p.editions)
    for e in p.editions:
        for z in e.zones:
            assert set(z.names) >= {"uz", "ru", "kk", "en"}
    assert len(p.sensitivity) == 1
    # the pack's parameters run end to end
    r = estimate_rt(np.full(30, 50.0), p.serial_interval, window_days=p.rt.window_days)
    assert r.latest()[0] == 29 - p.rt.truncate_days


def test_kz_numbers() -> None:
    kz = rules.epidemic_pack("KZ")
    assert kz.revaccination_target == 65
    assert kz.revaccination_interval_months == 6
    assert [e.code for e in kz.editions] == [
        "kz-2020-08",
        "kz-2020-11",
        "kz-2021-brown-red",
        "kz-2022-07",
    ]


def _refused(change: Any) -> str:
    data = copy.deepcopy(pack.load("KZ", "epidemic"))
    change(data)
    with pytest.raises(pack.PackError) as e:
        rules.parse_pack("KZ", data)
    return str(e.value)


def test_serial_interval_not_summing_to_1_refused() -> None:
    def f(d: dict[str, Any]) -> None:
        d["serial_interval"] = {"pmf": [0, 0.2, 0.5, 0.2]}

    msg = _refused(f)
    assert "KZ/epidemic.yaml: serial_interval" in msg
    assert "sum to 1" in msg


def test_serial_interval_weight_on_day_0_refused() -> None:
    def f(d: dict[str, Any]) -> None:
        d["serial_interval"] = {"pmf": [0.1, 0.5, 0.4]}

    assert "day 0" in _refused(f)


def test_explicit_serial_interval_accepted() -> None:
    data = copy.deepcopy(pack.load("KZ", "epidemic"))
    data["serial_interval"] = {"pmf": [0, 0.2, 0.5, 0.3], "source": "the note's vector"}
    assert list(rules.parse_pack("KZ", data).serial_interval) == [0, 0.2, 0.5, 0.3]


def test_bad_edition_refused_naming_the_field() -> None:
    def f(d: dict[str, Any]) -> None:
        d["matrix"]["editions"][0]["rules"][0]["when"]["any"][0]["metric"] = "occupancy"

    msg = _refused(f)
    assert "KZ/epidemic.yaml: matrix.editions[0][kz-2020-08].rules[0].when.any[0].metric" in msg


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("hospital", "icu_share"), 1.5, "hospital.icu_share"),
        (("hospital", "los"), {"pmf": [0.5, 0.4]}, "hospital.los"),
        (("rt", "truncate_days"), -1, "rt.truncate_days"),
        (("forecast", "horizon_days"), 30, "forecast.horizon_days"),
        (("revaccination", "target_percent"), 0, "revaccination.target_percent"),
    ],
)
def test_bad_values_refused_naming_the_field(path: tuple[str, str], value: Any, field: str) -> None:
    def f(d: dict[str, Any]) -> None:
        d[path[0]][path[1]] = value

    assert field in _refused(f)
