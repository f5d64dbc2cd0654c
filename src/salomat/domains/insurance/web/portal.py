"""The citizen's "My insurance" page: her insured status on a day (today by default) with
the sentence that explains it, then every payment made for her month by month: the month
it named, the month it covers (a resumed payment covers the oldest arrear first), who
paid it and how much; then the same for her children under 18.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.errors import N_, SalomatError
from salomat.core.money import money_format
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance import service
from salomat.ui import forms
from salomat.ui.templating import NavItem, register_nav, render

pages = router(include_in_schema=False)

Citizen = Annotated[Principal, Depends(Require("insurance:portal"))]

PAGE = "/my/insurance"
register_nav(NavItem(N_("My insurance"), PAGE, "insurance:portal", order=9))


@pages.get(PAGE, response_class=HTMLResponse)
async def my_insurance_page(request: Request, session: DbSession, principal: Citizen) -> Response:
    with forms.page_language(request) as lang:
        raw = (request.query_params.get("on") or "").strip()
        ctx: dict[str, Any] = {"people": [], "on": raw, "error": None, "errors": {}}
        status = 200
        try:
            day = forms.day(raw, "on")
            ctx["people"] = await service.my_insurance(session, principal, day)
        except SalomatError as e:
            if e.status != 422:
                raise
            ctx["error"], ctx["errors"], status = e, forms.errors_by_field(e.errors), e.status
        fmt = money_format(i18n.babel_locale(lang), 2)
        ctx["money"] = lambda minor: fmt.format(Decimal(minor) / 100)
        return render(request, "insurance/portal_insurance.html", ctx, status=status)
