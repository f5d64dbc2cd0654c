from __future__ import annotations

import pytest

from salomat.domains.record import service as record

pytestmark = pytest.mark.anyio


async def test_create_and_read(db, shr):
    p = await shr.make_patient()
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{p.id}"},
        "effectiveDateTime": "2026-03-05T10:00:00+05:00",
        "valueQuantity": {"value": 72, "unit": "/min"},
        "identifier": [{"system": shr.system, "value": "o-1"}],
    }
    out, created = await record.create_resource(db, shr.hospital_doctor, obs)
    await db.commit()
    assert created
    again = await record.read_resource(db, shr.doctor, "Observation", out.fhir_id)
    assert again.resource == out.resource
    tl = await record.timeline(db, shr.doctor, p.id)
    assert tl[0].value == "72 /min"
