"""Synthetic shared health record (``salomat synth``): hospital stays sent by the
district hospitals' information systems.

Rates are the pack's ``record.synth`` (pack.yaml):

- ``stays_per_1000``: inpatient stays a year per 1,000 residents; ``sent_share``: the
  share of them whose hospital sends them to the shared record. A living person has a
  Poisson number of sent stays over the 365 days before the run's day, each admitted on
  a day drawn evenly from them, for ``1..max_days`` days.
- ``diagnoses``: ICD-10 codes with the text the hospital words them in and their share
  of the stays.

A stay is what a hospital's system sends (docs/record.md): an inpatient Encounter
(``identifier`` the hospital's case number under the pack's synthetic system, registered
as a NamingSystem), the Condition diagnosed in it, and three vital-sign Observations at
admission (blood pressure panel, heart rate, body temperature), each referring to the
Encounter. The sender is the district hospital of the person's district (the first one
when the district has none), named ``his:<facility code>``.

Each row's search and timeline columns (code, text, category, status, clinical time)
are the service's own description of the body (``service.describe``), so a resource
the generator wrote reads like one the FHIR API stored. Rows are written set-wise
through the bulk writer (COPY on PostgreSQL), ids reserved up front; one pass over the
population, deterministic for a seed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from salomat.core.synth import SynthContext, poisson
from salomat.country import pack
from salomat.domains.record.models import (
    RecordIdentifier,
    RecordNamingSystem,
    RecordResource,
    RecordToken,
    RecordVersion,
)
from salomat.domains.record.service import Prepared, describe
from salomat.domains.record.service.common import fhir_id, instant
from salomat.domains.registry.schemas import SyntheticPopulation

__all__ = ["synthesize_record"]

YEAR_DAYS = 365
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
LOADER = "synth"
RESOURCES_PER_STAY = 5

RESOURCE_COLUMNS = (
    "id", "resource_type", "person_id", "version", "status", "code_system", "code",
    "code_text", "category", "effective_start", "effective_end", "encounter_id", "sender",
    "sender_facility_id", "source", "value_text", "attachment_title", "shown_end",
    "created_at", "last_updated", "body",
)  # fmt: skip
VERSION_COLUMNS = ("resource_id", "version", "body", "changed_at", "changed_by")
IDENTIFIER_COLUMNS = ("id", "resource_id", "resource_type", "system", "value")
TOKEN_COLUMNS = ("id", "resource_id", "param", "system", "code")


@dataclass(frozen=True)
class _Stay:
    first_id: int
    person_id: int
    hospital_id: int
    hospital_code: str
    admitted: datetime
    days: int
    diagnosis: int
    systolic: int
    diastolic: int
    pulse: int
    temperature: float
    case: int


def _rules(country: str) -> dict[str, Any]:
    rules = (pack.load(country).get("record") or {}).get("synth")
    if not rules:
        raise ValueError(f"{country}/pack.yaml has no record.synth section")
    return dict(rules)


def _weighted(rng: Any, weights: list[float]) -> int:
    r = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        r -= w
        if r < 0:
            return i
    return len(weights) - 1


def _resources(stay: _Stay, rules: dict[str, Any], tz: Any) -> list[dict[str, Any]]:
    """The stay's five resources as its hospital sends them."""
    patient = {"reference": f"Patient/{stay.person_id}"}
    visit = {"reference": f"Encounter/{fhir_id(stay.first_id)}"}
    start = stay.admitted.astimezone(tz)
    end = (stay.admitted + timedelta(days=stay.days, hours=2)).astimezone(tz)
    at = start + timedelta(minutes=15)
    dx = rules["diagnoses"][stay.diagnosis]

    def when(t: datetime) -> str:
        return t.isoformat(timespec="seconds")

    def vital(code: str, text: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
            "subject": patient,
            "encounter": visit,
            "effectiveDateTime": when(at),
        }

    def quantity(value: Any, unit: str) -> dict[str, Any]:
        return {"value": value, "unit": unit, "system": UCUM, "code": unit}

    texts = rules["texts"]
    pressure = vital("85354-9", texts["blood_pressure"])
    pressure["component"] = [
        {"code": {"coding": [{"system": LOINC, "code": c}]}, "valueQuantity": quantity(v, "mm[Hg]")}
        for c, v in (("8480-6", stay.systolic), ("8462-4", stay.diastolic))
    ]
    pulse = vital("8867-4", texts["heart_rate"]) | {"valueQuantity": quantity(stay.pulse, "/min")}
    temperature = vital("8310-5", texts["body_temperature"]) | {
        "valueQuantity": quantity(stay.temperature, "Cel")
    }
    return [
        {
            "resourceType": "Encounter",
            "identifier": [
                {"system": rules["identifier_system"], "value": f"{stay.hospital_code}-{stay.case}"}
            ],
            "status": "finished",
            "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
            "type": [{"text": texts["department"]}],
            "subject": patient,
            "period": {"start": when(start), "end": when(end)},
        },
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
            "code": {"coding": [{"system": ICD10, "code": dx["code"]}], "text": dx["text"]},
            "subject": patient,
            "encounter": visit,
            "recordedDate": when(start + timedelta(hours=1)),
        },
        pressure,
        pulse,
        temperature,
    ]


def _hospitals(pop: SyntheticPopulation) -> tuple[dict[int, tuple[int, str]], tuple[int, str]]:
    hospitals = pop.facilities_of_kind("district_hospital")
    if not hospitals:
        raise ValueError("the synthetic network has no district hospital to send stays")
    by_district: dict[int, tuple[int, str]] = {}
    for h in hospitals:
        by_district.setdefault(h.district_id, (h.id, h.code))
    return by_district, (hospitals[0].id, hospitals[0].code)


def _expand(stay: _Stay, rules: dict[str, Any], tz: Any) -> list[tuple[dict[str, Any], Prepared]]:
    """The stay's resources, each with the columns the service describes it by."""
    out = []
    for resource in _resources(stay, rules, tz):
        out.append((resource, describe(resource)))
    return out


def _body(rid: int, resource: dict[str, Any], at: datetime) -> str:
    """The JSON as the service stores it: id and meta first, then the resource as sent."""
    data: dict[str, Any] = {
        "resourceType": resource["resourceType"],
        "id": fhir_id(rid),
        "meta": {"versionId": "1", "lastUpdated": instant(at)},
    }
    data.update({k: v for k, v in resource.items() if k != "resourceType"})
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _stays(ctx: SynthContext, pop: SyntheticPopulation, rules: dict[str, Any]) -> list[_Stay]:
    rng = ctx.rng("record")
    tz = pack.time_zone(ctx.country)
    lam = float(rules["stays_per_1000"]) / 1000 * float(rules.get("sent_share", 1.0))
    max_days = int(rules.get("max_days", 10))
    shares = [float(d["share"]) for d in rules["diagnoses"]]
    by_district, fallback = _hospitals(pop)
    first_day = datetime.combine(
        pop.as_of - timedelta(days=YEAR_DAYS), time(8), tzinfo=tz
    ).astimezone(UTC)
    table = RecordResource.__table__
    stays: list[_Stay] = []
    cases: dict[str, int] = {}
    task = ctx.progress.start("record", len(pop))
    done = 0
    for i in range(len(pop)):
        if i - done == 10_000:
            task(i - done)
            done = i
        if not pop.alive(i):
            continue
        for _ in range(poisson(rng, lam)):
            district = pop.district_of.get(pop.settlement_id[i], -1)
            hid, hcode = by_district.get(district, fallback)
            cases[hcode] = cases.get(hcode, 0) + 1
            stays.append(
                _Stay(
                    first_id=ctx.writer.next_id(table, RESOURCES_PER_STAY),
                    person_id=pop.person_id[i],
                    hospital_id=hid,
                    hospital_code=hcode,
                    admitted=first_day
                    + timedelta(days=rng.randrange(YEAR_DAYS), minutes=rng.randrange(600)),
                    days=rng.randint(1, max_days),
                    diagnosis=_weighted(rng, shares),
                    systolic=rng.randrange(100, 170, 5),
                    diastolic=rng.randrange(60, 100, 5),
                    pulse=rng.randint(58, 104),
                    temperature=round(rng.uniform(36.2, 38.4), 1),
                    case=cases[hcode],
                )
            )
    task(len(pop) - done)
    return stays


def synthesize_record(ctx: SynthContext, pop: SyntheticPopulation) -> int:
    """Write the sent stays; returns how many resources were written."""
    rules = _rules(ctx.country)
    tz = pack.time_zone(ctx.country)
    system = str(rules["identifier_system"])
    stays = _stays(ctx, pop, rules)
    now = datetime.now(UTC).replace(microsecond=0)
    resources, versions = RecordResource.__table__, RecordVersion.__table__
    identifiers, tokens = RecordIdentifier.__table__, RecordToken.__table__
    naming = RecordNamingSystem.__table__

    per_stay = (
        sum(len(dict.fromkeys(p.tokens)) for _, p in _expand(stays[0], rules, tz)) if stays else 0
    )
    first_identifier = ctx.writer.next_id(identifiers, len(stays)) if stays else 0
    first_token = ctx.writer.next_id(tokens, len(stays) * per_stay) if per_stay else 0

    def sender(stay: _Stay) -> str:
        return f"his:{stay.hospital_code}"

    def resource_rows() -> Iterator[tuple[Any, ...]]:
        for stay in stays:
            for k, (r, p) in enumerate(_expand(stay, rules, tz)):
                yield (
                    stay.first_id + k, r["resourceType"], stay.person_id, 1, p.status,
                    p.code_system, p.code, p.code_text, p.category, p.effective_start,
                    p.effective_end, stay.first_id if k else None, sender(stay),
                    stay.hospital_id, None, p.value_text, p.attachment_title, p.shown_end,
                    now, now, _body(stay.first_id + k, r, now),
                )  # fmt: skip

    def version_rows() -> Iterator[tuple[Any, ...]]:
        for stay in stays:
            for k, (r, _) in enumerate(_expand(stay, rules, tz)):
                yield stay.first_id + k, 1, _body(stay.first_id + k, r, now), now, sender(stay)

    def identifier_rows() -> Iterator[tuple[Any, ...]]:
        for n, stay in enumerate(stays):
            value = f"{stay.hospital_code}-{stay.case}"
            yield first_identifier + n, stay.first_id, "Encounter", system, value

    def token_rows() -> Iterator[tuple[Any, ...]]:
        n = first_token
        for stay in stays:
            found = [
                (stay.first_id + k, *t)
                for k, (_, p) in enumerate(_expand(stay, rules, tz))
                for t in dict.fromkeys(p.tokens)
            ]
            if len(found) != per_stay:
                raise ValueError("every synthetic stay has as many tokens as the first")
            for row in found:
                yield n, *row
                n += 1

    ctx.writer.write(
        naming,
        ("id", "name", "url", "kind", "description", "responsible", "status", "created_by",
         "created_at"),
        [(ctx.writer.next_id(naming), str(rules["identifier_system_name"]), system,
          "identifier", "salomat synth", None, "active", LOADER, now)],
    )  # fmt: skip
    ctx.count("record_naming_system", 1)
    written = ctx.writer.write(resources, RESOURCE_COLUMNS, resource_rows())
    ctx.count("record_resource", written)
    ctx.count("record_version", ctx.writer.write(versions, VERSION_COLUMNS, version_rows()))
    ctx.count(
        "record_identifier", ctx.writer.write(identifiers, IDENTIFIER_COLUMNS, identifier_rows())
    )
    ctx.count("record_token", ctx.writer.write(tokens, TOKEN_COLUMNS, token_rows()))
    return written
