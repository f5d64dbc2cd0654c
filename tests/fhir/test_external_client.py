"""An external FHIR client (fhirpy) creates, searches and updates patients over HTTP.

The app runs in a real uvicorn server on a free port, on the test database,
so the client speaks to it exactly as another medical information system would.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound, OperationOutcome

from salomat.core.config import get_settings
from salomat.country.national_id import system_uri
from tests.factories import national_id_for, unique_name

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fhir(live_server, make_user) -> AsyncFHIRClient:
    registrar = await make_user("registrar")
    async with httpx.AsyncClient(base_url=live_server) as http:
        r = await http.post(
            "/auth/token", data={"username": registrar.username, "password": registrar.password}
        )
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
    return AsyncFHIRClient(f"{live_server}/fhir", authorization=f"Bearer {token}")


async def test_fhirpy_creates_searches_and_updates_a_patient(fhir):
    system = system_uri(get_settings().country)
    birth = date(1988, 7, 9)
    nid = national_id_for(birth, "male", get_settings().country)
    family = unique_name("Ex")
    patient = fhir.resource(
        "Patient",
        identifier=[{"system": system, "value": nid}],
        name=[{"family": family, "given": ["Bobur", "Anvarovich"]}],
        gender="male",
        birthDate=birth.isoformat(),
    )
    await patient.save()
    assert patient.id
    assert patient["meta"]["versionId"] == "1"
    assert patient["name"][0]["family"] == family

    found = await fhir.resources("Patient").search(identifier=f"{system}|{nid}").fetch()
    assert [p.id for p in found] == [patient.id]

    # read, change, save: the version read travels back in meta.versionId
    fresh = await fhir.reference("Patient", patient.id).to_resource()
    fresh["telecom"] = [{"system": "phone", "value": "+998901234567"}]
    await fresh.save()
    assert fresh["meta"]["versionId"] == "2"
    assert fresh["telecom"][0]["value"] == "+998901234567"

    # the copy saved before the change is stale now: 412
    patient["name"][0]["given"] = ["Bobir", "Anvarovich"]
    with pytest.raises(MultipleResourcesFound):  # fhirpy's name for a 412
        await patient.save()

    again = await fhir.reference("Patient", patient.id).to_resource()
    assert again["name"][0]["given"] == ["Bobur", "Anvarovich"]
    assert again["telecom"][0]["value"] == "+998901234567"


async def test_fhirpy_follows_next_links_and_calls_match(fhir):
    family = unique_name("Pg")
    made = []
    given = unique_name("Gi")
    for i in range(3):
        p = fhir.resource(
            "Patient",
            name=[{"family": family, "given": [given]}],
            gender="female",
            birthDate=date(1990, 1, 1 + i).isoformat(),
            extension=[
                {
                    "url": "https://salomat.example/fhir/StructureDefinition/duplicate-reason",
                    "valueString": "sisters registered the same day",
                }
            ],
        )
        await p.save()
        made.append(p.id)
    everyone = await fhir.resources("Patient").search(family=family).limit(2).fetch_all()
    assert sorted(p.id for p in everyone) == sorted(made)

    result = await fhir.execute(
        "Patient/$match",
        data={
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "resource",
                    "resource": {
                        "resourceType": "Patient",
                        "name": [{"family": family, "given": [given]}],
                        "gender": "female",
                        "birthDate": "1990-01-01",
                    },
                }
            ],
        },
    )
    assert result["resourceType"] == "Bundle"
    assert made[0] in [e["resource"]["id"] for e in result["entry"]]


async def test_fhirpy_sees_operation_outcomes(fhir):
    bad = fhir.resource("Patient", name=[{"family": "X", "given": ["Y"]}], gender="other")
    with pytest.raises(OperationOutcome) as e:
        await bad.save()
    assert "Patient.gender" in str(e.value)
