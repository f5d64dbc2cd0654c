"""The child health passport in the browser: growth chart, newborn data, visits, print.

The growth charts are inline SVG (no script, CSP-safe): the WHO curves at
z = -3, -2, 0, +2, +3 computed from the LMS tables (``service.reference_curve``)
and the child's measurements as points. A nurse records a measurement with a
plain HTML form; the page comes back with its z-scores and classification. A
refused form is shown again with each message beside its field and a 4xx
status, so nothing is stored. A clinician marks a measurement entered in
error from its row (a reason is required; the form carries the version the
page read, the web form of If-Match, so a row changed meanwhile is refused with
412): it stays in the history, struck through with who, when and why, and
leaves the charts, the z-score trend and the print. A citizen (a mother, for
her child) reads the same page without the forms.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from salomat.core import i18n
from salomat.core.errors import (
    Invalid,
    NotFound,
    SalomatError,
    field_errors_from_pydantic,
)
from salomat.core.i18n import N_
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.child import service
from salomat.domains.child.api import PathId
from salomat.domains.child.schemas import (
    MeasurementErrorIn,
    MeasurementIn,
    MeasurementOut,
    NewbornIn,
    NewbornOut,
    PassportOut,
    VisitIn,
)
from salomat.domains.child.service import growth
from salomat.domains.immunization import service as immunization
from salomat.ui import forms
from salomat.ui.pdf import render_pdf
from salomat.ui.templating import NavItem, can, redirect, register_nav, render

web = router(include_in_schema=False)


CLASSIFICATIONS = growth.CLASSIFICATIONS
INDICATORS = {
    "wfa": N_("weight-for-age"),
    "lhfa": N_("length/height-for-age"),
    "wfl": N_("weight-for-length"),
    "wfh": N_("weight-for-height"),
    "wfl_or_wfh": N_("weight-for-length/height"),
    "bmifa": N_("BMI-for-age"),
    "hcfa": N_("head circumference-for-age"),
}
FEEDING = {
    "exclusive_breastfeeding": N_("exclusive breastfeeding"),
    "mixed": N_("mixed feeding"),
    "formula": N_("formula"),
    "complementary": N_("complementary feeding"),
}
VISIT_STATUSES = {
    "done": N_("done"),
    "due": N_("due"),
    "overdue": N_("overdue"),
    "upcoming": N_("upcoming"),
    "missed": N_("missed"),
}
SCREENING = {
    "hearing": N_("hearing"),
    "hypothyroidism": N_("congenital hypothyroidism"),
    "phenylketonuria": N_("phenylketonuria"),
}
SCREENING_RESULTS = {
    "pass": N_("pass"),
    "refer": N_("refer"),
    "normal": N_("normal"),
    "abnormal": N_("abnormal"),
    "pending": N_("pending"),
    "not_done": N_("not done"),
}
CHART_TITLES = {
    "wfa": N_("Weight-for-age (kg)"),
    "lhfa": N_("Length/height-for-age (cm)"),
}
MEASUREMENT_FIELDS = (
    "measured_on",
    "weight_kg",
    "length_or_height_cm",
    "head_circumference_cm",
    "muac_cm",
)
VISIT_FIELDS = ("on", "milestones", "feeding", "illnesses", "notes")
NEWBORN_BIRTH_FIELDS = ("birth_weight_g", "birth_length_cm", "apgar_1", "apgar_5")
NEWBORN_FIELDS = ("screened_on", "hearing", "hypothyroidism", "phenylketonuria")
#: the answers the newborn form offers per screening test (the schema's literals)
SCREENING_CHOICES = {
    "hearing": ("pass", "refer", "not_done"),
    "hypothyroidism": ("normal", "abnormal", "pending", "not_done"),
    "phenylketonuria": ("normal", "abnormal", "pending", "not_done"),
}

# ---- the growth chart -------------------------------------------------------------------

#: SVG box and plot margins
W, H = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 48, 40, 16, 36
DAYS_PER_MONTH = 30.4375


def _age_range(age_days: int, indicator: str) -> tuple[int, int]:
    """0-2 years, 0-5 years (to day 1826) or 5-19 (weight-for-age: 5-10) years, by the
    child's age."""
    if age_days < service.LENGTH_UNTIL_DAYS:
        return 0, 730
    if age_days < service.UNDER_FIVE_DAYS:
        return 0, service.UNDER_FIVE_DAYS - 1
    return service.UNDER_FIVE_DAYS, (
        service.WFA_UNTIL_DAYS if indicator == "wfa" else service.UNTIL_DAYS
    )


def _value(m: MeasurementOut, indicator: str) -> float | None:
    if indicator == "wfa":
        return m.weight_kg
    if m.length_or_height_cm is None:
        return None
    return service.conventional_length(m.age_days, m.length_or_height_cm, m.measured_lying)[0]


def growth_chart(p: PassportOut, indicator: str) -> dict[str, Any] | None:
    """Everything the SVG needs: curve polylines, axis ticks and the child's points."""
    start, end = _age_range(p.age_days, indicator)
    if start > end:
        return None
    curves = service.reference_curve(indicator, p.person.sex, start, end, points=80)
    if not curves:
        return None
    points = [
        (m.age_days, v, m)
        for m in p.measurements
        if not m.entered_in_error
        and start <= m.age_days <= end
        and (v := _value(m, indicator)) is not None
    ]
    low = min([c[1][0] for c in curves] + [v for _, v, _ in points])
    high = max([c[1][-1] for c in curves] + [v for _, v, _ in points])
    pad = (high - low) * 0.04 or 1
    low, high = max(0.0, low - pad), high + pad

    def x(day: float) -> float:
        return round(LEFT + (day - start) / (end - start) * (W - LEFT - RIGHT), 1)

    def y(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * (H - TOP - BOTTOM), 1)

    lines = []
    for i, z in enumerate(service.CURVE_ZS):
        pts = " ".join(f"{x(d)},{y(vs[i])}" for d, vs in curves)
        last = curves[-1]
        lines.append(
            {
                "z": z,
                "label": f"{z:+d}" if z else "0",
                "points": pts,
                "label_x": x(last[0]) + 4,
                "label_y": y(last[1][i]) + 4,
            }
        )
    months_span = (end - start) / DAYS_PER_MONTH
    step = 3 if months_span <= 24 else 12 if months_span <= 60 else 24
    first = int(start / DAYS_PER_MONTH + 0.999)
    x_ticks = [
        {"x": x(mo * DAYS_PER_MONTH), "label": str(mo)}
        for mo in range(first - first % step + (step if first % step else 0), 10**4, step)
        if mo * DAYS_PER_MONTH <= end
    ]
    value_step = _nice_step(high - low)
    y_ticks = []
    v = (int(low / value_step) + 1) * value_step
    while v < high:
        y_ticks.append({"y": y(v), "label": f"{v:g}"})
        v += value_step
    return {
        "indicator": indicator,
        "title": CHART_TITLES[indicator],
        "width": W,
        "height": H,
        "left": LEFT,
        "right": W - RIGHT,
        "top": TOP,
        "bottom": H - BOTTOM,
        "lines": lines,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "points": [
            {
                "x": x(d),
                "y": y(v),
                "value": v,
                "on": m.measured_on,
                "z": m.wfa_z if indicator == "wfa" else m.lhfa_z,
                "implausible": (indicator in m.implausible),
                "id": m.id,
            }
            for d, v, m in points
        ],
    }


def _nice_step(span: float) -> float:
    for s in (0.5, 1, 2, 5, 10, 20, 25, 50):
        if span / s <= 10:
            return s
    return 100


# ---- pages ------------------------------------------------------------------------------


#: the birth record's mode and a pregnancy's outcome (maternal ``schemas``), as the
#: maternal pages word them
BIRTH_MODES = {
    "spontaneous_vaginal": N_("spontaneous vaginal"),
    "vaginal_breech": N_("vaginal breech"),
    "vacuum": N_("vacuum extraction"),
    "forceps": N_("forceps"),
    "caesarean_elective": N_("elective caesarean section"),
    "caesarean_emergency": N_("emergency caesarean section"),
}
OUTCOMES = {
    "live_birth": N_("live birth"),
    "stillbirth": N_("stillbirth"),
    "miscarriage": N_("miscarriage"),
    "termination": N_("termination"),
    "maternal_death": N_("maternal death"),
}


def _ctx(p: PassportOut) -> dict[str, Any]:
    return {
        "p": p,
        "birth_modes": BIRTH_MODES,
        "outcomes": OUTCOMES,
        "person": p.person,
        "classifications": CLASSIFICATIONS,
        "indicators": INDICATORS,
        "feeding": FEEDING,
        "visit_statuses": VISIT_STATUSES,
        "screening": SCREENING,
        "screening_results": SCREENING_RESULTS,
        "charts": [c for i in ("wfa", "lhfa") if (c := growth_chart(p, i)) is not None]
        if p.is_child
        else [],
        "age_text": _age_text(p.age_days),
        # the pack's milestones (the form's boxes) and a visit's codes as names
        "milestones": service.milestones(),
        "milestone_labels": service.milestone_labels,
        # the vaccination card's series in the page's language (the pack's names)
        "vaccine_labels": immunization.Labels(),
    }


class _AgeText:
    """A child's age, worded when the template prints it (in the page's language)."""

    def __init__(self, days: int) -> None:
        self.days = days

    def __str__(self) -> str:
        if self.days < 61:
            return i18n.gettext("%(n)s d") % {"n": self.days}
        months = int(self.days / DAYS_PER_MONTH)
        if months < 24:
            return i18n.gettext("%(n)s mo") % {"n": months}
        return i18n.gettext("%(y)s y %(m)s mo") % {"y": months // 12, "m": months % 12}


def _age_text(days: int) -> _AgeText:
    return _AgeText(days)


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    p = await service.get_passport(session, principal, person_id)
    saved_id = request.query_params.get("saved")
    saved = next((m for m in p.measurements if str(m.id) == saved_id), None)
    visit_id = request.query_params.get("visit")
    can_record = (
        can(principal, "child:record")
        and p.is_child
        and not p.person.deceased_on
        and p.person.merged_into_id is None
    )
    marked = request.query_params.get("marked")
    ctx: dict[str, Any] = {
        **_ctx(p),
        "saved": saved,
        "marked": next((m for m in p.measurements if str(m.id) == marked), None),
        # marking a measurement entered in error (also on a deceased child's record)
        "can_correct": can(principal, "child:record") and p.is_child,
        "eie_id": None,
        "eie_reason": "",
        "eie_errors": {},
        "eie_error": None,
        "saved_visit": next((v for v in p.visits if str(v.id) == visit_id), None),
        "newborn_saved": request.query_params.get("screened") == "1",
        "can_record": can_record,
        "form": {"measured_on": date.today().isoformat()},
        "errors": {},
        "error": None,
        "visit_form": {"on": date.today().isoformat()},
        "visit_errors": {},
        "visit_error": None,
        "can_screen": can_record and _under_one(p.person.birth_date, p.as_of),
        "newborn_linked": _newborn_linked(p),
        "newborn_form": _newborn_form(p.newborn),
        "newborn_errors": {},
        "newborn_error": None,
        "screening_choices": SCREENING_CHOICES,
        "today": date.today().isoformat(),
        **(extra or {}),
    }
    return render(request, "child/passport.html", ctx, status=status)


@web.get("/children/{person_id}", response_class=HTMLResponse)
async def passport_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("child:read"))],
) -> Response:
    """The child health passport with the growth charts (and a woman's own pregnancies)."""
    return await _page(request, session, principal, person_id)


def _number(raw: str) -> float | str | None:
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return raw  # the model refuses it, naming the field


@web.post("/children/{person_id}/growth", response_class=HTMLResponse)
async def record_measurement(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("child:record"))],
) -> Response:
    posted = await request.form()
    form = {
        k: (v.strip() if isinstance(v := posted.get(k), str) else "") for k in MEASUREMENT_FIELDS
    }
    lying = posted.get("position")
    form["position"] = lying if isinstance(lying, str) else ""
    raw: dict[str, Any] = {
        "measured_on": form["measured_on"] or None,
        **{k: _number(form[k]) for k in MEASUREMENT_FIELDS[1:]},
        "measured_lying": {"lying": True, "standing": False}.get(form["position"]),
    }
    try:
        try:
            data = MeasurementIn.model_validate(raw)
        except ValidationError as e:
            raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e
        m = await service.record_measurement(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"form": form, "errors": forms.errors_by_field(e.errors), "error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/children/{person_id}?saved={m.id}#saved")


@web.post(
    "/children/{person_id}/growth/{measurement_id}/entered-in-error", response_class=HTMLResponse
)
async def post_entered_in_error(
    request: Request,
    session: DbSession,
    person_id: PathId,
    measurement_id: PathId,
    principal: Annotated[Principal, Depends(Require("child:record"))],
) -> Response:
    """Mark a measurement entered in error from its row, at the version the page showed; a
    refused one (no reason; 412 when the row changed meanwhile) comes back with the message
    beside the row's reason."""
    posted = await request.form()
    reason, version = forms.text(posted, "reason"), forms.text(posted, "version")
    try:
        data = forms.validate(MeasurementErrorIn, {"reason": reason or None})
        m = await service.get_measurement(session, principal, measurement_id)
        if m.person_id != person_id:
            raise NotFound(f"Measurement {measurement_id} not found.")
        await service.mark_measurement_entered_in_error(
            session,
            principal,
            measurement_id,
            data.reason,
            parse_version(version),
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "eie_id": measurement_id,
            "eie_reason": reason,
            "eie_errors": forms.errors_by_field(e.errors),
            "eie_error": e,
        }
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/children/{person_id}?marked={measurement_id}#measurement-{measurement_id}")


# ---- well-child visits and newborn screening ----------------------------------------------


def _under_one(birth: date, on: date) -> bool:
    """Under one year on ``on`` (the newborn screening form is offered in the first year)."""
    return (on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))) < 1


def _newborn_linked(p: PassportOut) -> bool:
    """Born in the system: the birth values come from the birth record, not this form."""
    return p.birth is not None or (p.newborn is not None and p.newborn.from_birth_record)


def _newborn_form(n: NewbornOut | None) -> dict[str, str]:
    """The form filled with what is stored: a save replaces the whole screening."""
    if n is None:
        return {"version": ""}

    def shown(v: object) -> str:
        return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)

    return {
        "screened_on": n.screened_on.isoformat() if n.screened_on else "",
        **{t: n.screening.get(t, "") for t in SCREENING_CHOICES},
        **{k: shown(getattr(n, k)) for k in NEWBORN_BIRTH_FIELDS},
        "version": str(n.version) if n.stored else "",
    }


def _by_field(e: SalomatError) -> dict[str, list[str]]:
    """Messages per form field; ``milestones.2`` and ``illnesses.0`` belong to their list."""
    return forms.errors_by_field(e.errors, {f.field: f.field.split(".")[0] for f in e.errors})


@web.post("/children/{person_id}/visits", response_class=HTMLResponse)
async def post_visit(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("child:record"))],
) -> Response:
    """Record a well-child visit; the page comes back with it in the list and the schedule."""
    posted = await request.form()
    form: dict[str, Any] = {k: forms.text(posted, k) for k in VISIT_FIELDS}
    # the checked boxes, one value each (the form comes back with them checked)
    form["milestones"] = [c.strip() for c in forms.texts(posted, "milestones") if c.strip()]
    raw: dict[str, Any] = {
        "on": form["on"] or None,
        "milestones": form["milestones"],
        "feeding": form["feeding"] or None,
        "illnesses": [s.strip() for s in form["illnesses"].splitlines() if s.strip()],
        "notes": form["notes"] or None,
    }
    try:
        data = forms.validate(VisitIn, raw)
        v = await service.record_visit(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"visit_form": form, "visit_errors": _by_field(e), "visit_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/children/{person_id}?visit={v.id}#visit-saved")


@web.post("/children/{person_id}/newborn-screening", response_class=HTMLResponse)
async def post_newborn_screening(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("child:record"))],
) -> Response:
    """Replace the newborn screening at the version the page was read (a stale one: 412)."""
    posted = await request.form()
    form = {k: forms.text(posted, k) for k in (*NEWBORN_FIELDS, *NEWBORN_BIRTH_FIELDS, "version")}
    raw: dict[str, Any] = {k: form[k] or None for k in NEWBORN_FIELDS}
    for k in NEWBORN_BIRTH_FIELDS:
        if form[k]:
            raw[k] = _number(form[k]) if k == "birth_length_cm" else form[k]
    version = form["version"]
    try:
        data = forms.validate(NewbornIn, raw)
        await service.record_newborn_screening(
            session,
            principal,
            person_id,
            data,
            expected_version=parse_version(version),
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"newborn_form": form, "newborn_errors": _by_field(e), "newborn_error": e}
        return await _page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/children/{person_id}?screened=1#newborn-saved")


@web.get("/children/{person_id}/passport/print", response_class=HTMLResponse)
async def print_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("child:read"))],
) -> Response:
    """The passport to print: no navigation, a print stylesheet, the vaccination card."""
    p = await service.get_passport(session, principal, person_id)
    return render(
        request,
        "child/print.html",
        {**_ctx(p), "printed_on": date.today(), "saved": None, "printing": True},
    )


@web.get("/children/{person_id}/passport.pdf")
async def passport_pdf(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("child:read"))],
) -> Response:
    """The passport as a PDF document in the page's language (read and audited as the page)."""
    p = await service.get_passport(session, principal, person_id)
    return await render_pdf(
        request,
        "child/passport_pdf.html",
        {**_ctx(p), "saved": None, "printing": True},
        filename=f"passport-{person_id}",
    )


# ---- the citizen portal ------------------------------------------------------------------

register_nav(NavItem("My children", "/my/children", "child:portal", order=5))


@web.get("/my/children", response_class=HTMLResponse)
async def my_children(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("child:portal"))],
) -> Response:
    """The citizen's children under 18 (birth record or registry relation), passport and card."""
    children = await service.my_children(session, principal)
    return render(request, "child/my_children.html", {"children": children})
