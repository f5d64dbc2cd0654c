"""Identity checks for each country pack (the service function, without HTTP)."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from salomat.core.errors import Invalid
from salomat.domains.registry.service import check_identity

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db


def test_a_kazakh_iin_agreeing_with_the_form_passes():
    assert check_identity("871008401427", date(1987, 10, 8), "female", country="KZ") == []


def test_a_kazakh_iin_contradicting_birth_date_and_sex_names_all_three_fields():
    with pytest.raises(Invalid) as e:
        check_identity("871008401427", date(1987, 8, 10), "male", country="KZ")
    fields = [f.field for f in e.value.errors]
    assert fields == ["national_id", "birth_date", "national_id", "sex"]
    assert "08.10.1987" in e.value.errors[0].message
    assert "IIN" in e.value.detail


def test_an_iin_that_can_never_be_issued_is_refused():
    # both check-digit passes give 10 for this body (national-ids.md)
    from salomat.country.national_id import iin_check_digit

    body = next(
        f"870101{s:05d}"[:11]
        for s in range(30000, 99999)
        if iin_check_digit(
            [int(c) for c in f"870101{s:05d}"[:11]],
            list(range(1, 12)),
            [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2],
        )
        is None
    )
    with pytest.raises(Invalid) as e:
        check_identity(body + "0", date(1987, 1, 1), "male", country="KZ")
    assert "can never be issued" in e.value.errors[0].message


def test_a_uzbek_pinfl_is_read_day_first():
    assert check_identity("62503050140013", date(2005, 3, 25), "female", country="UZ") == []
    with pytest.raises(Invalid):
        check_identity("62503050140013", date(2005, 3, 25), "female", country="KZ")


def test_the_pack_switch_turns_a_wrong_check_digit_into_a_warning(monkeypatch):
    from salomat.country import pack

    real = pack.load

    def lenient(country: str, name: str = "pack") -> dict:
        data = real(country, name)
        if name == "pack":  # the pack is read-only: the lenient one is a changed copy
            data = copy.deepcopy(data)
            data["national_id"]["check_digit"] = "warning"
        return data

    monkeypatch.setattr(pack, "load", lenient)
    warnings = check_identity("31208902620037", date(1990, 8, 12), "male", country="UZ")
    assert len(warnings) == 1
    assert "check digit" in warnings[0]
