"""FHIR Immunization of a series given on indication (COVID-19; issue 23, item 6).

A COVID-19 dose is created and read like any calendar dose (the national vaccine code and
its CVX code, protocolApplied.series/doseNumber), refused with the element named, and never
recommended (ImmunizationRecommendation has no COVID-19 dose). Its codes are published.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from salomat.fhir import terminology
from tests.fhir.test_immunization import FHIR_JSON, VACCINE, entries, issues, ok

pytestmark = pytest.mark.anyio

TODAY = date.today()
BORN = date(1968, 9, 30)
CVX = "http://hl7.org/fhir/sid/cvx"
SERIES = "urn:salomat:immunization-series"


@pytest.fixture
async def adult(make_facility, make_person, make_user, login) -> dict[str, Any]:
    fac = await make_facility()
    person = await make_person(facility_code=fac.code, birth_date=BORN, sex="male")
    nurse = await login(await make_user("nurse", facility_code=fac.code))
    return {"person": person, "nurse": nurse}


def covid(patient: int, n: int, on: date, **kw: Any) -> dict[str, Any]:
    res = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": VACCINE, "code": "covid19"}]},
        "patient": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": on.isoformat(),
        "lotNumber": "CV-42",
        "protocolApplied": [{"series": "covid19", "doseNumberPositiveInt": n}],
    }
    res.update(kw)
    return res


async def post(client, a: dict[str, Any], body: dict[str, Any]):
    return await client.post(
        "/fhir/Immunization", json=body, headers={**a["nurse"], "Content-Type": FHIR_JSON}
    )


async def test_covid19_doses_are_created_read_and_never_recommended(client, adult):
    pid = adult["person"].id
    first = TODAY - timedelta(days=250)
    created = ok(await post(client, adult, covid(pid, 1, first)), 201)
    codes = {(c["system"], c["code"]) for c in created["vaccineCode"]["coding"]}
    assert codes == {(VACCINE, "covid19"), (CVX, "213")}
    assert created["protocolApplied"] == [{"series": "covid19", "doseNumberPositiveInt": 1}]
    assert "isSubpotent" not in created
    # dose 2 thirteen days later: too early, the element named
    r = await post(client, adult, covid(pid, 2, first + timedelta(days=13)))
    assert issues(r, 422) == {"Immunization.occurrenceDateTime"}
    ok(await post(client, adult, covid(pid, 2, first + timedelta(days=14))), 201)
    # a revaccination from a campaign elsewhere, with only the vaccine group
    elsewhere = covid(
        pid,
        3,
        TODAY - timedelta(days=10),
        vaccineCode={"coding": [{"system": SERIES, "code": "covid19"}]},
        primarySource=False,
        location={"display": "Vaccination campaign"},
    )
    third = ok(await post(client, adult, elsewhere), 201)
    assert third["protocolApplied"] == [{"series": "covid19", "doseNumberPositiveInt": 3}]
    assert third["vaccineCode"]["coding"][0]["code"] == "covid19"
    found = ok(
        await client.get(
            "/fhir/Immunization",
            params={"patient": f"Patient/{pid}", "vaccine-code": f"{VACCINE}|covid19"},
            headers=adult["nurse"],
        )
    )
    assert len(entries(found)) == 2  # the product coded ones
    rec = ok(await client.get(f"/fhir/ImmunizationRecommendation/{pid}", headers=adult["nurse"]))
    assert "covid19" not in {x["series"] for x in rec["recommendation"]}


@pytest.mark.parametrize(
    ("change", "element"),
    [
        ({"occurrenceDateTime": (TODAY + timedelta(days=1)).isoformat()}, "occurrenceDateTime"),
        ({"occurrenceDateTime": (BORN - timedelta(days=1)).isoformat()}, "occurrenceDateTime"),
        ({"vaccineCode": {"coding": [{"system": VACCINE, "code": "pcv13"}]}}, "vaccineCode"),
        ({"protocolApplied": [{"series": "covid", "doseNumberPositiveInt": 1}]}, "series"),
    ],
)
async def test_a_wrong_covid19_dose_is_refused_naming_the_element(client, adult, change, element):
    r = await post(client, adult, {**covid(adult["person"].id, 1, TODAY), **change})
    assert any(element in e for e in issues(r, 422)), r.text


@pytest.mark.parametrize("cc", ["UZ", "KZ"])
def test_the_codes_are_published_with_their_names(cc: str) -> None:
    t = terminology.terminology(cc)
    for system, code in ((VACCINE, "covid19"), (SERIES, "covid19"), (CVX, "213")):
        found = t.systems[system].find(code)
        assert found is not None, (system, code)
        assert found.display, (system, code)
    series = t.systems[SERIES].find("covid19")
    assert series is not None
    assert {lang for lang, _ in series.names} >= {"en", "uz", "ru", "kk"}
