"""Answers written once (issue 24, lighter answers): FHIR resources and Bundle shells
without the R4B model's round trip, the same JSON it wrote; orjson for the text."""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from salomat.core import json_text
from salomat.fhir import common, output
from tests.factories import unique_name

pytestmark = pytest.mark.anyio


def model_way(model, resource):
    return model.model_validate(resource).model_dump(mode="json", exclude_none=True)


OBSERVATION = {
    "resourceType": "Observation",
    "id": "7",
    # out of the model's order, with empty elements, times the model writes otherwise
    "valueQuantity": {"unit": "kg", "value": 70.5, "system": "http://unitsofmeasure.org"},
    "subject": {"reference": "Patient/1", "display": None},
    "code": {"coding": [{"code": "29463-7", "system": "http://loinc.org"}], "text": "weight"},
    "status": "final",
    "note": [],
    "effectiveDateTime": "2026-12-07T20:16:12+00:00",
    "issued": "2026-12-07T09:15:00.5+05:00",
    "meta": {"lastUpdated": "2026-12-07T09:20:00.000+05:00", "versionId": "2"},
    "contained": [{"resourceType": "Patient", "gender": "female", "id": "p", "active": True}],
    "_status": {"extension": [{"valueString": "x", "url": "http://example.org/e"}]},
}


def test_the_walk_writes_what_the_model_writes_key_order_included():
    fast = output.ordered(Observation, OBSERVATION)
    expected = model_way(Observation, OBSERVATION)
    assert fast is not None
    assert output.same(fast, expected)
    assert json.dumps(fast) == json.dumps(expected)
    assert list(fast)[:4] == ["resourceType", "id", "meta", "contained"]
    assert fast["effectiveDateTime"] == "2026-12-07T20:16:12Z"
    assert fast["issued"] == "2026-12-07T09:15:00.500000+05:00"
    assert "note" not in fast
    assert "display" not in fast["subject"]


def test_what_the_walk_is_not_sure_of_goes_the_models_way():
    assert output.ordered(Observation, {**OBSERVATION, "valueSomething": 1}) is None
    assert output.ordered(Observation, {**OBSERVATION, "resourceType": "Patient"}) is None
    with_date = {**OBSERVATION, "effectiveDateTime": date(2026, 1, 2)}
    assert output.ordered(Observation, with_date) is None
    # the model's way still refuses what is wrong, naming it
    with pytest.raises(ValidationError, match="valueSomething"):
        common.validated(Observation, {**OBSERVATION, "valueSomething": 1})
    with pytest.raises(ValidationError, match="effectiveDateTime"):
        common.validated(Observation, {**OBSERVATION, "effectiveDateTime": "7 Dec"})


@pytest.mark.parametrize(
    "given",
    [
        {"active": 1},  # the model writes true
        {"active": "true"},
        {"multipleBirthInteger": "2"},  # the model writes 2
        {"multipleBirthInteger": 2.0},
        {"multipleBirthBoolean": 0},
        {"gender": 5},
        {"name": [{"given": ["A", None, "B"]}]},
        {"_gender": {"extension": []}},  # the model leaves the emptied element out
    ],
)
def test_a_value_not_of_its_elements_json_kind_goes_the_models_way(given):
    """The walk writes a primitive as given only when it is already what the model
    writes; otherwise it answers None and the model converts (or refuses, naming it)."""
    assert output.ordered(Patient, {"resourceType": "Patient", **given}) is None
    ok = {"resourceType": "Patient", "active": True, "multipleBirthInteger": 2}
    assert output.ordered(Patient, ok) == ok


def test_same_tells_key_order_and_number_kinds_apart():
    assert output.same({"a": 1, "b": [1.5]}, {"a": 1, "b": [1.5]})
    assert not output.same({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not output.same({"a": 70}, {"a": 70.0})
    assert not output.same({"a": True}, {"a": 1})


def test_a_bundle_shell_is_written_as_the_model_writes_it_and_its_resources_as_given():
    resource = {"resourceType": "Patient", "id": "1", "birthDate": "1991-03-14", "active": True}
    body = {
        "type": "history",
        "resourceType": "Bundle",
        "total": 1,
        "entry": [
            {
                "response": {"lastModified": "2026-12-07T09:20:00.000+05:00", "status": "200"},
                "resource": resource,
                "fullUrl": "http://testserver/fhir/Patient/1",
            }
        ],
    }
    out = common.bundle_out(body)
    assert json.dumps(out) == json.dumps(
        {
            "resourceType": "Bundle",
            "type": "history",
            "total": 1,
            "entry": [
                {
                    "fullUrl": "http://testserver/fhir/Patient/1",
                    "resource": resource,  # not reordered: kept exactly as given
                    "response": {"status": "200", "lastModified": "2026-12-07T09:20:00.000+05:00"},
                }
            ],
        }
    )


@pytest.mark.parametrize(
    "obj",
    [
        json_text.loads('{"a": 1.50, "b": [1e3, 2.0, -0.0], "c": "ü\\u0000\\u2028\\"\\\\"}'),
        {"big": 2**70, "small": -(2**63)},
        {1: "a key that is not a string"},
        {"t": (1, "x"), "n": None, "b": False},
    ],
)
def test_dump_bytes_writes_what_dumps_writes(obj):
    assert json_text.dump_bytes(obj) == json_text.dumps(obj).encode("utf-8")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_dump_bytes_refuses_what_dumps_refuses(bad):
    for obj in ({"x": bad}, {"x": None, "y": [bad]}):
        with pytest.raises(ValueError, match="not JSON compliant"):
            json_text.dumps(obj)
        with pytest.raises(ValueError, match="not JSON compliant"):
            json_text.dump_bytes(obj)
    with pytest.raises(TypeError):
        json_text.dump_bytes({"d": date(2026, 1, 1)})


async def test_patient_answers_are_the_models_json_byte_for_byte(
    client, make_user, login, make_person
):
    headers = await login(await make_user("registrar"))
    family = unique_name("Outov")
    person = await make_person(family_name=family)
    await make_person(family_name=family)
    r = await client.get(f"/fhir/Patient/{person.id}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    assert r.headers["etag"] == 'W/"1"'
    assert r.headers["last-modified"]
    assert r.content == json_text.dump_bytes(model_way(Patient, r.json()))
    r = await client.get("/fhir/Patient", params={"family": family}, headers=headers)
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["total"] == 2
    for entry in bundle["entry"]:
        assert json.dumps(entry["resource"]) == json.dumps(model_way(Patient, entry["resource"]))
    entries = [{k: v for k, v in e.items() if k != "resource"} for e in bundle["entry"]]
    shell = {**bundle, "entry": entries}
    assert json.dumps(shell) == json.dumps(model_way(Bundle, shell))
