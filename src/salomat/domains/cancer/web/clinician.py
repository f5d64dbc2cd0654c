"""The clinician's notification of a cancer: the form, and the page that says what became
of it (joined the patient's tumour, a new primary, or waiting for the registry) with the
multiple-primary rules' reason (IARC/IACR 2004).

A plain HTML form (it works without JavaScript). A refused one comes back with what was
typed and each message beside its field, with the refusal's 4xx status: the unit of work
rolls back and nothing is stored. The registry's own registrars enter pathology and
discharge reports through the same form (they choose the source).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.cancer import service
from salomat.domains.cancer.schemas import NotificationIn
from salomat.domains.cancer.service import icdo3, labels
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
from salomat.ui.templating import can, render

pages = router(include_in_schema=False)

Notifier = Annotated[Principal, Depends(Require("cancer:notify"))]

KINDS = tuple(labels.TREATMENT_LABELS)
#: the sources a registrar enters (a clinician's report is always "clinician")
REGISTRAR_SOURCES = ("clinician", "pathology", "discharge")
FIELDS: tuple[str, ...] = (
    "source",
    "topography",
    "morphology",
    "basis",
    "diagnosed_on",
    "date_kind",
    "grade",
    "laterality",
    "tnm_t",
    "tnm_n",
    "tnm_m",
    "stage_group",
    *(f"{k}_{end}" for k in KINDS for end in ("started_on", "ended_on")),
    "note",
)
_RENAME = {
    "stage.t": "tnm_t",
    "stage.n": "tnm_n",
    "stage.m": "tnm_m",
    "stage.group": "stage_group",
    # the checks name the date of incidence: the form's date of diagnosis
    "incidence_date": "diagnosed_on",
}


def options() -> dict[str, dict[str, str]]:
    """The form's choices, each shown by its label in the current language (the basis
    with its IARC code, which clinicians know)."""
    tr = i18n.gettext
    return {
        "source_options": {s: tr(labels.SOURCE_LABELS[s]) for s in REGISTRAR_SOURCES},
        # 0 (death certificate only) is the platform's, from a registered death
        "basis_options": {
            str(k): f"{k} · {tr(v)}" for k, v in labels.BASIS_LABELS.items() if k != 0
        },
        "date_kind_options": {k: tr(v) for k, v in labels.DATE_KIND_LABELS.items()},
        "grade_options": {str(k): f"{k} · {tr(v)}" for k, v in labels.GRADE_LABELS.items()},
        "laterality_options": {str(k): tr(v) for k, v in labels.LATERALITY_LABELS.items()},
    }


def notify_path(person_id: int) -> str:
    return f"/cancer/persons/{person_id}/notify"


def _registrar(principal: Principal) -> bool:
    return principal.role == service.REGISTRAR_ROLE


def _to_raw(
    form: dict[str, str], principal: Principal
) -> tuple[dict[str, Any], dict[str, str], list[FieldError]]:
    """The posted form as a ``NotificationIn``'s fields, and how the service's treatment
    fields (``treatments.0.started_on``) are named in the form (``surgery_started_on``)."""
    rename = dict(_RENAME)
    treatments, errors = [], []
    for kind in KINDS:
        start, end = form[f"{kind}_started_on"], form[f"{kind}_ended_on"]
        if not start and end:
            errors.append(FieldError(f"{kind}_started_on", N_("give the start date")))
        if not start:
            continue
        i = len(treatments)
        rename[f"treatments.{i}.started_on"] = f"{kind}_started_on"
        rename[f"treatments.{i}.ended_on"] = f"{kind}_ended_on"
        treatments.append({"kind": kind, "started_on": start, "ended_on": end or None})
    stage = {
        "t": form["tnm_t"] or None,
        "n": form["tnm_n"] or None,
        "m": form["tnm_m"] or None,
        "group": form["stage_group"] or None,
    }
    raw: dict[str, Any] = {
        "source": (form["source"] or "clinician") if _registrar(principal) else "clinician",
        "topography": form["topography"],
        "morphology": form["morphology"],
        "basis": form["basis"] or None,
        "diagnosed_on": form["diagnosed_on"] or None,
        "date_kind": form["date_kind"] or "diagnosis",
        "grade": form["grade"] or None,
        "laterality": form["laterality"] or None,
        "stage": stage if any(stage.values()) else None,
        "treatments": treatments,
        "note": form["note"] or None,
    }
    return raw, rename, errors


def _validate(raw: dict[str, Any], errors: list[FieldError]) -> NotificationIn:
    """The schema, or one refusal naming every wrong field: when the form or the schema
    refuses (before the service reads the codes) the codes are checked too."""
    errors = list(errors)
    data = None
    try:
        data = forms.validate(NotificationIn, raw)
    except Invalid as e:
        errors += e.errors
    if data is not None and not errors:
        return data  # type: ignore[no-any-return]
    named = {x.field for x in errors}
    for name, parse in (("topography", icdo3.topography), ("morphology", icdo3.morphology)):
        if name in named or not raw[name]:
            continue
        try:
            parse(raw[name], name)
        except Invalid as bad:
            errors += bad.errors
    raise Invalid.fields(errors)


async def _form_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await registry.get_person(session, principal, person_id, purpose="cancer notification")
    tumours = (
        await service.person_tumours(session, principal, person_id)
        if can(principal, "cancer:read")
        else None
    )
    ctx: dict[str, Any] = {
        **base_ctx(),
        "person": person,
        "tumours": tumours,
        "registrar": _registrar(principal),
        **options(),
        "kinds": KINDS,
        "today": date.today().isoformat(),
        "action": notify_path(person_id),
        "form": {"date_kind": "diagnosis"},
        "errors": {},
        "loose": [],
        "error": None,
        **(extra or {}),
    }
    return render(request, "cancer/notify.html", ctx, status=status)


@pages.get("/cancer/persons/{person_id}/notify", response_class=HTMLResponse)
async def notify_form(
    request: Request, session: DbSession, person_id: RowId, principal: Notifier
) -> Response:
    """The form to notify a cancer of a patient in the user's scope, beside the patient's
    registered tumours."""
    with page_language(request):
        return await _form_page(request, session, principal, person_id)


@pages.post("/cancer/persons/{person_id}/notify", response_class=HTMLResponse)
async def notify_post(
    request: Request, session: DbSession, person_id: RowId, principal: Notifier
) -> Response:
    """Notify from the form: the page says what the registry made of it; a refused form
    comes back with each message beside its field, nothing stored."""
    with page_language(request):
        posted = await read_form(request)
        form = values(posted, FIELDS)
        rename = dict(_RENAME)
        try:
            raw, rename, errors = _to_raw(form, principal)
            data = _validate(raw, errors)
            result = await service.notify(session, principal, person_id, data)
        except SalomatError as e:
            await settle(session, e)
            errors = errors_of(e.errors, rename)
            extra = {
                "form": form,
                "errors": errors,
                "loose": loose(errors, FIELDS),
                "error": e,
            }
            return await _form_page(request, session, principal, person_id, extra, e.status)
        person = await registry.get_person(
            session, principal, person_id, purpose="cancer notification"
        )
        if result.tumour is None:
            outcome = "to_review"
        elif result.new_primary:
            outcome = "new_primary"
        else:
            outcome = "joined"
        ctx = {
            **base_ctx(),
            "person": person,
            "r": result,
            "n": result.notification,
            "t": result.tumour,
            "outcome": outcome,
            "again": notify_path(person_id),
        }
        return render(request, "cancer/notify_result.html", ctx)
