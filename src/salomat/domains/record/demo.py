"""The demo shared health record (the ``record`` section of a pack's demo.yaml).

A hospital of the demo region sends what its own information system holds of a stay:
the encounter, the diagnosis made in it and the vital signs measured, each as a FHIR R4
resource through the same service the FHIR API calls (``create_resource``), as the
hospital's clinician account (``sender``, bound to ``hospital``). The patients are demo
people attached to the demo polyclinic, so its family doctor reads the stay on the
patient's card ("Shared health record").

The hospital's laboratory also sends a haemoglobin for a demo pregnant woman
(``antenatal_lab``): 6.5 g/dL, this morning. Maternal takes it as 65 g/L, severe anaemia
(WHO < 70 g/L), so her pregnancy page shows the advice with the Observation and the
hospital named, as docs/maternal.md describes. She is the woman with the highest risk
level among the demo's current pregnancies (then the lowest national id), so the demo's
counts by risk level stay as the pack's comments count them.

The hospital's case numbers are business identifiers under a system the loader registers
as a NamingSystem (as the platform's admin would); every resource carries one and is
sent as a conditional create on it, so a second load (``--force``) stores nothing twice.

A stay:

- ``patient``: the national id of a demo person;
- ``case``: the hospital's case number (each resource's identifier is
  ``<case>-<part>``: ``enc``, ``dx``, ``vs<n>``);
- ``admitted`` / ``discharged``: days from the day of loading (-20: twenty days before),
  at ``admitted_at`` / ``discharged_at`` o'clock in the country's time;
- ``department``: the encounter's type as the hospital words it;
- ``diagnosis``: ``code`` (ICD-10) and ``text``;
- ``vitals``: each ``loinc``, ``text``, ``hours`` after admission and either ``value``
  with ``unit`` (UCUM) or ``systolic`` and ``diastolic`` (a blood pressure panel).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.maternal import service as maternal
from salomat.domains.record import service as record
from salomat.domains.record.schemas import NamingSystemIn
from salomat.domains.registry import service as registry

__all__ = ["load_demo_record"]

SECTION = "record"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
#: the components of a blood pressure panel (LOINC 85354-9)
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
#: who registers the hospital's identifier system (as the platform's admin would)
ADMIN = Principal(user_id=0, username="cli:demo-load", role="admin", session_id="cli")


def _bad(key: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(f"{SECTION}.{key}", message, params)])


def _named(key: str, e: SalomatError) -> SalomatError:
    """The service's refusal with each field named inside the demo file's stay."""
    if isinstance(e, Invalid) and e.errors:
        return Invalid.fields(
            [FieldError(f"{SECTION}.{key}.{fe.field}", fe.msgid, fe.params) for fe in e.errors]
        )
    return type(e)(
        e.msgid, params=e.params, errors=[FieldError(f"{SECTION}.{key}", e.msgid, e.params)]
    )


def _moment(day: date, hour: str) -> str:
    """An instant in the country's time, as a hospital's system writes it (with offset)."""
    zone = pack.time_zone(get_settings().country)
    at = datetime.combine(day, time.fromisoformat(hour), tzinfo=zone)
    return at.isoformat(timespec="seconds")


def _quantity(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def stay_resources(
    stay: dict[str, Any], person_id: int, system: str, today: date
) -> list[tuple[str, dict[str, Any]]]:
    """The stay's resources in the order they are sent, each with its identifier value;
    the visit's own reference is ``Encounter/{visit}``, filled in once it is stored."""
    patient = {"reference": f"Patient/{person_id}"}
    case = str(stay["case"])
    admitted = today + timedelta(days=int(stay["admitted"]))
    start = datetime.fromisoformat(_moment(admitted, str(stay.get("admitted_at", "10:00"))))

    def ident(part: str) -> list[dict[str, str]]:
        return [{"system": system, "value": f"{case}-{part}"}]

    period: dict[str, str] = {"start": start.isoformat(timespec="seconds")}
    if stay.get("discharged") is not None:
        left = today + timedelta(days=int(stay["discharged"]))
        period["end"] = _moment(left, str(stay.get("discharged_at", "12:00")))
    out: list[tuple[str, dict[str, Any]]] = [
        (
            f"{case}-enc",
            {
                "resourceType": "Encounter",
                "identifier": ident("enc"),
                "status": "finished" if "end" in period else "in-progress",
                "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
                "type": [{"text": str(stay["department"])}],
                "subject": patient,
                "period": period,
            },
        )
    ]
    dx = stay["diagnosis"]
    out.append(
        (
            f"{case}-dx",
            {
                "resourceType": "Condition",
                "identifier": ident("dx"),
                "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
                "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
                "code": {
                    "coding": [{"system": ICD10, "code": str(dx["code"])}],
                    "text": str(dx["text"]),
                },
                "subject": patient,
                "encounter": {"reference": "Encounter/{visit}"},
                "recordedDate": (start + timedelta(hours=1)).isoformat(timespec="seconds"),
            },
        )
    )
    for n, v in enumerate(stay.get("vitals", []), start=1):
        body: dict[str, Any] = {
            "resourceType": "Observation",
            "identifier": ident(f"vs{n}"),
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": str(v["loinc"])}], "text": v["text"]},
            "subject": patient,
            "encounter": {"reference": "Encounter/{visit}"},
            "effectiveDateTime": (start + timedelta(hours=float(v.get("hours", 0)))).isoformat(
                timespec="seconds"
            ),
        }
        if "systolic" in v:
            body["component"] = [
                {
                    "code": {"coding": [{"system": LOINC, "code": code}]},
                    "valueQuantity": _quantity(v[part], "mm[Hg]"),
                }
                for code, part in ((SYSTOLIC, "systolic"), (DIASTOLIC, "diastolic"))
            ]
        else:
            body["valueQuantity"] = _quantity(v["value"], str(v["unit"]))
        out.append((f"{case}-vs{n}", body))
    return out


async def _system(session: Any, spec: dict[str, Any]) -> str:
    """The hospital's case-number system, registered once."""
    s = spec["identifier_system"]
    url = str(s["url"])
    if not await record.list_naming_systems(session, url=url):
        await record.register_naming_system(
            session,
            ADMIN,
            NamingSystemIn(
                name=str(s["name"]),
                url=url,
                description=s.get("description"),
                responsible=s.get("responsible"),
            ),
        )
    return url


def _with_visit(body: dict[str, Any], visit: str) -> dict[str, Any]:
    if body.get("encounter", {}).get("reference") == "Encounter/{visit}":
        return {**body, "encounter": {"reference": f"Encounter/{visit}"}}
    return body


async def load_demo_record(
    session: Any,
    spec: dict[str, Any],
    person_ids: dict[str, int],
    *,
    today: date | None = None,
) -> int:
    """Send the section's stays; returns the resources stored (0 when already loaded)."""
    if not spec:
        return 0
    today = today or date.today()
    fid = await registry.facility_id_by_code(session, str(spec["hospital"]))
    if fid is None:
        raise _bad("hospital", N_("no facility has code %(code)s"), {"code": spec["hospital"]})
    sender = Principal(
        user_id=0,
        username=str(spec["sender"]),
        role=str(spec.get("sender_role", "obstetrician")),
        session_id="cli",
        facility_id=fid,
        facility_code=str(spec["hospital"]),
    )
    system = await _system(session, spec)
    stored = 0
    for k, stay in enumerate(spec.get("stays", [])):
        key = f"stays.{k}"
        nid = str(stay["patient"])
        person_id = person_ids.get(nid) or await registry.person_id_by_national_id(session, nid)
        if person_id is None:
            raise _bad(key, N_("no demo patient has national id %(id)s"), {"id": nid})
        visit = ""
        try:
            for value, body in stay_resources(stay, person_id, system, today):
                res, created = await record.create_resource(
                    session,
                    sender,
                    _with_visit(body, visit),
                    if_none_exist=[("identifier", f"{system}|{value}")],
                )
                if body["resourceType"] == "Encounter":
                    visit = res.fhir_id
                stored += int(created)
        except SalomatError as e:
            raise _named(key, e) from None
    try:
        stored += await _antenatal_lab(session, sender, system, person_ids, today)
    except SalomatError as e:
        raise _named("antenatal_lab", e) from None
    return stored


#: which current pregnancy the demo laboratory result is about: the highest risk first
_RISK_ORDER = {"high": 0, "medium": 1, "low": 2}


def antenatal_lab_resource(person_id: int, system: str, value: str, today: date) -> dict[str, Any]:
    """The hospital laboratory's haemoglobin: LOINC 718-7 in g/dL, this morning."""
    return {
        "resourceType": "Observation",
        "identifier": [{"system": system, "value": value}],
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
        "code": {
            "coding": [{"system": LOINC, "code": "718-7"}],
            "text": "Gemoglobin",
        },
        "subject": {"reference": f"Patient/{person_id}"},
        "effectiveDateTime": _moment(today, "08:30"),
        "valueQuantity": _quantity(6.5, "g/dL"),
    }


async def _antenatal_lab(
    session: Any, sender: Principal, system: str, person_ids: dict[str, int], today: date
) -> int:
    risks = await maternal.current_risk_levels(session, list(person_ids.values()))
    women = [(nid, pid) for nid, pid in person_ids.items() if pid in risks]
    if not women:
        return 0
    nid, pid = min(women, key=lambda w: (_RISK_ORDER.get(risks[w[1]] or "", 3), w[0]))
    value = f"lab-{nid}-hb"
    _, created = await record.create_resource(
        session,
        sender,
        antenatal_lab_resource(pid, system, value, today),
        if_none_exist=[("identifier", f"{system}|{value}")],
    )
    return int(created)
