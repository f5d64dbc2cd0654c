"""Issue 6 end to end, through the REST API only: a reimbursed prescription for
hypertension (I10) is written by the family doctor, dispensed in two partial visits
at two pharmacies, shows as two claim lines to the fund, and its patient sees it in
the portal with where it was dispensed; another citizen does not."""

from __future__ import annotations

from datetime import date

import pytest

from tests.domains.prescription.test_prescribing import clinic, rx
from tests.factories import national_id_for

__all__ = ["clinic"]

pytestmark = pytest.mark.anyio


async def test_prescribe_dispense_twice_at_two_pharmacies_claim_and_portal(
    client, clinic, make_facility, make_person, make_user, login
):
    # a patient of the polyclinic with her national id (the pharmacist asks for it)
    born = date(1961, 4, 2)
    patient = await make_person(
        facility_code=clinic.facility.code,
        birth_date=born,
        national_id=national_id_for(born, "female"),
    )
    # the doctor: amlodipine 5 mg once a day for 60 days, reimbursed for I10
    r = await client.post(
        f"/api/v1/persons/{patient.id}/prescriptions",
        json=rx(clinic.amlodipine, days=60),
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    prescription = r.json()
    assert (prescription["reimbursed"], prescription["diagnosis"]) == (True, "I10")
    assert prescription["quantity_units"] == 60
    code = prescription["code"]

    # two pharmacies, each finds it by code + national id, then dispenses part
    pharmacies = [await make_facility(kind="pharmacy") for _ in range(2)]
    pharmacists = [
        await login(await make_user("pharmacist", facility_code=p.code)) for p in pharmacies
    ]
    dispensed = []
    for auth, units in zip(pharmacists, (30, 30), strict=True):
        found = await client.post(
            "/api/v1/dispensing/lookup",
            json={"code": code, "national_id": patient.national_id},
            headers=auth,
        )
        assert found.status_code == 200, found.text
        assert "diagnosis" not in found.text  # the pharmacist has no need for it
        d = await client.post(
            f"/api/v1/prescriptions/{prescription['id']}/dispensings",
            json={"units": units, "medicine_code": clinic.amlodipine, "price": 1_500_000},
            headers=auth,
        )
        assert d.status_code == 201, d.text
        dispensed.append(d.json())
    assert dispensed[-1]["remaining_units"] == 0
    again = await client.post(
        f"/api/v1/prescriptions/{prescription['id']}/dispensings",
        json={"units": 1, "medicine_code": clinic.amlodipine, "price": 1_500_000},
        headers=pharmacists[0],
    )
    assert again.status_code in (404, 409), again.text

    # the fund: one claim line per dispensing, one claim per pharmacy, the fund's share
    analyst = await login(await make_user("insurance_analyst"))
    lines = await client.get("/api/v1/claim-lines", params={"status": "any"}, headers=analyst)
    assert lines.status_code == 200, lines.text
    mine = [x for x in lines.json() if x["prescription_code"] == code]
    assert sorted(x["facility_id"] for x in mine) == sorted(p.id for p in pharmacies)
    assert sorted(x["units"] for x in mine) == [30, 30]
    assert sorted(x["amount"] for x in mine) == sorted(d["reimbursed_amount"] for d in dispensed)
    assert all(x["amount"] > 0 for x in mine)

    # the patient sees it with both pharmacies; another citizen does not
    her = await login(await make_user("citizen", person_id=patient.id))
    seen = await client.get("/api/v1/me/prescriptions", headers=her)
    assert seen.status_code == 200, seen.text
    (p,) = [x for x in seen.json() if x["code"] == code]
    assert sorted(d["pharmacy"] for d in p["dispensings"]) == sorted(x.name for x in pharmacies)
    stranger = await login(await make_user("citizen", person_id=(await make_person()).id))
    theirs = await client.get("/api/v1/me/prescriptions", headers=stranger)
    assert code not in [x["code"] for x in theirs.json()]
    assert (
        await client.get(f"/api/v1/prescriptions/{prescription['id']}", headers=stranger)
    ).status_code == 404
