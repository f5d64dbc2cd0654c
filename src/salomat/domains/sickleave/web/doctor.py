"""The doctor's page of one person's certificates: open, maternity leave, extend, the VKK's
decision, close, correct, cancel, duplicate.

Plain HTML forms (they work without JavaScript). A refused form is shown again with
each message beside its field and the refusal's 4xx status, so the unit of work rolls
back and nothing is stored. Each change form carries the version the page was read at
(the REST API's If-Match): a certificate changed meanwhile is not silently overtaken.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, NotFound, SalomatError
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service as registry
from salomat.domains.sickleave import service
from salomat.domains.sickleave.schemas import (
    CertificateOut,
    CloseIn,
    CorrectIn,
    ExtendIn,
    MaternityIn,
    OpenIn,
    ReasonIn,
    VkkIn,
)
from salomat.domains.sickleave.web.common import (
    base_ctx,
    errors_of,
    lines,
    loose,
    or_none,
    read_form,
    values,
)
from salomat.ui import forms
from salomat.ui.templating import can, redirect, render

pages = router(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("sick_leave:read"))]
Issuer = Annotated[Principal, Depends(Require("sick_leave:issue"))]
Commission = Annotated[Principal, Depends(Require("sick_leave:vkk"))]

#: what each form posts (``vkk_*``: the commission's decision a certificate opens on)
FIELDS: dict[str, tuple[str, ...]] = {
    "open": (
        "reason",
        "diagnosis",
        "starts_on",
        "days",
        "ends_on",
        "cared_person_id",
        "cared_person_other",
        "cosigned_by",
        "vkk",
        "vkk_protocol_number",
        "vkk_decided_on",
        "vkk_extend_until",
        "vkk_chair",
        "vkk_members",
    ),
    "maternity": ("starts_on", "zone_document"),
    "extend": ("ends_on", "days", "cosigned_by", "complicated_birth", "vkk_decision_id"),
    "vkk": ("protocol_number", "decided_on", "decision", "extend_until", "chair", "members"),
    "close": ("closure", "return_to_work_on", "referred_on"),
    "correct": ("reason", "diagnosis", "ends_on"),
    "cancel": ("reason",),
    "duplicate": ("reason",),
}
#: what the page says after a change (``?done=``)
DONE = {
    "opened": N_("The certificate is opened."),
    "maternity": N_("Maternity leave is opened."),
    "extend": N_("The certificate is extended."),
    "vkk": N_("The commission's decision is recorded."),
    "close": N_("The certificate is closed."),
    "correct": N_("The correction is saved as a new version."),
    "cancel": N_("The certificate is cancelled."),
    "duplicate": N_("A duplicate is issued: the lost copy's check code no longer verifies."),
}


async def _children(session: DbSession, principal: Principal, person_id: int) -> dict[str, str]:
    """The person's children and wards by an open registry relation (for a care
    certificate): record id -> name ("" where the user may not see it)."""
    out: dict[str, str] = {}
    for r in await registry.list_relations(session, principal, person_id):
        if r.side == "parent" and r.ends_on is None:
            out.setdefault(str(r.person_id), r.other_name or "")
    return out


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await registry.get_person(session, principal, person_id, purpose="sick leave")
    items = await service.list_certificates(session, principal, person_id)
    versions = await service.person_certificate_versions(session, principal, person_id)
    rules = service.sick_leave_rules()
    alive = person.deceased_on is None and person.merged_into_id is None
    can_issue = can(principal, "sick_leave:issue") and principal.facility_id is not None and alive
    today = date.today()
    done = request.query_params.get("done", "")
    practitioner = rules.practitioners.get(service.granted_as_for_role(principal.role) or "")
    next_day = {c.id: c.ends_on + timedelta(days=1) for c in items}
    ctx: dict[str, Any] = {
        **base_ctx(),
        "person": person,
        "items": items,
        "versions": versions,
        "open_reasons": [r for r in rules.reasons if r != "maternity"],
        "zone": rules.maternity.zone_start_week is not None,
        "can_issue": can_issue,
        "can_maternity": can_issue
        and person.sex == "female"
        and service.granted_as_for_role(principal.role) == "doctor",
        "can_vkk": can(principal, "sick_leave:vkk") and principal.facility_id is not None,
        "children": await _children(session, principal, person_id) if can_issue else {},
        "alone_days": practitioner.alone_days if practitioner and can_issue else None,
        "cosign_after": practitioner.cosign_after_days if practitioner and can_issue else None,
        "today": today.isoformat(),
        "next_day": {k: d.isoformat() for k, d in next_day.items()},
        "next_day_text": {k: f"{d:%d.%m.%Y}" for k, d in next_day.items()},
        "done": DONE.get(done),
        "done_id": request.query_params.get("c", ""),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "sickleave/certificates.html", ctx, status=status)


async def _refused(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    e: SalomatError,
    failed: str,
    form: dict[str, str],
    shown: tuple[str, ...],
    prefix: str = "",
) -> Response:
    """The page again with the refused form open, its values and its messages."""
    if e.status == 404:
        raise e
    if e.status in (409, 412):
        # a change that lost a race may leave the session unusable: read the page afresh
        await session.rollback()
    errors = errors_of(e.errors, prefix)
    extra = {
        "failed": failed,
        "form": form,
        "errors": errors,
        "loose": loose(errors, shown),
        "error": e,
    }
    return await _page(request, session, principal, person_id, extra, e.status)


def _back(person_id: int, done: str, certificate_id: int) -> Response:
    return redirect(f"/patients/{person_id}/sick-leave?done={done}&c={certificate_id}")


@pages.get("/patients/{person_id}/sick-leave", response_class=HTMLResponse)
async def certificates_page(
    request: Request, session: DbSession, person_id: RowId, principal: Reader
) -> Response:
    """The person's certificates with their periods, the commission's decisions and every
    version; the forms of whoever may issue."""
    return await _page(request, session, principal, person_id)


@pages.post("/patients/{person_id}/sick-leave", response_class=HTMLResponse)
async def open_page(
    request: Request, session: DbSession, person_id: RowId, principal: Issuer
) -> Response:
    """Open a certificate from the form; a refused one comes back with its messages."""
    posted = await read_form(request)
    form = values(posted, FIELDS["open"])
    raw: dict[str, Any] = {
        "reason": form["reason"],
        "diagnosis": form["diagnosis"].upper(),
        "starts_on": form["starts_on"] or None,
        "days": form["days"] or None,
        "ends_on": form["ends_on"] or None,
        "cared_person_id": form["cared_person_id"] or form["cared_person_other"] or None,
        "cosigned_by": form["cosigned_by"] or None,
    }
    vkk = {k: form[f"vkk_{k}"] for k in ("protocol_number", "decided_on", "extend_until", "chair")}
    if any(vkk.values()) or form["vkk_members"]:
        raw["vkk"] = {
            **or_none(vkk),
            "decision": "extend",
            "members": lines(form["vkk_members"]),
        }
    try:
        data = forms.validate(OpenIn, raw)
        c = await service.open_certificate(session, principal, person_id, data)
    except SalomatError as e:
        return await _refused(
            request, session, principal, person_id, e, "open", form, FIELDS["open"], "vkk"
        )
    return _back(person_id, "opened", c.id)


@pages.post("/patients/{person_id}/sick-leave/maternity", response_class=HTMLResponse)
async def maternity_page(
    request: Request, session: DbSession, person_id: RowId, principal: Issuer
) -> Response:
    """Maternity leave from her pregnancy on the register, by the pack's week and days."""
    posted = await read_form(request)
    form = values(posted, FIELDS["maternity"])
    try:
        data = forms.validate(MaternityIn, or_none(form))
        c = await service.open_maternity(session, principal, person_id, data)
    except SalomatError as e:
        return await _refused(
            request, session, principal, person_id, e, "maternity", form, FIELDS["maternity"]
        )
    return _back(person_id, "maternity", c.id)


Change = Callable[[dict[str, str], int | None], Awaitable[CertificateOut]]


async def _change(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    certificate_id: int,
    action: str,
    change: Change,
) -> Response:
    """One change of one certificate of this person; the page again if refused."""
    posted = await read_form(request)
    form = values(posted, FIELDS[action])
    try:
        current = await service.get_certificate(session, principal, certificate_id)
        if current.person_id != person_id:
            raise NotFound(
                N_("Sick-leave certificate %(id)s not found."), params={"id": certificate_id}
            )
        await change(form, parse_version(forms.text(posted, "version")))
    except SalomatError as e:
        failed = f"{action}-{certificate_id}"
        return await _refused(
            request, session, principal, person_id, e, failed, form, FIELDS[action]
        )
    return _back(person_id, action, certificate_id)


@pages.post("/patients/{person_id}/sick-leave/{certificate_id}/extend", response_class=HTMLResponse)
async def extend_page(
    request: Request, session: DbSession, person_id: RowId, certificate_id: RowId, principal: Issuer
) -> Response:
    """A further period; past the doctor's limit it needs the commission's decision."""

    async def change(form: dict[str, str], version: int | None) -> CertificateOut:
        raw = or_none(form)
        raw["complicated_birth"] = form["complicated_birth"] == "1"
        data = forms.validate(ExtendIn, raw)
        return await service.extend_certificate(
            session, principal, certificate_id, data, expected_version=version
        )

    return await _change(request, session, principal, person_id, certificate_id, "extend", change)


@pages.post("/patients/{person_id}/sick-leave/{certificate_id}/vkk", response_class=HTMLResponse)
async def vkk_page(
    request: Request,
    session: DbSession,
    person_id: RowId,
    certificate_id: RowId,
    principal: Commission,
) -> Response:
    """The commission's decision with its protocol, chair and members (one a line)."""

    async def change(form: dict[str, str], version: int | None) -> CertificateOut:
        raw: dict[str, Any] = or_none(form)
        raw["decision"] = form["decision"] or "extend"
        raw["members"] = lines(form["members"])
        if raw["decision"] != "extend":
            raw["extend_until"] = None
        data = forms.validate(VkkIn, raw)
        return await service.record_vkk_decision(session, principal, certificate_id, data)

    return await _change(request, session, principal, person_id, certificate_id, "vkk", change)


@pages.post("/patients/{person_id}/sick-leave/{certificate_id}/close", response_class=HTMLResponse)
async def close_page(
    request: Request, session: DbSession, person_id: RowId, certificate_id: RowId, principal: Issuer
) -> Response:
    """Back to work on a day, or referred to disability assessment."""

    async def change(form: dict[str, str], version: int | None) -> CertificateOut:
        data = forms.validate(CloseIn, or_none(form))
        return await service.close_certificate(
            session, principal, certificate_id, data, expected_version=version
        )

    return await _change(request, session, principal, person_id, certificate_id, "close", change)


@pages.post(
    "/patients/{person_id}/sick-leave/{certificate_id}/correct", response_class=HTMLResponse
)
async def correct_page(
    request: Request, session: DbSession, person_id: RowId, certificate_id: RowId, principal: Issuer
) -> Response:
    """A correction with its reason: the diagnosis, or an earlier last day."""

    async def change(form: dict[str, str], version: int | None) -> CertificateOut:
        raw = or_none(form)
        if raw["diagnosis"]:
            raw["diagnosis"] = raw["diagnosis"].upper()
        data = forms.validate(CorrectIn, raw)
        return await service.correct_certificate(
            session, principal, certificate_id, data, expected_version=version
        )

    return await _change(request, session, principal, person_id, certificate_id, "correct", change)


@pages.post("/patients/{person_id}/sick-leave/{certificate_id}/cancel", response_class=HTMLResponse)
async def cancel_page(
    request: Request, session: DbSession, person_id: RowId, certificate_id: RowId, principal: Issuer
) -> Response:
    """Cancelled with a reason; kept with every version."""

    async def change(form: dict[str, str], version: int | None) -> CertificateOut:
        data = forms.validate(ReasonIn, or_none(form))
        return await service.cancel_certificate(
            session, principal, certificate_id, data, expected_version=version
        )

    return await _change(request, session, principal, person_id, certificate_id, "cancel", change)


@pages.post(
    "/patients/{person_id}/sick-leave/{certificate_id}/duplicate", response_class=HTMLResponse
)
async def duplicate_page(
    request: Request, session: DbSession, person_id: RowId, certificate_id: RowId, principal: Issuer
) -> Response:
    """A duplicate of a lost certificate: a new check code."""

    async def change(form: dict[str, str], version: int | None) -> CertificateOut:
        data = forms.validate(ReasonIn, or_none(form))
        return await service.reissue_duplicate(
            session, principal, certificate_id, data, expected_version=version
        )

    return await _change(
        request, session, principal, person_id, certificate_id, "duplicate", change
    )
