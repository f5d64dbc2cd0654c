"""The immunization registry in the browser: vaccination card, nurse's worklist, coverage."""

from __future__ import annotations

from datetime import date as _date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from salomat.core.downloads import csv_download
from salomat.core.errors import (
    FieldError,
    Invalid,
    NotFound,
    SalomatError,
    field_errors_from_pydantic,
)
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.params import parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.immunization import service as _service
from salomat.domains.immunization.schemas import DoseIn, EnteredInErrorIn, ExemptionIn
from salomat.domains.registry import service as _registry
from salomat.ui import forms
from salomat.ui.templating import NavItem, can, redirect, register_nav, render, speaking

web = router(include_in_schema=False)


# ---- worklist and coverage pages (issue 5) --------------------------------------------------


# the labels are the pages' titles, so the catalog has them from the templates
register_nav(
    NavItem("Immunization worklist", "/immunization/worklist", "immunization:worklist", 22)
)
register_nav(
    NavItem("Immunization coverage", "/dashboard/immunization", "immunization:coverage", 42)
)


@web.get("/immunization/worklist", response_class=HTMLResponse)
async def immunization_worklist_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:worklist"))],
) -> Response:
    """The nurse's list of children due or overdue a vaccine this week, by section."""
    q = request.query_params
    section = (q.get("section") or "").strip() or None
    week = (q.get("week") or "").strip() or None
    ctx: dict[str, Any] = {
        "section": section,
        "week": week,
        "w": None,
        "errors": [],
        "labels": _service.Labels(),
    }
    try:
        ctx["w"] = await _service.immunization_worklist(
            session, principal, section=section, week=week
        )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "immunization/worklist.html", ctx, status=e.status)
    ctx["query"] = request.url.query
    return render(request, "immunization/worklist.html", ctx)


#: the query fields of the worklist and coverage pages, named where an error lists them
QUERY_FIELDS = (N_("cohort"), N_("area"), N_("section"), N_("week"))

#: how the coverage page's figures are counted (the REST API's ``definitions``, worded for
#: the page in its language)
COVERAGE_TERMS = (
    (
        N_("Birth cohort"),
        N_(
            "Children born in the calendar year, counted where they live (else where the "
            "facility they are attached to stands)."
        ),
    ),
    (
        N_("eligible"),
        N_(
            "Children of the cohort who have reached the indicator's age by today and did "
            "not die before it."
        ),
    ),
    (
        N_("covered"),
        N_(
            "Of those, the children with a valid dose (not entered in error) counting as the "
            "indicator's dose of the series, given by the indicator's age. Valid doses count "
            "in date order, whatever number was recorded; refusals stay in the denominator."
        ),
    ),
    (
        N_("revaccination"),
        N_(
            "Among the eligible children with the earlier dose (valid, by the same age), "
            "those who also had the revaccination dose, against the national target."
        ),
    ),
    (
        N_("series complete"),
        N_(
            "The child's series complete under the plan that applies to the child (the "
            "calendar's doses, or the catch-up plan the first valid dose started), its last "
            "dose given by the indicator's age."
        ),
    ),
    (
        N_("dropout"),
        N_("(first − last) / first, e.g. DTP1 to DTP3, both by 12 months."),
    ),
)


def _coverage_query(request: Request) -> tuple[str | None, int | None, list[FieldError]]:
    q = request.query_params
    area = (q.get("area") or "").strip() or None
    raw = (q.get("cohort") or "").strip()
    errors: list[FieldError] = []
    cohort = None
    if raw:
        if raw.isascii() and raw.isdigit() and len(raw) == 4:
            cohort = int(raw)
        else:
            errors.append(FieldError("cohort", N_("%(raw)r is not a year (YYYY)"), {"raw": raw}))
    if area is not None and len(area) > 32:
        errors.append(FieldError("area", N_("is longer than 32 characters")))
    return area, cohort, errors


@web.get("/dashboard/immunization", response_class=HTMLResponse)
async def immunization_coverage_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:coverage"))],
) -> Response:
    """Coverage of a birth cohort per unit, with a bar chart and the 65 % target line."""
    area, cohort, errors = _coverage_query(request)
    regions = (await _registry.list_territory(session, PageParams(500, 0), level="region")).items
    districts: dict[str, list[Any]] = {}
    for d in (await _registry.list_territory(session, PageParams(500, 0), level="district")).items:
        districts.setdefault(d.parent_code or "", []).append(d)
    ctx: dict[str, Any] = {
        "area": area,
        "cohort": cohort,
        "regions": regions,
        "districts": districts,
        "c": None,
        "errors": errors,
        "query": request.url.query,
        "labels": _service.Labels(),
        "terms": COVERAGE_TERMS,
    }
    if errors:
        return render(request, "immunization/coverage.html", ctx, status=422)
    try:
        ctx["c"] = await _service.immunization_coverage(
            session, principal, area=area, cohort=cohort
        )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "immunization/coverage.html", ctx, status=e.status)
    ctx["cohort"] = ctx["c"].cohort
    return render(request, "immunization/coverage.html", ctx)


@web.get("/dashboard/immunization.csv")
async def immunization_coverage_page_csv(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:coverage"))],
) -> Response:
    """The coverage as CSV (the same as the REST API's)."""
    area, cohort, errors = _coverage_query(request)
    if errors:
        raise Invalid.fields(errors)
    c = await _service.immunization_coverage(session, principal, area=area, cohort=cohort)
    with speaking(request):  # the page's download: header and names in its language
        return csv_download(_service.coverage_csv(c, localized=True))


@web.get("/immunization/worklist.csv")
async def immunization_worklist_page_csv(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:worklist"))],
) -> Response:
    """The invitation list as CSV (the same as the REST API's)."""
    q = request.query_params
    w = await _service.immunization_worklist(
        session, principal, section=q.get("section"), week=q.get("week")
    )
    with speaking(request):
        return csv_download(_service.worklist_csv(w, localized=True))


# ---- the vaccination card (issue 5) -----------------------------------------------------


#: the schedule's statuses as the card shows them
DOSE_STATUSES = _service.schedule.STATUS_LABELS
_CARD_FIELDS = ("dose", "given_on", "vaccine", "lot", "expires_on", "site", "place")
EXEMPTION_KINDS = {"contraindication": N_("contraindication"), "refusal": N_("refusal")}
_EXEMPTION_FIELDS = ("kind", "antigen", "reason", "starts_on", "ends_on")


def _exempt_now(schedule: list[Any], today: _date) -> list[Any]:
    """Per series, the next dose an exemption holds back, if it would be due by now."""
    seen: set[str] = set()
    out = []
    for d in schedule:
        if d.status != "exempt" or d.antigen in seen:
            continue
        seen.add(d.antigen)
        if d.due_on <= today and (d.latest_on is None or d.latest_on > today):
            out.append(d)
    return out


def _card_errors(errors: list[FieldError]) -> dict[str, list[FieldError]]:
    return forms.errors_by_field(errors, {"antigen": "dose", "dose_number": "dose"})


# ---- a dose of a series given on indication (COVID-19) -------------------------------------

#: the on-indication form's fields: the series and the dose number apart, the rest as above
_OI_FIELDS = ("antigen", "dose_number", *_CARD_FIELDS[1:])


def _dmy(d: _date) -> str:
    return f"{d:%d.%m.%Y}"


class _Refusal(FieldError):
    """A dose the engine would not count (too early), worded for the page in each language:
    the reason's text with the day it may be given, never the engine's codes ("covid19",
    "6m")."""

    __slots__ = ("reason",)

    def __init__(self, error: FieldError, reason: str) -> None:
        super().__init__(error.field, error.english)
        self.reason = reason

    @property
    def message(self) -> str:
        return _service.invalid_reason_text(self.reason, _dmy) or super().message


def _oi_errors(errors: list[FieldError]) -> dict[str, list[FieldError]]:
    shown = [_Refusal(e, r) if (r := getattr(e, "reason", None)) else e for e in errors]
    return forms.errors_by_field(shown)


def _next_dose(series: Any, doses: list[Any]) -> int:
    """The dose of the series to propose: one after the last place a valid dose counts in."""
    counted = [
        d.counted_as or d.dose_number for d in doses if d.antigen == series.antigen and d.valid
    ]
    return max(counted, default=0) + 1


def _on_indication(cal: Any, doses: list[Any], chosen: str | None, today: _date) -> dict[str, Any]:
    """The on-indication form's choices: its series, the dose numbers up to the next one of
    the chosen series (each saying whether it is a revaccination) and the form proposed."""
    series = cal.on_indication
    pick = next((s for s in series if s.antigen == chosen), series[0] if series else None)
    if pick is None:
        return {"oi_series": (), "oi_numbers": [], "oi_form": {}}
    nxt = _next_dose(pick, doses)
    primary = max((r.dose_number for r in pick.doses), default=0)
    return {
        "oi_series": series,
        "oi_numbers": [(n, n > primary) for n in range(1, nxt + 1)],
        "oi_form": {
            "antigen": pick.antigen,
            "dose_number": str(nxt),
            "given_on": today.isoformat(),
        },
    }


async def _card_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await _registry.get_person(session, principal, person_id, purpose="immunization")
    card = await _service.get_card(session, principal, person_id)
    cal = _service.calendar_options()
    due = _service.schedule.next_due(card.schedule)  # type: ignore[arg-type]
    open_doses = [d for d in card.schedule if d.status in ("due", "overdue", "upcoming")]
    chosen = request.query_params.get("dose") or (
        f"{due[0].antigen}/{due[0].dose_number}" if due else ""
    )
    by_series: dict[str, list[Any]] = {}
    for d in card.doses:
        by_series.setdefault(d.antigen, []).append(d)
    today = _date.today()
    marked = str(
        (extra or {}).pop("eie_id", "") or request.query_params.get("entered_in_error", "")
    )
    posted_oi = (extra or {}).get("oi_form", {}).get("antigen")
    on_indication = _on_indication(cal, card.doses, posted_oi, today)
    ctx: dict[str, Any] = {
        "person": person,
        "card": card,
        # every series with a dose on the card (a series given on indication too: COVID-19)
        "series": [s for s in cal.all_series if s.antigen in by_series],
        "by_series": by_series,
        "due": due,
        "due_rows": sorted(
            [*due, *_exempt_now(card.schedule, today)], key=lambda d: (d.due_on, d.dose_number)
        ),
        "open_doses": open_doses,
        # series on a catch-up plan (the calendar's later doses not needed)
        "reduced": {d.antigen for d in card.schedule if d.status == "not_needed"},
        "statuses": DOSE_STATUSES,
        "labels": _service.Labels(),
        "reason_text": _service.invalid_reason_text,
        "vaccines": cal.vaccines,
        # the products of each series, and the series each product may be recorded for: the
        # product list narrows to the chosen vaccine (here for the dose shown, in salomat.js
        # when it changes; the service refuses a product of another series either way)
        "products": {s.antigen: list(s.vaccines) for s in cal.all_series},
        "antigens_of": {
            code: [s.antigen for s in cal.all_series if code in s.vaccines] for code in cal.vaccines
        },
        "sites": cal.sites,
        "can_record": can(principal, "immunization:record")
        and person.deceased_on is None
        and person.merged_into_id is None,
        "today": _date.today().isoformat(),
        "form": {"dose": chosen, "given_on": _date.today().isoformat()},
        "errors": {},
        "error": None,
        "saved": request.query_params.get("saved") == "1",
        # contraindications and refusals, and marking a dose entered in error
        # contraindications and refusals stand against a scheduled series; the revaccination
        # worklist of a series given on indication does not read them, so none is offered
        "all_series": cal.series,
        "exemption_kinds": EXEMPTION_KINDS,
        "ex_form": {"kind": "contraindication", "starts_on": today.isoformat()},
        "ex_errors": {},
        "ex_error": None,
        "withdrawable": {
            e.id
            for e in card.exemptions
            if e.withdrawn_on is None and (e.ends_on is None or e.ends_on >= today)
        },
        "withdraw_error": None,
        "eie_dose": next((d for d in card.doses if str(d.id) == marked), None),
        "eie_reason": "",
        "eie_errors": {},
        "eie_error": None,
        "done": request.query_params.get("done", ""),
        # a dose of a series given on indication (COVID-19): never due, so not in the form
        # above; its own form proposes the next dose of the series
        **on_indication,
        "oi_errors": {},
        "oi_error": None,
        **(extra or {}),
    }
    return render(request, "immunization/card.html", ctx, status=status)


@web.get("/patients/{person_id}/immunizations", response_class=HTMLResponse)
async def immunization_card_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:read"))],
) -> Response:
    """The vaccination card: doses by series, the due and overdue list, the entry form."""
    return await _card_page(request, session, principal, person_id)


@web.post("/patients/{person_id}/immunizations", response_class=HTMLResponse)
async def immunization_record_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> Response:
    """Record a dose from the form; a refused one is shown again with each field's message."""
    posted = await request.form()
    form = _posted(posted, _CARD_FIELDS)
    antigen, _, number = form["dose"].partition("/")
    try:
        await _record(session, principal, person_id, _raw_dose(antigen, number, form))
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"form": form, "errors": _card_errors(e.errors), "error": e}
        return await _card_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/immunizations?saved=1")


@web.post("/patients/{person_id}/immunizations/on-indication", response_class=HTMLResponse)
async def immunization_on_indication_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> Response:
    """Record a dose of a series given on indication (COVID-19), chosen by series and dose
    number; the service checks it as any dose and a refused one is shown again with each
    field's message."""
    posted = await request.form()
    form = _posted(posted, _OI_FIELDS)
    try:
        raw = _raw_dose(form["antigen"], form["dose_number"], form)
        await _record(session, principal, person_id, raw)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"oi_form": form, "oi_errors": _oi_errors(e.errors), "oi_error": e}
        return await _card_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/immunizations?saved=1")


def _posted(posted: Any, names: tuple[str, ...]) -> dict[str, str]:
    form = {n: str(posted.get(n) or "").strip() for n in names}
    form["given_elsewhere"] = "1" if posted.get("given_elsewhere") == "1" else ""
    return form


def _raw_dose(antigen: str, number: str, form: dict[str, str]) -> dict[str, Any]:
    return {
        "antigen": antigen,
        "dose_number": number or None,
        "given_on": form["given_on"] or None,
        "vaccine": form["vaccine"] or None,
        "lot": form["lot"] or None,
        "expires_on": form["expires_on"] or None,
        "site": form["site"] or None,
        "given_elsewhere": bool(form["given_elsewhere"]),
        "place": form["place"] or None,
    }


async def _record(
    session: DbSession, principal: Principal, person_id: int, raw: dict[str, Any]
) -> None:
    try:
        data = DoseIn.model_validate(raw)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e
    await _service.record_dose(session, principal, person_id, data)


@web.post("/patients/{person_id}/immunizations/exemptions", response_class=HTMLResponse)
async def immunization_exemption_page(
    request: Request,
    session: DbSession,
    person_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> Response:
    """Record a contraindication or a refusal; a refused one is shown again with each message."""
    posted = await request.form()
    form = {n: forms.text(posted, n) for n in _EXEMPTION_FIELDS}
    raw = {n: form[n] or None for n in _EXEMPTION_FIELDS}
    raw["reason"] = form["reason"]
    try:
        data = forms.validate(ExemptionIn, raw)
        await _service.record_exemption(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"ex_form": form, "ex_errors": forms.errors_by_field(e.errors), "ex_error": e}
        return await _card_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/immunizations?done=exempted#exemptions")


@web.post(
    "/patients/{person_id}/immunizations/exemptions/{exemption_id}/withdraw",
    response_class=HTMLResponse,
)
async def immunization_exemption_withdraw_page(
    request: Request,
    session: DbSession,
    person_id: int,
    exemption_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> Response:
    """Withdraw a contraindication or refusal (today): the antigen is planned again."""
    try:
        mine = await _service.list_exemptions(session, principal, person_id)
        if not any(e.id == exemption_id for e in mine):
            raise NotFound(N_("Exemption %(id)s not found."), params={"id": exemption_id})
        await _service.withdraw_exemption(session, principal, exemption_id)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"withdraw_error": e}
        return await _card_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/immunizations?done=withdrawn#exemptions")


@web.post(
    "/patients/{person_id}/immunizations/{dose_id}/entered-in-error", response_class=HTMLResponse
)
async def immunization_entered_in_error_page(
    request: Request,
    session: DbSession,
    person_id: int,
    dose_id: int,
    principal: Annotated[Principal, Depends(Require("immunization:record"))],
) -> Response:
    """Confirmed from the card: the dose leaves it and the schedule asks for it again."""
    posted = await request.form()
    version, reason = forms.text(posted, "version"), forms.text(posted, "reason")
    try:
        data = forms.validate(EnteredInErrorIn, {"reason": reason or None})
        if (await _service.get_dose(session, principal, dose_id)).person_id != person_id:
            raise NotFound(N_("Immunization %(id)s not found."), params={"id": dose_id})
        await _service.mark_entered_in_error(
            session,
            principal,
            dose_id,
            parse_version(version),
            data.reason,
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "eie_id": dose_id,
            "eie_reason": reason,
            "eie_errors": forms.errors_by_field(e.errors),
            "eie_error": e,
        }
        return await _card_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/immunizations?done=entered_in_error")
