"""FHIR Coverage (computed: Coverage/<Patient id>) and CoverageEligibilityRequest ->
CoverageEligibilityResponse on the KZ pack: an employee paid to June is in force through
September; an insurance-package service is excluded after that with the reason; a
provider reads by national id anyone but by record id only in its scope and never
reads the payer; an unknown service code names the item; /fhir/metadata lists both."""

from __future__ import annotations

import pytest

from tests.domains.insurance.test_status import kz_person, month, months, new_payer, pay

pytestmark = pytest.mark.anyio


@pytest.fixture
def kz(monkeypatch):  # type: ignore[no-untyped-def]
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_COUNTRY", "KZ")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def request_for(patient: dict, *codes: str, day: str = "2026-09-30") -> dict:
    return {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["validation"],
        "patient": patient,
        "created": "2026-09-30",
        "servicedDate": day,
        "insurer": {"display": "fund"},
        "item": [
            {"productOrService": {"coding": [{"code": c}]}} for c in codes
        ],
    }  # fmt: skip


@pytest.fixture
async def employee(kz, db, make_person):  # type: ignore[no-untyped-def]
    p = await kz_person(make_person, sex="male")
    employer = await new_payer(db, "employer", name="Never Shown LLP")
    for m in months(month(2026, 1), 6):
        await pay(db, p.id, employer, "employer", m, m.replace(day=25))
    await db.commit()
    return p


async def test_coverage_search_by_national_id_and_read_by_id(
    client, employee, make_user, login, make_facility
):
    from salomat.country import national_id

    system = national_id.system_uri("KZ")
    analyst = await login(await make_user("insurance_analyst"))
    r = await client.get(
        "/fhir/Coverage",
        params={"identifier": f"{system}|{employee.national_id}", "date": "2026-09-30"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    cov = r.json()["entry"][0]["resource"]
    assert (cov["id"], cov["status"], cov["period"]["end"]) == (
        str(employee.id), "active", "2026-09-30"
    )  # fmt: skip
    assert cov["beneficiary"]["reference"] == f"Patient/{employee.id}"
    # the fund's analyst reads who paid in the explanation, as in the REST status
    assert "Never Shown LLP paid for June 2026" in cov["extension"][0]["valueString"]
    r = await client.get(f"/fhir/Coverage/{employee.id}", params={"date": "2026-10-01"},
                         headers=analyst)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    # a doctor of another facility: by national id yes, by record id 404
    doctor = await login(await make_user("family_doctor"))
    r = await client.get(
        "/fhir/Coverage", params={"beneficiary:identifier": employee.national_id}, headers=doctor
    )
    assert r.status_code == 200
    assert b"Never Shown" not in r.content
    r = await client.get(f"/fhir/Coverage/{employee.id}", headers=doctor)
    assert r.status_code == 404


async def test_an_eligibility_request_answers_inforce_and_each_item(
    client, employee, make_user, login
):
    from salomat.country import national_id

    doctor = await login(await make_user("family_doctor"))
    patient = {"identifier": {"system": national_id.system_uri("KZ"),
                              "value": employee.national_id}}  # fmt: skip
    r = await client.post(
        "/fhir/CoverageEligibilityRequest",
        json=request_for(patient, "MRI-BRAIN", "EMERG-CALL"),
        headers=doctor,
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["resourceType"] == "CoverageEligibilityResponse"
    ins = res["insurance"][0]
    assert ins["inforce"] is True
    assert [(i["productOrService"]["coding"][0]["code"], i["excluded"]) for i in ins["item"]] == [
        ("MRI-BRAIN", False),
        ("EMERG-CALL", False),
    ]
    r = await client.post(
        "/fhir/CoverageEligibilityRequest",
        json=request_for(patient, "MRI-BRAIN", "EMERG-CALL", day="2026-10-01"),
        headers=doctor,
    )
    ins = r.json()["insurance"][0]
    assert ins["inforce"] is False
    mri, call = ins["item"]
    assert mri["excluded"] is True
    assert "not insured since 01.10.2026" in mri["description"]
    assert call["excluded"] is False
    assert b"Never Shown" not in r.content
    r = await client.post(
        "/fhir/CoverageEligibilityRequest",
        json=request_for(patient, "EMERG-CALL", "NOPE"),
        headers=doctor,
    )
    assert r.status_code == 422, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "CoverageEligibilityRequest.item[1]" in r.text


async def test_the_capability_statement_lists_coverage(client):
    r = await client.get("/fhir/metadata")
    types = {x["type"] for x in r.json()["rest"][0]["resource"]}
    assert {"Coverage", "CoverageEligibilityRequest"} <= types


async def test_a_provider_reads_insured_by_the_state_never_the_category(
    client, kz, db, make_person, make_user, login
):
    from datetime import date

    from salomat.country import national_id
    from tests.domains.insurance.test_status import PRISONER, list_in, named

    inmate = await kz_person(make_person, born=date(1981, 1, 1), sex="male")
    await list_in(db, inmate.id, "prisoner", date(2026, 1, 1))
    await db.commit()
    doctor = await login(await make_user("family_doctor"))
    analyst = await login(await make_user("insurance_analyst"))
    for lang in ("en", "ru", "kk"):
        headers = {**doctor, "Accept-Language": lang}
        r = await client.get(
            "/fhir/Coverage",
            params={"identifier": inmate.national_id, "date": "2026-05-01"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert named(r.text, PRISONER) == [], lang
        cov = r.json()["entry"][0]["resource"]
        assert (cov["status"], cov["type"]["coding"][0]["code"]) == ("active", "state")
        assert "class" not in cov
        patient = {"identifier": {"system": national_id.system_uri("KZ"),
                                  "value": inmate.national_id}}  # fmt: skip
        r = await client.post(
            "/fhir/CoverageEligibilityRequest",
            json=request_for(patient, "MRI-BRAIN", day="2026-05-01"),
            headers=headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["insurance"][0]["inforce"] is True
        assert named(r.text, PRISONER) == [], lang
    # the fund's analyst reads the category in Coverage.class
    r = await client.get(
        "/fhir/Coverage",
        params={"identifier": inmate.national_id, "date": "2026-05-01"},
        headers=analyst,
    )
    cov = r.json()["entry"][0]["resource"]
    assert cov["type"]["coding"][0]["code"] == "category"
    assert (cov["class"][0]["value"], cov["class"][0]["name"]) == (
        "prisoner", "Serving a sentence"
    )  # fmt: skip


async def test_a_coverage_without_a_date_is_for_the_local_day(
    client, employee, make_user, login, monkeypatch
):
    from datetime import UTC, datetime

    from salomat.domains.insurance.service import status as status_service

    analyst = await login(await make_user("insurance_analyst"))
    # paid to June: in force to 30 September 2026. 19:30 UTC on 30 September is
    # 00:30 (UTC+5; 01:30 with tzdata before 2024a) on 1 October in Kazakhstan.
    moment = datetime(2026, 9, 30, 19, 30, tzinfo=UTC)
    monkeypatch.setattr(status_service, "_utcnow", lambda: moment, raising=False)
    r = await client.get(f"/fhir/Coverage/{employee.id}", headers=analyst)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    patient = {"reference": f"Patient/{employee.id}"}
    body = request_for(patient, "MRI-BRAIN")
    del body["servicedDate"]
    r = await client.post("/fhir/CoverageEligibilityRequest", json=body, headers=analyst)
    assert r.status_code == 200, r.text
    assert r.json()["servicedDate"] == "2026-10-01"
    assert r.json()["insurance"][0]["inforce"] is False


# ---- review fixes (round 2) ----------------------------------------------------------


async def test_a_search_for_nobody_is_an_empty_bundle_and_a_read_404(
    client, employee, make_user, login
):
    from datetime import date

    from tests.factories import national_id_for

    analyst = await login(await make_user("insurance_analyst"))
    doctor = await login(await make_user("family_doctor"))
    unknown = national_id_for(date(1960, 2, 2), "male", "KZ")
    for headers, params in (
        (analyst, {"beneficiary": "Patient/999999999"}),
        (analyst, {"identifier": unknown}),
        (analyst, {"patient": "999999999", "date": "2026-05-01"}),
        # a person outside the doctor's scope, by record id: nobody to this searcher
        (doctor, {"beneficiary": f"Patient/{employee.id}"}),
    ):
        r = await client.get("/fhir/Coverage", params=params, headers=headers)
        assert r.status_code == 200, (params, r.text)
        assert (r.json()["resourceType"], r.json()["type"]) == ("Bundle", "searchset")
        assert (r.json()["total"], r.json().get("entry")) == (0, None), params
    r = await client.get("/fhir/Coverage/999999999", headers=analyst)
    assert r.status_code == 404


async def test_the_date_is_one_day_with_or_without_prefixes(client, employee, make_user, login):
    analyst = await login(await make_user("insurance_analyst"))

    async def status(params: list[tuple[str, str]]) -> str:
        r = await client.get(
            "/fhir/Coverage", params=[("patient", f"Patient/{employee.id}"), *params],
            headers=analyst,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        return r.json()["entry"][0]["resource"]["status"]

    # paid to June 2026: in force to 30 September
    assert await status([("date", "2026-09-30")]) == "active"
    assert await status([("date", "eq2026-10-01")]) == "cancelled"
    assert await status([("date", "ge2026-09-30"), ("date", "le2026-09-30")]) == "active"
    r = await client.get(f"/fhir/Coverage/{employee.id}", params={"date": "eq2026-09-30"},
                         headers=analyst)  # fmt: skip
    assert (r.status_code, r.json()["status"]) == (200, "active")
    for bad in ("ge2026-09-30", "2026-09", "2026-09-30T10:00:00Z", "30.09.2026"):
        r = await client.get(
            "/fhir/Coverage",
            params={"patient": f"Patient/{employee.id}", "date": bad},
            headers=analyst,
        )
        assert r.status_code == 422, bad
        assert r.json()["issue"][0]["expression"] == ["date"], bad


async def test_the_category_class_is_coded_in_hl7s_coverage_class(
    client, kz, db, make_person, make_user, login
):
    from datetime import date

    from tests.domains.insurance.test_status import list_in

    inmate = await kz_person(make_person, born=date(1981, 1, 1), sex="male")
    await list_in(db, inmate.id, "prisoner", date(2026, 1, 1))
    await db.commit()
    analyst = await login(await make_user("insurance_analyst"))
    r = await client.get(f"/fhir/Coverage/{inmate.id}", params={"date": "2026-05-01"},
                         headers=analyst)  # fmt: skip
    assert r.status_code == 200, r.text
    (cls,) = r.json()["class"]
    assert cls["type"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}
    ]
