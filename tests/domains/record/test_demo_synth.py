"""The synthetic counterpart of the demo (``salomat synth``): hospital stays at the pack's
rate (``record.synth`` of pack.yaml), each an Encounter with its Condition and three
vital signs sent by a district hospital, readable through the service like a record the
FHIR API stored (the timeline, a search by identifier), on a population of 5,000."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from salomat.core import synth
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.record.synth import synthesize_record
from salomat.domains.registry import service as registry
from tests.domains.maternal.test_synth import Silent, rows
from tests.synth_support import AS_OF, empty_database

PEOPLE = 5_000
Loaded = tuple[str, str, Any, int]


@pytest.fixture(scope="module", params=["UZ", "KZ"])
def loaded(request: pytest.FixtureRequest) -> Iterator[Loaded]:
    country = request.param
    with empty_database() as url:
        with synth.run(
            url, country=country, people=PEOPLE, seed=3, as_of=AS_OF, progress=Silent()
        ) as ctx:
            population = registry.synthesize_population(ctx, PEOPLE)
            written = synthesize_record(ctx, population)
        yield country, url, population, written


def test_stays_come_at_the_packs_rate_five_resources_each(loaded: Loaded) -> None:
    country, url, pop, written = loaded
    rules = pack.load(country)["record"]["synth"]
    alive = sum(1 for i in range(len(pop)) if pop.alive(i))
    expected = alive * rules["stays_per_1000"] / 1000 * rules["sent_share"]
    kinds = Counter(
        r["resource_type"] for r in rows(url, "SELECT resource_type FROM record_resource")
    )
    stays = kinds["Encounter"]
    assert abs(stays - expected) <= 4 * math.sqrt(expected)  # Poisson, 4 sd
    assert kinds == {"Encounter": stays, "Condition": stays, "Observation": 3 * stays}
    assert written == 5 * stays


def test_every_resource_refers_to_its_stay_sent_by_a_district_hospital(loaded: Loaded) -> None:
    _, url, _, _ = loaded
    found = rows(
        url,
        "SELECT r.id, r.resource_type, r.person_id, r.encounter_id, r.sender, f.kind, f.code, "
        "r.body, e.person_id AS visit_person FROM record_resource r "
        "JOIN facility f ON f.id = r.sender_facility_id "
        "LEFT JOIN record_resource e ON e.id = r.encounter_id",
    )
    assert found
    for r in found:
        assert r["kind"] == "district_hospital"
        assert r["sender"] == f"his:{r['code']}"
        body = json.loads(r["body"])
        assert body["id"] == f"shr-{r['id']}"
        assert body["meta"]["versionId"] == "1"
        if r["resource_type"] == "Encounter":
            assert r["encounter_id"] is None
        else:
            assert r["visit_person"] == r["person_id"]
            assert body["encounter"]["reference"] == f"Encounter/shr-{r['encounter_id']}"
    versions = rows(url, "SELECT count(*) AS n FROM record_version")[0]["n"]
    assert versions == len(found)


@pytest.mark.anyio
async def test_a_family_doctor_reads_a_synthetic_stay_on_the_timeline(loaded: Loaded) -> None:
    country, url, _, _ = loaded
    [first] = rows(
        url,
        "SELECT r.person_id, p.attached_facility_id, f.code FROM record_resource r "
        "JOIN person p ON p.id = r.person_id JOIN facility f ON f.id = p.attached_facility_id "
        "WHERE r.resource_type = 'Encounter' ORDER BY r.id LIMIT 1",
    )
    doctor = Principal(
        user_id=0,
        username="t-synth",
        role="family_doctor",
        session_id="t",
        facility_id=first["attached_facility_id"],
        facility_code=first["code"],
    )
    from salomat.domains.record import service as record

    async with session_factory(url)() as s:
        entries = await record.timeline(s, doctor, first["person_id"])
        await s.rollback()
    visits = [e for e in entries if e.resource_type == "Encounter"]
    assert visits
    visit = visits[-1]
    under = [e for e in entries if e.encounter_fhir_id == visit.fhir_id]
    assert sorted(e.resource_type for e in under) == ["Condition", *["Observation"] * 3]
    assert {e.category for e in under if e.resource_type == "Observation"} == {"vital-signs"}
    dx = next(e for e in under if e.resource_type == "Condition")
    codes = {d["code"]: d["text"] for d in pack.load(country)["record"]["synth"]["diagnoses"]}
    assert dx.text == codes[dx.code]
    assert visit.start is not None
    assert AS_OF - timedelta(days=366) <= visit.start.astimezone(UTC).date() < AS_OF
    assert visit.end is not None
    assert visit.end > visit.start
    assert visit.start < datetime.now(UTC)
