"""The platform administrator's jobs page (``/admin/jobs``): every background job of every
kind (bulk exports, subscription deliveries, purges) with its status, progress, who asked,
when and why it failed; filtered by kind and status; a queued or running job cancelled, a
failed one run again (after a confirmation). No person data is shown."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.i18n import N_
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.bulkdata import service
from salomat.ui.templating import NavItem, redirect, register_nav, render

__all__ = ["web"]

web = router(include_in_schema=False)
Session = DbSession
Admin = Annotated[Principal, Depends(Require("jobs:read"))]
PAGE = "/admin/jobs"

register_nav(NavItem(N_("Background jobs"), PAGE, "jobs:read", order=83))


def _htmx(request: Request) -> bool:
    return bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )


@web.get(PAGE, response_class=HTMLResponse)
async def jobs_page(
    request: Request,
    session: Session,
    principal: Admin,
    kind: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    items, total, counts, kinds = await service.list_jobs(
        session,
        kind=kind or None,
        status=status if status in service.JOB_STATUSES else None,
        offset=offset,
    )
    return render(
        request,
        "bulkdata/jobs.html",
        {
            "items": items,
            "total": total,
            "counts": counts,
            "kinds": kinds,
            "kind_labels": service.JOB_KINDS,
            "status_labels": service.JOB_STATUSES,
            "kind": kind,
            "status": status,
            "offset": offset,
            "limit": service.JOBS_PAGE,
        },
    )


async def _row(request: Request, job: object) -> Response:
    return render(
        request,
        "bulkdata/job_row.html",
        {"j": job, "kind_labels": service.JOB_KINDS, "status_labels": service.JOB_STATUSES},
    )


@web.post(PAGE + "/{job_id}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, session: Session, job_id: RowId, principal: Admin) -> Response:
    job = await service.cancel_job(session, job_id)
    return await _row(request, job) if _htmx(request) else redirect(PAGE)


@web.post(PAGE + "/{job_id}/retry", response_class=HTMLResponse)
async def retry(request: Request, session: Session, job_id: RowId, principal: Admin) -> Response:
    job = await service.retry_job(session, job_id)
    return await _row(request, job) if _htmx(request) else redirect(PAGE)
