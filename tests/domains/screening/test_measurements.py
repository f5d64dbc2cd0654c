"""Property tests of the measurement checks and the UCUM conversions (pure)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.screening import service

RULES = service.screening_rules("KZ")
GLUCOSE = RULES.measurements["glucose_fasting"]
HBA1C = RULES.measurements["hba1c"]


@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_bp_is_accepted_exactly_within_the_packs_ranges(sys_, dia):
    checked, errors = service.check_measurement(RULES, "m", "bp", systolic=sys_, diastolic=dia)
    ok = 60 <= sys_ <= 260 and 40 <= dia <= 260
    assert (checked is not None) is ok
    assert (not errors) is ok
    fields = {e.field for e in errors}
    assert ("m.systolic" in fields) is not (60 <= sys_ <= 260)
    assert ("m.diastolic" in fields) is not (40 <= dia <= 260)


@given(st.floats(0.5, 60, allow_nan=False))
def test_glucose_mg_per_dl_and_mmol_per_l_agree(mmol):
    mg = mmol * 18.016
    a, ea = service.check_measurement(RULES, "m", "glucose_fasting", value=mmol, unit="mmol/L")
    b, eb = service.check_measurement(RULES, "m", "glucose_fasting", value=mg, unit="mg/dL")
    assert (a is None) == (b is None)
    if a is not None and b is not None:
        assert math.isclose(a.value, b.value, rel_tol=1e-9)
        assert a.unit == b.unit == "mmol/L"
        assert 1.0 <= a.value <= 55.5
    else:
        assert ea[0].field == eb[0].field == "m.value"


@given(st.floats(1, 60, allow_nan=False))
def test_conversion_round_trips(mmol):
    mg = service.from_canonical(GLUCOSE, mmol, "mg/dL")
    assert math.isclose(service.to_canonical(GLUCOSE, mg, "mg/dL"), mmol, rel_tol=1e-9)


@given(st.floats(3.0, 20.0, allow_nan=False))
def test_hba1c_per_cent_and_mmol_per_mol_agree(per_cent):
    ifcc = (per_cent - 2.152) / 0.09148
    a, _ = service.check_measurement(RULES, "m", "hba1c", value=ifcc, unit="mmol/mol")
    assert a is not None
    assert math.isclose(a.value, per_cent, rel_tol=1e-9)


@given(st.floats(20.0001, 1000, allow_nan=False) | st.floats(-1000, 2.9999, allow_nan=False))
def test_impossible_hba1c_is_refused_naming_value(per_cent):
    checked, errors = service.check_measurement(RULES, "m", "hba1c", value=per_cent, unit="%")
    assert checked is None
    assert [e.field for e in errors] == ["m.value"]


@given(st.text(max_size=12).filter(lambda u: u.strip() not in GLUCOSE.units and u.strip() != ""))
def test_unknown_glucose_units_are_refused_naming_unit(unit):
    checked, errors = service.check_measurement(RULES, "m", "glucose_fasting", value=5.0, unit=unit)
    assert checked is None
    assert [e.field for e in errors] == ["m.unit"]


@given(st.floats(1.0, 55.5, allow_nan=False))
def test_glucose_control_is_monotone_at_126_mg_per_dl(mmol):
    edition = RULES.edition(service.screening_rules("KZ").editions[-1].valid_from)
    c = service.sugar_control(RULES, edition, "glucose_fasting", mmol)
    assert c.controlled is (round(mmol * 18.016, 9) < 126)
    assert c.lenient_controlled is (round(mmol * 18.016, 9) < 200)


def test_hba1c_40_per_cent_and_systolic_400_are_refused():
    assert service.check_measurement(RULES, "m", "hba1c", value=40, unit="%")[0] is None
    assert service.check_measurement(RULES, "m", "bp", systolic=400, diastolic=80)[0] is None
    assert HBA1C.canonical == "%"
