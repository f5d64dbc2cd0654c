"""The citizen's own pregnancy record in plain language (portal page "My pregnancy")."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession
from salomat.domains.maternal import service
from salomat.domains.maternal.web.common import web
from salomat.domains.maternal.web.labels import (
    BABY_OUTCOMES,
    BIRTH_MODES,
    N_,
    OUTCOMES,
    REFERRAL_KINDS,
    REFERRAL_STATUSES,
    SEXES,
)
from salomat.domains.maternal.web.plain import NEXT_CONTACT, PLAIN_DIAGNOSES, WARNING_SIGNS
from salomat.ui.templating import NavItem, register_nav, render

register_nav(NavItem(N_("My pregnancy"), "/my/pregnancy", "pregnancy:portal", order=4))


@web.get("/my/pregnancy", response_class=HTMLResponse)
async def my_pregnancy(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("pregnancy:portal"))],
) -> Response:
    """Her own pregnancies: how far, the next visit, her measurements, what the diagnoses
    mean and what to do, warning signs and whom to call, referrals and birth plan."""
    items = await service.my_pregnancies(session, principal)
    ctx = {
        "items": items,
        "today": date.today(),
        "plain": PLAIN_DIAGNOSES,
        "warning_signs": WARNING_SIGNS,
        "next_contact": NEXT_CONTACT,
        "outcomes": OUTCOMES,
        "referral_kinds": REFERRAL_KINDS,
        "referral_statuses": REFERRAL_STATUSES,
        "birth_modes": BIRTH_MODES,
        "baby_outcomes": BABY_OUTCOMES,
        "sexes": SEXES,
    }
    return render(request, "maternal/my_pregnancy.html", ctx)
