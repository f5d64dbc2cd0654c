"""The sanatorium staff's pages: beds and arrival periods (``/sanatorium/manage``), and the
expected arrivals and current guests with arrival, discharge and no-show
(``/sanatorium/arrivals``). Where the pack keeps a queue per region, a period serves the
sanatorium's own region's queue or another region's (the publish form's select).

Everything is the caller's own sanatorium (the services check the account's facility
is one); a stay elsewhere is 404. Each guest listed or changed is audited by the
service. The arrival and discharge forms carry the stay's version as the page read it
(the REST API's If-Match): a stay changed meanwhile is refused (412), not overtaken.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.pagination import PageParams
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium import service
from salomat.domains.sanatorium.schemas import ArriveIn, BedsIn, DischargeIn, PeriodIn, StayOut
from salomat.domains.sanatorium.web.common import (
    base_ctx,
    errors_of,
    loose,
    or_none,
    page_language,
    profile_name,
    read_form,
    values,
)
from salomat.ui import forms
from salomat.ui.templating import NavItem, language_of, redirect, register_nav, render

pages = router(include_in_schema=False)

Manager = Annotated[Principal, Depends(Require("sanatorium:manage"))]
Admitter = Annotated[Principal, Depends(Require("sanatorium:admit"))]

MANAGE = "/sanatorium/manage"
ARRIVALS = "/sanatorium/arrivals"
register_nav(NavItem(N_("Places and periods"), MANAGE, "sanatorium:manage", order=50))
register_nav(NavItem(N_("Arrivals and guests"), ARRIVALS, "sanatorium:admit", order=51))

FIELDS: dict[str, tuple[str, ...]] = {
    "beds": ("profile", "beds"),
    "publish": ("profile", "starts_on", "ends_on", "capacity", "region"),
    "withdraw": (),
    "arrive": ("arrived_on",),
    "discharge": ("discharged_on", "summary"),
    "noshow": (),
}
DONE = {
    "beds": N_("The beds are set."),
    "published": N_("The arrival period is published: its places go to the queue."),
    "withdrawn": N_("The arrival period is withdrawn."),
    "arrived": N_("The arrival is recorded."),
    "discharged": N_("The discharge is recorded; the summary goes to the referring doctor."),
    "noshow": N_("The no-show is recorded; the place goes to the next in line."),
}
#: the days of arrivals the page looks ahead by default
AHEAD_DAYS = 31
#: regions listed in the queue's select (a country has a few dozen at most)
MAX_REGIONS = 500


def _refusal(e: SalomatError, failed: str, form: dict[str, str]) -> dict[str, Any]:
    errors = errors_of(e.errors)
    return {
        "failed": failed,
        "form": form,
        "errors": errors,
        "loose": loose(errors, FIELDS[failed.split("-", 1)[0]]),
        "error": e,
    }


async def _settle(session: DbSession, e: SalomatError) -> None:
    if e.status == 404:
        raise e
    if e.status in (409, 412):
        await session.rollback()


def _profiles() -> dict[str, str]:
    return {code: profile_name(code) for code in service.sanatorium_rules().profiles}


async def _regions(session: DbSession, lang: str, wanted: set[str]) -> dict[str, str]:
    """Region code -> name in ``lang``, by name: the territory registry's regions, and any
    code in ``wanted`` (the sanatorium's own, the periods' queues) the list did not hold."""
    page = await registry.list_territory(session, PageParams(MAX_REGIONS, 0), level="region")
    out = {t.code: t.names.get(lang) or t.name for t in page.items}
    for code in sorted(wanted - set(out) - {""}):
        t = await registry.territory_by_code(session, code)
        if t is not None and t.level == "region":
            out[code] = t.names.get(lang) or t.name
    return dict(sorted(out.items(), key=lambda kv: (kv[1].casefold(), kv[0])))


# ---- places and periods ------------------------------------------------------------------


async def _manage_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    rules = service.sanatorium_rules()
    today = service.local_today()
    periods = await service.list_periods(session, principal)
    # where the pack keeps a queue per region, a period serves one: the sanatorium's own
    # region's by default, or another region's (one with no sanatorium of the profile)
    own_region, regions = "", {}
    if rules.queue_by_region:
        if principal.facility_id is not None:
            found = await registry.facility_regions(session, [principal.facility_id])
            own_region = found.get(principal.facility_id) or ""
        wanted = {own_region, *(p.region for p in periods)}
        regions = await _regions(session, language_of(request), wanted)
    ctx: dict[str, Any] = {
        **base_ctx(),
        "beds": await service.beds_by_profile(session, principal),
        "periods": periods,
        "by_region": rules.queue_by_region,
        "regions": regions,
        "own_region": own_region,
        "profiles": _profiles(),
        "course_days": rules.course_days,
        "turnover_days": rules.turnover_days,
        "today": today.isoformat(),
        "done": DONE.get(request.query_params.get("done", "")),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sanatorium/staff_manage.html", ctx, status=status)


@pages.get(MANAGE, response_class=HTMLResponse)
async def manage_page(request: Request, session: DbSession, principal: Manager) -> Response:
    """Beds per profile with places a year; the arrival periods with capacity, booked,
    held and free places; the forms to set beds, publish and withdraw a period."""
    with page_language(request):
        return await _manage_page(request, session, principal)


async def _manage_change(
    request: Request, session: DbSession, principal: Principal, action: str, run: Any, done: str
) -> Response:
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, FIELDS[action])
        try:
            await run(form)
        except SalomatError as e:
            await _settle(session, e)
            return await _manage_page(
                request, session, principal, _refusal(e, action, form), e.status
            )
    return redirect(f"{MANAGE}?done={done}")


@pages.post(MANAGE + "/beds", response_class=HTMLResponse)
async def beds_page(request: Request, session: DbSession, principal: Manager) -> Response:
    """Set the beds of one profile (added, or surplus ones taken out of use)."""

    async def run(form: dict[str, str]) -> None:
        data = forms.validate(BedsIn, form)
        await service.set_beds(session, principal, data)

    return await _manage_change(request, session, principal, "beds", run, "beds")


@pages.post(MANAGE + "/periods", response_class=HTMLResponse)
async def publish_page(request: Request, session: DbSession, principal: Manager) -> Response:
    """Publish an arrival period: its places go to the queue by offers."""

    async def run(form: dict[str, str]) -> None:
        data = forms.validate(PeriodIn, or_none(form))
        await service.publish_period(session, principal, data)

    return await _manage_change(request, session, principal, "publish", run, "published")


@pages.post("/sanatorium/periods/{period_id}/cancel", response_class=HTMLResponse)
async def withdraw_page(
    request: Request, session: DbSession, period_id: RowId, principal: Manager
) -> Response:
    """Withdraw a period with no bookings (its open offers are withdrawn too)."""

    with page_language(request):
        await read_form(request)
        try:
            await service.cancel_period(session, principal, period_id)
        except SalomatError as e:
            await _settle(session, e)
            extra = _refusal(e, f"withdraw-{period_id}", {})
            return await _manage_page(request, session, principal, extra, e.status)
    return redirect(f"{MANAGE}?done=withdrawn")


# ---- arrivals and guests -------------------------------------------------------------------


def _noshow_from(s: StayOut) -> date:
    """The first day a no-show may be recorded (after the arrival day and the grace)."""
    return s.starts_on + timedelta(days=service.sanatorium_rules().noshow_grace_days + 1)


async def _arrivals_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    from_date: date | None = None,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    today = service.local_today()
    stays = await service.expected_arrivals(
        session, principal, from_date=from_date, days=AHEAD_DAYS
    )
    ctx: dict[str, Any] = {
        **base_ctx(),
        "stays": stays,
        "from_date": (from_date or today).isoformat(),
        "ahead_days": AHEAD_DAYS,
        "today": today.isoformat(),
        "today_date": today,
        "noshow_from": {s.id: _noshow_from(s) for s in stays},
        "done": DONE.get(request.query_params.get("done", "")),
        "done_id": request.query_params.get("s", ""),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sanatorium/staff_arrivals.html", ctx, status=status)


@pages.get(ARRIVALS, response_class=HTMLResponse)
async def arrivals_page(
    request: Request,
    session: DbSession,
    principal: Admitter,
    from_date: Annotated[date | None, Query(alias="from")] = None,
) -> Response:
    """Guests expected within a month of a day (default today) and those staying now."""
    with page_language(request):
        return await _arrivals_page(request, session, principal, from_date)


async def _stay_change(
    request: Request,
    session: DbSession,
    principal: Principal,
    stay_id: int,
    action: str,
    run: Any,
    done: str,
) -> Response:
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, FIELDS[action])
        raw_version = forms.text(posted, "version")
        try:
            version = parse_version(raw_version) if raw_version else None
            if raw_version and version is None:
                raise Invalid.fields([FieldError("version", N_("is not a version"))])
            await run(form, version)
        except SalomatError as e:
            await _settle(session, e)
            extra = _refusal(e, f"{action}-{stay_id}", form)
            return await _arrivals_page(request, session, principal, None, extra, e.status)
    return redirect(f"{ARRIVALS}?done={done}&s={stay_id}")


@pages.post("/sanatorium/stays/{stay_id}/arrive", response_class=HTMLResponse)
async def arrive_page(
    request: Request, session: DbSession, stay_id: RowId, principal: Admitter
) -> Response:
    """The guest arrived (today, or a day of the period already past)."""

    async def run(form: dict[str, str], version: int | None) -> None:
        data = forms.validate(ArriveIn, or_none(form))
        await service.arrive(session, principal, stay_id, data, expected_version=version)

    return await _stay_change(request, session, principal, stay_id, "arrive", run, "arrived")


@pages.post("/sanatorium/stays/{stay_id}/discharge", response_class=HTMLResponse)
async def discharge_page(
    request: Request, session: DbSession, stay_id: RowId, principal: Admitter
) -> Response:
    """Discharge with a short summary, which the referring doctor reads."""

    async def run(form: dict[str, str], version: int | None) -> None:
        data = forms.validate(DischargeIn, or_none(form))
        await service.discharge(session, principal, stay_id, data, expected_version=version)

    return await _stay_change(request, session, principal, stay_id, "discharge", run, "discharged")


@pages.post("/sanatorium/stays/{stay_id}/noshow", response_class=HTMLResponse)
async def noshow_page(
    request: Request, session: DbSession, stay_id: RowId, principal: Admitter
) -> Response:
    """The guest did not come within the grace: the place goes to the next in line."""

    async def run(form: dict[str, str], version: int | None) -> None:
        await service.record_noshow(session, principal, stay_id)

    return await _stay_change(request, session, principal, stay_id, "noshow", run, "noshow")
