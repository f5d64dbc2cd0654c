"""FHIR Measure (one per indicator) and MeasureReport (summary, counts, strata, masked
small cells), validated with the R4B models."""

from __future__ import annotations

from datetime import date

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

pytestmark = pytest.mark.anyio
ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


@pytest.fixture
async def analyst(make_user, login) -> dict[str, str]:
    return await login(await make_user("analyst"))


async def test_measures_one_per_indicator(client, analyst, make_user, login) -> None:
    r = await client.get("/fhir/Measure", headers=analyst)
    assert r.status_code == 200, r.text
    bundle = Bundle.model_validate(r.json())
    ids = {e.resource.id for e in bundle.entry}
    assert {"infant-mortality", "maternal-mortality-ratio", "life-expectancy"} <= ids
    one = await client.get("/fhir/Measure/neonatal-mortality", headers=analyst)
    assert one.status_code == 200
    m = Measure.model_validate(one.json())
    assert m.scoring.coding[0].code == "ratio"
    codes = {p.code.coding[0].code for p in m.group[0].population}
    assert codes == {"numerator", "denominator"}
    assert (await client.get("/fhir/Measure/nope", headers=analyst)).status_code == 404
    doctor = await login(await make_user("family_doctor"))
    assert (await client.get("/fhir/Measure", headers=doctor)).status_code == 403


async def test_measure_report_counts_strata_and_masks(client, analyst, vital) -> None:
    for i in range(6):
        await vital.death(date(2022, 2, 1 + i), date(2022, 2, 3 + i), sex="male" if i else "female")
    for i in range(14):
        await vital.born(date(2022, 5, 1 + i), "male")
    r = await client.get(
        "/fhir/MeasureReport",
        params={"measure": "Measure/infant-mortality", "period": "2022",
                "subject": f"urn:salomat:territory|{vital.place.region}"},
        headers=analyst,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    report = MeasureReport.model_validate(r.json()["entry"][0]["resource"])
    assert report.type == "summary"
    group = report.group[0]
    counts = {p.code.coding[0].code: p.count for p in group.population}
    assert counts == {"numerator": 6, "denominator": 20}
    assert float(group.measureScore.value) == 300.0
    sex = next(s for s in group.stratifier if s.code[0].text == "sex")
    by = {s.value.text: s for s in sex.stratum}
    # five boys died: shown; one girl: masked, no count, no score
    assert {p.code.coding[0].code: p.count for p in by["male"].population}["numerator"] == 5
    female = by["female"]
    assert female.measureScore is None
    assert female.extension[0].url == ABSENT
    numerator = next(p for p in female.population if p.code.coding[0].code == "numerator")
    assert numerator.count is None


async def test_measure_report_bad_input(client, analyst) -> None:
    url = "/fhir/MeasureReport"
    r = await client.get(url, params={"measure": "infant-mortality"}, headers=analyst)
    assert r.status_code in (400, 422)
    assert r.json()["resourceType"] == "OperationOutcome"
    assert "period" in r.text
    r = await client.get(
        url, params={"measure": "infant-mortality", "period": str(date.today().year)},
        headers=analyst,
    )  # fmt: skip
    assert r.status_code in (400, 422)
    assert "period" in r.text
    r = await client.get(
        url, params={"measure": "infant-mortality", "period": "2022", "subject": "NOWHERE"},
        headers=analyst,
    )  # fmt: skip
    assert r.status_code in (400, 422)
    assert "subject" in r.text
