"""The public check of a certificate (the QR code's target): valid, invalid or cancelled,
with its dates and nothing else. No login; nothing about the person or the illness."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.policy import PUBLIC
from salomat.core.uow import DbSession, router
from salomat.domains.sickleave import service
from salomat.domains.sickleave.schemas import VerifyOut
from salomat.domains.sickleave.web.common import VERIFY_PATH, base_ctx
from salomat.ui.templating import render

pages = router(include_in_schema=False)

#: longer than any number or check code (``VerifyOut``'s query limits): answered invalid
MAX_NUMBER, MAX_CODE = 32, 16


@pages.get(VERIFY_PATH, response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
async def verify_page(request: Request, session: DbSession) -> Response:
    """The form, or the answer for ``?number=…&code=…``."""
    number = (request.query_params.get("number") or "").strip()
    code = (request.query_params.get("code") or "").strip()
    result = None
    if number or code:
        if not number or not code or len(number) > MAX_NUMBER or len(code) > MAX_CODE:
            result = VerifyOut(status="invalid")
        else:
            result = await service.verify_certificate(session, number, code)
    ctx = {**base_ctx(), "number": number[:MAX_NUMBER], "code": code[:MAX_CODE], "result": result}
    return render(request, "sickleave/verify.html", ctx)
