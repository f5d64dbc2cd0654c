"""The oncologist's follow-up worklist: living patients her facility follows up whose next
contact is due by a day (today by default), the most overdue first. The schedule is the
pack's (``<CC>/cancer.yaml``: every 3 months in the first year after incidence, ...);
each row links to the tumour record, where the contact is recorded.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.cancer import service
from salomat.domains.cancer.web.common import base_ctx, page_language
from salomat.ui.templating import NavItem, register_nav, render

pages = router(include_in_schema=False)

FollowUp = Annotated[Principal, Depends(Require("cancer:follow_up"))]

WORKLIST = "/cancer/worklist"
register_nav(NavItem(N_("Cancer follow-up"), WORKLIST, "cancer:follow_up", order=21))


def _due_by(text: str | None) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid.fields([FieldError("due_by", N_("is not a date"))]) from None


@pages.get(WORKLIST, response_class=HTMLResponse)
async def worklist_page(request: Request, session: DbSession, principal: FollowUp) -> Response:
    """Patients due a follow-up contact by ``due_by``, the most overdue first. An account
    bound to no facility (the registry's) follows nobody up: the page says so."""
    with page_language(request):
        raw = request.query_params.get("due_by")
        ctx: dict[str, Any] = {
            **base_ctx(),
            "items": [],
            "due_by": raw or date.today().isoformat(),
            "no_facility": principal.facility_id is None,
            "error": None,
            "errors": {},
        }
        status = 200
        if principal.facility_id is not None:
            try:
                due_by = _due_by(raw)
                ctx["items"] = await service.follow_up_worklist(session, principal, due_by=due_by)
                ctx["due_by"] = due_by.isoformat()
            except SalomatError as e:
                if e.status == 404:
                    raise
                ctx["error"], ctx["errors"], status = e, {x.field: [x] for x in e.errors}, e.status
        return render(request, "cancer/worklist.html", ctx, status=status)
