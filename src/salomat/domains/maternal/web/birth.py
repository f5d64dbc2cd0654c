"""The birth form: the babies of her current pregnancy, registered as people when live-born."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import BirthIn
from salomat.domains.maternal.web.common import (
    _current_of,
    _errors_of,
    _ga_text,
    _number,
    _or_none,
    _version,
    web,
)
from salomat.domains.maternal.web.labels import (
    BABY_NUMBERS,
    BABY_OUTCOMES,
    BABY_TEXTS,
    BIRTH_MODES,
    MAX_BABIES,
    SEXES,
    STILLBIRTH_TYPES,
)
from salomat.domains.registry import service as registry
from salomat.ui import forms
from salomat.ui.templating import redirect, render


def _baby_names(i: int) -> list[str]:
    at = f"babies.{i}."
    return [at + f for f in ("outcome", "stillbirth_type", "sex", *BABY_TEXTS, *BABY_NUMBERS)]


async def _birth_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    form: dict[str, str] | None = None,
    rows: int | None = None,
    error: SalomatError | None = None,
    status: int = 200,
) -> Response:
    person = await registry.get_person(session, principal, person_id, purpose="birth record")
    current = await service.current_pregnancy_of(session, principal, person_id)
    if form is None:
        form = {"born_on": date.today().isoformat(), "mode": "spontaneous_vaginal"}
        if current is not None:
            form["ga_w"], form["ga_d"] = _ga_text(current.ga_days)
    if rows is None:
        rows = 2 if current is not None and current.multiple_pregnancy else 1
    for i in range(rows):
        form.setdefault(f"babies.{i}.outcome", "live")
    errors = _errors_of(error.errors) if error else {}
    placed: set[str] = set()
    if current is not None:  # else the form is not shown and every message goes on top
        placed = {"born_on", "mode", "ga_days", "pregnancy_id", "babies"}
        placed.update(name for i in range(rows) for name in _baby_names(i))
    ctx: dict[str, Any] = {
        "person": person,
        "pregnancy": current,
        "form": form,
        "rows": rows,
        "max_babies": MAX_BABIES,
        "errors": errors,
        "error": error,
        "other_errors": {k: v for k, v in errors.items() if k not in placed},
        "birth_modes": BIRTH_MODES,
        "baby_outcomes": BABY_OUTCOMES,
        "stillbirth_types": STILLBIRTH_TYPES,
        "sexes": SEXES,
        "today": date.today().isoformat(),
    }
    return render(request, "maternal/birth.html", ctx, status=status)


@web.get("/patients/{person_id}/pregnancy/birth", response_class=HTMLResponse)
async def birth_form(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> Response:
    """The birth form for her current pregnancy (``?babies=`` rows; twins by default when
    the pregnancy is multiple); without a current pregnancy, back to the record."""
    await registry.get_person(session, principal, person_id, purpose="birth record")
    if await service.current_pregnancy_of(session, principal, person_id) is None:
        return redirect(f"/patients/{person_id}/pregnancy")
    wanted = request.query_params.get("babies", "")
    rows = min(n, MAX_BABIES) if (n := _number(wanted)) else None
    return await _birth_page(request, session, principal, person_id, rows=rows)


@web.post("/patients/{person_id}/pregnancy/birth", response_class=HTMLResponse)
async def birth(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> Response:
    """Record the birth at the version shown; "add a baby" / "remove" only redraw the form.

    The gestational age is sent only when it was changed from the one the page
    prefilled from the dating; otherwise the service computes it for the birth date.
    """
    posted = await request.form()
    count = forms.text(posted, "count")
    rows = min(max(n, 1), MAX_BABIES) if (n := _number(count)) is not None else 1
    names = ["born_on", "mode", "ga_w", "ga_d", "ga_dated"]
    names += [name for i in range(rows) for name in _baby_names(i)]
    form = {name: forms.text(posted, name) for name in names}
    wanted = forms.text(posted, "rows")
    if _number(wanted) is not None:  # a button that changes the number of rows, not a submit
        rows = min(max(int(wanted), 1), MAX_BABIES)
        return await _birth_page(request, session, principal, person_id, form, rows)
    errors: list[FieldError] = []
    ga_days: int | None = None
    w, d = form["ga_w"], form["ga_d"]
    if w or d:
        w, d = w or "0", d or "0"
        if _number(w) is not None and (dd := _number(d)) is not None and dd <= 6:
            ga_days = int(w) * 7 + int(d)
            if str(ga_days) == form["ga_dated"]:
                ga_days = None  # as dated: computed for the birth date
        else:
            errors.append(FieldError("ga_days", N_("weeks (whole number) and days (0-6)")))
    babies = []
    for i in range(rows):
        at = f"babies.{i}."
        baby: dict[str, Any] = {"outcome": form[at + "outcome"]}
        for field in ("stillbirth_type", "sex", *BABY_TEXTS, *BABY_NUMBERS):
            baby[field] = _or_none(form[at + field])
        babies.append(baby)
    raw = {
        "born_on": _or_none(form["born_on"]),
        "mode": form["mode"],
        "ga_days": ga_days,
        "babies": babies,
    }
    try:
        if errors:
            raise Invalid.fields(errors)
        data = forms.validate(BirthIn, raw)
        current = await _current_of(
            session, principal, person_id, forms.text(posted, "pregnancy_id")
        )
        await service.record_birth(
            session, principal, current.id, data, expected_version=_version(posted)
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        return await _birth_page(request, session, principal, person_id, form, rows, e, e.status)
    return redirect(f"/patients/{person_id}/pregnancy?born=1#birth")
