"""The clinics' reporting forms (issue 23, items 1 and 2): a clinician notifies a case of a
notifiable disease, and a hospital reports its beds and their daily occupancy.

Plain HTML forms (they work without JavaScript) posting the page's CSRF token. A refused
form comes back with what was typed and each of the service's messages beside its field,
with the refusal's 4xx status, so the unit of work rolls back and nothing is stored. Every
check is the service's (``notifications.create_notification``, ``capacity.register_beds``,
``capacity.check_occupancy``/``report_occupancy``): the pages only read the form and name
things (diseases, districts, facilities, bed profiles) in the page's language.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.i18n import babel_locale
from salomat.core.pagination import PageParams
from salomat.core.params import RowId
from salomat.core.policy import Require, RequireAny, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import national_id
from salomat.domains.epidemic.schemas import BedsIn, NotificationIn, OccupancyIn
from salomat.domains.epidemic.service import capacity, notifications, rules
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PersonQuery
from salomat.ui import forms
from salomat.ui.templating import NavItem, language_of, redirect, register_nav, render

web = router(include_in_schema=False)

register_nav(NavItem(N_("Notify an infectious disease"), "/epidemic/notify", "epidemic:report", 24))
register_nav(NavItem(N_("Hospital beds report"), "/epidemic/beds", "epidemic:capacity", 25))

Reporter = Annotated[Principal, Depends(Require("epidemic:report"))]
OneReader = Annotated[Principal, Depends(RequireAny("epidemic:cases", "epidemic:report"))]
CapacityReporter = Annotated[Principal, Depends(Require("epidemic:capacity"))]

NOTIFY_PATH = "/epidemic/notify"
BEDS_PATH = "/epidemic/beds"
#: the notification form's fields, named as the service names them in its refusals
NOTIFY_FIELDS = (
    "person_id",
    "icd10",
    "lab_confirmed",
    "lab_facility",
    "onset_date",
    "report_date",
    "district",
    "hospitalised",
    "admission_date",
    "reporting_facility",
)
#: the labels of the fields, in the page's language where a refusal lists them
NOTIFY_LABELS = {
    "person_id": N_("Patient"),
    "icd10": N_("Disease"),
    "lab_confirmed": N_("Laboratory-confirmed"),
    "lab_facility": N_("Laboratory"),
    "onset_date": N_("Onset date"),
    "report_date": N_("Report date"),
    "district": N_("District of residence"),
    "hospitalised": N_("Hospitalised"),
    "admission_date": N_("Admission date"),
    "reporting_facility": N_("Reporting facility"),
}
#: the day's flows a bed report carries beside the occupied beds (``OccupancyIn``)
FLOWS = ("occupied", "admitted", "discharged")
BEDS_FIELDS = ("facility", "profile", "beds", "valid_from")
HISTORY_DAYS = 14
#: the most territory units or facilities a choice lists (a country has a few hundred
#: districts; the facilities' list is a suggestion, any code may be typed)
MOST_CHOICES = 5000
PEOPLE_SHOWN = 20
#: the fields whose messages the notification form shows beside them
_SHOWN_BESIDE = frozenset(NOTIFY_FIELDS) - {"person_id"}


def _country() -> str:
    return notifications._country()


def number(value: int | None, lang: str) -> str:
    """A count as the reader writes numbers (thousands grouped the language's way)."""
    if value is None:
        return "—"
    from babel.numbers import format_decimal

    return format_decimal(value, locale=babel_locale(lang))


def _text(posted: Any, name: str) -> str:
    return forms.text(posted, name)


def _checked(posted: Any, name: str) -> bool:
    return _text(posted, name) in ("1", "on", "true")


# ---- what the forms choose from ------------------------------------------------------


async def _territory(session: DbSession, level: str) -> list[Any]:
    out: list[Any] = []
    while len(out) < MOST_CHOICES:
        page = await registry.list_territory(session, PageParams(500, len(out)), level=level)
        out += page.items
        if not page.items or len(out) >= page.total:
            break
    return out


async def _districts(session: DbSession, lang: str) -> list[dict[str, Any]]:
    """The districts grouped by region, every name in ``lang`` (the registry's territory
    list), regions and districts in the order of their names."""
    regions = {r.code: r.names.get(lang) or r.name for r in await _territory(session, "region")}
    groups: dict[str, list[tuple[str, str]]] = {}
    for d in await _territory(session, "district"):
        groups.setdefault(d.parent_code or "", []).append((d.code, d.names.get(lang) or d.name))
    return [
        {"name": regions.get(code, ""), "districts": sorted(ds, key=lambda x: (x[1], x[0]))}
        for code, ds in sorted(groups.items(), key=lambda g: (regions.get(g[0], ""), g[0]))
    ]


async def _facilities(
    session: DbSession, lang: str, region: str | None = None
) -> list[tuple[str, str]]:
    """Open facilities (code, name in ``lang``), of ``region`` when given: the suggestions
    of a facility field (any code may be typed)."""
    from salomat.domains.registry.schemas import FacilityQuery

    query = FacilityQuery(is_open=True, territory_code=region)
    out: list[tuple[str, str]] = []
    while len(out) < MOST_CHOICES:
        page = await registry.list_facilities(session, PageParams(100, len(out)), query)
        out += [(f.code, (f.names or {}).get(lang) or f.name) for f in page.items]
        if not page.items or len(out) >= page.total:
            break
    return sorted(out, key=lambda f: (f[1], f[0]))


async def _nearby_facilities(
    session: DbSession, principal: Principal, lang: str
) -> list[tuple[str, str]]:
    """The laboratory's suggestions: the facilities of the user's region (a facility
    without a place suggests none; a code from elsewhere may still be typed)."""
    if principal.facility_id is None:
        return []
    region = (await registry.facility_regions(session, [principal.facility_id])).get(
        principal.facility_id
    )
    return await _facilities(session, lang, region) if region else []


def _diseases(lang: str) -> list[tuple[str, str]]:
    """The pack's notifiable diseases (ICD-10 code, name in ``lang``), by name."""
    listed = rules.notifiable(_country()).diseases
    return sorted(((d.code, d.name(lang)) for d in listed), key=lambda d: d[1])


def _profiles(lang: str) -> list[tuple[str, str]]:
    return [(p.code, p.name(lang)) for p in rules.bed_profiles(_country())]


async def _facility_name(session: DbSession, code: str | None, lang: str) -> str | None:
    if not code:
        return None
    fid = await registry.facility_id_by_code(session, code)
    if fid is None:
        return None
    f = (await registry.facility_names(session, [fid])).get(fid)
    return (f.names.get(lang) or f.name) if f else None


async def _territory_name(session: DbSession, code: str | None, lang: str) -> str | None:
    if not code:
        return None
    found = (await registry.territory_names_by_code(session, [code])).get(code)
    return (found[1].get(lang) or found[0]) if found else None


# ---- the case notification -----------------------------------------------------------


async def _person_district(session: DbSession, person: Any) -> str:
    """The district the person lives in (their settlement's), the form's first choice."""
    if not person.settlement_code:
        return ""
    t = await registry.territory_by_code(session, person.settlement_code)
    return (t.parent_code or "") if t is not None and t.level == "settlement" else ""


async def _find_people(
    session: DbSession, principal: Principal, request: Request
) -> tuple[dict[str, str], Any, dict[str, list[FieldError]]]:
    """The form's search for the patient (a national id or a name), among the people the
    user may see; each one shown is audited by the registry's search."""
    query = {
        "national_id": (request.query_params.get("national_id") or "").strip()[:32],
        "name": (request.query_params.get("name") or "").strip()[:200],
    }
    if not any(query.values()):
        return query, None, {}
    try:
        q = forms.validate(PersonQuery, {k: v or None for k, v in query.items()})
        found = await registry.search_persons(session, principal, q, PageParams(PEOPLE_SHOWN, 0))
    except Invalid as e:
        return query, None, forms.errors_by_field(e.errors)
    return query, found, {}


async def _notify_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person: Any,
    form: dict[str, str],
    *,
    errors: dict[str, list[FieldError]] | None = None,
    error: SalomatError | None = None,
    search: tuple[dict[str, str], Any, dict[str, list[FieldError]]] | None = None,
    status: int = 200,
) -> Response:
    lang = language_of(request)
    errors = errors or {}
    ctx: dict[str, Any] = {
        "person": person,
        "form": form,
        "errors": errors,
        "loose": [
            {"label": NOTIFY_LABELS.get(f), "message": e.message}
            for f, es in errors.items()
            if f not in _SHOWN_BESIDE or (f == "reporting_facility" and principal.facility_code)
            for e in es
        ],
        "error": error,
        "diseases": _diseases(lang),
        "regions": await _districts(session, lang) if person is not None else [],
        "facilities": await _nearby_facilities(session, principal, lang) if person else [],
        "own_facility": principal.facility_code,
        "own_facility_name": principal.facility_names.get(lang) or principal.facility_name,
        "today": notifications.today().isoformat(),
        "search": search[0] if search else {"national_id": "", "name": ""},
        "found": search[1] if search else None,
        "search_errors": search[2] if search else {},
        "labels": NOTIFY_LABELS,
        "id_label": national_id.name(_country()),
    }
    return render(request, "epidemic/report_notify.html", ctx, status=status)


@web.get(NOTIFY_PATH, response_class=HTMLResponse)
async def notify_form(request: Request, session: DbSession, principal: Reporter) -> Response:
    """Notify a case: find the patient (or come from their card with ``?person=``), then
    the form with the disease, dates, district and hospitalisation."""
    raw = (request.query_params.get("person") or "").strip()
    if not raw:
        search = await _find_people(session, principal, request)
        return await _notify_page(request, session, principal, None, {}, search=search)
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 2**63 - 1:
        errs = {"person": [FieldError("person", N_("is not a patient's number"))]}
        return await _notify_page(
            request, session, principal, None, {}, search=({}, None, errs), status=422
        )
    person = await registry.get_person(session, principal, int(raw), purpose="notification")
    form = {
        "person_id": str(person.id),
        "report_date": notifications.today().isoformat(),
        "district": await _person_district(session, person),
    }
    return await _notify_page(request, session, principal, person, form)


@web.post(NOTIFY_PATH, response_class=HTMLResponse)
async def notify_post(request: Request, session: DbSession, principal: Reporter) -> Response:
    """Store the notification through the service and show it; a refusal comes back with
    each message beside its field, nothing stored."""
    posted = await forms.read_form(request)
    form = forms.values(posted, NOTIFY_FIELDS)
    form["lab_confirmed"] = "1" if _checked(posted, "lab_confirmed") else ""
    form["hospitalised"] = "1" if _checked(posted, "hospitalised") else ""
    person_id = form["person_id"]
    if not (person_id.isascii() and person_id.isdigit()) or not 1 <= int(person_id) <= 2**63 - 1:
        raise Invalid.fields([FieldError("person_id", N_("is not a patient's number"))])
    person = await registry.get_person(session, principal, int(person_id), purpose="notification")
    raw = {
        "person_id": person.id,
        "icd10": form["icd10"],
        "lab_confirmed": bool(form["lab_confirmed"]),
        "lab_facility": form["lab_facility"] or None,
        "onset_date": form["onset_date"] or None,
        "report_date": form["report_date"] or None,
        "district": form["district"] or None,
        "hospitalised": bool(form["hospitalised"]),
        "admission_date": form["admission_date"] or None,
        "reporting_facility": form["reporting_facility"] or None,
    }
    try:
        data = forms.validate(NotificationIn, raw)
        saved = await notifications.create_notification(
            session, principal, data, language=language_of(request)
        )
    except Invalid as e:
        return await _notify_page(
            request, session, principal, person, form,
            errors=forms.errors_by_field(e.errors), error=e, status=e.status,
        )  # fmt: skip
    return redirect(f"/epidemic/notifications/{saved.id}?saved=1")


@web.get("/epidemic/notifications/{notification_id}", response_class=HTMLResponse)
async def notification_page(
    request: Request, session: DbSession, notification_id: RowId, principal: OneReader
) -> Response:
    """One notification as the REST read gives it (the epidemiologist's, or the notifying
    facility's own; anyone else: not found), every code with its name."""
    lang = language_of(request)
    n = await notifications.get_notification(session, principal, notification_id, language=lang)
    # the read above is the audited access; the name is the notification's own person
    person = (await registry.person_briefs(session, [n.person_id])).get(n.person_id)
    ctx = {
        "n": n,
        "person": person,
        "district_name": await _territory_name(session, n.district, lang),
        "region_name": await _territory_name(session, n.region, lang),
        "facility_name": await _facility_name(session, n.reporting_facility, lang),
        "lab_name": await _facility_name(session, n.lab_facility, lang),
        "saved": request.query_params.get("saved") == "1",
        "may_notify": allowed(principal.role, "epidemic:report"),
    }
    return render(request, "epidemic/report_notification.html", ctx)


# ---- the hospital's beds ---------------------------------------------------------------


def _chosen_facility(request: Request, principal: Principal, posted: Any = None) -> str:
    """The user's own facility; a user bound to none (the admin) chooses one."""
    if principal.facility_code:
        return principal.facility_code
    source = posted if posted is not None else request.query_params
    return forms.text(source, "facility")[:32]


async def _capacity(
    session: DbSession, principal: Principal, facility: str, day: date, lang: str
) -> Any:
    """The facility's beds and occupancy on ``day``: a reporter bound to a facility reads
    only their own (as the REST read); one bound to none (the admin, who reports for any
    facility) reads the facility they report for."""
    own_only = principal.facility_id is not None and not allowed(principal.role, "epidemic:read")
    return await capacity.facility_capacity(
        session, principal, facility, day, own_only=own_only, language=lang
    )


def _day(text: str, today: date) -> date | None:
    try:
        return date.fromisoformat(text) if text else today
    except ValueError:
        return None


async def _beds_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    facility: str,
    day: date,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, list[FieldError]] | None = None,
    beds_form: dict[str, str] | None = None,
    beds_errors: dict[str, list[FieldError]] | None = None,
    page_errors: list[FieldError] | None = None,
    saved: str | None = None,
    status: int = 200,
) -> Response:
    lang = language_of(request)
    today = notifications.today()
    ctx: dict[str, Any] = {
        "choose": principal.facility_code is None,
        "facility": facility,
        "facility_name": None,
        "day": day,
        "today": today.isoformat(),
        "profiles": _profiles(lang),
        "rows": [],
        "history": [],
        "form": form or {},
        "errors": errors or {},
        "beds_form": beds_form or {"valid_from": today.isoformat()},
        "beds_errors": beds_errors or {},
        "page_errors": page_errors or [],
        "saved": saved,
        "facilities": await _facilities(session, lang) if principal.facility_code is None else [],
        "num": lambda v: number(v, lang),
        "flows": FLOWS,
        "labels": {
            "occupied": N_("Occupied"),
            "admitted": N_("Admitted"),
            "discharged": N_("Discharged"),
            "facility": N_("Facility"),
            "profile": N_("Bed profile"),
            "beds": N_("Beds"),
            "valid_from": N_("Valid from"),
            "day": N_("Day"),
        },
    }
    if facility and await registry.facility_id_by_code(session, facility) is None:
        ctx["page_errors"] = [
            *ctx["page_errors"],
            FieldError("facility", N_("Unknown facility: %(code)s"), {"code": facility}),
        ]
        return render(request, "epidemic/report_beds.html", ctx, status=422)
    if not facility:
        return render(request, "epidemic/report_beds.html", ctx, status=status)
    ctx["facility_name"] = await _facility_name(session, facility, lang)
    now = await _capacity(session, principal, facility, day, lang)
    got = {p.profile: p for p in now.profiles}
    rows = []
    for code, name in ctx["profiles"]:
        p = got.get(code)
        rows.append({"code": code, "name": name, "beds": p.beds if p else None, "reported": p})
        if form is None and p is not None and p.beds is not None:
            reported = p.occupied or p.admitted or p.discharged
            for flow in FLOWS:
                ctx["form"][f"{code}.{flow}"] = str(getattr(p, flow)) if reported else ""
    ctx["rows"] = rows
    history = []
    for back in range(HISTORY_DAYS):
        d = today - timedelta(days=back)
        c = await _capacity(session, principal, facility, d, lang)
        history.append({"day": d, "by": {p.profile: p for p in c.profiles}})
    ctx["history"] = history
    return render(request, "epidemic/report_beds.html", ctx, status=status)


@web.get(BEDS_PATH, response_class=HTMLResponse)
async def beds_page(request: Request, session: DbSession, principal: CapacityReporter) -> Response:
    """The facility's day: one row per bed profile with the beds in force and the occupied,
    admitted and discharged to report; the registration of beds; the last 14 days."""
    today = notifications.today()
    facility = _chosen_facility(request, principal)
    day = _day(forms.text(request.query_params, "day"), today)
    if day is None:
        errs = [FieldError("day", N_("is not a date"))]
        return await _beds_page(
            request, session, principal, facility, today, page_errors=errs, status=422
        )
    saved = request.query_params.get("saved")
    return await _beds_page(
        request, session, principal, facility, day,
        saved=saved if saved in ("occupancy", "beds") else None,
    )  # fmt: skip


def _count(text: str, field: str, errs: list[FieldError]) -> int | None:
    """A whole number typed in a form; a blank or a word is refused naming ``field``."""
    t = text.strip()
    if not t:
        errs.append(FieldError(field, N_("Give a number")))
        return None
    try:
        return int(t)
    except ValueError:
        errs.append(FieldError(field, N_("is not a whole number")))
        return None


@web.post(BEDS_PATH + "/occupancy", response_class=HTMLResponse)
async def occupancy_post(
    request: Request, session: DbSession, principal: CapacityReporter
) -> Response:
    """The day's occupancy of every bed profile with beds registered: all of them stored,
    or none (a refusal of any names its profile's field)."""
    posted = await forms.read_form(request)
    today = notifications.today()
    facility = _chosen_facility(request, principal, posted)
    day = _day(forms.text(posted, "day"), today)
    lang = language_of(request)
    errs: list[FieldError] = []
    if day is None:
        errs.append(FieldError("day", N_("is not a date")))
    names = [f"{code}.{flow}" for code, _ in _profiles(lang) for flow in FLOWS]
    form = forms.values(posted, ("day", *names))
    reports: list[OccupancyIn] = []
    if not facility:
        errs.append(FieldError("facility", N_("Choose a facility")))
    for code, _ in _profiles(lang):
        typed = [form[f"{code}.{flow}"] for flow in FLOWS]
        if not any(typed) and day is not None and facility:
            fid = await registry.facility_id_by_code(session, facility)
            if fid is None or await capacity.beds_on(session, fid, code, day) is None:
                continue  # no beds of this profile: nothing to report
        counts = [_count(form[f"{code}.{flow}"], f"{code}.{flow}", errs) for flow in FLOWS]
        if None in counts or day is None or not facility:
            continue
        try:
            values = {"facility": facility, "day": day, "profile": code}
            values.update(zip(FLOWS, counts, strict=True))
            reports.append(forms.validate(OccupancyIn, values))
        except Invalid as e:
            errs += [FieldError(f"{code}.{x.field}", x.msgid, x.params) for x in e.errors]
    for r in reports:
        more, _ = await capacity.check_occupancy(session, principal, r, prefix=f"{r.profile}.")
        errs += more
    if not errs and not reports:
        errs.append(FieldError("day", N_("No beds are registered for this facility on this day")))
    if errs:
        shown = [f"{code}.{flow}" for code, _ in _profiles(lang) for flow in FLOWS]
        by_field = forms.errors_by_field(errs)
        loose = [e for f, es in by_field.items() if f not in shown for e in es]
        return await _beds_page(
            request, session, principal, facility, day or today,
            form=form, errors=by_field, page_errors=loose, status=422,
        )  # fmt: skip
    for r in reports:
        await capacity.report_occupancy(session, principal, r, language=lang)
    return redirect(_beds_url(principal, facility, day, "occupancy"))


def _beds_url(principal: Principal, facility: str, day: date | None, saved: str) -> str:
    from urllib.parse import urlencode

    q: dict[str, str] = {"saved": saved}
    if principal.facility_code is None:
        q["facility"] = facility
    if day is not None:
        q["day"] = day.isoformat()
    return f"{BEDS_PATH}?{urlencode(q)}"


@web.post(BEDS_PATH + "/register", response_class=HTMLResponse)
async def beds_register_post(
    request: Request, session: DbSession, principal: CapacityReporter
) -> Response:
    """The beds of a profile from a day on (the same profile and day again replaces the
    number)."""
    posted = await forms.read_form(request)
    today = notifications.today()
    facility = _chosen_facility(request, principal, posted)
    day = _day(forms.text(posted, "day"), today) or today
    beds_form = forms.values(posted, ("profile", "beds", "valid_from"))
    errs: list[FieldError] = []
    if not facility:
        errs.append(FieldError("facility", N_("Choose a facility")))
    count = _count(beds_form["beds"], "beds", errs)
    if not beds_form["valid_from"]:
        errs.append(FieldError("valid_from", N_("Give a date")))
    if not errs:
        try:
            data = forms.validate(
                BedsIn,
                {"facility": facility, "profile": beds_form["profile"], "beds": count,
                 "valid_from": beds_form["valid_from"]},
            )  # fmt: skip
            await capacity.register_beds(session, principal, data)
        except Invalid as e:
            errs += e.errors
    if errs:
        by_field = forms.errors_by_field(errs)
        loose = [e for f, es in by_field.items() if f not in BEDS_FIELDS[1:] for e in es]
        return await _beds_page(
            request, session, principal, facility, day,
            beds_form=beds_form, beds_errors=by_field, page_errors=loose, status=422,
        )  # fmt: skip
    return redirect(_beds_url(principal, facility, day, "beds"))
