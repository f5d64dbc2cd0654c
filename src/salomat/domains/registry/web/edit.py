"""Correcting a person's data: the form behind the card's "Edit personal data".

The form posts every field with the version read; ``service.update_person``
(the same function as ``PATCH /api/v1/persons/{id}``) checks and stores it,
so its rules are not repeated here: identity fields re-checked together,
names in the other script derived, a new version stored, a stale version
refused unless the values sent are the stored ones.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import PreconditionFailed, SalomatError
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.domains.registry import service
from salomat.domains.registry.schemas import PersonOut, PersonPatch
from salomat.domains.registry.web._common import (
    Session,
    _blank_to_none,
    _id_label,
    _version,
    web,
)
from salomat.ui import forms
from salomat.ui.templating import redirect, render

#: the form's fields, as ``PersonPatch`` names them
EDIT_FIELDS = (
    "national_id",
    "family_name",
    "given_name",
    "patronymic",
    "birth_date",
    "sex",
    "phone",
    "settlement_code",
    "address",
)
#: a blank field means "none" for these; the others are required
_OPTIONAL = {"national_id", "patronymic", "phone", "settlement_code", "address"}


def _form_of(person: PersonOut) -> dict[str, str]:
    values = {f: getattr(person, f) for f in EDIT_FIELDS}
    values["birth_date"] = person.birth_date.isoformat()
    return {k: "" if v is None else str(v) for k, v in values.items()}


def _render(
    request: Request,
    person: PersonOut,
    form: dict[str, str],
    version: int,
    *,
    error: SalomatError | None = None,
    status: int = 200,
) -> Response:
    ctx: dict[str, Any] = {
        "person": person,
        "form": form,
        "form_version": version,
        "errors": forms.errors_by_field(error.errors) if error is not None else {},
        "error": error,
        "stale": isinstance(error, PreconditionFailed),
        "id_label": _id_label(),
        "today": date.today().isoformat(),
    }
    return render(request, "registry/edit.html", ctx, status=status)


@web.get("/patients/{person_id}/edit", response_class=HTMLResponse)
async def edit_form(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:update"))],
) -> Response:
    person = await service.get_person(session, principal, person_id, purpose="correction")
    if person.merged_into_id is not None:  # corrected on the record it was merged into
        return redirect(f"/patients/{person_id}")
    return _render(request, person, _form_of(person), person.version)


@web.post("/patients/{person_id}/edit", response_class=HTMLResponse)
async def edit(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:update"))],
    version: Annotated[str, Form()] = "",
    national_id: Annotated[str, Form()] = "",
    family_name: Annotated[str, Form()] = "",
    given_name: Annotated[str, Form()] = "",
    patronymic: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    sex: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    settlement_code: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
) -> Response:
    """Stores the correction, or shows the form again with each message by its field."""
    form = {
        "national_id": national_id,
        "family_name": family_name,
        "given_name": given_name,
        "patronymic": patronymic,
        "birth_date": birth_date,
        "sex": sex,
        "phone": phone,
        "settlement_code": settlement_code,
        "address": address,
    }
    raw: dict[str, Any] = _blank_to_none({k: v for k, v in form.items() if k in _OPTIONAL})
    # the required fields keep "" so that their messages say what is missing
    raw.update({k: form[k].strip() for k in EDIT_FIELDS if k not in _OPTIONAL})
    read = _version(version)
    try:
        patch = forms.validate(PersonPatch, raw)
        await service.update_person(session, principal, person_id, patch, expected_version=read)
    except SalomatError as e:
        if e.status == 404:
            raise
        # the unit of work rolls back (4xx): the form shows what is stored now
        current = await service.get_person(session, principal, person_id, purpose="correction")
        shown_version = current.version if isinstance(e, PreconditionFailed) else (read or 0)
        return _render(request, current, form, shown_version, error=e, status=e.status)
    return redirect(f"/patients/{person_id}?saved=1")
