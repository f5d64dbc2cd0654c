"""Revaccination in the browser (issue 23, item 6): the coverage table for analysts and
epidemiologists, the worklist of those due for the family doctor and nurse, and the
citizen's own notice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import Invalid
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.epidemic.service import revaccination_due as due_service
from salomat.domains.epidemic.service import revaccination_sql as service
from salomat.domains.registry import service as registry
from salomat.ui.templating import NavItem, language_of, register_nav, render, speaking

web = router(include_in_schema=False)

register_nav(
    NavItem(N_("Revaccination coverage"), "/epidemic/revaccination", "immunization:coverage", 43)
)
register_nav(
    NavItem(
        N_("Due for revaccination"),
        "/epidemic/revaccination/worklist",
        "immunization:worklist",
        23,
    )
)
register_nav(NavItem(N_("My revaccination"), "/my/revaccination", "immunization:portal", 8))

#: the query fields of these pages, named where an error lists them
QUERY_FIELDS = (N_("area"), N_("on"), N_("section"))


def _q(request: Request, name: str) -> str | None:
    return (request.query_params.get(name) or "").strip() or None


def _recordable(request: Request) -> dict[str, Any]:
    """Whether the vaccine's doses can be recorded yet (the pages say when they cannot),
    and its name in the reader's language."""
    with speaking(request):
        name = service.definition().name()
    return {"recordable": service.doses_recordable(), "vaccine_name": name}


async def _areas(session: DbSession, lang: str) -> dict[str, Any]:
    """The area choice: regions, their districts by region code, every one's name in
    ``lang`` by code (the registry's territory list, as immunization's coverage page)."""
    regions = (await registry.list_territory(session, PageParams(500, 0), level="region")).items
    districts: dict[str, list[Any]] = {}
    names = {r.code: r.names.get(lang) or r.name for r in regions}
    for d in (await registry.list_territory(session, PageParams(500, 0), level="district")).items:
        districts.setdefault(d.parent_code or "", []).append(d)
        names[d.code] = d.names.get(lang) or d.name
    return {"regions": regions, "districts": districts, "area_names": names}


@web.get("/epidemic/revaccination", response_class=HTMLResponse)
async def revaccination_coverage_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:coverage"))],
) -> Response:
    """Coverage by unit and age group, both denominators, the target met or not."""
    area, on = _q(request, "area"), _q(request, "on")
    ctx: dict[str, Any] = {
        "area": area,
        "on": on,
        "c": None,
        "errors": [],
        **_recordable(request),
    }
    ctx.update(await _areas(session, language_of(request)))
    try:
        with speaking(request):
            ctx["c"] = await service.revaccination_coverage(session, principal, area=area, on=on)
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "epidemic/revaccination_coverage.html", ctx, status=e.status)
    ctx["query"] = request.url.query
    return render(request, "epidemic/revaccination_coverage.html", ctx)


@web.get("/epidemic/revaccination.csv")
async def revaccination_coverage_download(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:coverage"))],
) -> Response:
    """The table as CSV in the page's language."""
    with speaking(request):
        c = await service.revaccination_coverage(
            session, principal, area=_q(request, "area"), on=_q(request, "on")
        )
        return csv_download(service.coverage_csv(c, localized=True))


@web.get("/epidemic/revaccination/worklist", response_class=HTMLResponse)
async def revaccination_worklist_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:worklist"))],
) -> Response:
    """People of the user's facility due a revaccination, by section."""
    section, on = _q(request, "section"), _q(request, "on")
    ctx: dict[str, Any] = {
        "section": section,
        "on": on,
        "w": None,
        "errors": [],
        **_recordable(request),
    }
    try:
        with speaking(request):
            ctx["w"] = await due_service.revaccination_worklist(
                session, principal, section=section, on=on
            )
    except Invalid as e:
        ctx["errors"] = e.errors
        return render(request, "epidemic/revaccination_worklist.html", ctx, status=e.status)
    ctx["query"] = request.url.query
    return render(request, "epidemic/revaccination_worklist.html", ctx)


@web.get("/epidemic/revaccination/worklist.csv")
async def revaccination_worklist_download(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:worklist"))],
) -> Response:
    """The invitation list as CSV in the page's language (cells neutralised)."""
    with speaking(request):
        w = await due_service.revaccination_worklist(
            session, principal, section=_q(request, "section"), on=_q(request, "on")
        )
        return csv_download(due_service.worklist_csv(w, localized=True))


@web.get("/my/revaccination", response_class=HTMLResponse)
async def my_revaccination_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("immunization:portal"))],
) -> Response:
    """The citizen's own notice: due a revaccination since a day, or nothing due."""
    with speaking(request):
        due = await due_service.my_revaccination_due(session, principal)
        vaccine = service.definition().name()
    ctx = {"due": due, "vaccine": vaccine, **_recordable(request)}
    return render(request, "epidemic/my_revaccination.html", ctx)
