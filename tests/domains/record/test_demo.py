"""The demo shared record of each pack (the ``record`` section of demo.yaml): after
`salomat demo load` the demo polyclinic's family doctor reads, on a patient's record, the
district hospital's stay (the encounter, its diagnosis and the vital signs under it) as
the hospital's account sent it; a second load stores nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service as registry

pytestmark = pytest.mark.anyio

COUNTRIES = ("UZ", "KZ")


@pytest.fixture
def scratch(country: str) -> Iterator[str]:
    """A database of this run's backend where one pack's demo is loaded (`salomat demo
    load`: a copy of the run's loaded demo, tests/conftest.py ``demo_database``)."""
    from tests.conftest import demo_database

    with demo_database("salomat_record_demo", country) as (url, _):
        yield url


@pytest.fixture(params=COUNTRIES)
def country(request, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


@pytest.mark.parametrize("country_", COUNTRIES)
def test_the_section_sends_as_a_hospital_clinician_for_a_polyclinic_patient(country_):
    data = pack.demo(country_)
    spec = data["record"]
    kinds = {f["code"]: f["kind"] for f in data["facilities"]}
    assert kinds[spec["hospital"]] == "district_hospital"
    users = {u["username"]: u for u in data["users"]}
    sender = users[spec["sender"]]
    assert sender["facility"] == spec["hospital"]
    assert sender["role"] == spec["sender_role"]
    people = {p["national_id"]: p for p in data["people"]}
    for stay in spec["stays"]:
        patient = people[stay["patient"]]
        assert patient.get("attached_facility_code", data["polyclinic"]) == data["polyclinic"]
        assert stay["vitals"]


async def test_after_the_demo_load_the_family_doctor_reads_the_hospital_stay(scratch, country):
    from salomat.domains.record import service as record
    from salomat.domains.record.demo import load_demo_record

    data = pack.demo(country)
    spec = data["record"]
    [stay] = spec["stays"]
    today = date.today()
    async with session_factory(scratch)() as s:
        person_id = await registry.person_id_by_national_id(s, stay["patient"])
        poly = await registry.facility_id_by_code(s, data["polyclinic"])
        doctor = Principal(
            user_id=0,
            username="t-demo",
            role="family_doctor",
            session_id="t",
            facility_id=poly,
            facility_code=data["polyclinic"],
        )
        entries = await record.timeline(s, doctor, person_id)
        by_type: dict[str, list[Any]] = {}
        for e in entries:
            by_type.setdefault(e.resource_type, []).append(e)
        assert sorted(by_type) == ["Condition", "Encounter", "Observation"]
        [visit] = by_type["Encounter"]
        [dx] = by_type["Condition"]
        assert visit.text == stay["department"]
        assert visit.start is not None
        assert visit.start.date() in {today + timedelta(days=stay["admitted"] + d) for d in (-1, 0)}
        assert dx.code == stay["diagnosis"]["code"]
        assert dx.text == stay["diagnosis"]["text"]
        assert dx.encounter_fhir_id == visit.fhir_id
        vitals = by_type["Observation"]
        assert len(vitals) == len(stay["vitals"])
        assert {v.category for v in vitals} == {"vital-signs"}
        assert {v.encounter_fhir_id for v in vitals} == {visit.fhir_id}
        assert {v.text for v in vitals} == {v["text"] for v in stay["vitals"]}
        pulse = next(v for v in vitals if v.code == "8867-4")
        assert pulse.value is not None
        assert "84" in pulse.value
        for e in entries:
            assert e.sender == spec["sender"]
            assert e.sender_facility_code == spec["hospital"]
        # loading again stores nothing twice
        assert await load_demo_record(s, spec, {}) == 0
        await s.commit()
        assert len(await record.timeline(s, doctor, person_id)) == len(entries)
