"""The operations page of FHIR subscriptions, for the platform administrator.

Every subscription (owner, facility, criteria, endpoint, status, last delivery) and one
subscription's delivery log, with a button to switch one off. Ids and statuses only: no
resource and no header (a header may hold the subscriber's secret) is shown.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.i18n import N_
from salomat.core.params import MAX_INT, RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.subscriptions import service
from salomat.domains.subscriptions.schemas import STATUSES
from salomat.ui.templating import NavItem, redirect, register_nav, render

web = router(include_in_schema=False)
Admin = Annotated[Principal, Depends(Require("subscription:admin"))]
PAGE = 50

register_nav(NavItem(N_("Subscriptions"), "/admin/subscriptions", "subscription:admin", order=84))


@web.get("/admin/subscriptions", response_class=HTMLResponse)
async def subscriptions_page(
    request: Request,
    session: DbSession,
    principal: Admin,
    status: Annotated[str | None, Query(pattern="^(requested|active|error|off)$")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> Response:
    rows, total = await service.operations_list(session, status=status, limit=PAGE, offset=offset)
    return render(
        request,
        "subscriptions/list.html",
        {
            "rows": rows,
            "total": total,
            "offset": offset,
            "limit": PAGE,
            "status": status,
            "statuses": STATUSES,
        },
    )


@web.get("/admin/subscriptions/{subscription_id}", response_class=HTMLResponse)
async def deliveries_page(
    request: Request,
    session: DbSession,
    subscription_id: RowId,
    principal: Admin,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> Response:
    row, log, total = await service.deliveries(session, subscription_id, limit=PAGE, offset=offset)
    return render(
        request,
        "subscriptions/deliveries.html",
        {"s": row, "log": log, "total": total, "offset": offset, "limit": PAGE},
    )


@web.post("/admin/subscriptions/{subscription_id}/off", response_class=HTMLResponse)
async def switch_off(
    request: Request, session: DbSession, subscription_id: RowId, principal: Admin
) -> Response:
    await service.switch_off(session, principal, subscription_id)
    if request.headers.get("hx-request"):
        row = await service.operations_row(session, subscription_id)
        return render(request, "subscriptions/row.html", {"s": row})
    return redirect(f"/admin/subscriptions/{subscription_id}")
