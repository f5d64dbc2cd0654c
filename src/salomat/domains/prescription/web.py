"""E-prescription pages: the doctor's form, the pharmacist's screen, the fund's review, and
the prescription as a PDF document (with its code and QR) for the patient to take away."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core import i18n
from salomat.core.config import get_settings
from salomat.core.errors import FieldError, Invalid, NotFound, SalomatError
from salomat.core.i18n import N_
from salomat.core.money import MoneyInputError, money_format, parse_money
from salomat.core.params import RowId, parse_row_id, parse_version
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import pack
from salomat.domains.prescription import service
from salomat.domains.prescription.schemas import (
    ClaimReviewIn,
    DispenseIn,
    DispensingLookupIn,
    PrescriptionIn,
    PrescriptionOut,
)
from salomat.domains.registry import service as _registry
from salomat.ui import forms
from salomat.ui.pdf import render_pdf
from salomat.ui.templating import NavItem, can, language_of, redirect, register_nav, render

web = router(include_in_schema=False)


# ---- the doctor's prescriptions of one patient ----------------------------------------


_RX_FIELDS = (
    "medicine",
    "diagnosis",
    "kind",
    "dose_units",
    "times_per_day",
    "days",
    "instructions",
)


async def _prescriptions_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await _registry.get_person(session, principal, person_id, purpose="prescriptions")
    items = await service.list_prescriptions(session, principal, person_id)
    rules = service.prescription_rules()
    ctx: dict[str, Any] = {
        "person": person,
        "items": items,
        "qr": {p.id: service.qr_svg(p.code, scale=3, inline=True) for p in items},
        "medicines": await service.list_formulary(session),
        "types": rules.types,
        "reimbursable": rules.reimbursement,
        "can_write": can(principal, "prescription:write")
        and principal.facility_id is not None
        and person.deceased_on is None
        and person.merged_into_id is None,
        "form": {"kind": "regular", "times_per_day": "1", "dose_units": "1", "days": "30"},
        "errors": {},
        "error": None,
        "cancel_error": None,
        "saved": request.query_params.get("saved", ""),
        "cancelled": request.query_params.get("cancelled") == "1",
        **(extra or {}),
    }
    return render(request, "prescription/prescriptions.html", ctx, status=status)


@web.get("/patients/{person_id}/prescriptions", response_class=HTMLResponse)
async def prescriptions_page(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("prescription:read"))],
) -> Response:
    """The patient's prescriptions with their codes and QR codes; the doctor's form."""
    return await _prescriptions_page(request, session, principal, person_id)


@web.get("/patients/{person_id}/prescriptions/by-class", response_class=HTMLResponse)
async def prescriptions_by_class_page(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("prescription:read"))],
) -> Response:
    """The patient's prescriptions of some medicine classes (``?atc=C08&atc=C09``; no
    ``atc``: of every class), active first: htmx loads it into another domain's page (the
    disease-management card), else a page of its own. A class given empty or malformed
    answers 422 naming ``atc``, before anything is read."""
    given = request.query_params.getlist("atc")
    atc = service.atc_prefixes(given) if "atc" in request.query_params else None
    person = await _registry.get_person(session, principal, person_id, purpose="prescriptions")
    items = await service.prescriptions_by_class(session, principal, person_id, atc)
    ctx: dict[str, Any] = {
        "person": person,
        "items": items,
        "atc": atc,
        "can_write": can(principal, "prescription:write")
        and principal.facility_id is not None
        and person.deceased_on is None
        and person.merged_into_id is None,
    }
    swap = request.headers.get("hx-request") and not request.headers.get(
        "hx-history-restore-request"
    )
    template = "prescription/by_class.html" if swap else "prescription/by_class_page.html"
    return render(request, template, ctx)


@web.post("/patients/{person_id}/prescriptions", response_class=HTMLResponse)
async def prescribe_page(
    request: Request,
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("prescription:write"))],
) -> Response:
    """Prescribe from the form; a refused one is shown again with each field's message."""
    posted = await request.form()
    form = {n: forms.text(posted, n) for n in _RX_FIELDS}
    raw: dict[str, Any] = {n: form[n] or None for n in _RX_FIELDS}
    raw["medicine"] = form["medicine"]
    raw["kind"] = form["kind"] or "regular"
    try:
        data = forms.validate(PrescriptionIn, raw)
        p = await service.create_prescription(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"form": form, "errors": forms.errors_by_field(e.errors), "error": e}
        return await _prescriptions_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/prescriptions?saved={p.id}")


@web.post(
    "/patients/{person_id}/prescriptions/{prescription_id}/cancel", response_class=HTMLResponse
)
async def cancel_prescription_page(
    request: Request,
    session: DbSession,
    person_id: RowId,
    prescription_id: RowId,
    principal: Annotated[Principal, Depends(Require("prescription:write"))],
) -> Response:
    """Cancel with a reason; the version the page showed guards against a stale cancel."""
    posted = await request.form()
    version = forms.text(posted, "version")
    try:
        current = await service.get_prescription(session, principal, prescription_id)
        if current.person_id != person_id:
            raise NotFound(f"MedicationRequest {prescription_id} not found.")
        await service.cancel_prescription(
            session,
            principal,
            prescription_id,
            forms.text(posted, "reason"),
            expected_version=parse_version(version),
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"cancel_error": e, "cancel_id": prescription_id}
        return await _prescriptions_page(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}/prescriptions?cancelled=1")


# ---- claims to the fund, the reviewer's worklist, the citizen portal ------------------


register_nav(NavItem(N_("My prescriptions"), "/my/prescriptions", "prescription:portal", order=6))
register_nav(NavItem(N_("Claims review"), "/fund/claims", "claim:review", order=40))
register_nav(NavItem(N_("Monthly claims"), "/pharmacy/claims", "claim:read", order=41))

#: the anomaly rules as the reviewer reads them (``service.RULES``)
RULE_LABELS = {
    "after_death": N_("dispensed after the patient's death"),
    "many_pharmacies": N_("one patient at many pharmacies"),
    "prescriber_outlier": N_("prescriber volume outlier"),
    "outside_validity": N_("dispensed outside the prescription's validity"),
    "late": N_("recorded after the claim was submitted"),
}
LINE_STATUSES = {
    "entered": N_("entered"),
    "flagged": N_("flagged"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
}
CLAIM_STATUSES = {
    "open": N_("being compiled"),
    "submitted": N_("submitted"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
}
PRESCRIPTION_STATUSES = {
    "active": N_("active"),
    "dispensed": N_("dispensed"),
    "cancelled": N_("cancelled"),
    "expired": N_("expired"),
}
_FILTERS = ("month", "facility", "rule", "status")


def _claims_ctx() -> dict[str, object]:
    return {
        "rule_labels": RULE_LABELS,
        "line_statuses": LINE_STATUSES,
        "claim_statuses": CLAIM_STATUSES,
        "currency": pack.load(get_settings().country).get("currency", ""),
    }


async def _fund_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, object] | None = None,
    status: int = 200,
    query: str | None = None,
) -> Response:
    """The worklist filtered by the page's query (or, after a refused form, the one it had)."""
    q = dict(parse_qsl(query)) if query is not None else request.query_params
    filters = {k: (q.get(k) or "").strip() for k in _FILTERS}
    filters["status"] = filters["status"] or "flagged"
    ctx: dict[str, object] = {"mode": "review", "filters": filters, "lines": [], **_claims_ctx()}
    try:
        ctx["lines"] = await service.list_claim_lines(
            session,
            principal,
            status=None if filters["status"] == "any" else filters["status"],
            rule=filters["rule"] or None,
            month=service.parse_month(filters["month"]) if filters["month"] else None,
            facility=filters["facility"] or None,
        )
    except SalomatError as e:
        ctx["filter_error"] = e
        status = max(status, e.status)
    ctx["back"] = urlencode({k: v for k, v in filters.items() if v})
    ctx.update(extra or {})
    return render(request, "prescription/claims.html", ctx, status)


@web.get("/fund/claims", response_class=HTMLResponse)
async def fund_claims(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("claim:review"))],
) -> Response:
    """The fund reviewer's worklist: flagged lines (filters: month, pharmacy, rule, status)."""
    reviewed = request.query_params.get("reviewed")
    return await _fund_page(
        request, session, principal, {"reviewed": int(reviewed) if reviewed else None}
    )


@web.post("/fund/claim-lines/{line_id}/review", response_class=HTMLResponse)
async def review_line(
    request: Request,
    session: DbSession,
    line_id: RowId,
    principal: Annotated[Principal, Depends(Require("claim:review"))],
) -> Response:
    """Approve or reject a line with a note; a refused form comes back beside its line."""
    posted = await request.form()
    decision, note = forms.text(posted, "decision"), forms.text(posted, "note")
    back = forms.text(posted, "back")
    try:
        data = forms.validate(ClaimReviewIn, {"decision": decision, "note": note or None})
        await service.review_claim_line(session, principal, line_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "error_id": line_id,
            "error": e,
            "errors": forms.errors_by_field(e.errors),
            "note": note,
        }
        return await _fund_page(request, session, principal, extra, e.status, query=back)
    sep = "&" if back else ""
    return redirect(f"/fund/claims?{back}{sep}reviewed={line_id}#line-{line_id}")


async def _pharmacy_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    wanted = request.query_params.get("claim") or ""
    ctx: dict[str, object] = {"mode": "pharmacy", **_claims_ctx()}
    ctx["claims"] = await service.list_claims(session, principal)
    claim_id = parse_row_id(wanted)
    if claim_id is None and ctx["claims"]:
        claim_id = ctx["claims"][0].id  # type: ignore[index]
    ctx["claim"] = (
        await service.get_claim(session, principal, claim_id) if claim_id is not None else None
    )
    ctx.update(extra or {})
    return render(request, "prescription/claims.html", ctx, status)


@web.get("/pharmacy/claims", response_class=HTMLResponse)
async def pharmacy_claims(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("claim:read"))],
) -> Response:
    """The pharmacy's monthly claims, one with its lines and a submit button while open."""
    return await _pharmacy_page(
        request, session, principal, {"submitted": bool(request.query_params.get("submitted"))}
    )


@web.post("/pharmacy/claims/{claim_id}/submit", response_class=HTMLResponse)
async def submit_claim_page(
    request: Request,
    session: DbSession,
    claim_id: RowId,
    principal: Annotated[Principal, Depends(Require("claim:read"))],
) -> Response:
    """Submit the month's claim; a refusal (month not over, not open) is shown on the page."""
    try:
        await service.submit_claim(session, principal, claim_id)
    except SalomatError as e:
        if e.status == 404:
            raise
        return await _pharmacy_page(request, session, principal, {"submit_error": e}, e.status)
    return redirect(f"/pharmacy/claims?claim={claim_id}&submitted=1")


@web.get("/my/prescriptions", response_class=HTMLResponse)
async def my_prescriptions_page(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("prescription:portal"))],
) -> Response:
    """The citizen's prescriptions (and her children's): what remains, where it was given."""
    items = await service.my_prescriptions(session, principal)
    return render(
        request,
        "prescription/my_prescriptions.html",
        {"items": items, "statuses": PRESCRIPTION_STATUSES, "me": principal.person_id},
    )


# ---- the pharmacist's screen: lookup by code and national id, dispense --------------------


register_nav(NavItem(N_("Dispense"), "/pharmacy", "prescription:dispense", order=39))

_Dispenser = Annotated[Principal, Depends(Require("prescription:dispense"))]
_DISPENSE_FIELDS = ("units", "packages", "medicine_code", "price")


#: decimals of the currency: ISO 4217 minor units, UZS 2 (tiyin) and KZT 2 (tiyn); the
#: amounts are stored in these minor units
MINOR_PLACES = 2
#: the largest price of one package the dispensing takes (``DispenseIn.price``), in major units
MAX_PRICE = Decimal(
    next(m.le for m in DispenseIn.model_fields["price"].metadata if hasattr(m, "le"))
).scaleb(-MINOR_PLACES)


def _money(minor: int) -> str:
    """Minor units as the page's language writes them: 12,345.67 (en), 12 345,67 (ru)."""
    fmt = money_format(i18n.babel_locale(i18n.current_language()), MINOR_PLACES)
    return fmt.format(Decimal(minor).scaleb(-MINOR_PLACES))


def _price(raw: str, lang: str) -> tuple[int | None, str | None]:
    """A price typed in major units (so'm, tenge) in the page's language: minor units, or
    the reason it was refused in that language (``core.money``: never guessed)."""
    try:
        value = parse_money(raw, i18n.babel_locale(lang), places=MINOR_PLACES, maximum=MAX_PRICE)
    except MoneyInputError as e:
        return None, e.message(i18n.translations(lang).gettext)
    return int(value.scaleb(MINOR_PLACES)), None


def _validate_dispense(raw: dict[str, Any], price_error: str | None) -> DispenseIn:
    """The dispensing, or every wrong field at once; the typed price's own reason wins."""
    errors: list[FieldError] = []
    try:
        data: DispenseIn = forms.validate(DispenseIn, raw)
    except Invalid as e:
        errors = [x for x in e.errors if price_error is None or x.field != "price"]
    if price_error is not None:
        errors.append(FieldError("price", price_error))
    if errors:
        raise Invalid.fields(errors)
    return data


def _refusal_kind(view: Any) -> str | None:
    """Why nothing can be dispensed, as a key the page words in its language.

    A fully dispensed prescription is the normal end of a dispensing, not an error: the
    page says so calmly (it used to show the refusal in red right after a success).
    """
    if view is None or view.refusal is None:
        return None
    if view.status == "cancelled":
        return "cancelled"
    if view.status == "dispensed" or view.remaining_units <= 0:
        return "dispensed"
    if view.valid_until < date.today():
        return "expired"
    return "died"


def _whole(raw: str) -> int | str | None:
    return None if not raw else n if (n := parse_row_id(raw)) is not None else raw


async def _disp_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    ctx: dict[str, Any],
    status: int = 200,
) -> Response:
    base: dict[str, Any] = {
        "lookup_form": {},
        "lookup_error": None,
        "view": None,
        "form": {},
        "errors": {},
        "error": None,
        "quote": None,
        "dispensed": None,
        "history": [],
        "money": _money,
        "price_example": money_format(
            i18n.babel_locale(language_of(request)), MINOR_PLACES
        ).example,
        "currency": pack.load(get_settings().country).get("currency", ""),
    }
    base.update(ctx)
    base["refusal_kind"] = _refusal_kind(base["view"])
    return render(request, "prescription/pharmacy.html", base, status=status)


@web.get("/pharmacy", response_class=HTMLResponse)
async def pharmacy_page(request: Request, session: DbSession, principal: _Dispenser) -> Response:
    """The lookup form: the prescription's code and the patient's national id."""
    return await _disp_page(request, session, principal, {})


@web.post("/pharmacy", response_class=HTMLResponse)
async def pharmacy_lookup(request: Request, session: DbSession, principal: _Dispenser) -> Response:
    """Find one prescription; a wrong pair is answered like a missing code (404)."""
    posted = await request.form()
    form = {k: forms.text(posted, k) for k in ("code", "national_id")}
    try:
        data = forms.validate(DispensingLookupIn, form)
        view = await service.find_for_dispensing(session, principal, data.code, data.national_id)
    except SalomatError as e:
        ctx = {
            "lookup_form": form,
            "lookup_error": e,
            "lookup_errors": forms.errors_by_field(e.errors),
        }
        return await _disp_page(request, session, principal, ctx, e.status)
    return await _disp_page(request, session, principal, {"view": view, "lookup_form": form})


async def _disp_view_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    prescription_id: int,
    ctx: dict[str, Any],
    status: int = 200,
) -> Response:
    view = await service.dispensing_view(session, principal, prescription_id)
    history = await service.list_dispensings(session, principal, prescription_id)
    return await _disp_page(
        request, session, principal, {"view": view, "history": history, **ctx}, status
    )


@web.get("/pharmacy/prescriptions/{prescription_id}", response_class=HTMLResponse)
async def pharmacy_prescription(
    request: Request,
    session: DbSession,
    prescription_id: RowId,
    principal: _Dispenser,
    dispensed: int | None = None,
) -> Response:
    """A prescription this pharmacy looked up, with what it gave (after a dispensing)."""
    return await _disp_view_page(
        request, session, principal, prescription_id, {"dispensed": dispensed}
    )


@web.post("/pharmacy/prescriptions/{prescription_id}/dispense", response_class=HTMLResponse)
async def pharmacy_dispense(
    request: Request, session: DbSession, prescription_id: RowId, principal: _Dispenser
) -> Response:
    """``action=quote`` shows the price, the fund's share and the co-payment; else dispense."""
    posted = await request.form()
    form = {k: forms.text(posted, k) for k in _DISPENSE_FIELDS}
    price, price_error = _price(form["price"], language_of(request))
    raw: dict[str, Any] = {
        "units": _whole(form["units"]),
        "packages": _whole(form["packages"]),
        "medicine_code": form["medicine_code"] or None,
        "price": price,
    }
    quoting = forms.text(posted, "action") == "quote"
    try:
        data = _validate_dispense(raw, price_error)
        if quoting:
            quote = await service.quote_dispensing(session, principal, prescription_id, data)
            return await _disp_view_page(
                request, session, principal, prescription_id, {"form": form, "quote": quote}
            )
        out = await service.dispense(session, principal, prescription_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        ctx = {"form": form, "errors": forms.errors_by_field(e.errors), "error": e}
        return await _disp_view_page(request, session, principal, prescription_id, ctx, e.status)
    return redirect(f"/pharmacy/prescriptions/{prescription_id}?dispensed={out.id}#dispensed")


# ---- the prescription as a PDF document ---------------------------------------------------


def _pack_name(names: dict[str, str], lang: str) -> str | None:
    return names.get(lang) or names.get("en")


async def _prescription_pdf(
    request: Request, session: DbSession, principal: Principal, p: PrescriptionOut
) -> Response:
    """One prescription (read, scope-checked and audited by the caller) as a document."""
    person = await _registry.get_person(session, principal, p.person_id, purpose="prescriptions")
    facility = await _registry.get_facility(session, p.facility_id)
    prescriber = (
        await _registry.get_practitioner(session, p.practitioner_id)
        if p.practitioner_id is not None
        else None
    )
    ctx = {
        "p": p,
        "person": person,
        "facility_name": facility.names.get(language_of(request)) or facility.name,
        "facility": facility,
        "prescriber": prescriber,
        # the specialty by its name in the pack (the page's language, else English)
        "specialty": (
            _pack_name(
                _registry.specialties().get(prescriber.specialty, {}).get("name", {}),
                language_of(request),
            )
            or prescriber.specialty
        )
        if prescriber
        else None,
        "qr": service.qr_png_data_uri(p.code),
        "statuses": PRESCRIPTION_STATUSES,
    }
    return await render_pdf(
        request, "prescription/prescription_pdf.html", ctx, filename=f"prescription-{p.code}"
    )


@web.get("/patients/{person_id}/prescriptions/{prescription_id}.pdf")
async def prescription_pdf(
    request: Request,
    session: DbSession,
    person_id: RowId,
    prescription_id: RowId,
    principal: Annotated[Principal, Depends(Require("prescription:read"))],
) -> Response:
    """The prescription to print or send from the patient's prescriptions page."""
    p = await service.get_prescription(session, principal, prescription_id)
    if p.person_id != person_id:
        raise NotFound(f"MedicationRequest {prescription_id} not found.")
    return await _prescription_pdf(request, session, principal, p)


@web.get("/my/prescriptions/{prescription_id}.pdf")
async def my_prescription_pdf(
    request: Request,
    session: DbSession,
    prescription_id: RowId,
    principal: Annotated[Principal, Depends(Require("prescription:portal"))],
) -> Response:
    """A citizen's own prescription (or her child's, as listed on her page) as a document."""
    mine = {p.id for p in await service.my_prescriptions(session, principal)}
    if prescription_id not in mine:
        raise NotFound(f"MedicationRequest {prescription_id} not found.")
    p = await service.get_prescription(session, principal, prescription_id)
    return await _prescription_pdf(request, session, principal, p)
