"""Find a patient, register one, the patient card, the facility list.

Forms post as plain HTML (they work without JavaScript); the search also
answers htmx, which swaps the search section in place. A refused form is
shown again with each message next to its field and a 4xx status, so the
unit of work rolls back and nothing is stored.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.config import get_settings
from salomat.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    SalomatError,
)
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.params import RowId
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    AttachIn,
    Candidate,
    DeathIn,
    FacilityQuery,
    PersonIn,
    PersonQuery,
    RelationEndIn,
    RelationIn,
)
from salomat.domains.registry.web._common import (
    Session,
    _blank_to_none,
    _country,
    _facility_types,
    _htmx,
    _id_label,
    _version,
    web,
)
from salomat.ui import forms
from salomat.ui.templating import NavItem, redirect, register_nav, render

PATIENTS_PAGE = 20
FACILITIES_PAGE = 50


register_nav(NavItem(N_("Patients"), "/patients", "person:search", order=10))
register_nav(NavItem(N_("Facilities"), "/facilities", "facility:read", order=60))

#: Why ``service.find_candidates`` thinks a registered person may be the new one.
CANDIDATE_REASONS = (
    N_("same national id"),
    N_("same name"),
    N_("similar name"),
    N_("written in the other script"),
    N_("same birth date"),
    N_("birth date with day and month swapped"),
    N_("born the same month"),
    N_("other sex"),
    N_("another national id"),
)
SEXES = (N_("female"), N_("male"))
RELATION_KINDS = ("mother", "father", "guardian")
PERSON_FIELDS = (
    "national_id",
    "family_name",
    "given_name",
    "patronymic",
    "birth_date",
    "sex",
    "phone",
    "settlement_code",
    "attached_facility_code",
    "section_code",
)


# ---- helpers -------------------------------------------------------------------------


def _primary_care() -> set[str]:
    return {t["code"] for t in pack.load(_country())["facility_types"] if t.get("primary_care")}


async def _attachable_facilities(session: Session) -> list[Any]:
    """Open primary-care facilities for the attachment field's suggestions."""
    limit = get_settings().max_page_size
    page = await service.list_facilities(session, PageParams(limit, 0), FacilityQuery(is_open=True))
    kinds = _primary_care()
    return [f for f in page.items if f.is_open and f.kind in kinds]


# ---- search -----------------------------------------------------------------------------


@web.get("/patients", response_class=HTMLResponse)
async def patients(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:search"))],
    national_id: str = "",
    name: str = "",
    birth_date: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    form = {"national_id": national_id.strip(), "name": name.strip(), "birth_date": birth_date}
    ctx: dict[str, Any] = {
        "form": form,
        "errors": {},
        "page": None,
        "id_label": _id_label(),
        "can_register": allowed(principal.role, "person:create"),
        "can_break_glass": allowed(principal.role, "break_glass:request"),
    }
    status = 200
    if any(form.values()):
        try:
            query = forms.validate(PersonQuery, _blank_to_none(form))
            page = await service.search_persons(
                session, principal, query, PageParams(PATIENTS_PAGE, offset)
            )
        except Invalid as e:
            ctx["errors"] = forms.errors_by_field(e.errors)
            ctx["error"] = e
            status = 422
        else:
            ctx["page"] = page
            query_args = {k: v for k, v in form.items() if v}
            ctx["query"] = query_args
            if page.offset + page.limit < page.total:
                ctx["next_url"] = "/patients?" + urlencode(
                    {**query_args, "offset": page.offset + page.limit}
                )
            if page.offset > 0:
                ctx["prev_url"] = "/patients?" + urlencode(
                    {**query_args, "offset": max(0, page.offset - page.limit)}
                )
    # htmx swaps only 2xx answers: a refused search (which wrote nothing, the service
    # checks before it audits) still replaces the form, errors and all
    if _htmx(request):
        status = 200
    return render(request, "registry/patients.html", ctx, status=status)


# ---- registration ------------------------------------------------------------------------


def _registration_ctx(form: dict[str, str]) -> dict[str, Any]:
    return {
        "form": form,
        "errors": {},
        "candidates": [],
        "existing_id": None,
        "id_label": _id_label(),
        "reasons": CANDIDATE_REASONS,
        "today": date.today().isoformat(),
    }


@web.get("/patients/new", response_class=HTMLResponse)
async def registration_form(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:create"))],
    national_id: str = "",
    name: str = "",
    birth_date: str = "",
) -> Response:
    """Prefilled from a search that found nobody."""
    form = dict.fromkeys(PERSON_FIELDS, "")
    form.update(
        national_id=national_id.strip(),
        birth_date=birth_date,
        attached_facility_code=principal.facility_code or "",
    )
    words = name.split()
    if words:
        form["family_name"] = words[0]
        form["given_name"] = " ".join(words[1:2])
        form["patronymic"] = " ".join(words[2:])
    ctx = _registration_ctx(form)
    ctx["facilities"] = await _attachable_facilities(session)
    return render(request, "registry/register.html", ctx)


@web.post("/patients/new", response_class=HTMLResponse)
async def register(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:create"))],
    national_id: Annotated[str, Form()] = "",
    family_name: Annotated[str, Form()] = "",
    given_name: Annotated[str, Form()] = "",
    patronymic: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    sex: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    settlement_code: Annotated[str, Form()] = "",
    attached_facility_code: Annotated[str, Form()] = "",
    section_code: Annotated[str, Form()] = "",
    duplicate_reason: Annotated[str, Form()] = "",
) -> Response:
    """Registers, or shows the form again with field errors or duplicate candidates."""
    form = {
        "national_id": national_id,
        "family_name": family_name,
        "given_name": given_name,
        "patronymic": patronymic,
        "birth_date": birth_date,
        "sex": sex,
        "phone": phone,
        "settlement_code": settlement_code,
        "attached_facility_code": attached_facility_code,
        "section_code": section_code,
    }
    raw = {**_blank_to_none(form), "duplicate_reason": duplicate_reason.strip() or None}
    # the required fields keep "" so that their messages say what is missing
    for required in ("family_name", "given_name", "birth_date", "sex"):
        raw[required] = form[required].strip()
    ctx = _registration_ctx({**form, "duplicate_reason": duplicate_reason})
    try:
        data = forms.validate(PersonIn, raw)
        person = await service.register_person(session, principal, data)
    except Conflict as e:
        ctx["error"] = e
        ctx["errors"] = forms.errors_by_field(e.errors)
        ctx["candidates"] = [
            Candidate.model_validate(c) for c in e.extensions.get("candidates", [])
        ]
        ctx["existing_id"] = e.extensions.get("existing_id")
        status = e.status
    except Invalid as e:
        ctx["error"] = e
        ctx["errors"] = forms.errors_by_field(e.errors)
        status = e.status
        if set(ctx["errors"]) == {"duplicate_reason"}:
            # a reason too short: keep showing whom the registration resembles
            data = forms.validate(PersonIn, {**raw, "duplicate_reason": None})
            found = await service.find_candidates(session, principal, data)
            ctx["candidates"] = found
    else:
        return redirect(f"/patients/{person.id}?registered=1")
    ctx["facilities"] = await _attachable_facilities(session)
    return render(request, "registry/register.html", ctx, status=status)


@web.get("/patients/new/settlements", response_class=HTMLResponse)
async def settlement_options(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:create"))],
    settlement_code: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Suggestions for the settlement field (htmx): settlements whose name holds the text."""
    text = settlement_code.strip()
    items: list[Any] = []
    if len(text) >= 2:
        page = await service.list_territory(
            session, PageParams(20, 0), level="settlement", name=text
        )
        items = list(page.items)
        exact = await service.territory_by_code(session, text)
        if exact is not None and exact.level == "settlement" and exact not in items:
            items.insert(0, exact)
    return render(request, "registry/settlement_options.html", {"items": items})


# ---- the card --------------------------------------------------------------------------------


async def _card(
    request: Request,
    session: Session,
    principal: Principal,
    person_id: int,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    person = await service.get_person(session, principal, person_id)
    attachments = await service.attachment_history(session, principal, person_id)
    facility = None
    if person.attached_facility_code:
        facility = await service.facility_by_code(session, person.attached_facility_code)
    today = date.today()
    age = service.age_on(person.birth_date, person.deceased_on or today)
    can_attach = allowed(principal.role, "person:update") and person.deceased_on is None
    relations = await service.list_relations(session, principal, person_id)
    ctx: dict[str, Any] = {
        "person": person,
        "age": age,
        "attachments": attachments,
        "facility": facility,
        "types": _facility_types(),
        "id_label": _id_label(),
        "can_attach": can_attach and person.merged_into_id is None,
        "can_record_death": allowed(principal.role, "person:death")
        and person.deceased_on is None
        and person.merged_into_id is None,
        "registered": request.query_params.get("registered") == "1",
        "saved": request.query_params.get("saved") == "1",
        "can_edit": allowed(principal.role, "person:update") and person.merged_into_id is None,
        "attach_form": {},
        "attach_errors": {},
        "death_form": {},
        "death_errors": {},
        "relations": relations,
        "can_relate": allowed(principal.role, "person:relate")
        and person.deceased_on is None
        and person.merged_into_id is None,
        "relation_kinds": RELATION_KINDS,
        "relate_form": {},
        "relate_errors": {},
        "today": today.isoformat(),
        **(extra or {}),
    }
    if ctx["can_attach"]:
        ctx["facilities"] = await _attachable_facilities(session)
    return render(request, "registry/card.html", ctx, status=status)


@web.get("/patients/{person_id}", response_class=HTMLResponse)
async def card(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:read"))],
) -> Response:
    return await _card(request, session, principal, person_id)


@web.get("/patients/{person_id}/versions", response_class=HTMLResponse)
async def versions(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:read"))],
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Every stored version; htmx loads it into the card, otherwise a page of its own."""
    items = await service.person_history(
        session, principal, person_id, PageParams(PATIENTS_PAGE, offset)
    )
    ctx = {"person_id": person_id, "items": items, "offset": offset, "page_size": PATIENTS_PAGE}
    template = "registry/versions.html" if _htmx(request) else "registry/versions_page.html"
    return render(request, template, ctx)


@web.post("/patients/{person_id}/attach", response_class=HTMLResponse)
async def attach(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:update"))],
    version: Annotated[str, Form()] = "",
    facility_code: Annotated[str, Form()] = "",
    section_code: Annotated[str, Form()] = "",
    start_on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Attach or transfer; the version read with the card guards against a stale write."""
    form = {
        "facility_code": facility_code,
        "section_code": section_code,
        "start_on": start_on,
        "reason": reason,
    }
    raw = _blank_to_none(form)
    raw["facility_code"] = facility_code.strip()
    try:
        data = forms.validate(AttachIn, raw)
        await service.attach_person(
            session, principal, person_id, data, expected_version=_version(version)
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "attach_form": form,
            "attach_errors": forms.errors_by_field(e.errors),
            "attach_error": e,
        }
        return await _card(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}")


@web.post("/patients/{person_id}/death", response_class=HTMLResponse)
async def death(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:death"))],
    version: Annotated[str, Form()] = "",
    deceased_on: Annotated[str, Form()] = "",
    cause: Annotated[str, Form()] = "",
    other_causes: Annotated[str, Form()] = "",
) -> Response:
    form = {"deceased_on": deceased_on, "cause": cause, "other_causes": other_causes}
    # the certificate's other lines, typed as one list: "C34.9, I10"
    lines = [c for c in other_causes.replace(";", ",").replace(" ", ",").split(",") if c]
    try:
        data = forms.validate(
            DeathIn,
            {"deceased_on": deceased_on.strip(), "cause": cause.strip(), "other_causes": lines},
        )
        await service.register_death(
            session, principal, person_id, data, expected_version=_version(version)
        )
    except SalomatError as e:
        if e.status == 404:
            raise
        many = {f"other_causes.{i}": "other_causes" for i in range(len(lines))}
        extra = {
            "death_form": form,
            "death_errors": forms.errors_by_field(e.errors, many),
            "death_error": e,
        }
        return await _card(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}")


# ---- parents and guardians ---------------------------------------------------------------------


@web.post("/patients/{person_id}/relations", response_class=HTMLResponse)
async def add_relation(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:relate"))],
    kind: Annotated[str, Form()] = "",
    national_id: Annotated[str, Form()] = "",
    starts_on: Annotated[str, Form()] = "",
    document: Annotated[str, Form()] = "",
) -> Response:
    """Link a mother, father or guardian found by national id; refused fields shown beside them."""
    form = {"kind": kind, "national_id": national_id, "starts_on": starts_on, "document": document}
    try:
        parent_id = None
        errors: list[FieldError] = []
        if not national_id.strip():
            errors.append(
                FieldError("national_id", N_("enter the %(label)s"), {"label": _id_label()})
            )
        else:
            parent_id = await service.person_id_by_national_id(session, national_id)
            if parent_id is None:
                errors.append(
                    FieldError(
                        "national_id", N_("no person has this %(label)s"), {"label": _id_label()}
                    )
                )
        raw = {
            "kind": kind.strip(),
            "related_person_id": parent_id or person_id,
            "starts_on": starts_on.strip() or None,
            "document": document.strip(),
        }
        try:
            data = forms.validate(RelationIn, raw)
        except Invalid as e:
            errors += e.errors
        if errors:
            raise Invalid.fields(errors)
        await service.add_relation(session, principal, person_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {
            "relate_form": form,
            "relate_errors": forms.errors_by_field(e.errors, {"related_person_id": "national_id"}),
            "relate_error": e,
        }
        return await _card(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}")


@web.post("/patients/{person_id}/relations/{relation_id}/end", response_class=HTMLResponse)
async def end_relation(
    request: Request,
    session: Session,
    person_id: RowId,
    relation_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:relate"))],
    ends_on: Annotated[str, Form()] = "",
    document: Annotated[str, Form()] = "",
) -> Response:
    """End a relation (a court order ending a guardianship)."""
    raw = {"ends_on": ends_on.strip() or None, "document": document.strip() or None}
    try:
        data = forms.validate(RelationEndIn, raw)
        await service.end_relation(session, principal, relation_id, data)
    except SalomatError as e:
        if e.status == 404:
            raise
        extra = {"end_relation_error": e, "end_relation_id": relation_id}
        return await _card(request, session, principal, person_id, extra, e.status)
    return redirect(f"/patients/{person_id}")


# ---- facilities ------------------------------------------------------------------------------


@web.get("/facilities", response_class=HTMLResponse)
async def facilities(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("facility:read"))],
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    page = await service.list_facilities(session, PageParams(FACILITIES_PAGE, offset))
    return render(
        request,
        "registry/facilities.html",
        {"page": page, "types": _facility_types()},
    )
