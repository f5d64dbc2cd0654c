"""A facility's staff: its current practitioner roles with their full-time equivalents, a
form to add a role (an existing practitioner or a new one) and one to end a role
(docs/registries.md, "Staff page").

The page reads with ``practitioner:read`` and writes with ``practitioner:manage``, as the
REST API does; the writes are the API's service calls (``create_practitioner``,
``add_practitioner_role``, ``update_practitioner_role``), which audit and store versions.
Ending a role sends the version read (the API's ``If-Match``). A refused form comes back
with each message on its field, in the reader's language, and a 4xx status, so the unit
of work rolls back (a new practitioner whose role is refused is not stored either).
No person's medical data is on this page.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from salomat.core.errors import (
    N_,
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    PreconditionFailed,
    SalomatError,
)
from salomat.core.pagination import PageParams
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    MAX_FTE,
    FacilityOut,
    PractitionerIn,
    PractitionerOut,
    PractitionerQuery,
    PractitionerRoleIn,
    PractitionerRolePatch,
)
from salomat.domains.registry.web._common import (
    Session,
    _country,
    _id_label,
    _version,
    web,
)
from salomat.ui import forms
from salomat.ui.templating import language_of, redirect, render

STAFF_PAGE = 100
#: what the "find a practitioner" search offers at most
FOUND = 20
FacilityCode = Annotated[str, Path(min_length=1, max_length=32)]
RoleId = Annotated[int, Path(ge=1, le=2**31 - 1)]

#: the add form's fields (the new-practitioner ones used when ``practitioner_id`` is "new")
ADD_FIELDS = (
    "practitioner_id",
    "family_name",
    "given_name",
    "patronymic",
    "national_id",
    "specialty",
    "position",
    "section_code",
    "fte",
    "start_on",
)
NEW = "new"


def _names(entries: dict[str, dict[str, Any]], lang: str) -> dict[str, str]:
    """Code -> name in the reader's language (English, then the code, as a last resort)."""
    out = {}
    for code, entry in entries.items():
        names = entry.get("name") or {}
        out[code] = names.get(lang) or names.get("en") or code
    return out


async def _facility(session: Session, code: str) -> FacilityOut:
    fac = await service.facility_by_code(session, code)
    if fac is None:
        raise NotFound(N_("Facility %(code)s not found."), params={"code": code})
    return fac


def _today() -> date:
    """The country's day (a server on UTC turns the day over hours late)."""
    return pack.today(_country())


def _fte_total(p: PractitionerOut) -> float:
    return round(sum(r.fte for r in p.roles if r.current), 2)


async def _context(
    request: Request,
    session: Session,
    principal: Principal,
    fac: FacilityOut,
    *,
    offset: int = 0,
    find: str = "",
) -> dict[str, Any]:
    page = await service.list_practitioners(
        session, PageParams(STAFF_PAGE, offset), PractitionerQuery(facility_code=fac.code)
    )
    rows = [
        {"p": p, "role": r, "total": _fte_total(p)}
        for p in page.items
        for r in p.roles
        if r.facility_code == fac.code and r.current
    ]
    choices: dict[int, PractitionerOut] = {p.id: p for p in page.items if p.active}
    found: list[PractitionerOut] = []
    if len(find) >= 2:
        hits = await service.list_practitioners(
            session, PageParams(FOUND, 0), PractitionerQuery(name=find[:100], active=True)
        )
        found = hits.items
        choices = {p.id: p for p in found} | choices
    sections = await service.list_sections(session, fac.id)
    today = _today()
    return {
        "facility": fac,
        "page": page,
        "rows": rows,
        "choices": list(choices.values()),
        "found": found,
        "find": find,
        "sections": sections,
        #: the table's section names, as the add form's select shows them
        "section_names": {s.code: f"{s.code} · {s.name}" for s in sections},
        "positions": service.positions(),
        "specialties": service.specialties(),
        "id_label": _id_label(),
        "can_manage": allowed(principal.role, "practitioner:manage"),
        "today": today.isoformat(),
        "max_fte": _Fte(MAX_FTE),
        "fte_text": fte_text,
        "form": {"fte": "1.0", "start_on": today.isoformat(), "practitioner_id": NEW},
        "errors": {},
        "loose": [],
        "added": None,
        "added_from": None,
        "ended": None,
        "end_role": None,
        "end_form": {},
        "end_errors": {},
        "end_loose": [],
    }


def _render(request: Request, ctx: dict[str, Any], status: int = 200) -> Response:
    lang = _lang(request)
    ctx["position_names"] = _names(ctx["positions"], lang)
    ctx["specialty_names"] = _names(ctx["specialties"], lang)
    return render(request, "registry/staff.html", ctx, status=status)


def _lang(request: Request) -> str:
    return language_of(request)


@web.get("/admin/facilities/{code}/staff", response_class=HTMLResponse)
async def staff(
    request: Request,
    session: Session,
    code: FacilityCode,
    principal: Annotated[Principal, Depends(Require("practitioner:read"))],
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    find: Annotated[str, Query(max_length=100)] = "",
    added: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    ended: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    fac = await _facility(session, code)
    ctx = await _context(request, session, principal, fac, offset=offset, find=find.strip())
    ctx["added"], ctx["ended"] = added, ended
    if added is not None:  # a role that starts later is not in the table yet: say when
        try:
            role = await service.get_practitioner_role(session, added)
        except NotFound:
            role = None
        if role is not None and role.facility_code == fac.code and role.start_on > _today():
            ctx["added_from"] = role.start_on
    if ctx["found"]:
        ctx["form"]["practitioner_id"] = str(ctx["found"][0].id)
    return _render(request, ctx)


# ---- adding a role ---------------------------------------------------------------------


def _fte_value(raw: str) -> str | None:
    """The typed FTE with a decimal comma read as a point ("0,5" is half a post)."""
    raw = raw.strip().replace(",", ".")
    return raw or None


def _checks(form: dict[str, str], fac: FacilityOut, section_codes: set[str]) -> list[FieldError]:
    """What the page can say in the reader's words before the service is asked (the
    choices come from lists, so only a hand-made request gets these)."""
    errors: list[FieldError] = []
    known = service.positions()
    if form["position"] and form["position"] not in known:
        errors.append(FieldError("position", N_("is not a position of this country's list")))
    section = form["section_code"]
    if section:
        if form["position"] in known and not known[form["position"]].get("section"):
            errors.append(FieldError("section_code", N_("this position serves no section")))
        elif section not in section_codes:
            errors.append(FieldError("section_code", N_("is not a section of this facility")))
    new, specialty = form["practitioner_id"] in ("", NEW), form["specialty"]
    if new and specialty and specialty not in service.specialties():
        errors.append(FieldError("specialty", N_("is not a specialty of this country's list")))
    if not fac.is_open:
        errors.append(FieldError("facility", N_("The facility is closed: it takes no new roles.")))
    return errors


def fte_text(value: Decimal | float | str) -> str:
    """A full-time equivalent as the reader writes numbers ("1,5" in Russian, Uzbek and
    Kazakh; "1.5" in English): up to two decimals, no trailing zeros."""
    from babel.numbers import format_decimal

    from salomat.core.i18n import babel_locale, current_language

    return format_decimal(
        Decimal(str(value)), format="0.##", locale=babel_locale(current_language())
    )


class _Fte:
    """A full-time equivalent written out when the message is (the page's language is
    known only then): ``fte_text`` at ``str()``."""

    def __init__(self, value: Decimal) -> None:
        self.value = value

    def __str__(self) -> str:
        return fte_text(self.value)


def _fte_error(e: FieldError, fte: Decimal) -> FieldError:
    """The service's refusal of the sum, said with the person's total."""
    held = Decimal(str(e.params.get("held", "0")))
    return FieldError(
        "fte",
        N_(
            "with this role the person would work %(total)s full-time equivalents (their "
            "other roles in those dates hold %(held)s); one person works at most %(max)s"
        ),
        {
            "total": _Fte(held + fte),
            "held": _Fte(held),
            "max": _Fte(MAX_FTE),
        },
    )


def _reworded(e: SalomatError, fte: Decimal | None) -> list[FieldError]:
    """The service's field errors in words the catalogue has (several are English only)."""
    out = []
    for err in e.errors:
        if err.field == "fte" and fte is not None and "held" in err.params:
            out.append(_fte_error(err, fte))
        elif err.field == "start_on" and isinstance(e, Conflict):
            out.append(
                FieldError(
                    "start_on",
                    N_("the person already holds this position here in those dates"),
                )
            )
        elif err.field == "national_id" and isinstance(e, Conflict):
            out.append(
                FieldError(
                    "national_id",
                    N_("another practitioner has this number: find them and choose them"),
                )
            )
        elif err.field == "national_id":
            out.append(
                FieldError("national_id", N_("is not a valid %(label)s"), {"label": _id_label()})
            )
        elif err.field == "facility_code":
            out.append(FieldError("facility", N_("The facility is closed: it takes no new roles.")))
        else:
            out.append(err)
    if not e.errors:
        out.append(FieldError("form", e.detail, e.params))
    return out


async def _chosen(session: Session, raw: str) -> tuple[int | None, list[FieldError]]:
    """The existing practitioner chosen, or ``None`` for a new one."""
    if raw in ("", NEW):
        return None, []
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) < 2**31:
        return None, [FieldError("practitioner_id", N_("choose a practitioner from the list"))]
    try:
        p = await service.get_practitioner(session, int(raw))
    except NotFound:
        return None, [FieldError("practitioner_id", N_("choose a practitioner from the list"))]
    if not p.active:
        return None, [FieldError("practitioner_id", N_("is no longer active"))]
    return p.id, []


@web.post("/admin/facilities/{code}/staff", response_class=HTMLResponse)
async def add_role(
    request: Request,
    session: Session,
    code: FacilityCode,
    principal: Annotated[Principal, Depends(Require("practitioner:manage"))],
) -> Response:
    posted = await forms.read_form(request)
    form = forms.values(posted, ADD_FIELDS)
    fac = await _facility(session, code)
    sections = {s.code for s in await service.list_sections(session, fac.id)}
    fte: Decimal | None = None
    try:
        practitioner_id, errors = await _chosen(session, form["practitioner_id"])
        errors += _checks(form, fac, sections)
        role_raw: dict[str, Any] = {
            "facility_code": fac.code,
            "position": form["position"],
            "section_code": form["section_code"] or None,
            "start_on": form["start_on"] or _today().isoformat(),
        }
        fte_raw = _fte_value(form["fte"])
        if fte_raw is not None:
            role_raw["fte"] = fte_raw
        role: PractitionerRoleIn | None = None
        try:
            role = forms.validate(PractitionerRoleIn, role_raw)
            fte = role.fte
        except Invalid as e:
            errors += e.errors
        new: PractitionerIn | None = None
        if practitioner_id is None and form["practitioner_id"] in ("", NEW):
            try:
                new = forms.validate(
                    PractitionerIn,
                    {
                        "family_name": form["family_name"],
                        "given_name": form["given_name"],
                        "patronymic": form["patronymic"] or None,
                        "national_id": form["national_id"] or None,
                        "specialty": form["specialty"],
                    },
                )
            except Invalid as e:
                errors += e.errors
        if errors:
            raise Invalid.fields(errors)
        assert role is not None
        if new is not None:
            practitioner_id = (await service.create_practitioner(session, principal, new)).id
        assert practitioner_id is not None
        out = await service.add_practitioner_role(session, principal, practitioner_id, role)
    except SalomatError as e:
        if isinstance(e, NotFound) and not e.errors:
            raise
        return await _refused(request, session, principal, fac, form, e, fte)
    return redirect(f"/admin/facilities/{fac.code}/staff?added={out.id}")


async def _refused(
    request: Request,
    session: Session,
    principal: Principal,
    fac: FacilityOut,
    form: dict[str, str],
    e: SalomatError,
    fte: Decimal | None,
    *,
    end_role: int | None = None,
) -> Response:
    """The page again (what is stored now) with the messages on their fields; nothing of
    the request is kept (a failed flush leaves the session unusable until rolled back)."""
    await session.rollback()
    ctx = await _context(request, session, principal, fac)
    errors = forms.errors_by_field(_reworded(e, fte))
    if end_role is None:
        ctx["form"] = form
        ctx["errors"] = errors
        ctx["loose"] = forms.loose(errors, ADD_FIELDS)
        chosen_id = form.get("practitioner_id", "")
        if (chosen_id.isascii() and chosen_id.isdigit()) and 1 <= int(
            chosen_id
        ) < 2**31:  # keep it in the list
            try:
                chosen = await service.get_practitioner(session, int(chosen_id))
                if chosen.id not in {p.id for p in ctx["choices"]}:
                    ctx["choices"].append(chosen)
            except NotFound:
                pass
    else:
        ctx["end_role"], ctx["end_form"], ctx["end_errors"] = end_role, form, errors
        ctx["end_loose"] = forms.loose(errors, ("end_on",))
    status = e.status if 400 <= e.status < 500 else 422
    return _render(request, ctx, status=status)


# ---- ending a role ---------------------------------------------------------------------


@web.post("/admin/facilities/{code}/staff/{role_id}/end", response_class=HTMLResponse)
async def end_role(
    request: Request,
    session: Session,
    code: FacilityCode,
    role_id: RoleId,
    principal: Annotated[Principal, Depends(Require("practitioner:manage"))],
) -> Response:
    posted = await forms.read_form(request)
    form = forms.values(posted, ("end_on", "version"))
    fac = await _facility(session, code)
    role = await service.get_practitioner_role(session, role_id)
    if role.facility_code != fac.code:  # another facility's role is not on this page
        raise NotFound(N_("Role %(id)s not found."), params={"id": role_id})
    try:
        end_on = forms.day(form["end_on"], "end_on") or _today()
        if end_on < role.start_on:
            raise Invalid.fields([FieldError("end_on", N_("is before the role's start"))])
        read = _version(form["version"])
        if read is None:
            raise PreconditionFailed(
                N_("The role changed since the page was opened: reload it and try again.")
            )
        await service.update_practitioner_role(
            session,
            principal,
            role_id,
            PractitionerRolePatch(end_on=end_on),
            expected_version=read,
        )
    except PreconditionFailed:
        stale = PreconditionFailed(
            N_("The role changed since the page was opened: reload it and try again."),
            errors=[
                FieldError(
                    "end_on",
                    N_("The role changed since the page was opened: reload it and try again."),
                )
            ],
        )
        return await _refused(request, session, principal, fac, form, stale, None, end_role=role_id)
    except SalomatError as e:
        return await _refused(request, session, principal, fac, form, e, None, end_role=role_id)
    return redirect(f"/admin/facilities/{fac.code}/staff?ended={role_id}")
