"""The administrator's employer page: the list (search by business id or name) and a form
to register an employer organisation (docs/registries.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from salomat.core.errors import Invalid, field_errors_from_pydantic
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.country import business_id as bid
from salomat.domains.registry import service
from salomat.domains.registry.schemas import EmployerIn
from salomat.domains.registry.web._common import Session, _country, _htmx, web
from salomat.ui.templating import NavItem, redirect, register_nav, render

EMPLOYERS_PAGE = 50

register_nav(NavItem(N_("Employers"), "/admin/employers", "employer:read", order=82))


@web.get("/admin/employers", response_class=HTMLResponse)
async def employers(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("employer:read"))],
    q: Annotated[str, Query(max_length=300)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    page = await service.list_employers(session, PageParams(EMPLOYERS_PAGE, offset), q or None)
    return render(
        request,
        "registry/employers.html",
        {
            "page": page,
            "q": q,
            "id_label": bid.name(_country()),
            "can_manage": allowed(principal.role, "employer:manage"),
        },
    )


@web.post("/admin/employers", response_class=HTMLResponse)
async def employers_create(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("employer:manage"))],
    business_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    settlement_code: Annotated[str, Form()] = "",
) -> Response:
    raw = {"business_id": business_id, "name": name, "settlement_code": settlement_code or None}
    try:
        data = EmployerIn.model_validate(raw)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e
    employer = await service.create_employer(session, data, by=principal.username)
    if not _htmx(request):
        return redirect(f"/admin/employers?q={employer.business_id}")
    return render(
        request,
        "registry/employer_row.html",
        {"e": employer, "fresh": True, "id_label": bid.name(_country())},
    )
