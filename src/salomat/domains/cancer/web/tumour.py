"""The tumour record: its codes with their names, basis, date of incidence and its level
in the ENCR hierarchy, stage, status, the rare combinations waiting and the confirmations
kept (who, when, why), vital status, the notifications it was made of (source, date,
reporter), first treatments and follow-up contacts; the forms of those who follow the
patient up (cancer:follow_up) to add a treatment, a follow-up contact, and correct the
stage at the version the page showed (a stale page is refused in words, 412).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.errors import N_, SalomatError
from salomat.core.params import RowId, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.core.user_names import user_names
from salomat.domains.cancer import service
from salomat.domains.cancer.schemas import FollowUpIn, TreatmentIn, TumourPatch
from salomat.domains.cancer.service import labels
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
from salomat.ui.templating import can, redirect, render

pages = router(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("cancer:read"))]
FollowUp = Annotated[Principal, Depends(Require("cancer:follow_up"))]

FIELDS: dict[str, tuple[str, ...]] = {
    "stage": ("tnm_t", "tnm_n", "tnm_m", "stage_group", "version"),
    "treatment": ("kind", "started_on", "ended_on"),
    "follow_up": ("contact_on", "disease_status", "note"),
}
_RENAME = {"stage.t": "tnm_t", "stage.n": "tnm_n", "stage.m": "tnm_m", "stage.group": "stage_group"}
DONE = {
    "stage": N_("The stage is saved."),
    "treatment": N_("The treatment is recorded."),
    "follow_up": N_("The follow-up contact is recorded; the next one is due by the schedule."),
}


def tumour_path(tumour_id: int) -> str:
    return f"/cancer/tumours/{tumour_id}"


async def _tumour_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    tumour_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    t = await service.get_tumour(session, principal, tumour_id)
    person = (await registry.person_briefs(session, [t.person_id])).get(t.person_id)
    names = await user_names(
        session,
        [
            *(n.reported_by for n in t.notifications),
            *(c.by for c in t.confirmations),
            *(x.recorded_by for x in t.treatments),
            *(f.recorded_by for f in t.follow_ups),
        ],
    )
    facility_ids = [
        *(n.facility_id for n in t.notifications if n.facility_id),
        *(x.facility_id for x in t.treatments if x.facility_id),
        *(f.facility_id for f in t.follow_ups if f.facility_id),
        *([t.followed_by_facility_id] if t.followed_by_facility_id else []),
    ]
    facilities = await registry.facility_names(session, facility_ids)
    lang = i18n.current_language()
    tr = i18n.gettext
    may_change = can(principal, "cancer:follow_up") and t.vital_status == "alive"
    ctx: dict[str, Any] = {
        **base_ctx(),
        "t": t,
        "person": person,
        "names": names,
        "facility": lambda fid: (
            (facilities[fid].names.get(lang) or facilities[fid].name) if fid in facilities else ""
        ),
        "may_change": may_change,
        "may_treat": can(principal, "cancer:follow_up"),
        "may_notify": can(principal, "cancer:notify"),
        "kind_options": {k: tr(v) for k, v in labels.TREATMENT_LABELS.items()},
        "disease_options": {k: tr(v) for k, v in labels.DISEASE_STATUS_LABELS.items()},
        "today": date.today().isoformat(),
        "done": DONE.get(request.query_params.get("done", "")),
        "failed": None,
        "form": {},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "cancer/tumour.html", ctx, status=status)


@pages.get("/cancer/tumours/{tumour_id}", response_class=HTMLResponse)
async def tumour_page(
    request: Request, session: DbSession, tumour_id: RowId, principal: Reader
) -> Response:
    """The whole record of one primary tumour (audited; out of scope reads as missing)."""
    with page_language(request):
        return await _tumour_page(request, session, principal, tumour_id)


async def _change(
    request: Request,
    session: DbSession,
    principal: Principal,
    tumour_id: int,
    key: str,
    run: Any,
) -> Response:
    """One change from one form; the record again with the form open if refused."""
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, FIELDS[key])
        try:
            await run(form)
        except SalomatError as e:
            await settle(session, e)
            errors = errors_of(e.errors, _RENAME)
            extra = {
                "failed": key,
                "form": form,
                "errors": errors,
                "loose": loose(errors, FIELDS[key]),
                "error": e,
            }
            return await _tumour_page(request, session, principal, tumour_id, extra, e.status)
    return redirect(f"{tumour_path(tumour_id)}?done={key}")


@pages.post("/cancer/tumours/{tumour_id}/stage", response_class=HTMLResponse)
async def stage_post(
    request: Request, session: DbSession, tumour_id: RowId, principal: FollowUp
) -> Response:
    """TNM and the stage group (all empty: no stage recorded), at the page's version."""

    async def run(form: dict[str, str]) -> None:
        stage = {
            "t": form["tnm_t"] or None,
            "n": form["tnm_n"] or None,
            "m": form["tnm_m"] or None,
            "group": form["stage_group"] or None,
        }
        data = forms.validate(TumourPatch, {"stage": stage if any(stage.values()) else None})
        version = (parse_version(form["version"]) or 0) if form["version"] else None
        await service.update_tumour(session, principal, tumour_id, data, expected_version=version)

    return await _change(request, session, principal, tumour_id, "stage", run)


@pages.post("/cancer/tumours/{tumour_id}/treatments", response_class=HTMLResponse)
async def treatment_post(
    request: Request, session: DbSession, tumour_id: RowId, principal: FollowUp
) -> Response:
    """A first treatment (surgery, radiotherapy, systemic) with its dates."""

    async def run(form: dict[str, str]) -> None:
        data = forms.validate(
            TreatmentIn,
            {
                "kind": form["kind"] or None,
                "started_on": form["started_on"] or None,
                "ended_on": form["ended_on"] or None,
            },
        )
        await service.add_treatment(session, principal, tumour_id, data)

    return await _change(request, session, principal, tumour_id, "treatment", run)


@pages.post("/cancer/tumours/{tumour_id}/follow-ups", response_class=HTMLResponse)
async def follow_up_post(
    request: Request, session: DbSession, tumour_id: RowId, principal: FollowUp
) -> Response:
    """A follow-up contact: the next falls due by the pack's schedule."""

    async def run(form: dict[str, str]) -> None:
        data = forms.validate(
            FollowUpIn,
            {
                "contact_on": form["contact_on"] or None,
                "disease_status": form["disease_status"] or "unknown",
                "note": form["note"] or None,
            },
        )
        await service.add_follow_up(session, principal, tumour_id, data)

    return await _change(request, session, principal, tumour_id, "follow_up", run)
