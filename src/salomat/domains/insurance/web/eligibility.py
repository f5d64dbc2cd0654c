"""The provider's eligibility check: a national id, optionally a service and a day; the
answer says whether the person is insured, until when and why, and whether the service
is covered (the guaranteed package for everyone, the insurance package for the insured)
with the reason. A provider never sees who paid nor how much, nor which protected
category the state pays for (only "insured by the state"); the fund's analyst sees the
category and the payer. Each check is audited on the person (the service does it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance import service
from salomat.ui import forms
from salomat.ui.templating import NavItem, register_nav, render

pages = router(include_in_schema=False)

Checker = Annotated[Principal, Depends(Require("insurance:eligibility"))]

PAGE = "/insurance/eligibility"
register_nav(NavItem(N_("Insurance check"), PAGE, "insurance:eligibility", order=30))
FIELDS = ("national_id", "service", "on")


def _services() -> list[tuple[str, str, str]]:
    """(code, name, package name) of every service of the pack, by package then code."""
    rules = service.insurance_rules()
    return sorted(
        (
            (s.code, service.labels.service_name(s.code), service.labels.package_name(s.package))
            for s in rules.services.values()
        ),
        key=lambda x: (x[2], x[0]),
    )


@pages.get(PAGE, response_class=HTMLResponse)
async def eligibility_page(request: Request, session: DbSession, principal: Checker) -> Response:
    """The form, and the answer once a national id is given (a GET: the check changes
    nothing, and the address can be bookmarked without the id)."""
    with forms.page_language(request):
        q = request.query_params
        form = {name: (q.get(name) or "").strip() for name in FIELDS}
        ctx: dict[str, Any] = {
            "form": form,
            "services": _services(),
            "result": None,
            "error": None,
            "errors": {},
        }
        status = 200
        if form["national_id"]:
            try:
                if "\x00" in "".join(form.values()):
                    raise Invalid.fields([FieldError("national_id", N_("must be digits only"))])
                ctx["result"] = await service.service_eligibility(
                    session,
                    principal,
                    form["national_id"],
                    form["service"] or None,
                    forms.day(form["on"], "on"),
                )
            except SalomatError as e:
                if e.status not in (404, 422):
                    raise
                ctx["error"], status = e, e.status
                ctx["errors"] = forms.errors_by_field(e.errors)
        return render(request, "insurance/status_eligibility.html", ctx, status=status)
