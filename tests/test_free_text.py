"""Free text refuses control and direction characters wherever the platform takes it.

The REST API, the pages' forms, FHIR and the CSV imports all answer with the
field and the character's code point; nothing is stored. The type itself is
tested in tests/core/test_text.py.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.domains.prescription import service as prescription_service
from salomat.domains.registry import service as registry_service
from tests.factories import national_id_for, unique, unique_name

pytestmark = pytest.mark.anyio

RLO = "\u202e"  # right-to-left override: "Kari\u202eavomi" shows as "Karimova"
BELL = "\x07"
BIRTH = date(1988, 5, 17)
FHIR_JSON = "application/fhir+json"
FORMULARY_HEADER = "code,inn,atc,trade_name,form,strength,unit,units_per_package,reference_price"


_CYRILLIC_HEX = str.maketrans("0123456789abcdef", "бвгдклмнпрстфхқў")


def person(**kw: Any) -> dict[str, Any]:
    return {
        "family_name": unique_name("Ka"),
        "given_name": unique_name("Di"),
        "birth_date": BIRTH.isoformat(),
        "sex": "female",
        **kw,
    }


def refused(r: Any, field: str, code_point: str) -> str:
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert field in errors, errors
    assert code_point in errors[field]
    return errors[field]


@pytest.fixture
async def registrar(make_user, login) -> dict[str, str]:
    return await login(await make_user("registrar"))


@pytest.mark.parametrize(
    ("field", "value", "code_point"),
    [
        ("family_name", f"Kari{RLO}avomi", "U+202E"),
        ("given_name", f"Dil{BELL}noza", "U+0007"),
        ("patronymic", "Rustam\u2066ovna", "U+2066"),
        ("address", "Navoiy ko\u02bbchasi 5\nkv. 3", "U+000A"),
        ("address", "Navoiy\u0085ko\u02bbchasi", "U+0085"),
        ("family_name", "Kari\u200fmova", "U+200F"),
    ],
)
async def test_registration_refuses_the_field_and_names_the_code_point(
    client, registrar, field: str, value: str, code_point: str
) -> None:
    body = person(**{field: value})
    message = refused(
        await client.post("/api/v1/persons", json=body, headers=registrar), field, code_point
    )
    assert message.startswith(("contains", "must be a single line"))
    found = await client.get(
        "/api/v1/persons", params={"name": body["family_name"]}, headers=registrar
    )
    assert all(p["family_name"] != body["family_name"] for p in found.json().get("items", []))


async def test_names_in_both_scripts_with_apostrophes_and_hyphens_are_registered(
    client, registrar
) -> None:
    for family, given in [
        # ʻ and ʼ go in the address: the registry's one-script rule does not yet count
        # modifier letters as Latin (country.names.script_of), a separate matter
        (unique_name("Ne'matova-Karimova"), "Gulshan"),
        ("Қодирова-" + unique("").translate(_CYRILLIC_HEX), "Ўғилой"),
    ]:
        r = await client.post(
            "/api/v1/persons",
            json=person(
                family_name=family,
                given_name=given,
                address="Gʻalaba koʻchasi, Abay d.\u00a012, qoʻrgʻon",
            ),
            headers=registrar,
        )
        assert r.status_code == 201, r.text
        assert r.json()["family_name"] == family


async def test_a_correction_is_refused_too(client, registrar) -> None:
    created = await client.post("/api/v1/persons", json=person(), headers=registrar)
    assert created.status_code == 201, created.text
    r = await client.patch(
        f"/api/v1/persons/{created.json()['id']}",
        json={"address": f"Toshkent{RLO}"},
        headers={**registrar, "If-Match": created.headers["etag"]},
    )
    refused(r, "address", "U+202E")


async def test_fhir_patient_names_the_element_and_the_code_point(client, registrar) -> None:
    body = {
        "resourceType": "Patient",
        "name": [{"family": f"Kari{RLO}mova", "given": [unique_name("Gu")]}],
        "gender": "female",
        "birthDate": BIRTH.isoformat(),
    }
    r = await client.post(
        "/fhir/Patient", json=body, headers={**registrar, "Content-Type": FHIR_JSON}
    )
    assert r.status_code == 422, r.text
    issues = r.json()["issue"]
    assert any("U+202E" in i.get("diagnostics", "") for i in issues), issues


async def _formulary(db, text: str) -> Any:
    report = await prescription_service.import_formulary(db, text)
    await db.commit()
    return report


@pytest.fixture
async def clinic(db, make_facility, make_person, make_user, login) -> dict[str, Any]:
    fac = await make_facility()
    patient = await make_person(facility_code=fac.code, birth_date=date(1960, 3, 1))
    doctor = await login(await make_user("family_doctor", facility_code=fac.code))
    code = unique("PAR")
    report = await _formulary(
        db, f"{FORMULARY_HEADER}\n{code},paracetamol,N02BE01,,tablet,500 mg,tablet,20,300000"
    )
    assert not report.errors
    return {"patient": patient, "doctor": doctor, "code": code, "facility": fac}


def _rx(code: str, instructions: str) -> dict[str, Any]:
    return {
        "medicine": code,
        "kind": "regular",
        "dose_units": 1,
        "times_per_day": 1,
        "days": 5,
        "instructions": instructions,
    }


async def test_notes_keep_their_lines_but_not_control_characters(client, clinic) -> None:
    url = f"/api/v1/persons/{clinic['patient'].id}/prescriptions"
    r = await client.post(
        url, json=_rx(clinic["code"], f"after meals{BELL}"), headers=clinic["doctor"]
    )
    refused(r, "instructions", "U+0007")
    r = await client.post(
        url, json=_rx(clinic["code"], "after meals\r\n\twith water"), headers=clinic["doctor"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["instructions"] == "after meals\r\n\twith water"


async def test_fhir_medication_request_instructions_are_refused(client, clinic) -> None:
    body = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{clinic['patient'].id}"},
        "medicationCodeableConcept": {
            "coding": [{"system": "urn:salomat:formulary", "code": clinic["code"]}]
        },
        "courseOfTherapyType": {
            "coding": [{"system": "urn:salomat:prescription-type", "code": "regular"}]
        },
        "dosageInstruction": [
            {
                "text": f"twice{RLO} a day",
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1}}],
            }
        ],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 5, "unit": "days", "code": "d"}},
    }
    r = await client.post(
        "/fhir/MedicationRequest",
        json=body,
        headers={**clinic["doctor"], "Content-Type": FHIR_JSON},
    )
    assert r.status_code == 422, r.text
    issues = r.json()["issue"]
    assert any("U+202E" in i.get("diagnostics", "") for i in issues), issues
    assert any("dosageInstruction" in x for i in issues for x in i.get("expression", [])), issues


async def test_the_registration_form_shows_the_message_and_stores_nothing(
    client, make_user
) -> None:
    registrar = await make_user("registrar")
    client.cookies.set("salomat_lang", "en")
    form = await client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    await client.post(
        "/login",
        data={"username": registrar.username, "password": registrar.password, "login_csrf": token},
    )
    home = await client.get("/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    born = date(1975, 2, 3)
    nid = national_id_for(born, "female")
    r = await client.post(
        "/patients/new",
        data={
            "csrf_token": csrf,
            "national_id": nid,
            "family_name": f"Kari{RLO}mova",
            "given_name": unique_name("Ma"),
            "patronymic": "",
            "birth_date": born.isoformat(),
            "sex": "female",
            "phone": "",
            "settlement_code": "",
            "attached_facility_code": registrar.facility_code or "",
            "section_code": "",
        },
    )
    assert r.status_code == 422
    assert "U+202E" in r.text
    async with registry_service_session() as s:
        assert await registry_service.person_id_by_national_id(s, nid) is None


def registry_service_session() -> Any:
    from salomat.core.db import session_factory

    return session_factory()()


def test_a_territory_csv_names_the_row_column_and_code_point() -> None:
    text = (
        "code,level,parent_code,name,name_uz,is_rural\n"
        f"R{unique('x')[-6:]},region,,Toshkent{BELL},Toshkent{RLO},\n"
    )
    _, issues = registry_service.check_territory_csv(text, ["uz"])
    found = {(i.line, i.column): i.message for i in issues}
    assert "U+0007" in found[(2, "name")]
    assert "U+202E" in found[(2, "name_uz")]


async def test_a_formulary_csv_with_a_control_character_imports_nothing(db) -> None:
    code = unique("IBU")
    report = await _formulary(
        db, f"{FORMULARY_HEADER}\n{code},ibu\x1bprofen,M01AE01,,tablet,200 mg,tablet,20,100"
    )
    assert [(e.column, "U+001B" in e.reason) for e in report.errors] == [("inn", True)]
    assert await prescription_service.medicine_by_code(db, code) is None


async def test_a_lone_surrogate_escape_in_json_is_refused_not_a_500(client, registrar) -> None:
    raw = (
        '{"family_name": "Kari\\ud800mova", "given_name": "Dilnoza", '
        '"birth_date": "1988-05-17", "sex": "female"}'
    )
    r = await client.post(
        "/api/v1/persons",
        content=raw.encode(),
        headers={**registrar, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["family_name"]


async def test_fhir_immunization_lot_and_place_are_refused(
    client, make_facility, make_person, make_user, login
) -> None:
    from tests.fhir.test_immunization import resource

    fac = await make_facility()
    born = date.today() - timedelta(days=150)
    baby = await make_person(facility_code=fac.code, birth_date=born, sex="female")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    for extra, code_point in (
        ({"lotNumber": f"AB{BELL}123"}, "U+0007"),
        ({"primarySource": False, "location": {"display": f"Almaty{RLO}"}}, "U+202E"),
    ):
        body = resource(baby.id, on=born + timedelta(days=61), **extra)
        r = await client.post(
            "/fhir/Immunization", json=body, headers={**nurse, "Content-Type": FHIR_JSON}
        )
        assert r.status_code == 422, r.text
        issues = r.json()["issue"]
        assert any(code_point in i.get("diagnostics", "") for i in issues), issues


async def test_the_cancel_form_refuses_a_direction_character_too(client, clinic, make_user) -> None:
    from tests.domains.registry.test_web import web_login

    url = f"/api/v1/persons/{clinic['patient'].id}/prescriptions"
    created = await client.post(url, json=_rx(clinic["code"], "once"), headers=clinic["doctor"])
    assert created.status_code == 201, created.text
    p = created.json()
    doctor = await make_user("family_doctor", facility_code=clinic["facility"].code)
    csrf = await web_login(client, doctor)
    r = await client.post(
        f"/patients/{clinic['patient'].id}/prescriptions/{p['id']}/cancel",
        data={"csrf_token": csrf, "reason": f"dose{RLO} changed", "version": str(p["version"])},
    )
    assert r.status_code == 422, r.text
    assert "U+202E" in r.text
    got = await client.get(f"/api/v1/prescriptions/{p['id']}", headers=clinic["doctor"])
    assert got.json()["status"] == "active"


async def test_well_child_visit_notes_and_illnesses(
    client, make_facility, make_person, make_user, login
) -> None:
    fac = await make_facility()
    child = await make_person(facility_code=fac.code, birth_date=date.today() - timedelta(days=60))
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    url = f"/api/v1/persons/{child.id}/well-child-visits"
    r = await client.post(url, json={"illnesses": ["cold", f"otitis{RLO}"]}, headers=nurse)
    refused(r, "illnesses.1", "U+202E")
    r = await client.post(url, json={"notes": f"well{BELL}"}, headers=nurse)
    refused(r, "notes", "U+0007")
    r = await client.post(
        url, json={"illnesses": ["cold"], "notes": "well\nfeeds every 3 hours"}, headers=nurse
    )
    assert r.status_code == 201, r.text
