"""Incoming codes checked against our profiles' bindings (docs/exchange.md, Terminology):
a code outside its value set is refused 422 naming the element, the system and code and
the value set; a code of a system we don't govern is stored as sent (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.fhir import terminology
from salomat.fhir.terminology_bindings import BINDINGS, Binding, binding_errors, check_concept
from tests.fhir import test_immunization, test_prescription, test_record

pytestmark = pytest.mark.anyio

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
LOINC = "http://loinc.org"
CVX = "http://hl7.org/fhir/sid/cvx"
VACCINE = "urn:salomat:vaccine"
LOCAL = "https://his.hospital.example/codes"

world = test_record.world
clinic = test_immunization.clinic
pharmacy = test_prescription.clinic


def outcome(r: Any, status: int = 422) -> list[dict[str, Any]]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return body["issue"]


def says(issues: list[dict[str, Any]], element: str, *words: str) -> bool:
    return any(
        element in i.get("expression", []) and all(w in i.get("diagnostics", "") for w in words)
        for i in issues
    )


# ---- the shared record (extensible bindings) ------------------------------------------


async def _encounter(client, w) -> str:
    r = await client.post("/fhir/Encounter", json=test_record.encounter(w), headers=w.hospital)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_record_condition_with_a_code_icd10_has_not_is_refused(client, world):
    enc = await _encounter(client, world)
    body = test_record.condition(world, enc)
    body["code"]["coding"][0]["code"] = "I10.99"
    issues = outcome(await client.post("/fhir/Condition", json=body, headers=world.hospital))
    vs = terminology.value_set_url("icd-10")
    assert says(issues, "Condition.code", "I10.99", ICD10, vs)
    # the same through $validate and in a transaction: the one check
    r = await client.post("/fhir/Condition/$validate", json=body, headers=world.hospital)
    assert says(outcome(r, r.status_code), "Condition.code", "I10.99")
    # the dotted code is ICD-10's; the category alone too
    for code in ("I10", "I15.0"):
        body["code"]["coding"][0]["code"] = code
        r = await client.post("/fhir/Condition", json=body, headers=world.hospital)
        assert r.status_code == 201, r.text


async def test_a_record_keeps_codes_of_systems_we_do_not_govern(client, world):
    enc = await _encounter(client, world)
    body = test_record.condition(world, enc)
    body["code"] = {"coding": [{"system": LOCAL, "code": "HTN-1"}], "text": "Hypertension"}
    r = await client.post("/fhir/Condition", json=body, headers=world.hospital)
    assert r.status_code == 201, r.text
    assert r.json()["code"]["coding"] == [{"system": LOCAL, "code": "HTN-1"}]
    # a LOINC code we have no table for: LOINC is a fragment here, never a reason to refuse
    obs = test_record.observation(world, enc)
    obs["code"] = {"coding": [{"system": LOINC, "code": "2339-0"}]}
    r = await client.post("/fhir/Observation", json=obs, headers=world.hospital)
    assert r.status_code == 201, r.text


async def test_a_national_code_outside_its_system_is_refused_in_any_bound_element(client, world):
    enc = await _encounter(client, world)
    obs = test_record.observation(world, enc)
    obs["component"][0]["code"]["coding"].append({"system": ICD10, "code": "not-icd"})
    issues = outcome(await client.post("/fhir/Observation", json=obs, headers=world.hospital))
    assert says(issues, "Observation.component.code", "not-icd", ICD10)


# ---- Immunization (a required binding) -------------------------------------------------


async def test_an_immunization_needs_a_vaccine_of_the_value_set(client, clinic):
    vs = terminology.value_set_url("immunization-vaccine")
    res = test_immunization.resource(clinic["baby"].id)
    res["vaccineCode"]["coding"][0]["code"] = "smallpox"
    r = await client.post("/fhir/Immunization", json=res, headers=clinic["nurse"])
    assert says(outcome(r), "Immunization.vaccineCode", VACCINE, "smallpox", vs)
    # a CVX code beside ours must be one our vaccines map to
    res = test_immunization.resource(clinic["baby"].id)
    res["vaccineCode"]["coding"].append({"system": CVX, "code": "88"})
    r = await client.post("/fhir/Immunization", json=res, headers=clinic["nurse"])
    assert says(outcome(r), "Immunization.vaccineCode", CVX, "88", vs)
    # the mapped CVX code and a local code beside ours are taken
    cvx = next(
        c.code
        for s, c in terminology.current().value_sets[vs].expansion(terminology.current())
        if s.url == CVX
    )
    res = test_immunization.resource(clinic["baby"].id)
    res["vaccineCode"]["coding"] += [
        {"system": CVX, "code": _cvx_of("penta", cvx)},
        {"system": LOCAL, "code": "PENTA-LOT"},
    ]
    r = await client.post("/fhir/Immunization", json=res, headers=clinic["nurse"])
    assert r.status_code == 201, r.text


def _cvx_of(vaccine: str, fallback: str) -> str:
    from salomat.domains.immunization import service

    return str(service.calendar_options().vaccines.get(vaccine, {}).get("cvx") or fallback)


async def test_a_refusal_names_the_binding_and_the_domains_own_errors_together(client, clinic):
    res = test_immunization.resource(clinic["baby"].id)
    res["site"] = {"coding": [{"system": "urn:salomat:immunization-site", "code": "left_ear"}]}
    res["vaccineCode"]["coding"].append({"system": CVX, "code": "88"})
    r = await client.post("/fhir/Immunization", json=res, headers=clinic["nurse"])
    fields = {x for i in outcome(r) for x in i.get("expression", [])}
    assert {"Immunization.vaccineCode", "Immunization.site"} <= fields
    # nothing was stored
    r = await client.get(
        "/fhir/Immunization", params={"patient": clinic["baby"].id}, headers=clinic["nurse"]
    )
    assert r.json()["total"] == 0


# ---- MedicationRequest -----------------------------------------------------------------


async def test_a_prescription_with_no_icd10_code_is_refused(client, pharmacy):
    body = test_prescription.request_body(pharmacy["patient"].id, pharmacy["code"])
    body["reasonCode"] = [{"coding": [{"system": ICD10, "code": "I1O"}]}]  # a letter O
    r = await client.post("/fhir/MedicationRequest", json=body, headers=pharmacy["doctor"])
    assert says(outcome(r), "MedicationRequest.reasonCode", "I1O", ICD10)


# ---- the check itself ------------------------------------------------------------------


def test_every_binding_names_a_published_value_set():
    terms = terminology.current()
    for bindings in BINDINGS.values():
        for b in bindings:
            assert b.value_set in terms.value_sets, b


_CODING = st.fixed_dictionaries(
    {},
    optional={
        "system": st.one_of(
            st.sampled_from([ICD10, ICDO3, VACCINE, CVX, LOINC, LOCAL]), st.text(max_size=20)
        ),
        "code": st.one_of(st.text(max_size=12), st.integers(), st.none()),
    },
)
_CONCEPT = st.one_of(
    st.none(),
    st.integers(),
    st.fixed_dictionaries(
        {}, optional={"coding": st.one_of(st.lists(_CODING, max_size=3), st.text(max_size=3))}
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(concept=_CONCEPT, required=st.booleans())
def test_the_check_takes_anything_without_failing(concept, required):
    terms = terminology.current()
    binding = Binding(
        "Immunization.vaccineCode",
        terminology.value_set_url("immunization-vaccine"),
        "required" if required else "extensible",
    )
    for e in check_concept(terms, concept, binding):
        assert e.field == "Immunization.vaccineCode"
    resource = {"resourceType": "Condition", "code": concept, "bodySite": [concept]}
    binding_errors(resource)


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        ("C18.1", False),
        ("C18.9", False),
        ("C18", True),
        ("C99.9", True),
        ("8140/3", False),
        ("8140/9", True),
    ],
)
def test_icdo3_codes_at_the_edges(code, refused):
    resource = {
        "resourceType": "Condition",
        "bodySite": [{"coding": [{"system": ICDO3, "code": code}]}],
    }
    assert bool(binding_errors(resource)) is refused
