"""The national profiles (issue 19 item 5): StructureDefinitions published and searched,
listed in the CapabilityStatement, and ``$validate`` with a profile: what our own mappers
emit conforms; a wrong check digit, a vaccine outside the value set, a missing element do
not, each named with its element."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.structuredefinition import StructureDefinition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.country import national_id
from salomat.domains.prescription import service as prescriptions
from salomat.fhir import profiles, profiles_check, terminology
from salomat.fhir.dispense import PRICE
from tests.domains.prescription.dispensing_data import make_case, pharmacist
from tests.factories import national_id_for, unique

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
SD = profiles.PROFILE_BASE
TODAY = date.today()
HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"
FORMULARY = "urn:salomat:formulary"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SERIES = "urn:salomat:immunization-series"


def ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(FHIR_JSON)
    return r.json()


# ---- what our mappers emit (also fed to the independent validator) -------------------


async def emitted(
    http: httpx.AsyncClient,
    db: Any,
    make_facility: Any,
    make_person: Any,
    make_user: Any,
    auth: Any,
) -> dict[str, dict[str, Any]]:
    """Resources as our FHIR API answers them, labelled: a Patient, a baby's
    Immunization, a MedicationRequest, a pregnancy with its readings and conditions."""
    fac = await make_facility()
    born = TODAY - timedelta(days=150)
    baby = await make_person(
        facility_code=fac.code, birth_date=born, sex="female",
        national_id=national_id_for(born, "female"),
    )  # fmt: skip
    woman = await make_person(facility_code=fac.code)
    doctor = await auth(await make_user("family_doctor", facility_code=fac.code))
    h = {**doctor, "Content-Type": FHIR_JSON}
    out: dict[str, dict[str, Any]] = {}

    out["patient"] = ok(await http.get(f"/fhir/Patient/{baby.id}", headers=doctor))
    dose = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "urn:salomat:vaccine", "code": "penta"}]},
        "patient": {"reference": f"Patient/{baby.id}"},
        "occurrenceDateTime": (born + timedelta(days=61)).isoformat(),
        "lotNumber": "AB123",
        "site": {"coding": [{"system": "urn:salomat:immunization-site", "code": "left_thigh"}]},
        "protocolApplied": [{"series": "penta", "doseNumberPositiveInt": 1}],
    }
    out["immunization"] = ok(await http.post("/fhir/Immunization", json=dose, headers=h), 201)
    # a paper card's dose: given elsewhere, the product not known (the vaccine group)
    paper = {
        **{k: v for k, v in dose.items() if k not in ("lotNumber", "site")},
        "vaccineCode": {"coding": [{"system": SERIES, "code": "bcg"}]},
        "occurrenceDateTime": (born + timedelta(days=1)).isoformat(),
        "primarySource": False,
        "location": {"display": "Maternity ward, paper card"},
        "protocolApplied": [{"series": "bcg", "doseNumberPositiveInt": 1}],
    }
    out["immunization-no-product"] = ok(
        await http.post("/fhir/Immunization", json=paper, headers=h), 201
    )
    # every dose of a child entered as the packs' demo data is (no product)
    child = await demo_child(db, make_person, fac.code)
    found = ok(
        await http.get(
            "/fhir/Immunization", params={"patient": child.id, "_count": 100}, headers=doctor
        )
    )
    for e in found["entry"]:
        out[f"immunization-demo-{e['resource']['id']}"] = e["resource"]

    code = unique("AML")
    await prescriptions.import_formulary(
        db, f"{HEADER}\n{code},amlodipine,C08CA01,Amlo,tablet,10 mg,tablet,30,2200000\n"
    )
    await db.commit()
    rx = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{woman.id}"},
        "medicationCodeableConcept": {"coding": [{"system": FORMULARY, "code": code}]},
        "reasonCode": [{"coding": [{"system": ICD10, "code": "I10"}]}],
        "courseOfTherapyType": {
            "coding": [{"system": "urn:salomat:prescription-type", "code": "reimbursed"}]
        },
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 0.5}}],
            }
        ],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"}},
    }
    out["medication-request"] = ok(
        await http.post("/fhir/MedicationRequest", json=rx, headers=h), 201
    )

    lmp = TODAY - timedelta(weeks=20)
    registered = lmp + timedelta(weeks=10)
    r = await http.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 1, "parity": 0,
              "registered_on": registered.isoformat()},
        headers=doctor,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    preg = r.json()
    etag = (await http.get(f"/api/v1/pregnancies/{preg['id']}", headers=doctor)).headers["etag"]
    r = await http.post(
        f"/api/v1/pregnancies/{preg['id']}/contacts",
        json={"on": TODAY.isoformat(), "systolic_1": 150, "diastolic_1": 95, "systolic_2": 152,
              "diastolic_2": 96, "weight_kg": 64.5, "haemoglobin_g_l": 118,
              "fetal_heart_rate_1": 140, "fundal_height_cm": 20.0, "urine_protein": "none"},
        headers={**doctor, "If-Match": etag},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    out["pregnancy"] = ok(await http.get(f"/fhir/EpisodeOfCare/{preg['id']}", headers=doctor))
    observations = ok(
        await http.get("/fhir/Observation", params={"patient": woman.id}, headers=doctor)
    )
    conditions = ok(await http.get("/fhir/Condition", params={"patient": woman.id}, headers=doctor))
    for b in (observations, conditions):
        for e in b.get("entry", []):
            res = e["resource"]
            out[f"{res['resourceType'].lower()}-{res['id']}"] = res
    assert any(k.startswith("observation-") for k in out)
    assert any(k.startswith("condition-") for k in out)

    # the shared record: what a hospital sends, kept as sent
    hospital = await make_facility("district_hospital")
    nurse = await auth(await make_user("nurse", facility_code=hospital.code))
    hn = {**nurse, "Content-Type": FHIR_JSON}
    sent = {
        "Observation": {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            "subject": {"reference": f"Patient/{woman.id}"},
            "effectiveDateTime": TODAY.isoformat(),
            "valueQuantity": {"value": 118, "unit": "g/L", "system": "http://unitsofmeasure.org",
                              "code": "g/L"},
        },
        "Condition": {
            "resourceType": "Condition",
            "code": {"coding": [{"system": ICD10, "code": "O13"}]},
            "subject": {"reference": f"Patient/{woman.id}"},
            "recordedDate": f"{TODAY.isoformat()}T09:00:00+05:00",
        },
    }  # fmt: skip
    for t, body in sent.items():
        out[f"record-{t.lower()}"] = ok(await http.post(f"/fhir/{t}", json=body, headers=hn), 201)

    # a pharmacy's dispensing of an e-prescription
    case = await make_case(db, make_facility, make_person, quantity=60, pct=50)
    chemist = await auth(await pharmacist(make_facility, make_user))
    r = await http.post(
        "/api/v1/dispensing/lookup",
        json={"code": case.rx.code, "national_id": case.national_id},
        headers=chemist,
    )
    assert r.status_code == 200, r.text
    r = await http.post(
        f"/api/v1/prescriptions/{case.rx.id}/dispensings",
        json={"packages": 1, "price": 30_000},
        headers=chemist,
    )
    assert r.status_code == 201, r.text
    its_doctor = await auth(await make_user("family_doctor", facility_code=case.clinic.code))
    out["medication-dispense"] = ok(
        await http.get(f"/fhir/MedicationDispense/{r.json()['id']}", headers=its_doctor)
    )
    return out


async def demo_child(db: Any, make_person: Any, facility_code: str) -> Any:
    """A 12-year-old with the first two doses of every series of the calendar entered as
    the packs' demo data enters them (``load_demo_immunizations``: no product)."""
    from salomat.domains.immunization import service as immunization
    from salomat.domains.immunization.service.demo import load_demo_immunizations

    born = TODAY - timedelta(days=12 * 365)
    child = await make_person(
        facility_code=facility_code, birth_date=born, sex="female",
        national_id=national_id_for(born, "female"),
    )  # fmt: skip
    cal = immunization.calendar_options()
    doses: dict[str, dict[int, date]] = {}
    for k, antigen in enumerate(sorted({s.antigen for s in cal.series})):
        numbers = [n for n in range(1, 10) if cal.accepts(antigen, n)][:2]
        doses[antigen] = {n: born + timedelta(days=60 * j + 400 * k + 1) for j, n in
                          enumerate(numbers)}  # fmt: skip
    assert await load_demo_immunizations(
        db, [{"child": child.national_id, "at": facility_code, "doses": doses}], today=TODAY
    )
    await db.commit()
    return child


#: which profile each emitted resource is checked against
def profile_for(label: str, resource: dict[str, Any]) -> str:
    t = resource["resourceType"]
    if label.startswith("record-"):
        return f"salomat-record-{t.lower()}"
    return {
        "Patient": "salomat-patient",
        "Immunization": "salomat-immunization",
        "MedicationRequest": "salomat-medication-request",
        "MedicationDispense": "salomat-medication-dispense",
        "EpisodeOfCare": "salomat-pregnancy",
        "Observation": "salomat-pregnancy-observation",
        "Condition": "salomat-pregnancy-condition",
    }[t]


async def validate(
    http: httpx.AsyncClient, headers: dict[str, str], resource: dict[str, Any], profile: str
) -> dict[str, Any]:
    r = await http.post(
        f"/fhir/{resource['resourceType']}/$validate",
        params={"profile": SD + profile},
        json=resource,
        headers={**headers, "Content-Type": FHIR_JSON},
    )
    body = ok(r)
    OperationOutcome.model_validate(body)
    return body


def errors(outcome: dict[str, Any]) -> list[tuple[str, str]]:
    """(element path, issue code) of each error."""
    return sorted(
        (i.get("expression", [""])[0], i["code"])
        for i in outcome["issue"]
        if i["severity"] in ("error", "fatal")
    )


@pytest.fixture
async def reader(make_facility, make_user, login) -> dict[str, str]:
    fac = await make_facility()
    return await login(await make_user("family_doctor", facility_code=fac.code))


# ---- publishing ----------------------------------------------------------------------


async def test_the_profiles_are_published_searchable_and_in_the_capability_statement(
    client, reader, make_person, make_user, login
):
    b = ok(await client.get("/fhir/StructureDefinition", params={"_count": 100}, headers=reader))
    Bundle.model_validate(b)
    published = {e["resource"]["id"]: e["resource"] for e in b["entry"]}
    assert b["total"] == len(profiles.profiles()) == len(published)
    for sd in published.values():
        StructureDefinition.model_validate(sd)
        assert sd["url"] == SD + sd["id"]
        assert (sd["kind"], sd["derivation"], sd["fhirVersion"], sd["status"]) == (
            "resource", "constraint", "4.0.1", "active",
        )  # fmt: skip
        assert sd["baseDefinition"] == f"http://hl7.org/fhir/StructureDefinition/{sd['type']}"
        assert "snapshot" not in sd
        assert sd["differential"]["element"]
    # the national id: both countries' systems from their packs, each sliced by system
    patient = published["salomat-patient"]
    fixed = {e["fixedUri"] for e in patient["differential"]["element"] if "fixedUri" in e}
    assert fixed == {national_id.system_uri("UZ"), national_id.system_uri("KZ")}
    # the vaccine bound (required) to the terminology's national value set
    imm = {e["id"]: e for e in published["salomat-immunization"]["differential"]["element"]}
    assert imm["Immunization.vaccineCode"]["binding"] == {
        "strength": "required",
        "valueSet": terminology.value_set_url("immunization-vaccine"),
    }
    # every bound value set is published by the terminology
    for sd in published.values():
        for e in sd["differential"]["element"]:
            if "binding" in e:
                vs = ok(
                    await client.get(
                        "/fhir/ValueSet", params={"url": e["binding"]["valueSet"]}, headers=reader
                    )
                )
                assert vs["total"] == 1, e

    # read, and search by url, type, name, paging
    one = ok(await client.get("/fhir/StructureDefinition/salomat-patient", headers=reader))
    assert one == patient
    by_url = ok(
        await client.get("/fhir/StructureDefinition", params={"url": SD + "salomat-immunization"},
                         headers=reader)
    )  # fmt: skip
    assert [e["resource"]["id"] for e in by_url["entry"]] == ["salomat-immunization"]
    by_type = ok(
        await client.get("/fhir/StructureDefinition", params={"type": "Condition"}, headers=reader)
    )
    assert {e["resource"]["id"] for e in by_type["entry"]} == {
        "salomat-pregnancy-condition",
        "salomat-record-condition",
    }
    by_name = ok(
        await client.get("/fhir/StructureDefinition", params={"name": "salomatmed"}, headers=reader)
    )
    assert by_name["total"] == 2
    page = ok(await client.get("/fhir/StructureDefinition", params={"_count": 1}, headers=reader))
    assert len(page["entry"]) == 1
    assert any(link["relation"] == "next" for link in page["link"])
    assert ok(await client.get("/fhir/StructureDefinition/nope", headers=reader), 404)
    assert ok(
        await client.get("/fhir/StructureDefinition", params={"kind": "x"}, headers=reader), 422
    )
    assert ok(
        await client.get("/fhir/StructureDefinition", params={"_count": "-1"}, headers=reader), 422
    )
    # terminology:read: staff, not a citizen; and not without a login
    person = await make_person()
    citizen = await login(await make_user("citizen", person_id=person.id))
    assert (await client.get("/fhir/StructureDefinition", headers=citizen)).status_code == 403
    assert (await client.get("/fhir/StructureDefinition")).status_code == 401

    # the CapabilityStatement: supportedProfile of each profiled type, $validate, and
    # StructureDefinition itself
    cs = ok(await client.get("/fhir/metadata"))
    CapabilityStatement.model_validate(cs)
    entries = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert len(entries) == len(cs["rest"][0]["resource"])  # each type once
    for p in profiles.profiles():
        assert p.url in entries[p.type]["supportedProfile"], p.type
        assert "validate" in {o["name"] for o in entries[p.type]["operation"]}
    assert {i["code"] for i in entries["StructureDefinition"]["interaction"]} == {
        "read",
        "search-type",
    }


# ---- our own resources conform; broken ones do not -----------------------------------


async def test_what_our_mappers_emit_conforms_to_the_profiles(
    client, db, make_facility, make_person, make_user, login
):
    found = await emitted(client, db, make_facility, make_person, make_user, login)
    fac = await make_facility()
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    # the doses without a product carry the vaccine group: the series' own code
    from salomat.domains.immunization import service as immunization

    antigens = {s.antigen for s in immunization.calendar_options().series}
    demo = [r for label, r in found.items() if label.startswith("immunization-demo-")]
    assert {r["protocolApplied"][0]["series"] for r in demo} == antigens
    for res in [*demo, found["immunization-no-product"]]:
        coding = res["vaccineCode"]["coding"]
        assert [(c["system"], c["code"]) for c in coding] == [
            (SERIES, res["protocolApplied"][0]["series"])
        ]
    for label, res in found.items():
        outcome = await validate(client, doctor, res, profile_for(label, res))
        assert errors(outcome) == [], (label, outcome)
        assert outcome["issue"][0]["severity"] == "information"
        # meta.profile naming ours checks it the same way
        named = {**res, "meta": {**res.get("meta", {}), "profile": [SD + profile_for(label, res)]}}
        r = await client.post(
            f"/fhir/{res['resourceType']}/$validate",
            json=named,
            headers={**doctor, "Content-Type": FHIR_JSON},
        )
        assert errors(ok(r)) == [], label


async def test_a_kazakh_patient_conforms_too(
    client, make_facility, make_person, make_user, login, kz
):
    fac = await make_facility()
    born = date(1987, 10, 8)
    person = await make_person(
        facility_code=fac.code, birth_date=born, sex="female",
        national_id=national_id_for(born, "female", "KZ"),
    )  # fmt: skip
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    patient = ok(await client.get(f"/fhir/Patient/{person.id}", headers=doctor))
    assert patient["identifier"][0]["system"] == national_id.system_uri("KZ")
    assert errors(await validate(client, doctor, patient, "salomat-patient")) == []
    bad = {**patient, "identifier": [{**patient["identifier"][0], "value": "871008401428"}]}
    assert errors(await validate(client, doctor, bad, "salomat-patient")) == [
        ("Patient.identifier[0]", "invariant")
    ]


@pytest.fixture
def kz(monkeypatch):  # type: ignore[no-untyped-def]
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_COUNTRY", "KZ")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def broken_cases(found: dict[str, dict[str, Any]]) -> dict[str, tuple[dict[str, Any], str]]:
    """Deliberately broken copies of emitted resources: (resource, profile id)."""
    patient = found["patient"]
    ident = patient["identifier"][0]
    digit = str((int(ident["value"][-1]) + 1) % 10)
    imm = found["immunization"]
    rx = found["medication-request"]
    preg = found["pregnancy"]
    disp = found["medication-dispense"]
    return {
        "wrong-checksum": (
            {**patient, "identifier": [{**ident, "value": ident["value"][:-1] + digit}]},
            "salomat-patient",
        ),
        "wrong-format": (
            {**patient, "identifier": [{**ident, "value": "9" + ident["value"][1:]}]},
            "salomat-patient",
        ),
        "two-national-ids": ({**patient, "identifier": [ident, ident]}, "salomat-patient"),
        "no-birth-date": (
            {k: v for k, v in patient.items() if k != "birthDate"},
            "salomat-patient",
        ),
        "vaccine-outside-the-value-set": (
            {
                **imm,
                "vaccineCode": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "999"}]
                },
            },
            "salomat-immunization",
        ),
        "vaccine-text-only": (
            {**imm, "vaccineCode": {"text": "a vaccine"}},
            "salomat-immunization",
        ),
        "vaccine-group-not-in-the-calendar": (
            {**imm, "vaccineCode": {"coding": [{"system": SERIES, "code": "smallpox"}]}},
            "salomat-immunization",
        ),
        "no-prescription-code": (
            {k: v for k, v in rx.items() if k != "identifier"},
            "salomat-medication-request",
        ),
        "reimbursement-over-100": (
            {**rx, "extension": [{**rx["extension"][0], "valueInteger": 150}]},
            "salomat-medication-request",
        ),
        "not-a-pregnancy": (
            {
                **preg,
                "type": [{"coding": [{"system": "urn:salomat:episode-type", "code": "other"}]}],
            },
            "salomat-pregnancy",
        ),
        "no-delivery-date": ({**preg, "extension": preg["extension"][1:]}, "salomat-pregnancy"),
        "price-not-the-sum": (
            {
                **disp,
                "extension": [
                    {**x, "valueInteger": x["valueInteger"] + (x["url"] == PRICE)}
                    for x in disp["extension"]
                ],
            },
            "salomat-medication-dispense",
        ),
        "two-prescriptions": (
            {**disp, "authorizingPrescription": disp["authorizingPrescription"] * 2},
            "salomat-medication-dispense",
        ),
    }


#: the errors each broken case gets (element path, issue code)
BROKEN_ERRORS = {
    "wrong-checksum": [("Patient.identifier[0]", "invariant")],
    "wrong-format": [
        ("Patient.identifier[0]", "invariant"),
        ("Patient.identifier[0]", "invariant"),
    ],
    "two-national-ids": [("Patient.identifier", "structure")],
    "no-birth-date": [("Patient.birthDate", "required")],
    "vaccine-outside-the-value-set": [("Immunization.vaccineCode", "code-invalid")],
    "vaccine-text-only": [("Immunization.vaccineCode", "code-invalid")],
    "vaccine-group-not-in-the-calendar": [("Immunization.vaccineCode", "code-invalid")],
    "no-prescription-code": [
        ("MedicationRequest.identifier", "required"),
        ("MedicationRequest.identifier", "required"),
    ],
    "reimbursement-over-100": [("MedicationRequest", "invariant")],
    "not-a-pregnancy": [("EpisodeOfCare.type[0]", "value")],
    "no-delivery-date": [("EpisodeOfCare", "invariant")],
    "price-not-the-sum": [("MedicationDispense", "invariant")],
    "two-prescriptions": [("MedicationDispense.authorizingPrescription", "structure")],
}


async def test_broken_resources_are_named_with_their_element(
    client, db, make_facility, make_person, make_user, login
):
    found = await emitted(client, db, make_facility, make_person, make_user, login)
    doctor = await login(
        await make_user("family_doctor", facility_code=(await make_facility()).code)
    )
    for label, (res, profile) in broken_cases(found).items():
        outcome = await validate(client, doctor, res, profile)
        assert errors(outcome) == sorted(BROKEN_ERRORS[label]), (label, outcome)
        for issue in outcome["issue"]:
            assert issue["details"]["text"]
            assert issue["diagnostics"]
    # a wrong check digit names its rule; in Russian when asked
    res, profile = broken_cases(found)["wrong-checksum"]
    r = await client.post(
        "/fhir/Patient/$validate",
        params={"profile": SD + profile},
        json=res,
        headers={**doctor, "Content-Type": FHIR_JSON, "Accept-Language": "ru"},
    )
    text = ok(r)["issue"][0]["details"]["text"]
    assert text.startswith("sal-pinfl-2: ")
    # the Parameters form
    params = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "resource", "resource": res},
            {"name": "profile", "valueUri": SD + profile},
            {"name": "mode", "valueCode": "create"},
        ],
    }
    r = await client.post(
        "/fhir/Patient/$validate", json=params, headers={**doctor, "Content-Type": FHIR_JSON}
    )
    assert errors(ok(r)) == [("Patient.identifier[0]", "invariant")]


async def test_a_bad_request_is_refused_and_an_unknown_profile_named(
    client, reader, make_person, make_user, login
):
    patient = {"resourceType": "Patient", "gender": "male", "birthDate": "1990-01-01",
               "name": [{"family": "Karimov", "given": ["Aziz"]}]}  # fmt: skip
    h = {**reader, "Content-Type": FHIR_JSON}

    async def post(path: str, body: Any, **params: str) -> httpx.Response:
        return await client.post(path, params=params, json=body, headers=h)

    # FHIR R4 only without a profile: conforms
    assert errors(ok(await post("/fhir/Patient/$validate", patient))) == []
    unknown = SD + "salomat-nothing"
    r = await post("/fhir/Patient/$validate", patient, profile=unknown)
    assert r.status_code == 404
    assert unknown in r.text
    r = await post("/fhir/Patient/$validate", {**patient, "meta": {"profile": [unknown]}})
    assert r.status_code == 404
    assert unknown in r.text
    # a profile of another type
    r = await post("/fhir/Patient/$validate", patient, profile=SD + "salomat-immunization")
    assert r.status_code == 422
    assert "Immunization" in r.text
    # a foreign profile in meta.profile is said to be unchecked, not refused
    foreign = {**patient, "meta": {"profile": ["http://example.org/StructureDefinition/x"]}}
    out = ok(await post("/fhir/Patient/$validate", foreign))
    assert "not-supported" in {i["code"] for i in out["issue"]}
    assert errors(out) == []
    # not FHIR R4: an error issue naming the element, still 200 (R4's $validate)
    out = ok(await post("/fhir/Patient/$validate", {**patient, "gender": 5},
                        profile=SD + "salomat-patient"))  # fmt: skip
    assert ("Patient.gender", "invalid") in errors(out)
    # unknown parameters; a citizen has no terminology:read
    assert (await post("/fhir/Patient/$validate", patient, mode="x")).status_code == 422
    r = await post("/fhir/Patient/$validate", {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patient}, {"name": "x", "valueString": "y"}]})  # fmt: skip
    assert r.status_code == 422
    citizen = await login(await make_user("citizen", person_id=(await make_person()).id))
    r = await client.post(
        "/fhir/Patient/$validate", json=patient, headers={**citizen, "Content-Type": FHIR_JSON}
    )
    assert r.status_code == 403


async def test_the_records_validate_is_unchanged_without_a_profile_and_adds_one(
    client, make_facility, make_person, make_user, login
):
    fac = await make_facility()
    person = await make_person(facility_code=fac.code)
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    h = {**nurse, "Content-Type": FHIR_JSON}
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "subject": {"reference": f"Patient/{person.id}"},
        "effectiveDateTime": TODAY.isoformat(),
        "valueQuantity": {"value": 120, "unit": "g/L", "system": "http://unitsofmeasure.org",
                          "code": "g/L"},
    }  # fmt: skip
    plain = ok(await client.post("/fhir/Observation/$validate", json=obs, headers=h))
    assert plain["issue"][0]["severity"] == "information"
    assert "create would accept" in plain["issue"][0]["diagnostics"]
    r = await client.post(
        "/fhir/Observation/$validate",
        params={"profile": SD + "salomat-record-observation"},
        json=obs,
        headers=h,
    )
    assert errors(ok(r)) == []
    # the record's checks still apply under a profile: an unknown patient
    stranger = {**obs, "subject": {"reference": "Patient/999999999"}}
    r = await client.post(
        "/fhir/Observation/$validate",
        params={"profile": SD + "salomat-pregnancy-observation"},
        json={k: v for k, v in stranger.items() if k != "effectiveDateTime"},
        headers=h,
    )
    found = errors(ok(r))
    assert ("Observation.effective", "required") in found
    assert any(path.startswith("Observation.subject") for path, _ in found)


# ---- the national id invariants are the packs' rules --------------------------------


@pytest.mark.parametrize(("country", "scheme"), [("UZ", "pinfl"), ("KZ", "iin")])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fhirpath_check_digit_agrees_with_the_pack(country, scheme, data):
    length = 14 if scheme == "pinfl" else 12
    value = data.draw(
        st.one_of(
            st.text(alphabet="0123456789", min_size=length, max_size=length),
            st.builds(
                lambda d, s: national_id_for(d, s, country),
                st.dates(date(1900, 1, 1), date(2099, 12, 31)),
                st.sampled_from(["male", "female"]),
            ),
            st.text(alphabet="0123456789a ", min_size=length - 1, max_size=length + 1),
        )
    )
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": national_id.system_uri(country), "value": value}],
    }
    issues = profiles_check.check(patient, profiles.by_id()["salomat-patient"])
    keys = {i.params.get("key") for i in issues if i.code == "invariant"}
    try:
        national_id.parse(value, country)
        valid = True
    except national_id.NationalIdError:
        valid = False
    # the pack's parse also refuses a birth date that does not exist (31 February): the
    # profile checks the format, the century digit and the check digit only
    assert (keys == set()) == _format_and_check_digit_ok(value, country), (value, keys)
    if valid:
        assert keys == set(), (value, keys)


def _format_and_check_digit_ok(value: str, country: str) -> bool:
    rules = pack_rules(country)
    digits = [int(c) for c in value] if value.isascii() and value.isdigit() else []
    if (
        len(digits) != rules["length"]
        or value[0 if rules["scheme"] == "pinfl" else 6] not in "123456"
    ):
        return False
    if rules["scheme"] == "pinfl":
        return national_id.pinfl_check_digit(digits, rules["check_weights"]) == digits[13]
    return (
        national_id.iin_check_digit(digits, rules["check_weights"], rules["check_weights_second"])
        == digits[11]
    )


def pack_rules(country: str) -> dict[str, Any]:
    from salomat.country import pack

    return pack.load(country)["national_id"]


# ---- no input breaks it -----------------------------------------------------------------

KEYS = st.sampled_from(
    ["identifier", "system", "value", "vaccineCode", "coding", "code", "extension", "url",
     "valueInteger", "meta", "profile", "type", "patient", "reference", "subject", "name",
     "family", "effectiveDateTime", "medicationCodeableConcept", "birthDate", "period"]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.dictionaries(KEYS, JSON, max_size=6), which=st.sampled_from(range(12)))
def test_the_checker_answers_issues_for_any_json(body, which):
    profile = profiles.profiles()[which % len(profiles.profiles())]
    issues = profiles_check.check({**body, "resourceType": profile.type}, profile)
    for i in issues:
        assert i.severity in ("error", "warning")
        assert i.expression.startswith(profile.type)


async def test_hostile_requests_are_answered_without_a_server_error(client, reader):
    h = {**reader, "Content-Type": FHIR_JSON}
    pinfl = national_id.system_uri("UZ")
    bodies: list[Any] = [
        [],
        "x",
        5,
        {"resourceType": "Parameters", "parameter": 5},
        {"resourceType": "Parameters", "parameter": [5, {"name": "profile", "valueUri": 7}]},
        {"resourceType": "Patient", "identifier": "x"},
        {"resourceType": "Patient", "identifier": [{"system": pinfl, "value": 5}]},
        {"resourceType": "Patient", "identifier": [{"system": pinfl, "value": "٣١٢٠٨٩٠٢٦٢٠٠٣٦"}]},
        {"resourceType": "Patient", "meta": {"profile": "x"}},
        {"resourceType": "Patient", "meta": {"profile": [5, None, SD + "salomat-patient|9"]}},
        {
            "resourceType": "Immunization",
            "vaccineCode": {"coding": [{"system": ["x"], "code": {}}]},
        },
        {"resourceType": "Observation"},
    ]
    for body in bodies:
        for t in ("Patient", "Immunization", "Observation", "EpisodeOfCare"):
            for params in ({}, {"profile": SD + profiles.of_type(t)[0].id}):
                r = await client.post(f"/fhir/{t}/$validate", params=params, json=body, headers=h)
                assert r.status_code in (200, 400, 404, 422), (t, body, r.text)
                OperationOutcome.model_validate(r.json())
