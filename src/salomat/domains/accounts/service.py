"""Accounts: who may log in, as what, for which facility; and for how long.

Access tokens are short JWTs naming a login session; every request checks
that session and the account, so logout and disabling revoke at once.
Failed logins are throttled per username and per client address, and an
unknown user and a wrong password produce the same answer.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.audit import AuditEntry, AuditQuery
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    InvalidState,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from salomat.core.pagination import Page, PageParams
from salomat.core.policy import CLINICAL_ROLES, Role, Scope, facility_required, scope_provider
from salomat.core.security import (
    Principal,
    decode_access_token,
    hash_password,
    issue_access_token,
    needs_rehash,
    new_opaque_token,
    token_digest,
    verify_password,
)
from salomat.country import pack
from salomat.domains.accounts.models import AuthSession, BreakGlassGrant, LoginFailure, User
from salomat.domains.accounts.schemas import (
    BreakGlassIn,
    BreakGlassOut,
    Me,
    TokenPair,
    UserIn,
    UserOut,
    WebLogin,
)
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PractitionerLinkOut

BAD_LOGIN = "Wrong username or password."
#: a client address may fail this many times the per-user limit (password spraying)
CLIENT_FACTOR = 4

# ---- users -----------------------------------------------------------------


async def create_user(session: AsyncSession, data: UserIn) -> UserOut:
    errors: list[FieldError] = []
    facility_id = None
    if facility_required(data.role):
        if not data.facility_code:
            errors.append(FieldError("facility_code", f"role {data.role} works for a facility"))
        else:
            fac = await registry.facility_by_code(session, data.facility_code)
            if fac is None:
                errors.append(
                    FieldError("facility_code", f"no facility has code {data.facility_code}")
                )
            else:
                facility_id = fac.id
    elif data.facility_code:
        errors.append(FieldError("facility_code", f"role {data.role} is not bound to a facility"))
    if data.role == Role.citizen:
        if data.person_id is None:
            errors.append(FieldError("person_id", "a citizen account opens one person's record"))
        elif not await registry.person_exists(session, data.person_id):
            errors.append(FieldError("person_id", f"no person has id {data.person_id}"))
    elif data.person_id is not None:
        errors.append(FieldError("person_id", "only citizen accounts are linked to a person"))
    offered = pack.load(get_settings().country)["languages"]
    if data.language is not None and data.language not in offered:
        # the pack's languages: its own, ru and en (a kk preference on a UZ deployment is none)
        errors.append(FieldError("language", f"not a language of this country: {data.language}"))
    if errors:
        raise Invalid.fields(errors)
    taken = await session.execute(select(User.id).where(User.username == data.username))
    if taken.first():
        raise Conflict(
            f"The username {data.username} is taken.",
            errors=[FieldError("username", "already taken")],
        )
    user = User(
        username=data.username,
        password_hash=hash_password(data.password),
        role=data.role.value,
        full_name=data.full_name,
        facility_id=facility_id,
        person_id=data.person_id,
        language=data.language,
        is_active=True,
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    return await _out(session, user)


async def _out(session: AsyncSession, user: User) -> UserOut:
    out = UserOut.model_validate(user)
    if user.facility_id is not None:
        out.facility_code = (await registry.get_facility(session, user.facility_id)).code
    return out


async def get_user(session: AsyncSession, user_id: int) -> UserOut:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    return await _out(session, user)


async def list_users(session: AsyncSession, page: PageParams) -> Page[UserOut]:
    total = (await session.execute(select(func.count()).select_from(User))).scalar_one()
    rows = await session.execute(
        select(User).order_by(User.username).limit(page.limit).offset(page.offset)
    )
    return Page[UserOut](
        items=[await _out(session, u) for u in rows.scalars()],
        total=int(total),
        limit=page.limit,
        offset=page.offset,
    )


async def facility_choices(session: AsyncSession) -> list[tuple[str, str]]:
    """(code, name) of open facilities, for the account form."""
    page = await registry.list_facilities(session, PageParams(limit=1000, offset=0))
    return [(f.code, f.name) for f in page.items if f.is_open]


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def set_active(
    session: AsyncSession, actor: Principal, user_id: int, active: bool
) -> UserOut:
    """Disabling revokes every open session of the account at once."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    if not active and user.id == actor.user_id:
        raise InvalidState("You cannot disable your own account.")
    user.is_active = active
    user.disabled_at = None if active else utcnow()
    if not active:
        await _revoke_all(session, user.id)
    await session.flush()
    return await _out(session, user)


async def _revoke_all(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# ---- login -----------------------------------------------------------------


async def _throttled(session: AsyncSession, username: str, client: str | None) -> int | None:
    s = get_settings()
    since = utcnow() - timedelta(minutes=s.login_window_minutes)
    by_user = (
        await session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.username == username, LoginFailure.at >= since
            )
        )
    ).one()
    if by_user[0] >= s.login_max_failures:
        retry = by_user[1] + timedelta(minutes=s.login_window_minutes) - utcnow()
        return max(1, int(retry.total_seconds()))
    if client:
        by_client = (
            await session.execute(
                select(func.count()).where(
                    LoginFailure.client_address == client, LoginFailure.at >= since
                )
            )
        ).scalar_one()
        if by_client >= s.login_max_failures * CLIENT_FACTOR:
            return s.login_window_minutes * 60
    return None


async def _check_credentials(
    session: AsyncSession, username: str, password: str, client: str | None
) -> User:
    name = username.strip().lower()
    retry_after = await _throttled(session, name, client)
    if retry_after is not None:
        await audit.denied(
            session,
            None,
            action="login",
            resource_type="Session",
            username=name,
            detail="throttled",
        )
        raise TooManyRequests(
            "Too many failed logins; wait before trying again.",
            headers={"Retry-After": str(retry_after)},
        )
    user = (await session.execute(select(User).where(User.username == name))).scalar_one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        audit.keep_after_rollback(
            session,
            LoginFailure.__table__,
            {"username": name, "client_address": client, "at": utcnow()},
        )
        await audit.denied(
            session,
            None,
            action="login",
            resource_type="Session",
            username=name,
            detail="bad credentials",
        )
        raise Unauthorized(BAD_LOGIN)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await session.execute(delete(LoginFailure).where(LoginFailure.username == name))
    return user


async def _open_session(
    session: AsyncSession, user: User, kind: str, client: str | None, hours: int
) -> tuple[AuthSession, str]:
    token = new_opaque_token()
    now = utcnow()
    row = AuthSession(
        id=uuid.uuid4().hex,
        user_id=user.id,
        kind=kind,
        token_digest=token_digest(token),
        csrf_token=new_opaque_token() if kind == "web" else None,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        client_address=client,
    )
    session.add(row)
    await session.flush()
    return row, token


async def _principal_for(
    session: AsyncSession, user: User, sess: AuthSession, via: str
) -> Principal:
    code = await registry.facility_code(session, user.facility_id) if user.facility_id else None
    return Principal(
        user_id=user.id,
        username=user.username,
        role=user.role,
        session_id=sess.id,
        facility_id=user.facility_id,
        facility_code=code,
        person_id=user.person_id,
        via=via,
        csrf_token=sess.csrf_token,
    )


async def login(
    session: AsyncSession, username: str, password: str, client: str | None
) -> TokenPair:
    user = await _check_credentials(session, username, password, client)
    hours = get_settings().refresh_token_hours
    sess, refresh = await _open_session(session, user, "api", client, hours)
    access, ttl = issue_access_token(user_id=user.id, role=user.role, session_id=sess.id)
    principal = await _principal_for(session, user, sess, "bearer")
    await audit.record(
        session, principal, action="login", resource_type="Session", resource_id=sess.id
    )
    return TokenPair(
        access_token=access, expires_in=ttl, refresh_token=refresh, refresh_expires_in=hours * 3600
    )


async def web_login(
    session: AsyncSession, username: str, password: str, client: str | None
) -> WebLogin:
    user = await _check_credentials(session, username, password, client)
    hours = get_settings().refresh_token_hours
    sess, cookie = await _open_session(session, user, "web", client, hours)
    principal = await _principal_for(session, user, sess, "cookie")
    await audit.record(
        session, principal, action="login", resource_type="Session", resource_id=sess.id
    )
    assert sess.csrf_token is not None
    return WebLogin(
        cookie=cookie, csrf_token=sess.csrf_token, max_age=hours * 3600, language=user.language
    )


async def refresh(session: AsyncSession, refresh_token: str) -> TokenPair:
    """Rotates: the old refresh token stops working, and presenting it again (a sign
    that someone else holds a copy) revokes the whole login session."""
    digest = token_digest(refresh_token)
    sess = (
        await session.execute(
            select(AuthSession).where(AuthSession.token_digest == digest, AuthSession.kind == "api")
        )
    ).scalar_one_or_none()
    if sess is None:
        reused = (
            await session.execute(
                select(AuthSession).where(
                    AuthSession.previous_digest == digest, AuthSession.kind == "api"
                )
            )
        ).scalar_one_or_none()
        if reused is not None and reused.revoked_at is None:
            audit.keep_statement_after_rollback(
                session,
                update(AuthSession).where(AuthSession.id == reused.id).values(revoked_at=utcnow()),
            )
            user = await session.get(User, reused.user_id)
            await audit.denied(
                session,
                None,
                action="login",
                resource_type="Session",
                resource_id=reused.id,
                username=user.username if user else None,
                detail="replaced refresh token presented again: session revoked",
            )
    if sess is None or sess.revoked_at is not None or sess.expires_at <= utcnow():
        raise Unauthorized("The refresh token is invalid, expired or revoked; log in again.")
    user = await session.get(User, sess.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The refresh token is invalid, expired or revoked; log in again.")
    new_refresh = new_opaque_token()
    sess.previous_digest = sess.token_digest
    sess.token_digest = token_digest(new_refresh)
    await session.flush()
    access, ttl = issue_access_token(user_id=user.id, role=user.role, session_id=sess.id)
    remaining = int((sess.expires_at - utcnow()).total_seconds())
    return TokenPair(
        access_token=access, expires_in=ttl, refresh_token=new_refresh, refresh_expires_in=remaining
    )


async def logout(session: AsyncSession, principal: Principal) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == principal.session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    await audit.record(
        session,
        principal,
        action="logout",
        resource_type="Session",
        resource_id=principal.session_id,
    )


async def _session_principal(session: AsyncSession, where: Any, via: str) -> tuple[Principal, Any]:
    """The principal of a live login session, read in one round trip.

    Every authenticated request passes here, so it is one statement of plain
    columns (no ORM objects), the facility code joined through the
    registry's correlated subquery. Returns the principal and the row (for
    the checks the token adds).
    """
    row = (
        await session.execute(
            select(
                AuthSession.id,
                AuthSession.revoked_at,
                AuthSession.expires_at,
                AuthSession.csrf_token,
                User.id.label("user_id"),
                User.username,
                User.role,
                User.is_active,
                User.facility_id,
                User.person_id,
                registry.facility_code_of(User.facility_id).label("facility_code"),
            )
            .join(User, User.id == AuthSession.user_id)
            .where(where)
        )
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow() or not row.is_active:
        raise Unauthorized("Your session has ended; log in again.")
    principal = Principal(
        user_id=row.user_id,
        username=row.username,
        role=row.role,
        session_id=row.id,
        facility_id=row.facility_id,
        facility_code=row.facility_code,
        person_id=row.person_id,
        via=via,
        csrf_token=row.csrf_token,
    )
    return principal, row


async def principal_from_bearer(session: AsyncSession, token: str) -> Principal:
    claims = decode_access_token(token)
    principal, row = await _session_principal(session, AuthSession.id == claims["sid"], "bearer")
    if str(row.user_id) != claims["sub"] or row.role != claims.get("role"):
        raise Unauthorized("The access token no longer matches the account; log in again.")
    return principal


async def principal_from_cookie(session: AsyncSession, cookie: str) -> Principal:
    where = (AuthSession.token_digest == token_digest(cookie)) & (AuthSession.kind == "web")
    return (await _session_principal(session, where, "cookie"))[0]


def me(principal: Principal, full_name: str | None = None, language: str | None = None) -> Me:
    return Me(
        user_id=principal.user_id,
        username=principal.username,
        role=Role(principal.role),
        full_name=full_name,
        facility_id=principal.facility_id,
        facility_code=principal.facility_code,
        person_id=principal.person_id,
        language=language,
    )


async def describe(session: AsyncSession, principal: Principal) -> Me:
    user = await session.get(User, principal.user_id)
    return me(principal, user.full_name if user else None, user.language if user else None)


async def set_language(session: AsyncSession, principal: Principal, language: str) -> None:
    await session.execute(
        update(User).where(User.id == principal.user_id).values(language=language)
    )


# ---- break the glass -------------------------------------------------------


async def break_glass(
    session: AsyncSession, principal: Principal, data: BreakGlassIn
) -> BreakGlassOut:
    """One person, a stated reason, a short expiry; flagged in every audit row under it."""
    if principal.role not in CLINICAL_ROLES:
        raise InvalidState("Only clinicians may break the glass.")
    if not await registry.person_exists(session, data.person_id):
        raise NotFound(f"Patient {data.person_id} not found.")
    now = utcnow()
    grant = BreakGlassGrant(
        user_id=principal.user_id,
        person_id=data.person_id,
        facility_id=principal.facility_id,
        reason=data.reason,
        created_at=now,
        expires_at=now + timedelta(minutes=get_settings().break_glass_minutes),
    )
    session.add(grant)
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type="BreakGlass",
        resource_id=str(grant.id),
        patient_id=data.person_id,
        purpose=data.reason,
        break_glass_grant=grant.id,
    )
    return BreakGlassOut.model_validate(grant)


@scope_provider
async def live_break_glass_grant(
    session: AsyncSession, principal: Principal, person_id: int
) -> Scope | None:
    row = (
        await session.execute(
            select(BreakGlassGrant.id, BreakGlassGrant.reason)
            .where(
                BreakGlassGrant.user_id == principal.user_id,
                BreakGlassGrant.person_id == person_id,
                BreakGlassGrant.expires_at > utcnow(),
            )
            .order_by(BreakGlassGrant.expires_at.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return Scope(f"break-the-glass: {row.reason}", break_glass_grant=row.id)


async def access_log_of_self(
    session: AsyncSession, principal: Principal, q: AuditQuery
) -> Page[AuditEntry]:
    """A citizen's own record: who opened it, when, why, and under break-the-glass or not."""
    if principal.person_id is None:
        raise InvalidState("This account is not linked to a person.")
    query = AuditQuery(patient_id=principal.person_id, limit=q.limit, offset=q.offset)
    items, total = await audit.search(session, query)
    return Page[AuditEntry](items=items, total=total, limit=q.limit, offset=q.offset)


async def purge_expired(session: AsyncSession, *, keep_days: int = 30) -> dict[str, int]:
    """Housekeeping: ended login sessions and old failed-login rows (never audit rows)."""
    now = utcnow()
    cutoff = now - timedelta(days=keep_days)
    sessions = await session.execute(delete(AuthSession).where(AuthSession.expires_at < cutoff))
    failures = await session.execute(
        delete(LoginFailure).where(
            LoginFailure.at < now - timedelta(minutes=get_settings().login_window_minutes)
        )
    )
    return {
        "login_sessions": int(getattr(sessions, "rowcount", 0) or 0),
        "login_failures": int(getattr(failures, "rowcount", 0) or 0),
    }


async def link_practitioner(
    session: AsyncSession, actor: Principal, user_id: int, practitioner_id: int | None
) -> PractitionerLinkOut:
    """Links a clinician's account to their practitioner record (``None`` unlinks).

    The account must work where the practitioner holds a current role, and one
    practitioner has at most one account (a database constraint as well).
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found.")
    if practitioner_id is not None:
        errors = []
        if user.role == Role.citizen:
            errors.append(FieldError("practitioner_id", "a citizen account is not a practitioner"))
        elif not await registry.practitioner_exists(session, practitioner_id):
            errors.append(
                FieldError("practitioner_id", f"no practitioner has id {practitioner_id}")
            )
        elif user.facility_id is not None and not await registry.practitioner_works_at(
            session, practitioner_id, user.facility_id
        ):
            errors.append(
                FieldError(
                    "practitioner_id",
                    "the practitioner holds no current role at the account's facility",
                )
            )
        if errors:
            raise Invalid.fields(errors)
        other = await session.scalar(
            select(User.username).where(User.practitioner_id == practitioner_id, User.id != user.id)
        )
        if other is not None:
            raise Conflict(
                f"Practitioner {practitioner_id} is linked to the account {other}.",
                errors=[FieldError("practitioner_id", f"linked to {other}")],
            )
    user.practitioner_id = practitioner_id
    await session.flush()
    await audit.record(
        session,
        actor,
        action="update",
        resource_type="User",
        resource_id=str(user.id),
        detail=f"practitioner link: {practitioner_id}",
    )
    return PractitionerLinkOut(
        user_id=user.id, username=user.username, practitioner_id=user.practitioner_id
    )


@registry.on_person_rows_moved
async def move_person_rows(session: AsyncSession, event: registry.PersonRowsMoved) -> None:
    """A registry merge or unmerge: accounts and break-the-glass grants follow the person."""
    for model, table in ((User, "app_user"), (BreakGlassGrant, "break_glass_grant")):
        where = [model.person_id == event.from_id]
        if event.only is not None:
            if not event.only.get(table):
                continue
            where.append(model.id.in_(event.only[table]))
        ids = list((await session.scalars(select(model.id).where(*where))).all())
        if ids:
            await session.execute(
                update(model).where(model.id.in_(ids)).values(person_id=event.to_id)
            )
            event.moved[table] = ids
