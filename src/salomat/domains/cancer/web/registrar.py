"""The cancer registry's work queue: notifications the multiple-primary rules could not
place (IARC/IACR 2004: a tumour of unknown primary site beside a known cancer, a report
that fits more than one tumour), each beside the patient's registered tumours with the
registrar's choices (join tumour X, a new primary, set aside), and tumours waiting for a
rare combination to be confirmed (IARC Technical Report 42: "rare" findings are
confirmed, never silently accepted). The header counts what waits.

Every person shown is audited by the services. A refused decision comes back on the
queue with its message beside the item, nothing stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.cancer import service
from salomat.domains.cancer.schemas import ConfirmIn, DecisionIn, TumourOut
from salomat.domains.cancer.web.common import (
    base_ctx,
    errors_of,
    loose,
    page_language,
    read_form,
    settle,
    values,
)
from salomat.domains.registry import service as registry
from salomat.ui import forms
from salomat.ui.templating import NavItem, redirect, register_nav, render

pages = router(include_in_schema=False)

Registrar = Annotated[Principal, Depends(Require("cancer:register"))]

QUEUE = "/cancer/queue"
register_nav(NavItem(N_("Cancer registry queue"), QUEUE, "cancer:register", order=17))

DONE = {
    "attached": N_("The notification is joined to the tumour."),
    "new_primary": N_("The notification is registered as a new primary tumour."),
    "rejected": N_("The notification is set aside."),
    "confirmed": N_("The confirmation is kept with the tumour."),
}
DECISION_FIELDS = ("decision", "note", "confirm")
CONFIRM_FIELDS = ("rules", "note", "version")


async def _queue_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    items = await service.registrar_queue(session, principal)
    counts = await service.count_open_work(session)
    review = [i for i in items if i.kind == "to_review"]
    confirm = [i for i in items if i.kind == "to_confirm"]
    # the patients' tumours: the choices beside a notification, a tumour's version
    tumours: dict[int, list[TumourOut]] = {}
    for pid in sorted({i.person_id for i in items}):
        tumours[pid] = await service.person_tumours(session, principal, pid)
    versions = {t.id: t.version for ts in tumours.values() for t in ts}
    people = await registry.person_briefs(session, [i.person_id for i in items])
    done = request.query_params.get("done", "")
    ctx: dict[str, Any] = {
        **base_ctx(),
        "counts": counts,
        "review": review,
        "confirm": confirm,
        "tumours": tumours,
        "versions": versions,
        "people": people,
        # the items on the page (a refusal of one no longer there is shown at the top)
        "present": {f"n{i.notification_id}" for i in review} | {f"t{i.tumour_id}" for i in confirm},
        "done": DONE.get(done),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "cancer/queue.html", ctx, status=status)


@pages.get(QUEUE, response_class=HTMLResponse)
async def queue_page(request: Request, session: DbSession, principal: Registrar) -> Response:
    """What waits for the registry, oldest first."""
    with page_language(request):
        return await _queue_page(request, session, principal)


def _version(text: str) -> int | None:
    """The version the page showed (a value that cannot be one is stale: 0)."""
    return (parse_version(text) or 0) if text else None


def _decision(form: dict[str, str], confirm: list[str]) -> DecisionIn:
    """``decision`` is the button pressed: ``attach:<tumour id>``, ``new_primary`` or
    ``reject``."""
    action, _, tumour = form["decision"].partition(":")
    if action not in ("attach", "new_primary", "reject"):
        raise Invalid.fields([FieldError("decision", N_("choose what to do with the report"))])
    raw = {
        "action": action,
        "tumour_id": tumour or None,
        "note": form["note"] or None,
        "confirm": confirm if action != "reject" else [],
    }
    return forms.validate(DecisionIn, raw)  # type: ignore[no-any-return]


@pages.post(QUEUE + "/notifications/{notification_id}", response_class=HTMLResponse)
async def decide_post(
    request: Request, session: DbSession, notification_id: RowId, principal: Registrar
) -> Response:
    """The registrar's decision on one notification (the button she pressed)."""
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, DECISION_FIELDS)
        confirm = forms.texts(posted, "confirm")
        try:
            result = await service.decide_notification(
                session, principal, notification_id, _decision(form, confirm)
            )
        except SalomatError as e:
            await settle(session, e)
            errors = errors_of(e.errors, {"tumour_id": "decision", "action": "decision"})
            extra = {
                "failed": f"n{notification_id}",
                "form": form,
                "errors": errors,
                "loose": loose(errors, DECISION_FIELDS),
                "error": e,
            }
            return await _queue_page(request, session, principal, extra, e.status)
    done = {"registrar_attached": "attached", "registrar_new_primary": "new_primary"}
    return redirect(f"{QUEUE}?done={done.get(result.reason, 'rejected')}")


@pages.post(QUEUE + "/tumours/{tumour_id}", response_class=HTMLResponse)
async def confirm_post(
    request: Request, session: DbSession, tumour_id: RowId, principal: Registrar
) -> Response:
    """Confirm a tumour's rare combinations with a note, at the version the queue showed."""
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, CONFIRM_FIELDS)
        rules = forms.texts(posted, "rules")
        try:
            if not rules:
                raise Invalid.fields([FieldError("rules", N_("tick the combinations you confirm"))])
            data = forms.validate(ConfirmIn, {"rules": rules, "note": form["note"] or None})
            await service.confirm_checks(
                session,
                principal,
                tumour_id,
                data,
                expected_version=_version(form["version"]),
            )
        except SalomatError as e:
            await settle(session, e)
            errors = errors_of(e.errors)
            extra = {
                "failed": f"t{tumour_id}",
                "form": form,
                "errors": errors,
                "loose": loose(errors, CONFIRM_FIELDS),
                "error": e,
            }
            return await _queue_page(request, session, principal, extra, e.status)
    return redirect(f"{QUEUE}?done=confirmed")
