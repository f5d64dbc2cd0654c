"""FHIR Patient: the national person index as other systems see it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from salomat.core.config import get_settings
from salomat.country.national_id import system_uri
from salomat.domains.registry.schemas import PersonOut
from salomat.fhir import patient as mapper
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio

FHIR_JSON = "application/fhir+json"
BIRTH = date(1991, 3, 14)
REASON = "unconscious patient brought to the emergency room"


def system() -> str:
    return system_uri(get_settings().country)


def country() -> str:
    return get_settings().country


def patient_body(
    family: str | None = None,
    given: str | None = None,
    *,
    patronymic: str | None = None,
    birth: date = BIRTH,
    sex: str = "female",
    national_id: str | None = None,
    **extra,
) -> dict:
    given_names = [given or unique_name("Gu")]
    if patronymic:
        given_names.append(patronymic)
    body = {
        "resourceType": "Patient",
        "name": [{"family": family or unique_name("Ra"), "given": given_names}],
        "gender": sex,
        "birthDate": birth.isoformat(),
        **extra,
    }
    if national_id:
        body["identifier"] = [{"system": system(), "value": national_id}]
    return body


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    return r.json()


def patient(r, status: int = 200) -> dict:
    body = ok(r, status)
    Patient.model_validate(body)
    assert r.headers["etag"] == f'W/"{body["meta"]["versionId"]}"'
    assert r.headers["last-modified"].endswith("GMT")
    return body


def bundle(r) -> dict:
    body = ok(r)
    Bundle.model_validate(body)
    return body


def ids(b: dict) -> list[str]:
    return [e["resource"]["id"] for e in b.get("entry", [])]


def outcome(r, status: int) -> list[dict]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == FHIR_JSON
    body = r.json()
    OperationOutcome.model_validate(body)
    return body["issue"]


def expressions(issues: list[dict]) -> set[str]:
    return {x for i in issues for x in i.get("expression", [])}


@pytest.fixture
async def registrar(make_user, login):
    return await login(await make_user("registrar"))


async def create(client, auth, body: dict, status: int = 201, **headers) -> dict:
    r = await client.post(
        "/fhir/Patient",
        json=body,
        headers={**auth, "Content-Type": FHIR_JSON, **headers},
    )
    return patient(r, status) if status < 300 else r


# ---- create and read ------------------------------------------------------------------


async def test_create_answers_the_patient_with_version_headers(client, registrar, make_facility):
    fac = await make_facility()
    nid = national_id_for(BIRTH, "female", country())
    body = patient_body(
        "Karimova",
        "Dilnoza",
        patronymic="Rustamovna",
        national_id=nid,
        telecom=[{"system": "phone", "value": "+998901234567"}],
        generalPractitioner=[{"reference": f"Organization/{fac.id}"}],
    )
    r = await client.post("/fhir/Patient", json=body, headers=registrar)
    res = patient(r, 201)
    pid = res["id"]
    assert r.headers["location"] == f"http://testserver/fhir/Patient/{pid}/_history/1"
    assert r.headers["etag"] == 'W/"1"'
    assert res["meta"]["versionId"] == "1"
    assert res["active"] is True
    assert res["identifier"] == [
        {
            "use": "official",
            "type": {"coding": [{"system": mapper.V2_0203, "code": "NI"}]},
            "system": system(),
            "value": nid,
        }
    ]
    entered, translit = res["name"]
    assert entered["use"] == "official"
    assert entered["family"] == "Karimova"
    assert entered["given"] == ["Dilnoza", "Rustamovna"]
    assert {"url": mapper.LANGUAGE_EXT, "valueCode": "und-Latn"} in entered["extension"]
    assert "use" not in translit
    assert translit["family"] == "Каримова"
    assert translit["given"][0] == "Дилноза"
    assert {"url": mapper.LANGUAGE_EXT, "valueCode": "und-Cyrl"} in translit["extension"]
    assert {"url": mapper.TRANSLITERATION_EXT, "valueBoolean": True} in translit["extension"]
    assert res["telecom"] == [{"system": "phone", "value": "+998901234567", "use": "mobile"}]
    assert res["generalPractitioner"][0]["reference"] == f"Organization/{fac.id}"
    assert res["generalPractitioner"][0]["identifier"]["value"] == fac.code

    read = patient(await client.get(f"/fhir/Patient/{pid}", headers=registrar))
    assert read == res


async def test_a_clinician_of_another_facility_gets_404_until_breaking_the_glass(
    client, make_user, make_person, login, make_facility
):
    home = await make_facility()
    person = await make_person(home.code)
    doctor = await make_user("family_doctor")
    auth = await login(doctor)
    missing = outcome(await client.get(f"/fhir/Patient/{person.id}", headers=auth), 404)
    assert missing[0]["code"] == "not-found"
    # the same answer as an id that does not exist
    assert outcome(await client.get("/fhir/Patient/999999999", headers=auth), 404)[0][
        "diagnostics"
    ] == missing[0]["diagnostics"].replace(str(person.id), "999999999")

    r = await client.post(
        "/api/v1/break-glass", json={"person_id": person.id, "reason": REASON}, headers=auth
    )
    assert r.status_code == 201, r.text
    res = patient(await client.get(f"/fhir/Patient/{person.id}", headers=auth))
    assert res["id"] == str(person.id)

    auditor = await login(await make_user("auditor"))
    trail = bundle(
        await client.get(
            "/fhir/AuditEvent",
            params={"patient": f"Patient/{person.id}", "action": "R"},
            headers=auditor,
        )
    )
    reads = [
        e["resource"]
        for e in trail["entry"]
        if e["resource"]["agent"][0]["altId"] == doctor.username
    ]
    assert len(reads) == 1
    (agent,) = reads[0]["agent"]
    assert agent["purposeOfUse"][0]["coding"][0]["code"] == "BTG"
    assert REASON in reads[0]["purposeOfEvent"][0]["text"]


async def test_a_clinician_reads_people_attached_to_their_facility(
    client, make_user, make_person, login
):
    nurse = await make_user("nurse")
    person = await make_person(nurse.facility_code)
    res = patient(await client.get(f"/fhir/Patient/{person.id}", headers=await login(nurse)))
    assert res["generalPractitioner"][0]["identifier"]["value"] == nurse.facility_code


async def test_reads_need_a_token_and_the_permission(client, make_user, login, make_person):
    person = await make_person()
    issues = outcome(await client.get(f"/fhir/Patient/{person.id}"), 401)
    assert issues[0]["code"] == "login"
    auditor = await login(await make_user("auditor"))
    assert outcome(await client.get(f"/fhir/Patient/{person.id}", headers=auditor), 403)
    assert outcome(await client.post("/fhir/Patient", json=patient_body(), headers=auditor), 403)


async def test_a_citizen_reads_their_own_record_only(client, make_user, make_person, login):
    me = await make_person()
    other = await make_person()
    auth = await login(await make_user("citizen", person_id=me.id))
    assert patient(await client.get(f"/fhir/Patient/{me.id}", headers=auth))["id"] == str(me.id)
    outcome(await client.get(f"/fhir/Patient/{other.id}", headers=auth), 404)


# ---- create: errors, duplicates, conditional --------------------------------------------


async def test_a_body_that_is_not_a_valid_patient_is_400_naming_the_element(client, registrar):
    bad = patient_body()
    bad["name"][0]["family"] = 12
    issues = outcome(await client.post("/fhir/Patient", json=bad, headers=registrar), 400)
    assert "Patient.name[0].family" in expressions(issues)

    bad = patient_body(birthDate="1991-13-40")
    issues = outcome(await client.post("/fhir/Patient", json=bad, headers=registrar), 400)
    assert "Patient.birthDate" in expressions(issues)

    bad = {**patient_body(), "colour": "blue"}
    issues = outcome(await client.post("/fhir/Patient", json=bad, headers=registrar), 400)
    assert "Patient.colour" in expressions(issues)

    issues = outcome(
        await client.post(
            "/fhir/Patient", json={"resourceType": "Practitioner"}, headers=registrar
        ),
        400,
    )
    assert expressions(issues) == {"Patient.resourceType"}
    r = await client.post(
        "/fhir/Patient",
        content=b"{not json",
        headers={**registrar, "Content-Type": FHIR_JSON},
    )
    outcome(r, 400)


async def test_what_salomat_cannot_store_is_422_naming_the_element(client, registrar):
    body = patient_body(sex="other")
    body["identifier"] = [{"system": "http://example.org/mrn", "value": "42"}]
    body["name"][0]["given"] = ["A", "B", "C"]
    issues = outcome(await client.post("/fhir/Patient", json=body, headers=registrar), 422)
    assert expressions(issues) == {
        "Patient.gender",
        "Patient.identifier[0].system",
        "Patient.name[0].given",
    }
    body = patient_body(birthDate="1991")
    issues = outcome(await client.post("/fhir/Patient", json=body, headers=registrar), 422)
    assert expressions(issues) == {"Patient.birthDate"}
    body = patient_body(deceasedBoolean=True)
    issues = outcome(await client.post("/fhir/Patient", json=body, headers=registrar), 422)
    assert expressions(issues) == {"Patient.deceased[x]"}


async def test_a_national_id_contradicting_the_birth_date_names_both(client, registrar):
    nid = national_id_for(date(1980, 1, 1), "female", country())
    body = patient_body(national_id=nid)
    issues = outcome(await client.post("/fhir/Patient", json=body, headers=registrar), 422)
    assert expressions(issues) == {"Patient.identifier", "Patient.birthDate"}


async def test_likely_duplicates_need_the_duplicate_reason_extension(client, registrar):
    first = await create(client, registrar, patient_body("Yusupova", unique_name("Ma")))
    again = patient_body("Юсупова", first["name"][1]["given"][0])
    issues = outcome(await client.post("/fhir/Patient", json=again, headers=registrar), 409)
    assert issues[0]["code"] == "conflict"
    assert mapper.FIELDS["duplicate_reason"] in expressions(issues)
    assert any(f"Patient/{first['id']}" in i["diagnostics"] for i in issues)

    again["extension"] = [
        {"url": mapper.DUPLICATE_REASON_EXT, "valueString": "twin sister, same name by custom"}
    ]
    second = await create(client, registrar, again)
    assert second["id"] != first["id"]
    assert second["name"][0]["family"] == "Юсупова"
    assert {"url": mapper.LANGUAGE_EXT, "valueCode": "und-Cyrl"} in second["name"][0]["extension"]


async def test_a_taken_national_id_is_409(client, registrar):
    nid = national_id_for(BIRTH, "male", country())
    first = await create(client, registrar, patient_body(national_id=nid, sex="male"))
    issues = outcome(
        await client.post(
            "/fhir/Patient", json=patient_body(national_id=nid, sex="male"), headers=registrar
        ),
        409,
    )
    assert any(f"Patient/{first['id']}" in i["diagnostics"] for i in issues)


async def test_conditional_create_returns_the_match_instead_of_a_copy(client, registrar):
    nid = national_id_for(BIRTH, "female", country())
    body = patient_body(national_id=nid)
    condition = {"If-None-Exist": f"identifier={system()}|{nid}"}
    first = await create(client, registrar, body, **condition)
    r = await client.post("/fhir/Patient", json=body, headers={**registrar, **condition})
    again = patient(r, 200)
    assert again["id"] == first["id"]
    assert "location" not in r.headers
    found = bundle(
        await client.get(
            "/fhir/Patient", params={"identifier": f"{system()}|{nid}"}, headers=registrar
        )
    )
    assert found["total"] == 1


async def test_conditional_create_with_several_matches_is_412(client, registrar, make_person):
    family = unique_name("Ha")
    for _ in range(2):
        await make_person(family_name=family, duplicate_reason="brothers with one name")
    r = await client.post(
        "/fhir/Patient",
        json=patient_body(family),
        headers={**registrar, "If-None-Exist": f"family={family}"},
    )
    outcome(r, 412)
    r = await client.post(
        "/fhir/Patient",
        json=patient_body(family),
        headers={**registrar, "If-None-Exist": "colour=blue"},
    )
    assert expressions(outcome(r, 422)) == {"If-None-Exist: colour"}


# ---- search ---------------------------------------------------------------------------


async def test_search_by_identifier_name_family_given_birthdate_gender(
    client, registrar, make_person
):
    family, given = unique_name("Tu"), unique_name("Ni")
    nid = national_id_for(BIRTH, "male", country())
    p = await make_person(
        family_name=family, given_name=given, national_id=nid, birth_date=BIRTH, sex="male"
    )
    other = await make_person(
        family_name=family,
        given_name=unique_name("Zo"),
        birth_date=date(1970, 1, 2),
        duplicate_reason="another person of that family",
    )

    async def found(**params) -> list[str]:
        return ids(bundle(await client.get("/fhir/Patient", params=params, headers=registrar)))

    me, them = str(p.id), str(other.id)
    assert await found(identifier=f"{system()}|{nid}") == [me]
    assert await found(identifier=nid) == [me]
    assert await found(identifier=f"http://example.org/mrn|{nid}") == []
    assert set(await found(family=family)) == {me, them}
    assert await found(family=family, given=given) == [me]
    assert await found(name=f"{family} {given}") == [me]
    assert await found(family=family, birthdate=BIRTH.isoformat()) == [me]
    assert await found(family=family, birthdate=f"eq{BIRTH.isoformat()}") == [me]
    assert await found(family=family, gender="female") == [them]
    assert await found(family=family, gender="unknown") == []
    # the other script finds the same person
    cyrillic = p.family_name_alt
    assert me in await found(family=cyrillic)


async def test_search_pages_with_next_links(client, registrar, make_person):
    family = unique_name("Pa")
    made = [
        await make_person(family_name=family, duplicate_reason="a family of five, one name")
        for _ in range(5)
    ]
    first = bundle(
        await client.get("/fhir/Patient", params={"family": family, "_count": 2}, headers=registrar)
    )
    assert first["total"] == 5
    assert first["type"] == "searchset"
    seen = ids(first)
    page = first
    while nxt := next((x["url"] for x in page["link"] if x["relation"] == "next"), None):
        parts = urlsplit(nxt)
        assert parts.path == "/fhir/Patient"
        assert parse_qs(parts.query)["family"] == [family]
        page = bundle(await client.get(f"{parts.path}?{parts.query}", headers=registrar))
        seen += ids(page)
    assert sorted(seen) == sorted(str(p.id) for p in made)
    assert all(e["search"]["mode"] == "match" for e in first["entry"])
    assert first["entry"][0]["fullUrl"].startswith("http://testserver/fhir/Patient/")


async def test_search_refuses_what_it_does_not_support(client, registrar):
    """Issue 18 asks date prefixes on birthdate, _count=0, _summary=count, _id,
    _lastUpdated, _sort and comma OR (tests/fhir/test_patient_search.py); what is left to
    refuse: unknown parameters and modifiers, malformed values, and a search that names
    nobody (by birth date, gender or facility alone)."""

    async def issues(**params) -> set[str]:
        r = await client.get("/fhir/Patient", params=params, headers=registrar)
        return expressions(outcome(r, 422))

    assert await issues(family="X", colour="blue") == {"colour"}
    assert await issues(**{"family:text": "X"}) == {"family:text"}
    assert await issues(family="X", birthdate="1990-13-01") == {"birthdate"}
    assert await issues(family="X", birthdate="xx1990") == {"birthdate"}
    assert await issues(family="X", birthdate="1990-01-01T10:00") == {"birthdate"}  # no zone
    assert await issues(family="X", birthdate="ge1990,") == {"birthdate"}
    assert await issues(family="X", _lastUpdated="yesterday") == {"_lastUpdated"}
    assert await issues(family="X", gender="f") == {"gender"}
    assert await issues(family="X", gender="male,") == {"gender"}
    assert await issues(family="X", _count="x") == {"_count"}
    top = get_settings().max_page_size
    assert await issues(family="X", _count=str(top + 1)) == {"_count"}
    assert await issues(family="X", _summary="true") == {"_summary"}
    assert await issues(family="X", _sort="given") == {"_sort"}
    assert await issues(family="X", _sort="-") == {"_sort"}
    assert await issues(family="X", _elements="name.family") == {"_elements"}
    assert await issues(family="X", identifier=f"{system()}|") == {"identifier"}
    assert await issues(family="X", **{"general-practitioner": "Practitioner/1"}) == {
        "general-practitioner"
    }
    assert await issues(birthdate="ge1990-01-01") == {"identifier", "name"}
    assert await issues(gender="female", _sort="birthdate", _count="0") == {"identifier", "name"}
    assert await issues(name="X") == {"name"}
    assert await issues(name="Abc,X") == {"name"}
    assert await issues(family="Abc,") == {"family"}


async def test_search_shows_a_clinician_only_the_people_in_their_scope(
    client, make_user, make_person, login
):
    nurse = await make_user("nurse")
    family = unique_name("Sc")
    mine = await make_person(nurse.facility_code, family_name=family)
    await make_person(family_name=family, duplicate_reason="unrelated namesake elsewhere")
    b = bundle(
        await client.get("/fhir/Patient", params={"family": family}, headers=await login(nurse))
    )
    assert ids(b) == [str(mine.id)]
    assert b["total"] == 1


async def test_search_by_general_practitioner(client, registrar, make_person, make_facility):
    fac = await make_facility()
    family = unique_name("Gp")
    attached = await make_person(fac.code, family_name=family)
    await make_person(family_name=family, duplicate_reason="the same family elsewhere")

    async def found(gp: str) -> list[str]:
        r = await client.get(
            "/fhir/Patient",
            params={"family": family, "general-practitioner": gp},
            headers=registrar,
        )
        return ids(bundle(r))

    assert await found(f"Organization/{fac.id}") == [str(attached.id)]
    assert await found(str(fac.id)) == [str(attached.id)]
    assert await found("Organization/999999999") == []


# ---- update ---------------------------------------------------------------------------


async def test_update_needs_the_current_version(client, registrar):
    created = await create(client, registrar, patient_body(patronymic="Akmalovna"))
    pid = created["id"]
    changed = {**created, "name": [{**created["name"][0], "family": "Nazarova"}]}
    r = await client.put(
        f"/fhir/Patient/{pid}", json=changed, headers={**registrar, "If-Match": 'W/"1"'}
    )
    res = patient(r, 200)
    assert res["meta"]["versionId"] == "2"
    assert r.headers["location"] == f"http://testserver/fhir/Patient/{pid}/_history/2"
    assert res["name"][0]["family"] == "Nazarova"
    assert res["name"][0]["given"] == created["name"][0]["given"]
    assert res["name"][1]["family"] == "Назарова"

    # the same change sent again from the old version is already the state: 200, version 2
    again = await client.put(
        f"/fhir/Patient/{pid}", json=changed, headers={**registrar, "If-Match": 'W/"1"'}
    )
    assert patient(again, 200)["meta"]["versionId"] == "2"
    assert again.headers["etag"] == 'W/"2"'
    other = {**created, "name": [{**created["name"][0], "family": "Nurova"}]}
    stale = await client.put(
        f"/fhir/Patient/{pid}", json=other, headers={**registrar, "If-Match": 'W/"1"'}
    )
    assert outcome(stale, 412)[0]["code"] == "conflict"
    # without If-Match, the version read travels in meta.versionId
    stale_meta = {**other, "meta": {"versionId": "1"}}
    outcome(await client.put(f"/fhir/Patient/{pid}", json=stale_meta, headers=registrar), 412)
    no_version = {k: v for k, v in changed.items() if k != "meta"}
    outcome(await client.put(f"/fhir/Patient/{pid}", json=no_version, headers=registrar), 412)
    history = await client.get(f"/fhir/Patient/{pid}/_history", headers=registrar)
    assert history.json()["total"] == 2
    current = {**other, "meta": {"versionId": "2"}}
    res = patient(await client.put(f"/fhir/Patient/{pid}", json=current, headers=registrar))
    assert res["meta"]["versionId"] == "3"
    assert res["name"][0]["family"] == "Nurova"


async def test_update_refuses_a_mismatched_id_and_what_it_cannot_change(client, registrar):
    created = await create(client, registrar, patient_body())
    pid = created["id"]
    headers = {**registrar, "If-Match": 'W/"1"'}
    wrong = {**created, "id": "1" + pid}
    assert expressions(
        outcome(await client.put(f"/fhir/Patient/{pid}", json=wrong, headers=headers), 400)
    ) == {"Patient.id"}
    inactive = {**created, "active": False}
    assert expressions(
        outcome(await client.put(f"/fhir/Patient/{pid}", json=inactive, headers=headers), 422)
    ) == {"Patient.active"}
    dead = {**created, "deceasedDateTime": "2020-01-01"}
    assert expressions(
        outcome(await client.put(f"/fhir/Patient/{pid}", json=dead, headers=headers), 422)
    ) == {"Patient.deceased[x]"}
    # nothing was changed by the refused requests
    res = patient(await client.get(f"/fhir/Patient/{pid}", headers=registrar))
    assert res["meta"]["versionId"] == "1"


async def test_changing_general_practitioner_attaches_the_person(client, registrar, make_facility):
    old, new = await make_facility(), await make_facility()
    created = await create(client, registrar, patient_body())
    pid = created["id"]
    # attached to the old facility since 2020 (a change on the day of attaching is refused)
    r = await client.post(
        f"/api/v1/persons/{pid}/attachment",
        json={"facility_code": old.code, "start_on": "2020-01-01"},
        headers={**registrar, "If-Match": 'W/"1"'},
    )
    assert r.status_code == 200, r.text
    created = patient(await client.get(f"/fhir/Patient/{pid}", headers=registrar))
    assert created["generalPractitioner"][0]["reference"] == f"Organization/{old.id}"
    moved = {
        **created,
        "generalPractitioner": [
            {"identifier": {"system": "urn:salomat:facility", "value": new.code}}
        ],
    }
    r = await client.put(
        f"/fhir/Patient/{pid}", json=moved, headers={**registrar, "If-Match": 'W/"2"'}
    )
    res = patient(r)
    assert res["meta"]["versionId"] == "3"  # the attachment (the rest was the same)
    assert res["generalPractitioner"][0]["reference"] == f"Organization/{new.id}"
    # the same resource from the version before: already the state, 200 and version 3
    again = patient(
        await client.put(
            f"/fhir/Patient/{pid}", json=moved, headers={**registrar, "If-Match": 'W/"2"'}
        )
    )
    assert again["meta"]["versionId"] == "3"
    # but another move from that stale version is refused: the attachment changed since
    back = {**moved, "generalPractitioner": [{"reference": f"Organization/{old.id}"}]}
    stale = await client.put(
        f"/fhir/Patient/{pid}", json=back, headers={**registrar, "If-Match": 'W/"2"'}
    )
    outcome(stale, 412)
    r = await client.get(f"/api/v1/persons/{pid}/attachments", headers=registrar)
    assert [a["facility_code"] for a in r.json()] == [new.code, old.code]

    closed = {**res, "generalPractitioner": [{"reference": "Organization/999999999"}]}
    issues = outcome(await client.put(f"/fhir/Patient/{pid}", json=closed, headers=registrar), 422)
    assert expressions(issues) == {"Patient.generalPractitioner[0]"}
    hospital = await make_facility("district_hospital")
    not_primary = {
        **res,
        "generalPractitioner": [{"reference": f"Organization/{hospital.id}"}],
    }
    issues = outcome(
        await client.put(f"/fhir/Patient/{pid}", json=not_primary, headers=registrar), 422
    )
    assert expressions(issues) == {"Patient.generalPractitioner[0]"}


# ---- history --------------------------------------------------------------------------


async def test_history_and_vread_show_each_version(client, registrar):
    created = await create(client, registrar, patient_body("Aliyeva"))
    pid = created["id"]
    changed = {**created, "name": [{"family": "Valiyeva", "given": created["name"][0]["given"]}]}
    await client.put(
        f"/fhir/Patient/{pid}", json=changed, headers={**registrar, "If-Match": 'W/"1"'}
    )

    v1 = patient(await client.get(f"/fhir/Patient/{pid}/_history/1", headers=registrar))
    assert v1["name"][0]["family"] == "Aliyeva"
    assert v1["meta"]["versionId"] == "1"
    v2 = patient(await client.get(f"/fhir/Patient/{pid}/_history/2", headers=registrar))
    assert v2["name"][0]["family"] == "Valiyeva"
    outcome(await client.get(f"/fhir/Patient/{pid}/_history/3", headers=registrar), 404)

    h = bundle(await client.get(f"/fhir/Patient/{pid}/_history", headers=registrar))
    assert h["type"] == "history"
    assert h["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in h["entry"]] == ["2", "1"]
    assert [e["request"]["method"] for e in h["entry"]] == ["PUT", "POST"]
    assert h["entry"][1]["response"]["status"] == "201 Created"
    page = bundle(
        await client.get(f"/fhir/Patient/{pid}/_history", params={"_count": 1}, headers=registrar)
    )
    assert [x["relation"] for x in page["link"]] == ["self", "next"]
    outcome(
        await client.get(
            f"/fhir/Patient/{pid}/_history", params={"since": "2020"}, headers=registrar
        ),
        422,
    )


async def test_history_is_scoped_like_a_read(client, make_user, make_person, login):
    person = await make_person()
    auth = await login(await make_user("nurse"))
    outcome(await client.get(f"/fhir/Patient/{person.id}/_history", headers=auth), 404)
    outcome(await client.get(f"/fhir/Patient/{person.id}/_history/1", headers=auth), 404)


# ---- $match ---------------------------------------------------------------------------


def match_params(body: dict, **extra) -> dict:
    params = [{"name": "resource", "resource": body}]
    params += [
        {"name": k, **({"valueBoolean": v} if isinstance(v, bool) else {"valueInteger": v})}
        for k, v in extra.items()
    ]
    return {"resourceType": "Parameters", "parameter": params}


async def test_match_grades_candidates(client, registrar, make_person):
    family, given = unique_name("Mu"), unique_name("Sa")
    nid = national_id_for(BIRTH, "female", country())
    same = await make_person(
        family_name=family, given_name=given, national_id=nid, birth_date=BIRTH
    )
    swapped = date(BIRTH.year, BIRTH.day, BIRTH.month) if BIRTH.day <= 12 else BIRTH
    look = patient_body(family, given, birth=BIRTH, national_id=nid)
    r = await client.post("/fhir/Patient/$match", json=match_params(look), headers=registrar)
    b = bundle(r)
    assert b["type"] == "searchset"
    top = b["entry"][0]
    assert top["resource"]["id"] == str(same.id)
    assert top["search"]["score"] == 1.0
    assert top["search"]["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/match-grade", "valueCode": "certain"}
    ]
    # without the id, a spelling slip: still found, with a lower grade
    slip = patient_body(family[:-1] + "a", given, birth=BIRTH)
    b = bundle(
        await client.post("/fhir/Patient/$match", json=match_params(slip), headers=registrar)
    )
    graded = {e["resource"]["id"]: e["search"] for e in b["entry"]}
    assert str(same.id) in graded
    assert graded[str(same.id)]["score"] < 1.0
    only = bundle(
        await client.post(
            "/fhir/Patient/$match",
            json=match_params(slip, onlyCertainMatches=True),
            headers=registrar,
        )
    )
    assert all(e["search"]["extension"][0]["valueCode"] == "certain" for e in only.get("entry", []))
    assert swapped  # the day/month slip is the service's (tests/domains/registry)


async def test_match_refuses_bad_parameters(client, registrar):
    r = await client.post(
        "/fhir/Patient/$match",
        json={"resourceType": "Parameters", "parameter": [{"name": "x", "valueString": "y"}]},
        headers=registrar,
    )
    assert expressions(outcome(r, 422)) == {"Parameters.parameter[0]"}
    body = patient_body()
    del body["birthDate"]
    r = await client.post("/fhir/Patient/$match", json=match_params(body), headers=registrar)
    assert expressions(outcome(r, 422)) == {"Patient.birthDate"}
    r = await client.post("/fhir/Patient/$match", json=patient_body(), headers=registrar)
    assert expressions(outcome(r, 400)) == {"Parameters.resourceType"}


# ---- the mapper on its own ---------------------------------------------------------------


def person_out(**kw) -> PersonOut:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    data = {
        "id": 7,
        "national_id": None,
        "family_name": "Каримов",
        "given_name": "Азиз",
        "patronymic": None,
        "name_script": "cyrl",
        "family_name_alt": "Karimov",
        "given_name_alt": "Aziz",
        "patronymic_alt": None,
        "birth_date": date(1950, 1, 2),
        "sex": "male",
        "phone": None,
        "address": "Chilonzor 5",
        "settlement_code": "1726",
        "attached_facility_id": None,
        "deceased_on": None,
        "death_cause": None,
        "merged_into_id": None,
        "version": 4,
        "created_at": now,
        "updated_at": now,
        **kw,
    }
    return PersonOut.model_validate(data)


def test_a_merged_person_is_inactive_and_links_to_the_survivor():
    res = mapper.to_fhir(person_out(merged_into_id=5))
    assert res["active"] is False
    assert res["link"] == [{"other": {"reference": "Patient/5"}, "type": "replaced-by"}]


def test_a_death_is_deceased_date_time_and_the_address_keeps_the_settlement():
    res = mapper.to_fhir(person_out(deceased_on=date(2026, 1, 3), death_cause="I21.9"))
    assert res["deceasedDateTime"] == "2026-01-03"
    assert "I21.9" not in str(res)  # the cause is clinical data, not demographics
    (address,) = res["address"]
    assert address["text"] == "Chilonzor 5"
    assert address["extension"][0]["valueCoding"] == {
        "system": "urn:salomat:territory",
        "code": "1726",
    }
    assert res["name"][0]["extension"] == [{"url": mapper.LANGUAGE_EXT, "valueCode": "und-Cyrl"}]
    assert res["meta"] == {"versionId": "4", "lastUpdated": "2026-11-23T10:00:00Z"}


def test_what_goes_out_comes_back_in():
    res = mapper.to_fhir(person_out(patronymic="Акмалович", patronymic_alt="Akmalovich"))
    back = mapper.from_fhir(Patient.model_validate(res))
    assert back.errors == []
    assert (back.family_name, back.given_name, back.patronymic) == ("Каримов", "Азиз", "Акмалович")
    assert back.settlement_code == "1726"
    assert back.birth_date == date(1950, 1, 2)
