"""The demo's prescriptions: the lines proposed for ``UZ/demo.yaml`` give the demo's
hypertension patients an antihypertensive from the demo formulary, which the programme
card's medicines list then shows; loading again adds nothing."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from salomat.core.errors import Invalid
from salomat.domains.prescription import service

pytestmark = pytest.mark.anyio

#: the section proposed for src/salomat/country/UZ/demo.yaml (people enrolled in the
#: hypertension programme by its ``screening:`` section; codes of UZ/formulary.csv)
DEMO_YAML = """
prescriptions:
  - {person: "32001582240610", medicine: DEMO-AML-5, diagnosis: I10, kind: reimbursed, dose_units: 1, times_per_day: 1, days: 30}
  - {person: "40806612189711", medicine: DEMO-ENA-10, diagnosis: I11.9, kind: reimbursed, dose_units: 1, times_per_day: 2, days: 30}
  - {person: "40806612189711", medicine: DEMO-MET-500, diagnosis: E11.9, kind: reimbursed, dose_units: 1, times_per_day: 2, days: 30}
  - {person: "31509492196467", medicine: DEMO-LIS-10, diagnosis: I10, kind: reimbursed, dose_units: 1, times_per_day: 1, days: 30}
  - {person: "31509492196467", medicine: DEMO-AML-5, diagnosis: I10, kind: reimbursed, dose_units: 1, times_per_day: 1, days: 30}
"""  # noqa: E501


async def test_the_demo_lines_prescribe_each_hypertension_patient_an_antihypertensive(
    db, make_facility, make_person, make_user
):
    await service.load_demo_formulary(db, "UZ")
    fac = await make_facility()
    people = {
        nid: (await make_person(facility_code=fac.code, birth_date=date(1958, 1, 20))).id
        for nid in ("32001582240610", "40806612189711", "31509492196467")
    }
    specs = yaml.safe_load(DEMO_YAML)["prescriptions"]
    made = await service.load_demo_prescriptions(db, specs, people, facility_code=fac.code)
    assert made == 5
    await db.commit()
    assert await service.load_demo_prescriptions(db, specs, people, facility_code=fac.code) == 0
    reader = await make_user("family_doctor", facility_code=fac.code)
    from salomat.core.security import Principal

    doctor = Principal(
        user_id=reader.id, username=reader.username, role="family_doctor", session_id="t",
        facility_id=fac.id, facility_code=fac.code,
    )  # fmt: skip
    for nid, person_id in people.items():
        # the hypertension programme's classes (UZ/screening.yaml)
        items = await service.prescriptions_by_class(
            db, doctor, person_id, ["C03", "C08", "C09", "C07"]
        )
        assert items, nid
        assert all(i.status == "active" and i.reimbursed for i in items)
    t2dm = await service.prescriptions_by_class(db, doctor, people["40806612189711"], ["A10"])
    assert [i.inn for i in t2dm] == ["metformin"]


async def test_a_wrong_demo_entry_is_refused_naming_it(db, make_facility):
    fac = await make_facility()
    with pytest.raises(Invalid) as e:
        await service.load_demo_prescriptions(
            db, [{"person": "00000000000000", "medicine": "X"}], {}, facility_code=fac.code
        )
    assert e.value.errors[0].field == "prescriptions.0.person"
    assert await service.load_demo_prescriptions(db, [], {}, facility_code="nowhere") == 0
