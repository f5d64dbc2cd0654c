"""Screening and disease management in the browser: the facility's worklists, a
patient's programme card (enrolments, control and its trend chart, screenings due) with
the screening, enrolment and follow-up forms."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service as _registry
from salomat.domains.screening import service as _service
from salomat.domains.screening.schemas import (
    DmpVisitIn,
    EnrolmentIn,
    MeasurementIn,
    ProgrammeCard,
    ScreeningVisitIn,
)
from salomat.domains.screening.service.common import rules as _rules
from salomat.domains.screening.service.common import today as _today
from salomat.ui import forms
from salomat.ui.templating import NavItem, can, redirect, register_nav, render, speaking

web = router(include_in_schema=False)

register_nav(NavItem(N_("Screening worklist"), "/screening/worklist", "screening:worklist", 24))

#: the form's measurement inputs: (kind, form field of the value, of the unit or code)
_VALUE_INPUTS = (
    ("glucose_fasting", "glucose_value", "glucose_unit"),
    ("hba1c", "hba1c_value", "hba1c_unit"),
    ("cholesterol", "cholesterol_value", "cholesterol_unit"),
    ("bmi", "bmi_value", None),
    ("iop", "iop_value", None),
)
_CODE_INPUTS = (
    ("smoking", "smoking_code"),
    ("cytology", "cytology_code"),
    ("hpv", "hpv_code"),
    ("mammography", "mammography_code"),
    ("fobt", "fobt_code"),
)
_MEASURE_FIELDS = (
    "bp_systolic",
    "bp_diastolic",
    *(v for _, v, _u in _VALUE_INPUTS),
    *(u for _, _v, u in _VALUE_INPUTS if u),
    *(c for _, c in _CODE_INPUTS),
)
_SCREEN_FIELDS = ("programme", "performed_on", "result", "next_step", "notes", *_MEASURE_FIELDS)
_ENROL_FIELDS = ("programme", "diagnosis_code", "enrolled_on", "prior_mi_stroke")
_VISIT_FIELDS = ("visited_on", "next_visit_due", "notes", *_MEASURE_FIELDS)
KINDS = ("invitations", "overdue", "uncontrolled", "high_risk")


def _number(raw: str, field: str, errors: list[FieldError]) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):  # "nan", "inf", "1e400"
        errors.append(FieldError(field, N_("is not a number")))
        return None
    return value


def _measurements(form: dict[str, str]) -> tuple[list[MeasurementIn], dict[str, str]]:
    """The filled measurement inputs as the API's list, and where each list error goes."""
    items: list[MeasurementIn] = []
    rename: dict[str, str] = {}
    errors: list[FieldError] = []

    def add(m: dict[str, Any], places: dict[str, str]) -> None:
        i = len(items)
        items.append(MeasurementIn.model_construct(**m))
        for part, name in places.items():
            rename[f"measurements.{i}.{part}"] = name

    if form["bp_systolic"] or form["bp_diastolic"]:
        sys_ = _number(form["bp_systolic"], "bp_systolic", errors)
        dia = _number(form["bp_diastolic"], "bp_diastolic", errors)
        add(
            {"kind": "bp", "systolic": int(sys_) if sys_ is not None else None,
             "diastolic": int(dia) if dia is not None else None},
            {"systolic": "bp_systolic", "diastolic": "bp_diastolic", "kind": "bp_systolic"},
        )  # fmt: skip
    for kind, vf, uf in _VALUE_INPUTS:
        if form[vf]:
            v = _number(form[vf], vf, errors)
            if v is not None:
                add(
                    {"kind": kind, "value": v, "unit": form[uf] if uf else None},
                    {"value": vf, "unit": uf or vf, "kind": vf},
                )
    for kind, cf in _CODE_INPUTS:
        if form[cf]:
            add({"kind": kind, "code": form[cf]}, {"code": cf, "kind": cf})
    if errors:
        raise Invalid.fields(errors)
    return items, rename


def _chart(card: ProgrammeCard, width: int = 560, height: int = 200) -> dict[str, Any] | None:
    """The blood-pressure trend as SVG coordinates: systolic and diastolic lines, the
    140 and 90 targets, each point marked controlled or not."""
    pts = card.bp_trend
    if not pts:
        return None
    pad, low, high = 30, 40, 240
    first, last = pts[0].observed_on.toordinal(), pts[-1].observed_on.toordinal()
    span = max(last - first, 1)

    def x(d: date) -> float:
        return round(pad + (d.toordinal() - first) / span * (width - 2 * pad), 1)

    def y(v: float) -> float:
        v = min(max(v, low), high)
        return round(height - pad - (v - low) / (high - low) * (height - 2 * pad), 1)

    edition = _rules().edition(_today())
    target = edition.targets["bp"]
    return {
        "width": width,
        "height": height,
        "systolic": " ".join(f"{x(p.observed_on)},{y(p.systolic or 0)}" for p in pts),
        "diastolic": " ".join(f"{x(p.observed_on)},{y(p.diastolic or 0)}" for p in pts),
        "points": [
            {"x": x(p.observed_on), "ys": y(p.systolic or 0), "yd": y(p.diastolic or 0), "p": p}
            for p in pts
        ],
        "target_sys": {"y": y(target["systolic_below"]), "v": target["systolic_below"]},
        "target_dia": {"y": y(target["diastolic_below"]), "v": target["diastolic_below"]},
        "pad": pad,
    }


async def _card_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await _registry.get_person(session, principal, person_id, purpose="screening")
    card = await _service.programme_card(session, principal, person_id)
    day = _today()
    r = _rules()
    edition = r.edition(day)
    with speaking(request) as lang:
        programmes = {p.code: p.name(lang) for p in edition.programmes.values()}
        dmps = {d.code: d.name(lang) for d in edition.dmps.values()}
    alive = person.deceased_on is None and person.merged_into_id is None
    ctx: dict[str, Any] = {
        "person": person,
        "card": card,
        "chart": _chart(card),
        "programmes": programmes,
        "dmps": dmps,
        "measures": {p.code: list(p.measures) for p in edition.programmes.values()},
        # each programme's medicine classes: the prescription domain's list of them is
        # loaded into the card by htmx (a sibling domain: no import)
        "dmp_medicines": {
            d.code: {"atc": d.medicines, "query": urlencode([("atc", a) for a in d.medicines])}
            for d in edition.dmps.values()
            if d.medicines
        },
        "can_see_prescriptions": can(principal, "prescription:read"),
        "m": r.measurements,
        "can_record": can(principal, "screening:record") and alive,
        "can_enrol": can(principal, "screening:enrol") and alive,
        "today": day.isoformat(),
        "form": {"performed_on": day.isoformat(), "result": "normal", "next_step": "none"},
        "errors": {},
        "error": None,
        "e_form": {"enrolled_on": day.isoformat()},
        "e_errors": {},
        "e_error": None,
        "v_form": {"visited_on": day.isoformat()},
        "v_errors": {},
        "v_error": None,
        "v_enrolment": None,
        "done": request.query_params.get("done", ""),
        "opportunistic": request.query_params.get("opportunistic") == "1",
        **(extra or {}),
    }
    return render(request, "screening/card.html", ctx, status=status)


@web.get("/patients/{person_id}/screening", response_class=HTMLResponse)
async def screening_card_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("screening:read"))],
) -> Response:
    """The programme card: enrolments and control, the BP trend, screenings due, forms."""
    return await _card_page(request, session, principal, person_id)


@web.post("/patients/{person_id}/screening", response_class=HTMLResponse)
async def screening_record_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("screening:record"))],
) -> Response:
    """Record a screening; a refused one is shown again with each field's message."""
    posted = await forms.read_form(request)
    form = forms.values(posted, _SCREEN_FIELDS)
    rename: dict[str, str] = {}
    try:
        items, rename = _measurements(form)
        data = forms.validate(
            ScreeningVisitIn,
            {
                "programme": form["programme"],
                "performed_on": form["performed_on"] or None,
                "result": form["result"] or None,
                "next_step": form["next_step"] or "none",
                "notes": form["notes"] or None,
                "measurements": [m.model_dump(exclude_none=True) for m in items],
            },
        )
        v = await _service.record_screening(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"form": form, "errors": forms.errors_by_field(e.errors, rename), "error": e}
        return await _card_page(request, session, principal, person_id, extra, e.status)
    flag = "&opportunistic=1" if v.opportunistic else ""
    return redirect(f"/patients/{person_id}/screening?done=screened{flag}")


@web.post("/patients/{person_id}/screening/enrol", response_class=HTMLResponse)
async def screening_enrol_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("screening:enrol"))],
) -> Response:
    posted = await forms.read_form(request)
    form = forms.values(posted, _ENROL_FIELDS)
    try:
        data = forms.validate(
            EnrolmentIn,
            {
                "programme": form["programme"],
                "diagnosis_code": form["diagnosis_code"],
                "enrolled_on": form["enrolled_on"] or None,
                "prior_mi_stroke": {"yes": True, "no": False}.get(form["prior_mi_stroke"]),
            },
        )
        await _service.enrol(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"e_form": form, "e_errors": forms.errors_by_field(e.errors), "e_error": e}
        return await _card_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/screening?done=enrolled")


@web.post(
    "/patients/{person_id}/screening/enrolments/{enrolment_id}/visits",
    response_class=HTMLResponse,
)
async def screening_dmp_visit_page(
    request: Request,
    session: DbSession,
    person_id: int,
    enrolment_id: int,
    principal: Annotated[Principal, Depends(Require("screening:record"))],
) -> Response:
    posted = await forms.read_form(request)
    form = forms.values(posted, _VISIT_FIELDS)
    rename: dict[str, str] = {}
    try:
        e = await _service.get_enrolment(session, principal, enrolment_id)
        if e.person_id != person_id:
            raise Invalid.fields([FieldError("enrolment", N_("is another person's"))])
        items, rename = _measurements(form)
        data = forms.validate(
            DmpVisitIn,
            {
                "visited_on": form["visited_on"] or None,
                "next_visit_due": form["next_visit_due"] or None,
                "notes": form["notes"] or None,
                "measurements": [m.model_dump(exclude_none=True) for m in items],
            },
        )
        await _service.record_dmp_visit(session, principal, enrolment_id, data)
    except SalomatError as exc:
        if exc.status == 404:
            raise
        extra = {
            "v_form": form,
            "v_errors": forms.errors_by_field(exc.errors, rename),
            "v_error": exc,
            "v_enrolment": enrolment_id,
        }
        return await _card_page(request, session, principal, person_id, extra, exc.status)
    return redirect(f"/patients/{person_id}/screening?done=visited")


@web.get("/screening/worklist", response_class=HTMLResponse)
async def screening_worklist_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("screening:worklist"))],
) -> Response:
    """The facility's lists: invitations due, DMP patients overdue, uncontrolled, at high
    risk."""
    q = request.query_params
    kind = q.get("kind") or "invitations"
    section = (q.get("section") or "").strip() or None
    programme = (q.get("programme") or "").strip() or None
    ctx: dict[str, Any] = {
        "kind": kind, "kinds": KINDS, "section": section, "programme": programme,
        "on": q.get("on") or "", "w": None, "errors": [],
    }  # fmt: skip
    day = _today()
    with speaking(request) as lang:
        edition = _rules().edition(day)
        ctx["programmes"] = {p.code: p.name(lang) for p in edition.programmes.values() if p.invites}
        ctx["dmps"] = {d.code: d.name(lang) for d in edition.dmps.values()}
    try:
        on = forms.day(q.get("on") or "", "on") or day
        if kind == "invitations":
            ctx["w"] = await _service.invitation_worklist(
                session, principal, on, programme=programme, section=section
            )
        else:
            with speaking(request):
                ctx["w"] = await _service.dmp_worklist(
                    session, principal, kind, on,
                    programme=programme if programme in ctx["dmps"] else None,
                )  # fmt: skip
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "screening/worklist.html", ctx, status=e.status)
    return render(request, "screening/worklist.html", ctx)


register_nav(NavItem(N_("My screenings"), "/my/screenings", "screening:portal", order=7))


@web.get("/my/screenings", response_class=HTMLResponse)
async def my_screenings_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("screening:portal"))],
) -> Response:
    """The citizen's screenings: each programme of her age and sex and when it is due."""
    with speaking(request):
        due = await _service.my_screenings_due(session, principal)
    return render(request, "screening/my.html", {"due": due})
