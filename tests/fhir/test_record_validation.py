"""fhir/record.validate_resource: R4B and FHIR JSON's own rules, every wrong element named,
and what passes returned exactly as sent."""

from __future__ import annotations

import copy
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.fhir.record import RESOURCE_TYPES, STATUS_CODES, validate_resource


def observation() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        "subject": {"reference": "Patient/1"},
        "effectiveDateTime": "2026-03-01T09:15:00+05:00",
        "valueQuantity": {"value": 38.2, "unit": "Cel"},
        "note": [{"text": "axillary"}],
    }


def named(body: Any, resource_type: str | None = None) -> set[str]:
    with pytest.raises(Invalid) as e:
        validate_resource(body, resource_type)
    return {f.field for f in e.value.errors}


def test_a_valid_resource_comes_back_as_sent() -> None:
    body = observation()
    sent = copy.deepcopy(body)
    assert validate_resource(body, "Observation") is body
    assert body == sent


def test_each_wrong_element_is_named() -> None:
    body = {
        **observation(),
        "status": "done",
        "valueQuantity": {"value": "lots"},
        "effectiveDateTime": "2026-13-01",
        "colour": "red",
    }
    assert named(body) == {
        "Observation.status",
        "Observation.valueQuantity.value",
        "Observation.effectiveDateTime",
        "Observation.colour",
    }
    no_status = observation()
    del no_status["status"]
    assert named(no_status) == {"Observation.status"}
    assert named({**observation(), "note": []}) == {"Observation.note"}
    assert named({**observation(), "note": [{"text": ""}]}) == {"Observation.note[0].text"}
    assert named({**observation(), "code": {}}) >= {"Observation.code"}
    assert named({**observation(), "method": None}) == {"Observation.method"}
    assert "Observation.note[0]" in named({**observation(), "note": [None]})


def test_the_type_must_be_the_records_and_the_urls() -> None:
    assert named(observation(), "Condition") == {"Condition.resourceType"}
    assert named({"resourceType": "Patient"}) == {"Resource.resourceType"}
    assert named([observation()], "Observation") == {"Observation"}


def test_status_codes_of_every_type() -> None:
    for t, codes in STATUS_CODES.items():
        assert t in RESOURCE_TYPES
        assert "entered-in-error" in codes


_KEY = st.text(alphabet=string.ascii_letters, min_size=1, max_size=12)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEY, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(sorted(observation())), value=_JSON)
def test_any_value_of_any_element_is_taken_as_sent_or_refused_by_name(key: str, value: Any) -> None:
    body = {**observation(), key: value}
    sent = copy.deepcopy(body)
    fields = None
    try:
        out = validate_resource(body, "Observation")
    except Invalid as e:
        fields = [f.field for f in e.errors]
    if fields is not None:
        assert fields
        assert all(f.startswith("Observation") for f in fields)
    else:
        assert out == sent


@settings(max_examples=100, deadline=None)
@given(key=_KEY, value=_JSON)
def test_an_unknown_element_is_refused_by_name(key: str, value: Any) -> None:
    if key in observation() or key.startswith("value") or key.startswith("effective"):
        return
    body = {**observation(), key: value}
    fields = None
    try:
        validate_resource(body, "Observation")
    except Invalid as e:
        fields = [f.field for f in e.errors]
    if fields is not None:
        assert all(f.startswith("Observation") for f in fields)
        return
    # only an element Observation has may pass
    from fhir.resources.R4B.observation import Observation

    assert key in Observation.model_fields or key.removeprefix("_") in Observation.model_fields
