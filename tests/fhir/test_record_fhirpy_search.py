"""Every search feature of the shared record driven through fhirpy's own query builder
(``.search``, ``.include``, ``.revinclude``, ``.has``, ``.sort``, ``.limit``,
``.elements``, ``.count``) against the app served over HTTP, as another medical
information system would (issue 18: "each search feature works through fhirpy's own
query builder")."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from salomat.core.config import get_settings
from salomat.country.national_id import system_uri
from tests.factories import national_id_for
from tests.fhir.test_record import (
    LOINC,
    World,
    create,
    encounter,
    observation,
    procedure,
    world,
)

__all__ = ["world"]

pytestmark = pytest.mark.anyio
HB = "718-7"


def fhirpy_client(live_server: str, headers: dict[str, str], **kw: Any) -> AsyncFHIRClient:
    return AsyncFHIRClient(f"{live_server}/fhir", authorization=headers["Authorization"], **kw)


def ids(resources: list[Any]) -> list[str]:
    return [r.id for r in resources]


def modes(bundle: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in bundle.get("entry", []):
        r = e["resource"]
        out.setdefault(e["search"]["mode"], []).append(f"{r['resourceType']}/{r.get('id')}")
    return out


@dataclasses.dataclass
class Sent:
    w: World
    nid: str
    enc: dict[str, Any]
    bp: dict[str, Any]  # blood pressure, 2026-03-01, in the encounter
    hb: dict[str, Any]  # haemoglobin, 2019-06-01, no encounter
    proc: dict[str, Any]


@pytest.fixture
async def sent(client, world: World, make_person) -> Sent:
    """A patient of the doctor's polyclinic with a national id, and what a hospital sent."""
    birth = date(1987, 2, 3)
    nid = national_id_for(birth, "female", get_settings().country)
    person = await make_person(
        facility_code=world.patient.attached_facility_code,
        national_id=nid,
        birth_date=birth,
        sex="female",
    )
    w = dataclasses.replace(world, patient=person)
    enc = await create(client, w.hospital, encounter(w))
    bp = await create(client, w.hospital, observation(w, enc["id"]))
    hb = await create(
        client,
        w.hospital,
        observation(
            w,
            component=None,
            code={"coding": [{"system": LOINC, "code": HB, "display": "Hemoglobin"}]},
            effectiveDateTime="2019-06-01",
            status="preliminary",
            category=None,
            valueQuantity={"value": 92, "unit": "g/L"},
        ),
    )
    proc = await create(client, w.hospital, procedure(w, enc["id"]))
    return Sent(w, nid, enc, bp, hb, proc)


async def test_token_reference_and_date_searches(live_server, sent: Sent):
    s, w = sent, sent.w
    fhir = fhirpy_client(live_server, w.doctor)
    obs = fhir.resources("Observation").search(subject=f"Patient/{w.patient.id}")
    assert set(ids(await obs.fetch())) == {s.bp["id"], s.hb["id"]}
    assert ids(await obs.search(code=f"{LOINC}|{HB}").fetch()) == [s.hb["id"]]
    assert ids(await obs.search(code="85354-9,none").fetch()) == [s.bp["id"]]
    assert ids(await obs.search(category="vital-signs").fetch()) == [s.bp["id"]]
    assert ids(await obs.search(status="preliminary").fetch()) == [s.hb["id"]]
    assert ids(await obs.search(_id=s.hb["id"]).fetch()) == [s.hb["id"]]
    assert ids(await obs.search(encounter=f"Encounter/{s.enc['id']}").fetch()) == [s.bp["id"]]
    ident = s.enc["identifier"][0]
    enc = fhir.resources("Encounter").search(subject=f"Patient/{w.patient.id}")
    assert ids(await enc.search(identifier=f"{ident['system']}|{ident['value']}").fetch()) == [
        s.enc["id"]
    ]
    # date prefixes, repeats (all of them) and commas (any of them)
    assert ids(await obs.search(date__ge="2020").fetch()) == [s.bp["id"]]
    assert ids(await obs.search(date__lt="2020-01-01").fetch()) == [s.hb["id"]]
    assert ids(await obs.search(date=["ge2019", "le2019-12"]).fetch()) == [s.hb["id"]]
    assert set(ids(await obs.search(date="lt2020,gt2025").fetch())) == {s.bp["id"], s.hb["id"]}
    assert ids(await obs.search(date="lt2019,gt2027").fetch()) == []
    assert len(await obs.search(_lastUpdated__gt="2020").fetch()) == 2
    assert await obs.search(_lastUpdated__lt="2020").fetch() == []
    # modifiers
    assert ids(await obs.search(code__not=HB).fetch()) == [s.bp["id"]]
    assert ids(await obs.search(encounter__missing=True).fetch()) == [s.hb["id"]]
    assert ids(await obs.search(category__missing=False).fetch()) == [s.bp["id"]]


async def test_sort_limit_count_summary_and_elements(live_server, sent: Sent):
    s, w = sent, sent.w
    fhir = fhirpy_client(live_server, w.doctor)
    obs = fhir.resources("Observation").search(subject=f"Patient/{w.patient.id}")
    assert ids(await obs.sort("-date").fetch()) == [s.bp["id"], s.hb["id"]]
    assert ids(await obs.sort("date").fetch()) == [s.hb["id"], s.bp["id"]]
    assert ids(await obs.sort("_lastUpdated").limit(1).fetch()) == [s.bp["id"]]
    first = await obs.sort("-date").first()
    assert first is not None
    assert first.id == s.bp["id"]
    assert await obs.count() == 2
    raw = await obs.search(_summary="count").fetch_raw()
    assert raw["total"] == 2
    assert "entry" not in raw
    # every page through the next links
    assert set(ids(await obs.limit(1).fetch_all())) == {s.bp["id"], s.hb["id"]}
    (subset,) = await obs.search(_id=s.hb["id"]).elements("code", "status").fetch()
    assert set(subset) == {"resourceType", "id", "meta", "code", "status"}
    assert subset["meta"]["tag"][-1]["code"] == "SUBSETTED"


async def test_include_and_revinclude(live_server, sent: Sent):
    s, w = sent, sent.w
    fhir = fhirpy_client(live_server, w.doctor)
    raw = await (
        fhir.resources("Observation")
        .search(subject=f"Patient/{w.patient.id}", code="85354-9")
        .include("Observation", "encounter")
        .include("Observation", "subject", "Patient")
        .fetch_raw()
    )
    assert modes(raw) == {
        "match": [f"Observation/{s.bp['id']}"],
        "include": [f"Encounter/{s.enc['id']}", f"Patient/{w.patient.id}"],
    }
    raw = await (
        fhir.resources("Encounter")
        .search(subject=f"Patient/{w.patient.id}")
        .revinclude("Observation", "encounter")
        .revinclude("Procedure", "encounter")
        .fetch_raw()
    )
    assert sorted(modes(raw)["include"]) == sorted(
        [f"Observation/{s.bp['id']}", f"Procedure/{s.proc['id']}"]
    )
    raw = await fhir.resources("Procedure").search(_id=s.proc["id"]).include("*").fetch_raw()
    assert f"Encounter/{s.enc['id']}" in modes(raw)["include"]


async def test_chains_and_has(live_server, sent: Sent):
    s, w = sent, sent.w
    fhir = fhirpy_client(live_server, w.doctor)
    system = system_uri(get_settings().country)
    procs = fhir.resources("Procedure")
    assert ids(await procs.search(subject__Patient__identifier=f"{system}|{s.nid}").fetch()) == [
        s.proc["id"]
    ]
    assert ids(await procs.search(patient__identifier=s.nid).fetch()) == [s.proc["id"]]
    assert ids(await procs.search(subject__identifier=f"{system}|nobody").fetch()) == []
    # a shared type: with a record parameter beside the chain, the record answers it
    obs = fhir.resources("Observation").search(subject__Patient__identifier=s.nid)
    assert ids(await obs.search(date__ge="2026").fetch()) == [s.bp["id"]]
    with pytest.raises(OperationOutcome):
        await procs.search(subject__Patient__name="x").fetch()
    patients = fhir.resources("Patient")
    assert ids(await patients.has("Observation", "patient", code=f"{LOINC}|{HB}").fetch()) == [
        str(w.patient.id)
    ]
    assert ids(await patients.has("Procedure", "subject", date__ge="2026").fetch()) == [
        str(w.patient.id)
    ]
    assert await patients.has("Observation", "patient", code="none-such").fetch() == []


async def test_string_modifiers_and_lenient_handling(live_server, sent: Sent):
    s, w = sent, sent.w
    family = w.patient.family_name
    fhir = fhirpy_client(live_server, w.doctor)
    patients = fhir.resources("Patient")
    assert ids(await patients.search(family__exact=family).fetch()) == [str(w.patient.id)]
    assert ids(await patients.search(family__contains=family[2:].lower()).fetch()) == [
        str(w.patient.id)
    ]
    assert await patients.search(family__exact=family.lower()).fetch() == []
    ns = await fhir.resources("NamingSystem").search(name__contains="hospitalenc").fetch()
    assert "CityHospitalEncounters" in [n["name"] for n in ns]
    obs = fhir.resources("Observation").search(subject=f"Patient/{w.patient.id}")
    with pytest.raises(OperationOutcome):
        await obs.search(performer="x").fetch()
    lenient = fhirpy_client(live_server, w.doctor, extra_headers={"Prefer": "handling=lenient"})
    lobs = lenient.resources("Observation").search(subject=f"Patient/{w.patient.id}")
    raw = await lobs.search(performer="x").fetch_raw()
    assert len(modes(raw)["match"]) == 2
    assert modes(raw)["outcome"] == ["OperationOutcome/None"]
    assert set(ids(await lobs.search(performer="x").fetch())) == {s.bp["id"], s.hb["id"]}
