"""FHIR Immunization (read, search, create) and ImmunizationRecommendation (read, search)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.immunizationrecommendation import ImmunizationRecommendation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given
from hypothesis import strategies as st

from salomat.fhir.immunization_api import SEARCH_PARAMS
from tests.factories import national_id_for

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
TODAY = date.today()
BORN = TODAY - timedelta(days=150)
VACCINE = "urn:salomat:vaccine"
SITE = "urn:salomat:immunization-site"
MODELS = {"Immunization": Immunization, "ImmunizationRecommendation": ImmunizationRecommendation}


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    if body["resourceType"] == "Bundle":
        Bundle.model_validate(body)
        for e in body.get("entry", []):
            MODELS[e["resource"]["resourceType"]].model_validate(e["resource"])
    else:
        MODELS[body["resourceType"]].model_validate(body)
    return body


def issues(r, status: int) -> set[str]:
    assert r.status_code == status, r.text
    body = r.json()
    OperationOutcome.model_validate(body)
    return {x for i in body["issue"] for x in i.get("expression", [])}


def entries(b: dict) -> list[dict]:
    return [e["resource"] for e in b.get("entry", [])]


@pytest.fixture
async def clinic(make_facility, make_person, make_user, login) -> dict[str, Any]:
    fac = await make_facility()
    baby = await make_person(facility_code=fac.code, birth_date=BORN, sex="female")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    return {"facility": fac, "baby": baby, "nurse": nurse}


def resource(patient: int, **kw: Any) -> dict[str, Any]:
    on = kw.pop("on", BORN + timedelta(days=61))
    res = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": VACCINE, "code": kw.pop("vaccine", "penta")}]},
        "patient": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": on.isoformat(),
        "lotNumber": "AB123",
        "site": {"coding": [{"system": SITE, "code": "left_thigh"}]},
        "protocolApplied": [{"series": kw.pop("series", "penta"), "doseNumberPositiveInt": 1}],
    }
    res.update(kw)
    return res


async def create(client, c, **kw: Any):
    return await client.post(
        "/fhir/Immunization",
        json=resource(c["baby"].id, **kw),
        headers={**c["nurse"], "Content-Type": FHIR_JSON},
    )


async def test_create_read_and_search(client, clinic, make_practitioner):
    doc = await make_practitioner()
    created = ok(
        await create(
            client,
            clinic,
            performer=[{"actor": {"reference": f"Practitioner/{doc.id}"}}],
        ),
        201,
    )
    assert created["status"] == "completed"
    assert created["lotNumber"] == "AB123"
    assert created["protocolApplied"][0] == {"series": "penta", "doseNumberPositiveInt": 1}
    codes = {(c["system"], c["code"]) for c in created["vaccineCode"]["coding"]}
    assert (VACCINE, "penta") in codes
    assert {p["actor"]["reference"] for p in created["performer"]} == {
        f"Practitioner/{doc.id}",
        f"Organization/{clinic['facility'].id}",
    }
    assert "isSubpotent" not in created
    r = await client.get(f"/fhir/Immunization/{created['id']}", headers=clinic["nurse"])
    assert ok(r)["id"] == created["id"]
    assert r.headers["etag"] == 'W/"1"'
    found = ok(
        await client.get(
            "/fhir/Immunization",
            params={"patient": f"Patient/{clinic['baby'].id}"},
            headers=clinic["nurse"],
        )
    )
    assert [x["id"] for x in entries(found)] == [created["id"]]
    for params, n in (
        ({"vaccine-code": f"{VACCINE}|penta"}, 1),
        ({"vaccine-code": "pcv13"}, 0),
        ({"date": f"ge{(BORN + timedelta(days=61)).isoformat()}"}, 1),
        ({"date": f"lt{(BORN + timedelta(days=61)).isoformat()}"}, 0),
        ({"status": "entered-in-error"}, 0),
        ({"status": "completed"}, 1),
    ):
        b = ok(
            await client.get(
                "/fhir/Immunization",
                params={"patient": str(clinic["baby"].id), **params},
                headers=clinic["nurse"],
            )
        )
        assert b["total"] == n, params


async def test_create_refuses_an_early_dose_naming_the_element(client, clinic):
    r = await create(client, clinic, on=BORN + timedelta(days=20))
    assert issues(r, 422) == {"Immunization.occurrenceDateTime"}
    assert "minimum age" in r.text


async def test_an_early_dose_from_elsewhere_is_subpotent(client, clinic):
    created = ok(
        await create(
            client,
            clinic,
            on=BORN + timedelta(days=20),
            primarySource=False,
            location={"display": "Clinic abroad"},
        ),
        201,
    )
    assert created["isSubpotent"] is True
    assert "minimum age" in created["subpotentReason"][0]["text"]
    assert created["primarySource"] is False
    assert created["location"]["display"] == "Clinic abroad"


async def test_create_names_each_wrong_element(client, clinic):
    r = await create(
        client,
        clinic,
        vaccine="nope",
        site={"coding": [{"system": SITE, "code": "left_ear"}]},
        on=TODAY + timedelta(days=3),
    )
    assert issues(r, 422) == {
        "Immunization.vaccineCode",
        "Immunization.site",
        "Immunization.occurrenceDateTime",
    }
    no_code = resource(clinic["baby"].id)
    no_code["vaccineCode"] = {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "198"}]}
    r = await client.post("/fhir/Immunization", json=no_code, headers=clinic["nurse"])
    assert issues(r, 422) == {"Immunization.vaccineCode"}


async def test_create_refuses_what_r4b_refuses(client, clinic):
    bad = resource(clinic["baby"].id)
    bad["occurrenceDateTime"] = "yesterday"
    r = await client.post("/fhir/Immunization", json=bad, headers=clinic["nurse"])
    assert r.status_code == 400
    assert any("occurrenceDateTime" in x for x in issues(r, 400))
    wrong = {**resource(clinic["baby"].id), "resourceType": "Patient"}
    assert (
        await client.post("/fhir/Immunization", json=wrong, headers=clinic["nurse"])
    ).status_code == 400


@pytest.mark.parametrize("partial", ["2024-05", "2024"])
async def test_create_refuses_a_partial_date_naming_the_element(client, clinic, db, partial):
    from sqlalchemy import func, select

    from salomat.domains.immunization.models import Dose

    bad = resource(clinic["baby"].id)
    bad["occurrenceDateTime"] = partial
    r = await client.post(
        "/fhir/Immunization", json=bad, headers={**clinic["nurse"], "Content-Type": FHIR_JSON}
    )
    assert issues(r, 422) == {"Immunization.occurrenceDateTime"}
    assert "a full date is required" in r.text
    stored = select(func.count()).where(Dose.person_id == clinic["baby"].id)
    assert await db.scalar(stored) == 0


async def test_out_of_scope_is_404_and_search_needs_a_patient(client, clinic, make_user, login):
    created = ok(await create(client, clinic), 201)
    other = await login(await make_user("nurse"))
    r = await client.get(f"/fhir/Immunization/{created['id']}", headers=other)
    issues(r, 404)
    r = await client.get("/fhir/Immunization", params={"patient": clinic["baby"].id}, headers=other)
    issues(r, 404)
    r = await client.post("/fhir/Immunization", json=resource(clinic["baby"].id), headers=other)
    issues(r, 404)
    assert issues(await client.get("/fhir/Immunization", headers=clinic["nurse"]), 422) == {
        "patient"
    }
    r = await client.get(
        "/fhir/Immunization",
        params={"patient": clinic["baby"].id, "colour": "x"},
        headers=clinic["nurse"],
    )
    assert issues(r, 422) == {"colour"}


async def test_recommendation_read_and_search(client, clinic):
    ok(await create(client, clinic), 201)
    pid = clinic["baby"].id
    rec = ok(await client.get(f"/fhir/ImmunizationRecommendation/{pid}", headers=clinic["nurse"]))
    assert rec["patient"]["reference"] == f"Patient/{pid}"
    by_dose = {(x["series"], x["doseNumberPositiveInt"]): x for x in rec["recommendation"]}
    penta1 = by_dose[("penta", 1)]
    assert penta1["forecastStatus"]["text"] == "given"
    penta2 = by_dose[("penta", 2)]
    assert penta2["forecastStatus"]["text"] in ("due", "overdue")
    loinc = {c["code"]["coding"][0]["code"] for c in penta2["dateCriterion"]}
    assert {"30980-7", "30981-5"} <= loinc
    assert ("hpv", 1) in by_dose  # a girl
    found = ok(
        await client.get(
            "/fhir/ImmunizationRecommendation", params={"patient": pid}, headers=clinic["nurse"]
        )
    )
    assert [x["id"] for x in entries(found)] == [str(pid)]
    assert issues(
        await client.get("/fhir/ImmunizationRecommendation", headers=clinic["nurse"]), 422
    ) == {"patient"}


async def test_dose_number_is_the_counted_place_and_the_recorded_number_is_a_note(client, clinic):
    """A dose sent as dose 3 with no doses 1-2 is Immunization dose 1 (a note says 3)."""
    applied = [{"series": "penta", "doseNumberPositiveInt": 3}]
    created = ok(await create(client, clinic, protocolApplied=applied), 201)
    assert created["protocolApplied"][0] == {"series": "penta", "doseNumberPositiveInt": 1}
    assert "Recorded as dose 3" in created["note"][0]["text"]
    assert "isSubpotent" not in created
    again = ok(await client.get(f"/fhir/Immunization/{created['id']}", headers=clinic["nurse"]))
    assert again["protocolApplied"][0]["doseNumberPositiveInt"] == 1
    # the recommendation asks for dose 2 next, 4 weeks after it
    pid = clinic["baby"].id
    rec = ok(await client.get(f"/fhir/ImmunizationRecommendation/{pid}", headers=clinic["nurse"]))
    by_dose = {(x["series"], x["doseNumberPositiveInt"]): x for x in rec["recommendation"]}
    assert by_dose[("penta", 1)]["forecastStatus"]["text"] == "given"
    assert by_dose[("penta", 2)]["forecastStatus"]["text"] in ("due", "overdue")
    # a dose counted where it was recorded carries no note
    second = ok(
        await create(
            client,
            clinic,
            on=BORN + timedelta(days=92),
            protocolApplied=[{"series": "penta", "doseNumberPositiveInt": 2}],
        ),
        201,
    )
    assert second["protocolApplied"][0]["doseNumberPositiveInt"] == 2
    assert "note" not in second


async def test_metadata_lists_the_immunization_resources(client):
    cs = (await client.get("/fhir/metadata")).json()
    res = {r["type"]: r for r in cs["rest"][0]["resource"]}
    for kind, params in SEARCH_PARAMS.items():
        assert {p["name"] for p in res[kind]["searchParam"]} == set(params) | {"_count"}
    assert {i["code"] for i in res["Immunization"]["interaction"]} == {
        "read",
        "search-type",
        "create",
    }


async def test_reads_are_audited(client, clinic, db):
    from sqlalchemy import select

    from salomat.core.audit import AuditEvent

    created = ok(await create(client, clinic), 201)
    await client.get(f"/fhir/Immunization/{created['id']}", headers=clinic["nurse"])
    rows = (
        await db.execute(
            select(AuditEvent.action, AuditEvent.resource_type).where(
                AuditEvent.patient_id == clinic["baby"].id
            )
        )
    ).all()
    assert ("create", "Immunization") in rows
    assert ("read", "Immunization") in rows


async def test_a_dose_past_its_upper_age_is_refused_or_subpotent(
    client, make_facility, make_person, make_user, login
):
    """WHO: no rotavirus from 24 months. Given here: 422 on the date; from elsewhere: subpotent."""
    fac = await make_facility()
    born = TODAY - timedelta(days=4 * 365)
    child = await make_person(facility_code=fac.code, birth_date=born, sex="male")
    c = {"baby": child, "nurse": await login(await make_user("nurse", facility_code=fac.code))}
    at_38_months = born + timedelta(days=1160)
    r = await create(client, c, vaccine="rota", series="rota", on=at_38_months)
    assert issues(r, 422) == {"Immunization.occurrenceDateTime"}
    assert "upper age" in r.text
    created = ok(
        await create(
            client,
            c,
            vaccine="rota",
            series="rota",
            on=at_38_months,
            primarySource=False,
            location={"display": "Clinic abroad"},
        ),
        201,
    )
    assert created["isSubpotent"] is True
    assert "upper age" in created["subpotentReason"][0]["text"]
    assert created["protocolApplied"][0]["doseNumberPositiveInt"] == 1  # recorded, not counted


async def test_a_dtp_dose_before_any_penta_is_dtp_containing_dose_1(client, clinic):
    created = ok(await create(client, clinic, vaccine="dtp", series="dtp"), 201)
    assert created["protocolApplied"][0] == {"series": "dtp", "doseNumberPositiveInt": 1}
    assert "isSubpotent" not in created


# ---- a dose without its product: the vaccine group (the calendar's antigen) ----------

SERIES = "urn:salomat:immunization-series"
CVX = "http://hl7.org/fhir/sid/cvx"


def _label(antigen: str) -> str:
    from salomat.domains.immunization import service

    series = service.calendar_options().get(antigen)
    assert series is not None
    return series.label


def elsewhere(patient: int, antigen: str = "bcg", **kw: Any) -> dict[str, Any]:
    """A dose from a paper card: given elsewhere, the product not known."""
    res = resource(
        patient,
        series=antigen,
        on=kw.pop("on", BORN + timedelta(days=1)),
        primarySource=False,
        location={"display": "Maternity ward, paper card"},
        **kw,
    )
    res["vaccineCode"] = {"coding": [{"system": SERIES, "code": antigen}]}
    del res["site"], res["lotNumber"]
    return res


async def post(client, c, body: dict[str, Any]):
    return await client.post(
        "/fhir/Immunization", json=body, headers={**c["nurse"], "Content-Type": FHIR_JSON}
    )


async def test_a_dose_without_its_product_carries_the_vaccine_group(
    client, clinic, db, make_person
):
    from salomat.domains.immunization.service.demo import load_demo_immunizations

    # a paper record entered as the demo data is (no product)
    baby = await make_person(
        facility_code=clinic["facility"].code,
        birth_date=BORN,
        sex="male",
        national_id=national_id_for(BORN, "male"),
    )
    await load_demo_immunizations(
        db,
        [
            {
                "child": baby.national_id,
                "at": clinic["facility"].code,
                "doses": {"hepb": [BORN], "bcg": [BORN + timedelta(days=2)]},
            }
        ],
        today=TODAY,
    )
    await db.commit()
    found = ok(
        await client.get("/fhir/Immunization", params={"patient": baby.id}, headers=clinic["nurse"])
    )
    by_series = {x["protocolApplied"][0]["series"]: x for x in entries(found)}
    assert set(by_series) == {"hepb", "bcg"}
    for antigen, imm in by_series.items():
        # exactly the group's coding: no product, no CVX (CVX names products)
        assert imm["vaccineCode"]["coding"] == [
            {"system": SERIES, "code": antigen, "display": _label(antigen)}
        ]
        assert imm["vaccineCode"]["text"] == _label(antigen)
    # a client finds them by the coding they carry
    for code, want in (("bcg", ["bcg"]), ("hepb", ["hepb"]), ("penta", [])):
        found = ok(
            await client.get(
                "/fhir/Immunization",
                params={"patient": baby.id, "vaccine-code": f"{SERIES}|{code}"},
                headers=clinic["nurse"],
            )
        )
        assert [x["protocolApplied"][0]["series"] for x in entries(found)] == want
    r = await client.get(
        "/fhir/Immunization",
        params={"patient": baby.id, "vaccine-code": "urn:hospital:local|bcg"},
        headers=clinic["nurse"],
    )
    assert issues(r, 422) == {"vaccine-code"}


async def test_a_dose_with_its_product_carries_the_product_and_its_cvx(client, clinic):
    from salomat.domains.immunization import service

    created = ok(await create(client, clinic), 201)
    product = service.calendar_options().vaccines["penta"]
    want = [{"system": VACCINE, "code": "penta", "display": product["label"]}]
    if product.get("cvx"):
        want.append({"system": CVX, "code": str(product["cvx"])})
    # as before: the product and its CVX, and not the group
    assert created["vaccineCode"]["coding"] == want


async def test_a_dose_from_elsewhere_may_name_only_the_vaccine_group(client, clinic):
    created = ok(await post(client, clinic, elsewhere(clinic["baby"].id)), 201)
    assert created["vaccineCode"]["coding"] == [
        {"system": SERIES, "code": "bcg", "display": _label("bcg")}
    ]
    assert created["protocolApplied"][0]["series"] == "bcg"
    assert created["primarySource"] is False
    # the series may be left to the group: it is the same code
    body = elsewhere(clinic["baby"].id, "hepb", on=BORN)
    del body["protocolApplied"][0]["series"]
    created = ok(await post(client, clinic, body), 201)
    assert created["protocolApplied"][0]["series"] == "hepb"
    assert created["vaccineCode"]["coding"][0]["code"] == "hepb"


async def test_a_dose_given_here_needs_its_product(client, clinic):
    body = elsewhere(clinic["baby"].id)
    del body["primarySource"], body["location"]
    r = await post(client, clinic, body)
    assert issues(r, 422) == {"Immunization.vaccineCode"}
    assert "primarySource false" in r.text
    assert VACCINE in r.text
    # nothing was stored
    found = ok(
        await client.get(
            "/fhir/Immunization", params={"patient": clinic["baby"].id}, headers=clinic["nurse"]
        )
    )
    assert found["total"] == 0


@pytest.mark.parametrize(
    ("group", "series", "wrong"),
    [
        ("bcg", "bcg", set()),
        ("hepb", "bcg", {"Immunization.vaccineCode"}),  # the group is not the series
        ("smallpox", "bcg", {"Immunization.vaccineCode"}),  # not in the value set
        ("smallpox", None, {"Immunization.vaccineCode", "Immunization.protocolApplied[0].series"}),
        ("BCG", "bcg", {"Immunization.vaccineCode"}),  # codes are case-sensitive
    ],
)
async def test_the_vaccine_group_must_be_a_calendar_antigen_and_the_series(
    client, clinic, group, series, wrong
):
    body = elsewhere(clinic["baby"].id, "bcg")
    body["vaccineCode"]["coding"][0]["code"] = group
    if series is None:
        del body["protocolApplied"][0]["series"]
    r = await post(client, clinic, body)
    if not wrong:
        assert r.status_code == 201, r.text
    else:
        assert issues(r, 422) == wrong


async def test_a_text_only_or_cvx_only_vaccine_is_refused_even_from_elsewhere(client, clinic):
    for vaccine in ({"text": "BCG"}, {"coding": [{"system": CVX, "code": "19"}]}):
        body = {**elsewhere(clinic["baby"].id), "vaccineCode": vaccine}
        r = await post(client, clinic, body)
        assert issues(r, 422) == {"Immunization.vaccineCode"}, vaccine
        assert r.status_code < 500


_CODES = st.sampled_from(["bcg", "hepb", "penta", "hepb_ped", "smallpox", "BCG", "x"])
_CODING = st.fixed_dictionaries(
    {
        "system": st.sampled_from([VACCINE, SERIES, CVX, "urn:hospital:local"]),
        "code": _CODES,
    }
)


@given(
    codings=st.lists(_CODING, max_size=3),
    series=st.one_of(st.none(), _CODES),
    primary=st.sampled_from([None, True, False]),
)
def test_the_parser_takes_any_vaccine_coding_without_failing(codings, series, primary):
    """Whatever the codings, the mapper gives a dose or a 422 naming elements; a dose
    without a product is one given elsewhere, and its series is the group it names."""
    from salomat.core.errors import Invalid
    from salomat.domains.immunization import service
    from salomat.fhir.immunization import from_fhir

    body: dict[str, Any] = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": codings} if codings else {"text": "a vaccine"},
        "patient": {"reference": "Patient/7"},
        "occurrenceDateTime": "2026-01-10",
        "protocolApplied": [{"doseNumberPositiveInt": 1}],
    }
    if series is not None:
        body["protocolApplied"][0]["series"] = series
    if primary is not None:
        body["primarySource"] = primary
    refused: Invalid | None = None
    try:
        _, dose = from_fhir(Immunization.model_validate(body), service.calendar_options())
    except Invalid as e:
        refused = e
    if refused is not None:
        assert refused.errors
        assert all(err.field.startswith("Immunization") for err in refused.errors)
        return
    groups = {c["code"] for c in codings if c["system"] == SERIES}
    if dose.vaccine is None:
        assert primary is False
        assert groups
    if groups:  # every group it names is its series
        assert groups == {dose.antigen}
    if series is not None:
        assert dose.antigen == series
