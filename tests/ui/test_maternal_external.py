"""The obstetric record in headless Chromium names where an advice's values came from
when another system sent them (issue 18): a hospital's two blood pressure readings give
severe hypertension, and the advice says "from <hospital>, Observation shr-n, <date>"."""

from __future__ import annotations

from datetime import date, timedelta

from salomat.core.security import Principal
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import PregnancyIn
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import FacilityIn
from tests.factories import unique
from tests.ui.conftest import in_chromium

TODAY = date.today()
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"


def panel(sbp: int, dbp: int, at: str) -> dict:
    def part(code: str, v: int) -> dict:
        return {
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": v, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "effectiveDateTime": f"{TODAY.isoformat()}T{at}:00+05:00",
        "component": [part("8480-6", sbp), part("8462-4", dbp)],
    }


@in_chromium
async def test_the_advice_names_the_hospital_and_the_observation(
    browser, db, make_facility, make_person, make_user
):
    fac = await make_facility()
    hospital = await registry.create_facility(
        db, FacilityIn(code=unique("H"), name="Urgut district hospital", kind="family_polyclinic")
    )
    woman = await make_person(facility_code=fac.code)
    doctor = await make_user("family_doctor", facility_code=fac.code)
    clinician = Principal(
        user_id=doctor.id,
        username=doctor.username,
        role="family_doctor",
        session_id="t",
        facility_id=fac.id,
        facility_code=fac.code,
    )
    p = await service.open_pregnancy(
        db, clinician, woman.id, PregnancyIn(lmp=TODAY - timedelta(weeks=28), gravida=1, parity=0)
    )
    sender = Principal(user_id=0, username="his", role="nurse", session_id="t",
                       facility_id=hospital.id)  # fmt: skip
    for n, (s, d, at) in enumerate(((165, 112, "09:00"), (162, 111, "09:15")), start=1):
        await service.take_external_observation(
            db,
            sender,
            person_id=woman.id,
            resource_id=f"shr-{880000000 + p.id * 10 + n}",
            version=1,
            resource=panel(s, d, at),
            facility_id=hospital.id,
        )
    await db.commit()

    page = browser.page
    await browser.log_in(doctor.username)
    await page.goto(browser.url(f"/patients/{woman.id}/pregnancy"))
    item = page.locator('[data-testid="advice-item"][data-code="severe_hypertension"]')
    assert await item.count() == 1
    sources = item.get_by_test_id("advice-external")
    assert await sources.count() == 2
    first = await sources.nth(0).inner_text()
    assert first == (
        f"from Urgut district hospital, Observation shr-{880000000 + p.id * 10 + 1}, "
        f"{TODAY:%d.%m.%Y}"
    )
    assert "WHO" in await item.get_by_test_id("advice-source").inner_text()
    await browser.screenshot("obstetric-record-external-advice")
