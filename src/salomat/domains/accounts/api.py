from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from salomat.core.config import get_settings
from salomat.core.downloads import csv_download
from salomat.core.errors import FieldError, Invalid, SalomatError, Unauthorized
from salomat.core.pagination import Page, PageParams, check_page, page_params
from salomat.core.params import MAX_INT, SmallRowId
from salomat.core.policy import PUBLIC, Require, bind_system_scopes
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.accounts import service
from salomat.domains.accounts.schemas import (
    AccessLogPage,
    AuditFilter,
    AuditTrailPage,
    BreakGlassIn,
    BreakGlassOut,
    ClientKeysIn,
    ClientSystemChange,
    ClientSystemIn,
    ClientSystemOut,
    ClientToken,
    Me,
    TokenPair,
    UserIn,
    UserOut,
)
from salomat.domains.registry.schemas import PractitionerLink, PractitionerLinkOut

SESSION_COOKIE = "salomat_session"
auth = router(prefix="/auth", tags=["auth"])
api = router(prefix="/api/v1", tags=["accounts"])
Session = DbSession


async def resolve_principal(request: Request, session: Any) -> Principal | None:
    """Installed as ``app.state.resolve_principal``: bearer token first, then the web cookie.

    A client system's scopes are bound for the request (``policy.bind_system_scopes``), so
    that services' own permission checks narrow it too; core.middleware's
    ``SystemScopesMiddleware`` unbinds them when the request ends."""
    bind_system_scopes(None)
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Use 'Authorization: Bearer <token>'.")
        principal = await service.principal_from_bearer(session, token.strip())
        bind_system_scopes(principal.scopes)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await service.principal_from_cookie(session, cookie)
    return None


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def token_url(request: Request) -> str:
    """This token endpoint's URL: the ``aud`` a client assertion must name."""
    return get_settings().public_base(str(request.base_url)) + "/auth/token"


def oauth_error(e: SalomatError) -> JSONResponse:
    """A refusal as RFC 6749 section 5.2 says: ``{"error", "error_description"}``."""
    error = e.extensions.get("oauth_error") or (
        "invalid_client" if e.status in (401, 429) else "invalid_request"
    )
    description = e.detail
    if e.errors:
        description += " " + "; ".join(f"{x.field}: {x.message}" for x in e.errors)
    status = e.status if e.status in (401, 429) else 400
    headers = {k: v for k, v in e.headers.items() if k.lower() == "retry-after"}
    return JSONResponse(
        {"error": error, "error_description": description[:1000]},
        status_code=status,
        headers={**headers, "Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@auth.post("/token", response_model=TokenPair | ClientToken, dependencies=[Depends(PUBLIC)])
async def token(
    request: Request,
    session: Session,
    grant_type: Annotated[str, Form()] = "password",
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    client_assertion_type: Annotated[str | None, Form()] = None,
    client_assertion: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> TokenPair | ClientToken | JSONResponse:
    """OAuth2 token endpoint: ``grant_type=password`` or ``refresh_token`` (people), or
    ``client_credentials`` with a signed JWT assertion (client systems, SMART Backend
    Services: docs/exchange.md). A client system's refusals are RFC 6749 error JSON."""
    if grant_type == "client_credentials":
        try:
            return await service.issue_client_token(
                session,
                assertion_type=client_assertion_type,
                assertion=client_assertion,
                scope=scope,
                token_url=token_url(request),
                client_address=client_of(request),
            )
        except SalomatError as e:
            return oauth_error(e)
    if grant_type == "password":
        missing = [
            FieldError(n, "required")
            for n, v in (("username", username), ("password", password))
            if not v
        ]
        if missing:
            raise Invalid.fields(missing)
        return await service.login(session, username or "", password or "", client_of(request))
    if grant_type == "refresh_token":
        if not refresh_token:
            raise Invalid.fields([FieldError("refresh_token", "required")])
        return await service.refresh(session, refresh_token)
    return JSONResponse(
        {
            "error": "unsupported_grant_type",
            "error_description": "grant_type must be password, refresh_token or client_credentials",
        },
        status_code=400,
    )


@auth.post("/logout", status_code=204)
async def logout(
    session: Session, principal: Annotated[Principal, Depends(Require("session:self"))]
) -> Response:
    await service.logout(session, principal)
    return Response(status_code=204)


@api.get("/me", response_model=Me)
async def whoami(
    session: Session, principal: Annotated[Principal, Depends(Require("session:self"))]
) -> Me:
    return await service.describe(session, principal)


def _limit(limit: int | None) -> int:
    return check_page(limit, 0).limit


Before = Annotated[
    int | None, Query(ge=1, le=MAX_INT, description="the next_before of the previous page")
]
Limit = Annotated[int | None, Query(ge=1, le=MAX_INT, description="page size")]


@api.get("/me/access-log", response_model=AccessLogPage)
async def my_access_log(
    session: Session,
    principal: Annotated[Principal, Depends(Require("audit:self"))],
    before: Before = None,
    limit: Limit = None,
) -> AccessLogPage:
    """Who opened my record, newest first; my own doings left out; emergency access flagged.

    Times are given in UTC (``occurred_at``) and in the country's time zone
    (``occurred_at_local``). Page on with ``before=<next_before>``.
    """
    return await service.access_log_of_self(session, principal, before=before, limit=_limit(limit))


def audit_filter(
    since: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=40,
            description="a date or date and time, in the country's time zone unless an "
            "offset is given (inclusive)",
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=40,
            description="as from (exclusive; a date alone takes in that whole day)",
        ),
    ] = None,
    actor: Annotated[str | None, Query(max_length=150, description="username")] = None,
    action: Annotated[str | None, Query(max_length=16)] = None,
    person: Annotated[
        str | None, Query(max_length=32, description="the person's national id or record id")
    ] = None,
    resource_type: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(max_length=16, description="success | failure")] = None,
    facility: Annotated[
        str | None, Query(max_length=32, description="the acting user's facility code")
    ] = None,
    break_glass: Annotated[bool | None, Query()] = None,
) -> AuditFilter:
    return AuditFilter(
        since=since or None,
        until=until or None,
        actor=actor or None,
        action=action or None,
        person=person or None,
        resource_type=resource_type or None,
        outcome=outcome or None,
        facility=facility or None,
        break_glass=break_glass,
    )


Filters = Annotated[AuditFilter, Depends(audit_filter)]


@api.get("/audit-events", response_model=AuditTrailPage)
async def audit_events(
    session: Session,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
    filters: Filters,
    before: Before = None,
    limit: Limit = None,
) -> AuditTrailPage:
    """The audit trail, filtered, newest first (auditor, admin); this reading is audited."""
    return await service.audit_trail(
        session, principal, filters, before=before, limit=_limit(limit)
    )


@api.get("/audit-events.csv", response_class=Response)
async def audit_events_csv(
    session: Session,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
    filters: Filters,
) -> Response:
    """The filtered rows as CSV (at most 10,000, newest first); audited."""
    return csv_download(await service.audit_trail_csv(session, principal, filters))


@api.get("/users", response_model=Page[UserOut], dependencies=[Depends(Require("user:read"))])
async def users(
    session: Session, page: Annotated[PageParams, Depends(page_params)]
) -> Page[UserOut]:
    return await service.list_users(session, page)


@api.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    dependencies=[Depends(Require("user:manage"))],
)
async def create_user(session: Session, data: UserIn, response: Response) -> UserOut:
    user = await service.create_user(session, data)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return user


@api.post("/users/{user_id}/disable", response_model=UserOut)
async def disable_user(
    session: Session,
    user_id: SmallRowId,
    principal: Annotated[Principal, Depends(Require("user:manage"))],
) -> UserOut:
    return await service.set_active(session, principal, user_id, False)


@api.post("/users/{user_id}/enable", response_model=UserOut)
async def enable_user(
    session: Session,
    user_id: SmallRowId,
    principal: Annotated[Principal, Depends(Require("user:manage"))],
) -> UserOut:
    return await service.set_active(session, principal, user_id, True)


@api.post("/break-glass", response_model=BreakGlassOut, status_code=201)
async def break_glass(
    session: Session,
    data: BreakGlassIn,
    principal: Annotated[Principal, Depends(Require("break_glass:request"))],
) -> BreakGlassOut:
    return await service.break_glass(session, principal, data)


@api.put("/users/{user_id}/practitioner", response_model=PractitionerLinkOut)
async def link_practitioner(
    session: Session,
    user_id: SmallRowId,
    data: PractitionerLink,
    principal: Annotated[Principal, Depends(Require("user:manage"))],
) -> PractitionerLinkOut:
    """Link the account to its practitioner record in the registry (``null`` unlinks)."""
    return await service.link_practitioner(session, principal, user_id, data.practitioner_id)


# ---- client systems (SMART Backend Services, docs/exchange.md) ------------------------

ClientId = Annotated[str, Path(max_length=150, description="the client id")]
Manager = Annotated[Principal, Depends(Require("client:manage"))]


@api.get("/client-systems", response_model=list[ClientSystemOut])
async def client_systems(session: Session, _: Manager) -> list[ClientSystemOut]:
    return await service.list_clients(session)


@api.post("/client-systems", response_model=ClientSystemOut, status_code=201)
async def register_client_system(
    session: Session, data: ClientSystemIn, principal: Manager, response: Response
) -> ClientSystemOut:
    """Register a client system: its role, facility, scopes, public keys and origins."""
    out = await service.register_client(session, principal, data)
    response.headers["Location"] = f"/api/v1/client-systems/{out.client_id}"
    return out


@api.get("/client-systems/{client_id}", response_model=ClientSystemOut)
async def client_system(session: Session, client_id: ClientId, _: Manager) -> ClientSystemOut:
    return await service.client_by_id(session, client_id)


@api.patch("/client-systems/{client_id}", response_model=ClientSystemOut)
async def change_client_system(
    session: Session, client_id: ClientId, data: ClientSystemChange, principal: Manager
) -> ClientSystemOut:
    """New scopes or origins; new scopes end the client's live tokens."""
    return await service.change_client(session, principal, client_id, data)


@api.post("/client-systems/{client_id}/keys", response_model=ClientSystemOut)
async def add_client_keys(
    session: Session, client_id: ClientId, data: ClientKeysIn, principal: Manager
) -> ClientSystemOut:
    return await service.add_client_keys(session, principal, client_id, data.jwks)


@api.delete("/client-systems/{client_id}/keys/{kid}", response_model=ClientSystemOut)
async def remove_client_key(
    session: Session,
    client_id: ClientId,
    kid: Annotated[str, Path(max_length=200)],
    principal: Manager,
) -> ClientSystemOut:
    return await service.remove_client_key(session, principal, client_id, kid)


@api.post("/client-systems/{client_id}/disable", response_model=ClientSystemOut)
async def disable_client_system(
    session: Session, client_id: ClientId, principal: Manager
) -> ClientSystemOut:
    """Refuses new tokens and ends the live ones at once."""
    return await service.set_client_active(session, principal, client_id, False)


@api.post("/client-systems/{client_id}/enable", response_model=ClientSystemOut)
async def enable_client_system(
    session: Session, client_id: ClientId, principal: Manager
) -> ClientSystemOut:
    return await service.set_client_active(session, principal, client_id, True)
