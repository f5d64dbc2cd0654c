"""The shared health record under load (issue 18): FHIR transactions of 20 entries beside
single creates, through the app, in the same run.

``run(ctx)`` measures, with ``bench/loadgen.py`` (16 connections on loopback, a warm-up
then a fixed window, as ``bench/api.py``), a district hospital's clinician sending:

* single creates, ``POST /fhir/Observation`` (a vital sign of a person of the
  population: R4B parsing, the record's checks, the row, its version, its tokens, the
  audit row), against the bare one-insert endpoint of ``bench/bare_app.py`` served the
  same way in the same run (throughput ratio);
* transactions, ``POST /fhir`` with a Bundle of 20 entries (an Encounter with a
  ``urn:uuid`` fullUrl, its Condition and 18 Observations referring to it: a hospital
  stay as a hospital's system sends it), all or nothing, 4 at once (80 writes in
  flight against the single creates' 16) over a window of at least 20 s: resources
  stored a second against the resources a second of the single creates (the ratio says
  what batching 20 entries in one request and one transaction gains or costs).

* a search as a family doctor's system makes it for a person it knows by national id:
  ``GET /fhir/Encounter?subject:Patient.identifier=<system>|<id>&_include=Encounter:subject
  &_revinclude=Condition:encounter`` (a chained parameter, the Patient and each stay's
  diagnoses in the same Bundle), for the doctor's attached people whose stays a hospital
  sent (the facility with most such people): its p95 against
  the bare primary-key read and against the plain ``GET /fhir/Encounter?patient=<id>`` of
  the same people in the same run (what the chain and the includes cost).

Writes go to a throwaway copy of the population's database (``api.scratch_copy``),
dropped at the end. The figures count 2xx answers only; a refused transaction (4xx) is
reported by status, never counted.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from bench.api import (
    CONNECTIONS,
    MAX_WRITE_RATE,
    _detail,
    _loadgen,
    _token,
    add_user,
    app_server,
    bare_baselines,
    p95_figure,
    registrations,
    scratch_copy,
)
from bench.common import BenchContext, Figure

SUITE = "record"
ENTRIES = 20
PEOPLE_SENT_FOR = 2000
SINGLE_BODIES = 1000
BUNDLES = 300
#: people searched for by their national id (each a chained search with _include)
SEARCHED_PEOPLE = 2000
#: concurrent transactions (each 20 writes; the single creates run CONNECTIONS at once)
TX_CONNECTIONS = 4
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITALS = (
    ("8867-4", "Heart rate", "/min", 60, 110),
    ("8310-5", "Body temperature", "Cel", 36, 39),
    ("9279-1", "Respiratory rate", "/min", 12, 24),
    ("29463-7", "Body weight", "kg", 45, 110),
)


def run(
    ctx: BenchContext, *, warmup: float | None = None, duration: float | None = None
) -> list[Figure]:
    """The figures; ``warmup`` and ``duration`` (seconds per scenario) are for the tests."""
    if warmup is None:
        warmup = 2.0 if ctx.quick else 5.0
    if duration is None:
        duration = 5.0 if ctx.quick else 20.0
    with scratch_copy(ctx) as copy:
        return _run(copy, ctx.people, warmup, duration)


def national_id_system(country: str) -> str:
    from salomat.country.national_id import system_uri

    return system_uri(country)


def chained_search(system: str, national_id: str) -> str:
    """A search for the hospital stays of a person known by national id: the
    Encounters whose subject has that identifier (a chained parameter), with the Patient
    and the Conditions of each stay (``_include``, ``_revinclude``)."""
    query = urlencode(
        [
            ("subject:Patient.identifier", f"{system}|{national_id}"),
            ("_include", "Encounter:subject"),
            ("_revinclude", "Condition:encounter"),
        ]
    )
    return f"/fhir/Encounter?{query}"


def observation(rng: random.Random, person_id: int, at: str) -> dict[str, Any]:
    code, text, unit, low, high = rng.choice(VITALS)
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": at,
        "valueQuantity": {
            "value": rng.randint(low, high),
            "unit": unit,
            "system": UCUM,
            "code": unit,
        },
    }


def stay_bundle(rng: random.Random, person_id: int) -> dict[str, Any]:
    """A transaction of ``ENTRIES`` entries: the Encounter, its Condition and vital signs."""
    visit = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}"
    day = f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}"
    at = f"{day}T{rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}:00+05:00"
    patient = {"reference": f"Patient/{person_id}"}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": visit,
            "resource": {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "type": [{"text": "Therapy department"}],
                "subject": patient,
                "period": {"start": at, "end": at},
            },
            "request": {"method": "POST", "url": "Encounter"},
        },
        {
            "resource": {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}],
                    "text": "Essential hypertension",
                },
                "subject": patient,
                "encounter": {"reference": visit},
                "recordedDate": at,
            },
            "request": {"method": "POST", "url": "Condition"},
        },
    ]
    for _ in range(ENTRIES - 2):
        obs = observation(rng, person_id, at) | {"encounter": {"reference": visit}}
        entries.append({"resource": obs, "request": {"method": "POST", "url": "Observation"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _run(ctx: BenchContext, people: int, warmup: float, duration: float) -> list[Figure]:
    import psycopg

    rng = random.Random(ctx.seed)
    timing = {"warmup": warmup, "duration": duration}
    writes = int(MAX_WRITE_RATE * (warmup + duration))
    ctx.work.mkdir(parents=True, exist_ok=True)
    conn = psycopg.connect(ctx.dsn, autocommit=True)
    row = conn.execute(
        "SELECT code FROM facility WHERE kind = 'district_hospital' ORDER BY id LIMIT 1"
    ).fetchone()
    if row is None:
        raise RuntimeError("the population has no district hospital to send from")
    hospital = row[0]
    persons = [
        pid
        for (pid,) in conn.execute(
            "SELECT id FROM person WHERE merged_into_id IS NULL AND deceased_on IS NULL "
            "ORDER BY md5(id::text) LIMIT %s",
            (PEOPLE_SENT_FOR,),
        )
    ]
    held = conn.execute("SELECT count(*) FROM record_resource").fetchone()[0]
    # the family doctor of the facility with most people whose stays a hospital sent
    # searches for them (they are in the doctor's scope: what the hospital sent shows)
    row = conn.execute(
        "SELECT f.id, f.code FROM person p JOIN facility f ON f.id = p.attached_facility_id "
        "WHERE EXISTS (SELECT 1 FROM record_resource r WHERE r.person_id = p.id "
        "AND r.resource_type = 'Encounter') GROUP BY f.id, f.code ORDER BY count(*) DESC "
        "LIMIT 1"
    ).fetchone()
    doctor_facility_id, doctor_facility = row if row else (None, None)
    searched = conn.execute(
        "SELECT p.id, p.national_id FROM person p WHERE p.national_id IS NOT NULL "
        "AND p.merged_into_id IS NULL AND p.attached_facility_id = %s AND EXISTS (SELECT 1 "
        "FROM record_resource r WHERE r.person_id = p.id AND r.resource_type = 'Encounter') "
        "ORDER BY md5(p.id::text) LIMIT %s",
        (doctor_facility_id, SEARCHED_PEOPLE),
    ).fetchall()
    if not searched:
        raise RuntimeError(
            "the population has no stays sent by a district hospital (loaded before the "
            "shared record's synthetic data): run the bench with --fresh"
        )
    regs = registrations(conn, ctx.country, hospital, writes + 200, rng)

    singles = [
        observation(rng, rng.choice(persons), "2026-11-02T10:45:00+05:00")
        for _ in range(SINGLE_BODIES)
    ]
    bundles = [stay_bundle(rng, rng.choice(persons)) for _ in range(BUNDLES)]

    tag = str(rng.randrange(10**6))
    clinician = f"bench-shr-hospital-{tag}"
    results: dict[str, dict[str, Any]] = {}
    with app_server(ctx, f"bench-shr-admin-{tag}") as app:
        base, port = app.base, app.port
        add_user(app, clinician, "family_doctor", facility_code=hospital)
        doctor = add_user(
            app, f"bench-shr-doctor-{tag}", "family_doctor", facility_code=doctor_facility
        )
        tokens = [_token(base, clinician), _token(base, doctor)]

        def plan(items: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
            return {
                "kind": "requests",
                "base_url": base,
                "tokens": tokens,
                "connections": CONNECTIONS,
                "items": items,
                **timing,
                **kw,
            }

        results["single"] = _loadgen(
            plan(
                [
                    {"method": "POST", "path": "/fhir/Observation", "body": b, "token": 0}
                    for b in singles
                ]
            ),
            ctx.work,
        )
        # a transaction is 20 writes: fewer connections at once, and a window long enough
        # for many of them to complete under load
        results["transaction"] = _loadgen(
            plan(
                [{"method": "POST", "path": "/fhir", "body": b, "token": 0} for b in bundles],
                connections=TX_CONNECTIONS,
                warmup=max(warmup, 5.0),
                duration=max(duration, 20.0),
            ),
            ctx.work,
        )
        # reads: the chained national id with _include and _revinclude, against the plain
        # search by the person's id, on the same people
        system = national_id_system(ctx.country)
        results["search_chained"] = _loadgen(
            plan([{"path": chained_search(system, nid), "token": 1} for _, nid in searched]),
            ctx.work,
        )
        results["search_plain"] = _loadgen(
            plan([{"path": f"/fhir/Encounter?patient={pid}", "token": 1} for pid, _ in searched]),
            ctx.work,
        )
    stored = conn.execute("SELECT count(*) FROM record_resource").fetchone()[0] - held

    results |= bare_baselines(
        port, ctx.env(), timing, ctx.work, regs[:writes], [pid for pid, _ in searched]
    )
    conn.close()
    return figures(replace(ctx, people=people), results, stored)


def figures(ctx: BenchContext, results: dict[str, dict[str, Any]], stored: int) -> list[Figure]:
    single, tx, bare = results["single"], results["transaction"], results["bare_insert"]
    ratio = single["throughput"] / bare["throughput"] if bare["throughput"] else None
    per_second = single["throughput"]  # one resource a request
    tx_resources = tx["throughput"] * ENTRIES
    tx_ratio = tx_resources / per_second if per_second else None
    chained, plain, bare_read = (
        results["search_chained"],
        results["search_plain"],
        results["bare_read"],
    )
    return [
        p95_figure(
            SUITE,
            ctx,
            "FHIR search of a person's stays by a chained national id with _include and "
            "_revinclude (GET /fhir/Encounter?subject:Patient.identifier=…)",
            chained,
            bare_read,
        ),
        p95_figure(
            SUITE,
            ctx,
            "the same search, against the plain search by the person's id",
            chained,
            plain,
            "FHIR search GET /fhir/Encounter?patient=<id> in the same run, p95",
        ),
        Figure(
            suite=SUITE,
            name="FHIR create of one Observation (POST /fhir/Observation)",
            people=ctx.people,
            value=single["throughput"],
            unit="req/s",
            baseline="bare one-insert endpoint (bench/bare_app.py POST /insert)",
            baseline_value=bare["throughput"],
            ratio=float(f"{ratio:.4g}") if ratio is not None else None,
            detail=_detail(single) | {"baseline": _detail(bare)},
        ),
        Figure(
            suite=SUITE,
            name=f"FHIR transaction of {ENTRIES} entries (Encounter, Condition, "
            f"{ENTRIES - 2} Observations; urn:uuid references), resources stored",
            people=ctx.people,
            value=round(tx_resources, 1),
            unit="resources/s",
            baseline="single creates in the same run (POST /fhir/Observation), resources/s",
            baseline_value=per_second,
            ratio=float(f"{tx_ratio:.4g}") if tx_ratio is not None else None,
            detail=_detail(tx)
            | {
                "bundles_per_second": tx["throughput"],
                "entries_per_bundle": ENTRIES,
                "resources_stored_in_run": stored,
                "note": f"{TX_CONNECTIONS} transactions at once; a transaction's latency is its "
                f"{ENTRIES} entries together, its throughput bundles a second times {ENTRIES}",
            },
        ),
    ]
