"""The packs' screening files: both load, every number has its source, the bounds are
sane, and what the note calls UNVERIFIED is marked so."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import salomat.country
from salomat.domains.screening import service

pytestmark = pytest.mark.no_db

PACKS = Path(salomat.country.__file__).parent


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_the_pack_loads_with_sources_and_sane_bounds(country):
    rules = service.screening_rules(country)
    for e in rules.editions:
        assert e.source
        assert e.targets["bp"] == {
            "systolic_below": 140, "diastolic_below": 90, "source": e.targets["bp"]["source"]
        }  # fmt: skip
        assert e.targets["hba1c"]["below"] == 7.0
        for p in e.programmes.values():
            assert p.source, p.code
            assert p.names.get("ru"), p.code
            assert p.names.get("en"), p.code
            if p.invites:
                assert p.max_age is None or p.min_age <= p.max_age
                assert p.interval_years > 0
            assert set(p.measures) <= set(rules.measurements), p.code
        for d in e.dmps.values():
            assert d.diagnoses, d.code
            assert d.visit_interval_days > 0, d.code
    bp = rules.measurements["bp"]
    assert (bp.systolic, bp.diastolic) == ((60, 260), (40, 260))


def test_the_edition_in_force_on_a_day():
    rules = service.screening_rules("KZ")
    first = rules.editions[0]
    assert rules.edition(first.valid_from) is first
    assert rules.edition(date(2000, 1, 1)) is first


def test_unverified_values_are_marked():
    kz = (PACKS / "KZ" / "screening.yaml").read_text(encoding="utf-8")
    for needle in ("interval_years: 4 # UNVERIFIED", "min_age: 50 # UNVERIFIED",
                   "visit_interval_days: 28 # UNVERIFIED"):  # fmt: skip
        assert needle in kz
    uz = (PACKS / "UZ" / "screening.yaml").read_text(encoding="utf-8")
    assert "visit_interval_days: 28 # UNVERIFIED" in uz


@pytest.mark.parametrize(
    ("programme", "code", "ok"),
    [("hypertension", "I10", True), ("hypertension", "i13.2", True), ("hypertension", "I1", False),
     ("hypertension", "X10", False), ("chf", "I50.9", True), ("t2dm", "E11", True)],
)  # fmt: skip
def test_qualifying_codes(programme, code, ok):
    d = service.screening_rules("UZ").dmp(programme, date(2025, 1, 1))
    assert d.qualifies(code) is ok
