"""The provider's claims: submit a claim as lines typed in a form (one service a row:
national id, service code, day, quantity, encounter) or as an uploaded CSV file of the
same columns; see the facility's claims, and a claim's lines with their status and each
flag's reason. A refused claim comes back with what was typed and each wrong line and
field named; nothing is stored.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.core.money import money_format
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance import service
from salomat.domains.insurance.schemas.claims import MAX_LINES, ClaimIn, SettlementOut
from salomat.domains.insurance.service.labels import CLAIM_STATUS_LABELS, label
from salomat.ui import forms
from salomat.ui.templating import NavItem, redirect, register_nav, render

pages = router(include_in_schema=False)

Provider = Annotated[Principal, Depends(Require("insurance:claim"))]

PAGE = "/insurance/claims"
register_nav(NavItem(N_("Insurance claims"), PAGE, "insurance:claim", order=31))
COLUMNS = ("national_id", "service_code", "service_on", "quantity", "encounter_ref")
#: the largest upload read (a month's lines of a department, with room)
MAX_BYTES = 512 * 1024


#: what a field of a claim is called on the page (an error names the field by it)
FIELD_LABELS = {
    "national_id": N_("National id"),
    "service_code": N_("Service code"),
    "service_on": N_("Day of service"),
    "quantity": N_("Quantity"),
    "encounter_ref": N_("Encounter in your system"),
    "external_id": N_("Your claim number"),
    "lines": N_("Lines"),
    "file": N_("File"),
    "month": N_("Month"),
}


def money(minor: int | None) -> str:
    """Minor units as the page's language writes the major units (1 850 000 ->
    "18,500.00" in English, "18 500,00" in Russian)."""
    if minor is None:
        return "—"
    fmt = money_format(i18n.babel_locale(i18n.current_language()), 2)
    return fmt.format(Decimal(minor).scaleb(-2))


def parse_lines(text: str, field: str = "lines") -> list[dict[str, Any]]:
    """Rows of ``national_id, service_code, service_on[, quantity[, encounter_ref]]``; a
    header row naming the columns is skipped; blank rows are ignored. Text the CSV
    reader refuses (a cell over its limit, a quote left open where it must not be) is a
    refusal of ``field`` (the textarea's or the file's)."""
    try:
        read = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise Invalid.fields(
            [FieldError(field, N_("is not CSV text this form can read (a cell is too long?)"))]
        ) from None
    rows = []
    for cells in read:
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if cells[0].lower() == "national_id":
            continue
        row: dict[str, Any] = dict(zip(COLUMNS, cells, strict=False))
        if not row.get("quantity"):
            row.pop("quantity", None)
        if not row.get("encounter_ref"):
            row.pop("encounter_ref", None)
        rows.append(row)
    if not rows:
        raise Invalid.fields([FieldError("lines", N_("give at least one line"))])
    if len(rows) > MAX_LINES:
        raise Invalid.fields(
            [FieldError("lines", N_("at most %(n)s lines a claim"), {"n": MAX_LINES})]
        )
    return rows


def line_errors(errors: list[FieldError]) -> list[tuple[int | None, str, FieldError]]:
    """(row number as typed, counting from 1; the field; the error) of each refusal."""
    out = []
    for e in errors:
        parts = e.field.split(".")
        if len(parts) >= 2 and parts[0] == "lines" and (parts[1].isascii() and parts[1].isdigit()):
            out.append((int(parts[1]) + 1, parts[2] if len(parts) > 2 else "", e))
        else:
            out.append((None, e.field, e))
    return out


def _ctx() -> dict[str, Any]:
    return {
        "money": money,
        "service_name": service.labels.service_name,
        "fields": FIELD_LABELS,
        "claim_status": claim_status,
    }


def claim_status(status: str, settled: SettlementOut | None) -> str:
    """A claim's status as the page says it: settled once its month's settlement is
    closed, else its own status's label."""
    if settled is not None and settled.status == "closed":
        return label(CLAIM_STATUS_LABELS, "settled")
    return label(CLAIM_STATUS_LABELS, status)


async def _settlements(
    session: DbSession, principal: Principal, months: set[date]
) -> dict[tuple[int, date], SettlementOut]:
    """The provider's settlements of ``months`` (its own facility's: the service scopes
    them), by facility and month: one read of them all, or of the one month."""
    if not months:
        return {}
    month = next(iter(months)) if len(months) == 1 else None
    return {
        (s.facility_id, s.month): s
        for s in await service.list_settlements(session, principal, month=month)
        if s.month in months
    }


async def _page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    listing = await service.list_claims(session, principal, limit=100)
    ctx = {
        **_ctx(),
        "claims": listing,
        "settlements": await _settlements(session, principal, {c.month for c in listing}),
        "form": {},
        "error": None,
        "line_errors": [],
        **(extra or {}),
    }
    return render(request, "insurance/claims_list.html", ctx, status=status)


@pages.get(PAGE, response_class=HTMLResponse)
async def claims_page(request: Request, session: DbSession, principal: Provider) -> Response:
    """The facility's claims, newest first, and the form of a new claim."""
    with forms.page_language(request):
        return await _page(request, session, principal)


@pages.post(PAGE, response_class=HTMLResponse)
async def submit_page(request: Request, session: DbSession, principal: Provider) -> Response:
    with forms.page_language(request):
        posted = await forms.read_form(request)
        form = forms.values(posted, ("external_id", "lines"))
        try:
            text, field = form["lines"], "lines"
            upload = posted.get("file")
            if upload is not None and not isinstance(upload, str) and upload.filename:
                field = "file"
                data = await upload.read(MAX_BYTES + 1)
                if len(data) > MAX_BYTES:
                    raise Invalid.fields([FieldError("file", N_("the file is too large"))])
                try:
                    text = data.decode("utf-8-sig")
                except UnicodeDecodeError:
                    raise Invalid.fields([FieldError("file", N_("is not UTF-8 text"))]) from None
            data_in = forms.validate(
                ClaimIn,
                {"external_id": form["external_id"] or None, "lines": parse_lines(text, field)},
            )
            out = await service.submit_claim(session, principal, data_in)
        except SalomatError as e:
            if e.status not in (403, 409, 422):
                raise
            await session.rollback()
            extra = {"form": form, "error": e, "line_errors": line_errors(e.errors)}
            return await _page(request, session, principal, extra, e.status)
        return redirect(f"{PAGE}/{out.id}")


@pages.get(PAGE + "/{claim_id}", response_class=HTMLResponse)
async def claim_page(
    request: Request, session: DbSession, claim_id: RowId, principal: Provider
) -> Response:
    """One claim: its lines, their status, amounts and flags with their reasons."""
    with forms.page_language(request):
        claim = await service.get_claim(session, principal, claim_id)
        found = await _settlements(session, principal, {claim.month})
        settled = found.get((claim.facility_id, claim.month))
        ctx = {**_ctx(), "claim": claim, "settlement": settled}
        return render(request, "insurance/claims_detail.html", ctx)
