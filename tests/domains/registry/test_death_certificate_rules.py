"""The certificate's checks and the selection rules without a database: the validator
answers any input with a certificate or a refusal naming fields, never anything else."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from salomat.core.errors import Invalid
from salomat.domains.registry.schemas.death_certificate import DeathCertificateIn, Manner
from salomat.domains.registry.service.death_certificate import (
    PersonFacts,
    check_certificate,
    select_underlying_cause,
)

TODAY = date(2026, 12, 7)
CODES = st.one_of(
    st.sampled_from(
        [
            "I21.9",
            "I46.9",
            "R99",
            "Z99.9",
            "W19",
            "V89.2",
            "S06.9",
            "T75.1",
            "O14.1",
            "B07",
            "I21",
            "E11.9",
            "P22.0",
            "C34.9",
            "X59.9",
            "U07.1",
            "A00",
            "R57.9",
        ]
    ),
    st.text(min_size=3, max_size=8),
)
LINE = st.fixed_dictionaries(
    {"text": st.text(min_size=1, max_size=20), "code": CODES},
    optional={
        "interval_value": st.integers(min_value=0, max_value=100_000),
        "interval_unit": st.sampled_from(["minutes", "hours", "days", "months", "years"]),
    },
)
DATES = st.dates(min_value=date(1900, 1, 1), max_value=TODAY + timedelta(days=30))
BODY = st.fixed_dictionaries(
    {"deceased_on": DATES, "part1": st.lists(st.none() | LINE, min_size=1, max_size=4)},
    optional={
        "part2": st.lists(st.fixed_dictionaries({"text": st.just("x"), "code": CODES}), max_size=6),
        "manner": st.sampled_from([m.value for m in Manner]),
        "external_cause": CODES,
        "injury_on": DATES,
        "pregnancy": st.sampled_from(
            ["not_pregnant", "at_death", "within_42_days", "within_year", "unknown"]
        ),
        "place": st.sampled_from(["home", "facility", "other", "unknown"]),
        "facility_code": st.text(max_size=5),
        "perinatal": st.fixed_dictionaries(
            {},
            optional={
                "stillborn": st.booleans(),
                "hours_survived": st.integers(0, 23),
                "mother_conditions": st.lists(CODES, max_size=4),
            },
        ),
    },
)


@given(BODY, DATES, st.sampled_from(["male", "female"]), st.none() | DATES)
def test_the_validator_refuses_with_named_fields_or_selects_a_cause(body, born, sex, registered):
    try:
        data = DeathCertificateIn.model_validate(body)
    except ValidationError:
        return  # the API answers these with a 422 from the schema
    facts = PersonFacts(born, sex, registered, today=TODAY)
    refused = None
    try:
        checked = check_certificate(data, facts)
    except Invalid as e:
        refused = e.errors
    if refused is not None:
        assert refused, "a refusal names at least one field"
        assert all(err.field for err in refused)
        return
    uc = checked.selection.underlying_cause
    assert uc[0] not in "ZST", uc
    assert data.deceased_on <= TODAY
    assert data.deceased_on >= born
    if data.pregnancy is not None:
        assert sex == "female"
    if checked.selection.reasons == () and uc[0] == "R":
        pytest.fail("an ill-defined underlying cause was auto-selected")


def test_the_lowest_used_line_is_the_starting_point():
    sel = select_underlying_cause([("I46.9", 10), ("I21.9", 360)])
    assert (sel.underlying_cause, sel.reasons) == ("I21.9", ())
    sel = select_underlying_cause([("R99", None)])
    assert (sel.underlying_cause, sel.reasons) == ("R99", ("only_ill_defined",))


def test_an_injury_selects_the_external_cause():
    sel = select_underlying_cause([("S06.9", None)], external_cause="W19", manner=Manner.accident)
    assert (sel.underlying_cause, sel.reasons) == ("W19", ())


def test_a_pregnant_woman_whose_cause_is_not_maternal_is_reviewed():
    from salomat.domains.registry.schemas.death_certificate import Pregnancy

    sel = select_underlying_cause([("I21.9", None)], pregnancy=Pregnancy.at_death)
    assert sel.reasons == ("pregnancy_not_maternal",)
    sel = select_underlying_cause([("O14.1", None)], pregnancy=Pregnancy.at_death)
    assert sel.reasons == ()


def test_an_injury_due_to_a_disease_below_it_goes_to_a_coder():
    sel = select_underlying_cause(
        [("T81.4", None), ("C18.9", None)], external_cause="Y83.2", manner=Manner.accident
    )
    assert (sel.underlying_cause, sel.reasons) == ("Y83.2", ("injury_due_to_disease",))


@pytest.mark.parametrize(
    ("part1", "cause", "reasons"),
    [
        # Rule A (ICD-10 Volume 2, 2019): cardiac arrest alone is ill-defined, as are
        # R00-R94 and R96-R99; sudden infant death (R95) is not
        ([("I46.9", None)], "I46.9", ("only_ill_defined",)),
        ([("J96.9", None)], "J96.9", ("only_ill_defined",)),
        ([("R95", None)], "R95", ()),
        ([("R94.8", None)], "R94.8", ("only_ill_defined",)),
        ([("R96.0", None)], "R96.0", ("only_ill_defined",)),
        ([("I46.9", 10), ("I21.9", 120)], "I21.9", ()),
        ([("I21.9", 120), ("I46.9", 10)], "I46.9", ("interval_order", "ill_defined_with_defined")),
    ],
)
def test_rule_a_ill_defined_conditions(part1, cause, reasons):
    sel = select_underlying_cause(part1)
    assert (sel.underlying_cause, sel.reasons) == (cause, reasons)
