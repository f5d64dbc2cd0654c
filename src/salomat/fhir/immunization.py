"""Immunization and ImmunizationRecommendation <-> the immunization register (thin mappers).

- ``Immunization``: one dose. ``vaccineCode`` carries the pack's vaccine code
  (``urn:salomat:vaccine``) and, when the pack has one, the CDC CVX code;
  a dose recorded without its product (a paper record, the packs' demo data)
  carries the vaccine group instead: the calendar's antigen
  (``urn:salomat:immunization-series``, the series code), so that every
  ``vaccineCode`` has a coding from the ``immunization-vaccine`` value set.
  An incoming dose needs the product, or, when it was given elsewhere
  (``primarySource: false``), at least the vaccine group (the register keeps
  such a dose without a product);
  ``protocolApplied[0]`` the series (the pack's antigen code) and the dose
  number: the place the dose counts in its series (valid doses in date
  order), not necessarily the number recorded; when the two differ, a
  ``note`` says what was recorded. A dose that does not count (given before
  its minimum age or interval, or once the series was complete) is
  ``isSubpotent: true`` with the reason in ``subpotentReason`` and keeps the
  recorded number. An incoming ``doseNumber`` is taken as the number
  recorded; where the dose counts is decided here.
  A dose given elsewhere is ``primarySource: false`` with the place in
  ``location.display``.
- ``ImmunizationRecommendation``: computed from the schedule, one per
  patient (its id is the patient's), one ``recommendation`` per calendar dose.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from salomat.core.errors import FieldError, Invalid
from salomat.core.i18n import N_
from salomat.domains.immunization.schemas import DoseIn, DoseOut, ScheduleOut
from salomat.fhir.common import instant, meta, reference_id, validated

CVX = "http://hl7.org/fhir/sid/cvx"
SERIES_SYSTEM = "urn:salomat:immunization-series"
SITE_SYSTEM = "urn:salomat:immunization-site"
STATUS_SYSTEM = "urn:salomat:immunization-forecast-status"
HL7_FORECAST = "http://terminology.hl7.org/CodeSystem/immunization-recommendation-status"
LOINC = "http://loinc.org"
#: our schedule status -> HL7 forecast status (upcoming and not_eligible have none)
HL7_STATUS = {
    "due": "due",
    "overdue": "overdue",
    "given": "complete",
    "exempt": "contraindicated",
}
#: LOINC date criteria (the ImmunizationRecommendation examples use these)
DATE_CRITERIA = (
    ("earliest_on", "30981-5", "Earliest date to give"),
    ("due_on", "30980-7", "Date vaccine due"),
    ("overdue_on", "59778-1", "Date when overdue for immunization"),
    ("latest_on", "59777-3", "Latest date to give immunization"),
)
#: the service's field names as the FHIR elements a client sent
FIELDS = {
    "antigen": "Immunization.protocolApplied[0].series",
    "dose_number": "Immunization.protocolApplied[0].doseNumberPositiveInt",
    "given_on": "Immunization.occurrenceDateTime",
    "vaccine": "Immunization.vaccineCode",
    "lot": "Immunization.lotNumber",
    "expires_on": "Immunization.expirationDate",
    "site": "Immunization.site",
    "place": "Immunization.location",
    "given_elsewhere": "Immunization.primarySource",
    "practitioner_id": "Immunization.performer[0].actor",
}


def immunization(d: DoseOut, calendar: Any) -> dict[str, Any]:
    from fhir.resources.R4B.immunization import Immunization

    coding: list[dict[str, str]] = []
    if d.vaccine:
        product = calendar.vaccines.get(d.vaccine, {})
        coding.append(
            {
                "system": calendar.code_system,
                "code": d.vaccine,
                "display": product.get("label", d.vaccine),
            }
        )
        if product.get("cvx"):
            coding.append({"system": CVX, "code": str(product["cvx"])})
    elif (series := calendar.get(d.antigen)) is not None:
        # the product is not known (a paper record, a dose given elsewhere): the vaccine
        # group, i.e. the calendar's antigen, is what is known of the vaccine
        coding.append({"system": SERIES_SYSTEM, "code": d.antigen, "display": series.label})
    res: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(d.id),
        "meta": meta(d.version, d.recorded_at),
        "status": "entered-in-error" if d.status == "entered_in_error" else "completed",
        "vaccineCode": {"coding": coding, "text": d.label or d.antigen}
        if coding
        else {"text": d.label or d.antigen},
        "patient": {"reference": f"Patient/{d.person_id}"},
        "occurrenceDateTime": d.given_on.isoformat(),
        "recorded": instant(d.recorded_at),
        "primarySource": d.source != "elsewhere" and not d.place_elsewhere,
        "protocolApplied": [
            {"series": d.antigen, "doseNumberPositiveInt": d.counted_as or d.dose_number}
        ],
    }
    if d.counted_as is not None and d.counted_as != d.dose_number:
        res["note"] = [
            {
                "text": f"Recorded as dose {d.dose_number}; counts as dose {d.counted_as} "
                "(valid doses of the series in date order)."
            }
        ]
    if d.lot:
        res["lotNumber"] = d.lot
    if d.expires_on:
        res["expirationDate"] = d.expires_on.isoformat()
    if d.site:
        res["site"] = {
            "coding": [
                {"system": SITE_SYSTEM, "code": d.site, "display": calendar.sites.get(d.site, "")}
            ]
        }
    performers = []
    if d.practitioner_id:
        performers.append({"actor": {"reference": f"Practitioner/{d.practitioner_id}"}})
    if d.facility_id:
        performers.append({"actor": {"reference": f"Organization/{d.facility_id}"}})
    if performers:
        res["performer"] = performers
    if d.place_elsewhere:
        res["location"] = {"display": d.place_elsewhere}
    if not d.valid:
        res["isSubpotent"] = True
        res["subpotentReason"] = [{"text": d.invalid_reason or "does not count"}]
    return validated(Immunization, res)


def recommendation(s: ScheduleOut, calendar: Any) -> dict[str, Any]:
    from fhir.resources.R4B.immunizationrecommendation import ImmunizationRecommendation

    recs = []
    for item in s.doses:
        coding = [{"system": STATUS_SYSTEM, "code": item.status}]
        if item.status in HL7_STATUS:
            coding.append({"system": HL7_FORECAST, "code": HL7_STATUS[item.status]})
        criteria = []
        for attr, code, display in DATE_CRITERIA:
            value: date | None = getattr(item, attr)
            if value is not None:
                criteria.append(
                    {
                        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                        "value": value.isoformat(),
                    }
                )
        series = calendar.get(item.antigen)
        rec: dict[str, Any] = {
            "vaccineCode": [
                {
                    "coding": [{"system": calendar.code_system, "code": v} for v in series.vaccines]
                    if series
                    else [],
                    "text": item.label,
                }
            ],
            "forecastStatus": {"coding": coding, "text": item.status},
            "dateCriterion": criteria,
            "series": item.antigen,
            "doseNumberPositiveInt": item.dose_number,
        }
        if item.waiting_for:
            rec["description"] = f"after {item.waiting_for}"
        if item.exemption:
            rec["forecastReason"] = [{"text": item.exemption}]
        recs.append(rec)
    res = {
        "resourceType": "ImmunizationRecommendation",
        "id": str(s.person_id),
        "meta": {"versionId": "1"},
        "patient": {"reference": f"Patient/{s.person_id}"},
        "date": s.on.isoformat(),
        "recommendation": recs,
    }
    return validated(ImmunizationRecommendation, res)


def _ref_id(ref: Any, kind: str, element: str) -> int | None:
    if ref is None or not ref.reference:
        return None
    v = reference_id(ref.reference, kind)
    if v is None:
        raise Invalid.fields([FieldError(element, f"must reference {kind}/<id>")])
    return v


def from_fhir(imm: Any, calendar: Any) -> tuple[int, DoseIn]:
    """The patient id and the dose an incoming R4B ``Immunization`` describes."""
    errors: list[FieldError] = []
    if imm.status != "completed":
        errors.append(FieldError("Immunization.status", "only completed doses are accepted"))
    person_id = _ref_id(imm.patient, "Patient", "Immunization.patient")
    if person_id is None:
        errors.append(FieldError("Immunization.patient", "is required"))
    vaccine, groups = None, []
    for c in imm.vaccineCode.coding or []:
        if c.system == calendar.code_system:
            vaccine = c.code
        elif c.system == SERIES_SYSTEM and c.code:
            groups.append(c.code)
    elsewhere = imm.primarySource is False
    if vaccine is None and (not groups or not elsewhere):
        # the register keeps a dose without its product only when it was given elsewhere
        # (DoseIn: vaccine "is required for a dose given here")
        errors.append(
            FieldError(
                "Immunization.vaccineCode",
                N_(
                    "needs a coding from %(products)s (the product); the vaccine group "
                    "alone (%(groups)s) only for a dose given elsewhere (primarySource false)"
                ),
                {"products": calendar.code_system, "groups": SERIES_SYSTEM},
            )
        )
    given_on: date | None = None
    if imm.occurrenceDateTime is None:
        errors.append(FieldError("Immunization.occurrenceDateTime", "is required"))
    else:
        v = imm.occurrenceDateTime
        if isinstance(v, datetime):
            given_on = v.date()
        elif isinstance(v, date):
            given_on = v
        else:  # a partial date ("2024-05", "2024") is kept as text by fhir.resources
            try:
                given_on = date.fromisoformat(str(v)[:10])
            except ValueError:
                errors.append(
                    FieldError(
                        "Immunization.occurrenceDateTime",
                        f"a full date is required (YYYY-MM-DD), not {str(v)!r}",
                    )
                )
    antigen, dose_number = None, None
    if imm.protocolApplied:
        p = imm.protocolApplied[0]
        antigen = p.series
        dose_number = p.doseNumberPositiveInt
        text = p.doseNumberString
        if dose_number is None and text and text.isascii() and text.isdigit() and len(text) < 4:
            dose_number = int(text)
    for group in dict.fromkeys(groups):
        if antigen is None:
            antigen = group
        elif antigen != group:
            errors.append(
                FieldError(
                    "Immunization.vaccineCode",
                    N_("the vaccine group %(group)s is not the series %(series)s"),
                    {"group": group, "series": antigen},
                )
            )
    if antigen is None and vaccine in calendar.vaccines:
        series = calendar.vaccines[vaccine].get("series", [])
        if len(series) == 1:
            antigen = series[0]
    if antigen is None:
        errors.append(FieldError(FIELDS["antigen"], "is required (the series code)"))
    if dose_number is None:
        errors.append(FieldError(FIELDS["dose_number"], "is required"))
    site = None
    if imm.site is not None:
        site = next((c.code for c in imm.site.coding or [] if c.system == SITE_SYSTEM), None)
        if site is None:
            errors.append(FieldError("Immunization.site", f"needs a coding from {SITE_SYSTEM}"))
    practitioner_id = None
    for i, perf in enumerate(imm.performer or []):
        ref = perf.actor.reference or ""
        if ref.startswith("Practitioner/"):
            practitioner_id = _ref_id(
                perf.actor, "Practitioner", f"Immunization.performer[{i}].actor"
            )
        elif not ref.startswith("Organization/"):
            errors.append(
                FieldError(
                    f"Immunization.performer[{i}].actor",
                    "must reference Practitioner/<id> or Organization/<id>",
                )
            )
    place = imm.location.display if imm.location is not None else None
    if errors:
        raise Invalid.fields(errors)
    assert person_id is not None
    assert given_on is not None
    assert antigen is not None
    assert dose_number is not None
    try:
        data = DoseIn(
            antigen=antigen,
            dose_number=dose_number,
            given_on=given_on,
            vaccine=vaccine,
            lot=imm.lotNumber,
            expires_on=imm.expirationDate,
            site=site,
            practitioner_id=practitioner_id,
            given_elsewhere=elsewhere,
            place=place,
        )
    except ValidationError as e:
        raise Invalid.fields(
            [
                FieldError(FIELDS.get(str(err["loc"][0]), "Immunization"), err["msg"])
                for err in e.errors()
            ]
        ) from e
    return person_id, data
