"""Pages: login, logout, language switch, start page, the citizen's access log, the audit trail."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from salomat.core import i18n
from salomat.core.audit import ACTIONS
from salomat.core.config import get_settings
from salomat.core.downloads import csv_download
from salomat.core.errors import (
    FieldError,
    Forbidden,
    Invalid,
    SalomatError,
    field_errors_from_pydantic,
)
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.params import MAX_INT, SmallRowId
from salomat.core.policy import PUBLIC, Require, Role, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.country import business_id as bid
from salomat.country import national_id as nid
from salomat.country import pack
from salomat.domains.accounts import service
from salomat.domains.accounts.api import SESSION_COOKIE, client_of, token_url
from salomat.domains.accounts.schemas import (
    CLIENT_ROLES,
    AuditFilter,
    BreakGlassIn,
    ClientSystemIn,
    ClientSystemOut,
    UserIn,
)
from salomat.domains.accounts.service import labels
from salomat.domains.registry import service as registry
from salomat.ui.templating import (
    NavItem,
    language_of,
    redirect,
    register_nav,
    render,
    speaking,
)

web = router(include_in_schema=False)
Session = DbSession
PRE_CSRF = "salomat_login_csrf"

register_nav(NavItem("Start", "/", "session:self", order=0))
register_nav(NavItem("Who opened my record", "/access-log", "audit:self", order=90))
#: an employer's start: the certificates its employees shared with it (the sick-leave domain)
register_nav(
    NavItem(N_("Sick-leave certificates"), "/employer/sick-leave", "sick_leave:employer", order=20)
)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: browsers read ``/\\evil`` and ``//evil`` as another host."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return "/"
    return target


def _cookie_flags() -> dict[str, object]:
    return {"httponly": True, "samesite": "lax", "secure": get_settings().production, "path": "/"}


@web.get("/", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
async def home(request: Request, session: Session) -> Response:
    principal: Principal | None = request.state.principal
    if principal is None:
        return redirect("/login")
    me = await service.describe(session, principal)
    return render(request, "accounts/home.html", {"me": me})


@web.get("/login", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
async def login_form(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "accounts/login.html", {"login_csrf": token, "next": _safe_next(next)}
    )
    response.set_cookie(PRE_CSRF, token, max_age=3600, **_cookie_flags())  # type: ignore[arg-type]
    return response


@web.post("/login", response_class=HTMLResponse, dependencies=[Depends(PUBLIC)])
async def login_submit(
    request: Request,
    session: Session,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    login_csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(PRE_CSRF, "")
    if not expected or not hmac.compare_digest(expected, login_csrf):
        raise Forbidden("The login form expired; reload the page and try again.")
    try:
        result = await service.web_login(session, username, password, client_of(request))
    except SalomatError as e:
        token = secrets.token_urlsafe(24)
        response = render(
            request,
            "accounts/login.html",
            {"login_csrf": token, "next": _safe_next(next), "error": e, "username": username},
            status=e.status,
        )
        response.set_cookie(PRE_CSRF, token, max_age=3600, **_cookie_flags())  # type: ignore[arg-type]
        for k, v in e.headers.items():
            if k.lower() == "retry-after":
                response.headers[k] = v
        return response
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, result.cookie, max_age=result.max_age, **_cookie_flags())  # type: ignore[arg-type]
    response.delete_cookie(PRE_CSRF, path="/")
    if result.language and not request.cookies.get(i18n.LANG_COOKIE):
        response.set_cookie(
            i18n.LANG_COOKIE, result.language, max_age=365 * 86400, path="/", samesite="lax"
        )
    return response


@web.post("/logout")
async def logout(
    session: Session, principal: Annotated[Principal, Depends(Require("session:self"))]
) -> Response:
    await service.logout(session, principal)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@web.get("/language", dependencies=[Depends(PUBLIC)])
async def language(
    lang: Annotated[str, Query(pattern="^(en|ru|uz|kk)$")],
    next: str | None = None,
) -> Response:
    """Only a preference cookie: no record changes, so a plain link may set it."""
    response = redirect(_safe_next(next))
    response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="lax")
    return response


PAGE_SIZE = 50


def _labels() -> dict[str, object]:
    """What the audit templates call to show codes as words (in the page's language)."""
    return {
        "action_label": labels.action_label,
        "outcome_label": labels.outcome_label,
        "purpose_label": labels.purpose_label,
        "resource_label": labels.resource_label,
        "role_label": labels.role_label,
    }


def _utc_offset(zone_name: str, when: datetime | None = None) -> str:
    """ "+05:00" for a zone: shown beside local times."""
    from zoneinfo import ZoneInfo

    moment = (when or datetime.now(UTC)).astimezone(ZoneInfo(zone_name))
    return moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]


@web.get("/access-log", response_class=HTMLResponse)
async def access_log(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("audit:self"))],
    before: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> Response:
    with speaking(request):  # facility names in the page's language
        page = await service.access_log_of_self(session, principal, before=before, limit=PAGE_SIZE)
    return render(
        request,
        "accounts/access_log.html",
        {"page": page, "utc_offset": _utc_offset(page.time_zone), **_labels()},
    )


register_nav(NavItem("Audit trail", "/audit", "audit:read", order=85))

_FILTERS = (
    "from",
    "to",
    "actor",
    "action",
    "person",
    "resource_type",
    "outcome",
    "facility",
    "break_glass",
)


def _audit_form(request: Request) -> tuple[dict[str, str], AuditFilter | None, list[FieldError]]:
    """The filters as typed (to show again) and as a filter, or the wrong fields."""
    form = {k: request.query_params.get(k, "").strip()[:150] for k in _FILTERS}
    try:
        f = AuditFilter(
            since=form["from"] or None,
            until=form["to"] or None,
            actor=form["actor"] or None,
            action=form["action"] or None,
            person=form["person"] or None,
            resource_type=form["resource_type"] or None,
            outcome=form["outcome"] or None,
            facility=form["facility"] or None,
            # empty: either; anything but a yes/no (true, false, 1, 0...) is a field error
            break_glass=form["break_glass"] or None,
        )
    except ValidationError as e:
        return form, None, field_errors_from_pydantic(list(e.errors()))
    return form, f, []


@web.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
    before: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> Response:
    """The audit trail for the auditor: filters, newest first, CSV, the chain's seal."""
    form, f, errors = _audit_form(request)
    page = None
    status = 422 if errors else 200
    if f is not None:
        try:
            with speaking(request):  # facility names in the page's language
                page = await service.audit_trail(
                    session, principal, f, before=before, limit=PAGE_SIZE
                )
        except Invalid as e:
            errors, status = e.errors, e.status
    head = await service.audit_chain_head(session)
    query = urlencode({k: v for k, v in form.items() if v})
    zone = pack.time_zone(get_settings().country).key
    return render(
        request,
        "accounts/audit.html",
        {
            "form": form,
            "page": page,
            "errors": errors,
            "query": query,
            "head": head,
            "utc_offset": _utc_offset(zone),
            "actions": sorted(ACTIONS),
            "outcomes": list(labels.OUTCOMES),
            "resource_types": sorted(labels.RESOURCE_TYPES, key=lambda c: (not c[:1].isupper(), c)),
            "id_label": nid.name(get_settings().country),
            "export_max": service.EXPORT_MAX_ROWS,
            **_labels(),
        },
        status=status,
    )


@web.get("/audit/export.csv")
async def audit_export(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
) -> Response:
    """The filtered rows as CSV, headers and labels in the page's language."""
    _, f, errors = _audit_form(request)
    if f is None:
        raise Invalid.fields(errors)
    token = i18n.set_language(language_of(request))
    try:
        file = await service.audit_trail_csv(session, principal, f)
    finally:
        i18n._lang.reset(token)  # type: ignore[arg-type]
    return csv_download(file)


register_nav(NavItem("Users", "/admin/users", "user:read", order=80))


@web.get("/admin/users", response_class=HTMLResponse)
async def users_page(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("user:read"))],
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    page = await service.list_users(session, PageParams(limit=50, offset=offset))
    return render(
        request,
        "accounts/users.html",
        {
            "page": page,
            "roles": [r.value for r in Role],
            "facilities": await service.facility_choices(session),
            "business_id_label": bid.name(get_settings().country),
            "can_manage": allowed(principal.role, "user:manage"),
        },
    )


@web.post("/admin/users", response_class=HTMLResponse)
async def users_create(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("user:manage"))],
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    facility_code: Annotated[str, Form()] = "",
    person_id: Annotated[str, Form()] = "",
    employer_business_id: Annotated[str, Form()] = "",
) -> Response:
    raw = {
        "username": username,
        "password": password,
        "role": role,
        "full_name": full_name or None,
        "facility_code": facility_code or None,
        "person_id": person_id or None,
        "employer_business_id": employer_business_id or None,
    }
    try:
        data = UserIn.model_validate(raw)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e
    user = await service.create_user(session, data)
    return render(request, "accounts/user_row.html", {"u": user, "can_manage": True, "fresh": True})


@web.post("/admin/users/{user_id}/{action}", response_class=HTMLResponse)
async def users_toggle(
    request: Request,
    session: Session,
    user_id: SmallRowId,
    action: Annotated[str, Path(pattern="^(enable|disable)$")],
    principal: Annotated[Principal, Depends(Require("user:manage"))],
) -> Response:
    user = await service.set_active(session, principal, user_id, action == "enable")
    return render(request, "accounts/user_row.html", {"u": user, "can_manage": True})


# ---- break the glass ---------------------------------------------------------------------


def _break_glass_page(
    request: Request,
    form: dict[str, str],
    error: SalomatError | None = None,
    status: int = 200,
) -> Response:
    errors: dict[str, list[str]] = {}
    for e in error.errors if error else []:
        errors.setdefault(e.field, []).append(e.message)
    return render(
        request,
        "accounts/break_glass.html",
        {
            "form": form,
            "error": error,
            "errors": errors,
            "id_label": nid.name(get_settings().country),
            "minutes": get_settings().break_glass_minutes,
        },
        status=status,
    )


@web.get("/break-glass", response_class=HTMLResponse)
async def break_glass_form(
    request: Request,
    principal: Annotated[Principal, Depends(Require("break_glass:request"))],
    national_id: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    return _break_glass_page(request, {"national_id": national_id.strip(), "reason": ""})


@web.post("/break-glass", response_class=HTMLResponse)
async def break_glass_submit(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("break_glass:request"))],
    national_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Opens one person found by national id, then shows their card (the grant is audited)."""
    form = {"national_id": national_id.strip(), "reason": reason.strip()}
    problems = []
    if not form["national_id"]:
        problems.append(FieldError("national_id", "required"))
    if len(form["reason"]) < 10:
        problems.append(FieldError("reason", "say why, in at least 10 characters"))
    try:
        if problems:
            raise Invalid.fields(problems)
        person_id = await registry.person_id_by_national_id(session, form["national_id"])
        if person_id is None:
            label = nid.name(get_settings().country)
            raise Invalid.fields([FieldError("national_id", f"no person has this {label}")])
        try:
            data = BreakGlassIn(person_id=person_id, reason=form["reason"])
        except ValidationError as e:
            raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e
        await service.break_glass(session, principal, data)
    except Invalid as e:
        return _break_glass_page(request, form, e, status=e.status)
    return redirect(f"/patients/{person_id}")


# ---- client systems (SMART Backend Services, docs/exchange.md) -------------------------

register_nav(NavItem(N_("Client systems"), "/admin/client-systems", "client:manage", order=81))
ClientId = Annotated[str, Path(max_length=150)]


def _words(text: str) -> list[str]:
    return text.split()


def _client_row(request: Request, c: ClientSystemOut, *, fresh: bool = False) -> Response:
    """The client's row, put in the place of the old one (or at the end of the table for a
    new one) whatever form inside it was sent; a refusal goes to the form's own message."""
    response = render(request, "accounts/client_row.html", {"c": c, "fresh": fresh})
    if fresh:
        response.headers.update({"HX-Retarget": "#client-rows", "HX-Reswap": "beforeend"})
    else:
        response.headers.update({"HX-Retarget": f"#client-{c.id}", "HX-Reswap": "outerHTML"})
    return response


@web.get("/admin/client-systems", response_class=HTMLResponse)
async def client_systems_page(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("client:manage"))],
) -> Response:
    return render(
        request,
        "accounts/client_systems.html",
        {
            "clients": await service.list_clients(session),
            "roles": sorted(r.value for r in CLIENT_ROLES),
            "facilities": await service.facility_choices(session),
            "token_url": token_url(request),
        },
    )


@web.post("/admin/client-systems", response_class=HTMLResponse)
async def client_systems_register(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("client:manage"))],
    name: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    facility_code: Annotated[str, Form()] = "",
    scopes: Annotated[str, Form()] = "",
    jwks: Annotated[str, Form()] = "",
    origins: Annotated[str, Form()] = "",
) -> Response:
    raw = {
        "name": name,
        "client_id": client_id or None,
        "role": role,
        "facility_code": facility_code or None,
        "scopes": _words(scopes),
        "jwks": jwks or None,
        "origins": _words(origins),
    }
    try:
        data = ClientSystemIn.model_validate(raw)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(list(e.errors()))) from e
    c = await service.register_client(session, principal, data)
    return _client_row(request, c, fresh=True)


@web.post("/admin/client-systems/{client_id}/keys", response_class=HTMLResponse)
async def client_systems_add_key(
    request: Request,
    session: Session,
    client_id: ClientId,
    principal: Annotated[Principal, Depends(Require("client:manage"))],
    jwks: Annotated[str, Form()] = "",
) -> Response:
    if not jwks.strip():
        raise Invalid.fields([FieldError("jwks", N_("paste a JWKS or one public JWK"))])
    c = await service.add_client_keys(session, principal, client_id, jwks)
    return _client_row(request, c)


@web.post("/admin/client-systems/{client_id}/keys/{kid}/remove", response_class=HTMLResponse)
async def client_systems_remove_key(
    request: Request,
    session: Session,
    client_id: ClientId,
    kid: Annotated[str, Path(max_length=200)],
    principal: Annotated[Principal, Depends(Require("client:manage"))],
) -> Response:
    c = await service.remove_client_key(session, principal, client_id, kid)
    return _client_row(request, c)


@web.post("/admin/client-systems/{client_id}/{action}", response_class=HTMLResponse)
async def client_systems_toggle(
    request: Request,
    session: Session,
    client_id: ClientId,
    action: Annotated[str, Path(pattern="^(enable|disable)$")],
    principal: Annotated[Principal, Depends(Require("client:manage"))],
) -> Response:
    c = await service.set_client_active(session, principal, client_id, action == "enable")
    return _client_row(request, c)
