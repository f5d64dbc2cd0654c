"""Accounts: who may log in, as what, for which facility; and for how long.

Access tokens are short JWTs naming a login session; every request checks the token
and that session and the account (``principal_cache`` keeps the latter for a few
seconds: logout and disabling revoke at once in this process, within
``SALOMAT_AUTH_CACHE_SECONDS`` in the others).
Failed logins are throttled per username and per client address, and an
unknown user and a wrong password produce the same answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, i18n
from salomat.core.config import get_settings
from salomat.core.db import DatabaseUnavailable, utcnow
from salomat.core.errors import TooManyRequests, Unauthorized
from salomat.core.policy import Role
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
from salomat.domains.accounts.models import AuthSession, ClientAssertionJti, LoginFailure, User
from salomat.domains.accounts.schemas import Me, TokenPair, WebLogin
from salomat.domains.accounts.service import principal_cache
from salomat.domains.registry import service as registry

__all__ = [
    "BAD_LOGIN",
    "CLIENT_FACTOR",
    "describe",
    "full_names",
    "login",
    "logout",
    "me",
    "principal_from_bearer",
    "principal_from_cookie",
    "purge_expired",
    "refresh",
    "set_language",
    "web_login",
]

BAD_LOGIN = "Wrong username or password."
#: a client address may fail this many times the per-user limit (password spraying)
CLIENT_FACTOR = 4


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
        employer_id=user.employer_id,
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


async def _rotate(session: AsyncSession, session_id: str, old: str, new: str) -> bool:
    """Replaces the refresh token only if it is still the one presented: one conditional
    UPDATE, so of two refreshes with the same token at once exactly one rotates it."""
    done = await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.token_digest == old)
        .values(previous_digest=old, token_digest=new)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


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
            principal_cache.forget(session, session_ids=[reused.id])
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
    if not await _rotate(session, sess.id, digest, token_digest(new_refresh)):
        # the same token rotated meanwhile by another request: only one of them gets a
        # live refresh token, so a copied token can't live on beside the rotated one
        raise Unauthorized("The refresh token is invalid, expired or revoked; log in again.")
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
    principal_cache.forget(session, session_ids=[principal.session_id])
    await audit.record(
        session,
        principal,
        action="logout",
        resource_type="Session",
        resource_id=principal.session_id,
    )


async def _session_principal(
    session: AsyncSession, where: Any, via: str, *, with_facility_names: bool = False
) -> tuple[Principal, Any]:
    """The read, retried once on a fresh connection when the pooled one turned out dead
    (the database restarted): it is the request's first statement, so nothing is lost."""
    first = not session.in_transaction()
    for attempt in (1, 2):
        try:
            return await _read_session_principal(
                session, where, via, with_facility_names=with_facility_names
            )
        except DatabaseUnavailable as e:
            if not first or attempt == 2:
                raise SessionUnreadable(e.msgid, headers=e.headers) from e
            await session.rollback()
    raise AssertionError("unreachable")


class SessionUnreadable(DatabaseUnavailable, Unauthorized):
    """The caller's session could not be read, the database being unreachable: a 503
    "retry" (``DatabaseUnavailable``'s status and type), never a 401 that would send a
    logged-in user to log in again. It is an ``Unauthorized`` too only so that the
    permission check (``core.policy.Require``) passes it on as it is."""


async def _read_session_principal(
    session: AsyncSession, where: Any, via: str, *, with_facility_names: bool = False
) -> tuple[Principal, Any]:
    """The principal of a live login session, read in one round trip.

    Every authenticated request passes here, so it is one statement of plain
    columns (no ORM objects), the facility code joined through the
    registry's correlated subquery. Returns the principal and the row (for
    the checks the token adds).
    """
    names = (
        (
            registry.facility_name_of(User.facility_id).label("facility_name"),
            registry.facility_names_of(User.facility_id).label("facility_names"),
        )
        if with_facility_names
        else ()
    )
    row = (
        await session.execute(
            select(
                AuthSession.id,
                AuthSession.revoked_at,
                AuthSession.expires_at,
                AuthSession.csrf_token,
                AuthSession.kind,
                User.id.label("user_id"),
                User.username,
                User.role,
                User.is_active,
                User.facility_id,
                User.person_id,
                User.employer_id,
                registry.facility_code_of(User.facility_id).label("facility_code"),
                *names,
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
        employer_id=row.employer_id,
        via=via,
        csrf_token=row.csrf_token,
    )
    if with_facility_names and row.facility_name is not None:
        principal = replace(
            principal, facility_name=row.facility_name, facility_names=row.facility_names or {}
        )
    return principal, row


def _cache_key(session: AsyncSession, via: str, ident: str) -> tuple[Any, ...]:
    """Per database (tests switch between several) and per way of presenting a session."""
    return (session.get_bind().url, via, ident)


async def principal_from_bearer(session: AsyncSession, token: str) -> Principal:
    """The token is checked every time (signature, expiry, audience, issuer; its account
    and role against the session's); only the session's principal may come from the
    cache."""
    claims = decode_access_token(token)
    cache = principal_cache.CACHE
    key = _cache_key(session, "bearer", str(claims["sid"]))
    kept = cache.get(key)
    if kept is None:
        generation = cache.generation
        principal, row = await _session_principal(
            session, AuthSession.id == claims["sid"], "bearer"
        )
        kind = row.kind
        cache.put(key, principal, kind, row.expires_at, generation)
    else:
        principal, kind = kept.principal, kept.kind
    if str(principal.user_id) != claims["sub"] or principal.role != claims.get("role"):
        raise Unauthorized("The access token no longer matches the account; log in again.")
    if kind == "system":
        # a client system's token: what it may do is narrowed by its scopes (core.scopes)
        scope = claims.get("scope")
        if not isinstance(scope, str):
            raise Unauthorized("The access token is invalid.")
        principal = replace(principal, scopes=frozenset(scope.split()))
    return principal


async def principal_from_cookie(session: AsyncSession, cookie: str) -> Principal:
    """A page's principal, with its facility's names for the header (two more correlated
    subqueries in the same statement: still one statement, as for an API request)."""
    digest = token_digest(cookie)
    cache = principal_cache.CACHE
    key = _cache_key(session, "cookie", digest)
    kept = cache.get(key)
    if kept is not None:
        return kept.principal
    generation = cache.generation
    where = (AuthSession.token_digest == digest) & (AuthSession.kind == "web")
    principal, row = await _session_principal(session, where, "cookie", with_facility_names=True)
    cache.put(key, principal, row.kind, row.expires_at, generation)
    return principal


def me(principal: Principal, full_name: str | None = None, language: str | None = None) -> Me:
    return Me(
        user_id=principal.user_id,
        username=principal.username,
        role=Role(principal.role),
        full_name=full_name,
        facility_id=principal.facility_id,
        facility_code=principal.facility_code,
        person_id=principal.person_id,
        employer_id=principal.employer_id,
        language=language,
    )


async def describe(session: AsyncSession, principal: Principal) -> Me:
    user = await session.get(User, principal.user_id)
    out = me(principal, user.full_name if user else None, user.language if user else None)
    if principal.employer_id is not None:
        names = await registry.employer_names(
            session, [principal.employer_id], i18n.current_language()
        )
        out.employer_name = names.get(principal.employer_id)
    return out


async def full_names(session: AsyncSession, usernames: Sequence[str]) -> dict[str, str]:
    """Installed as ``core.user_names``' provider: the recorded full name of each of these
    users by username, one statement; users with no name (or no account) left out."""
    if not usernames:
        return {}
    rows = await session.execute(
        select(User.username, User.full_name).where(
            User.username.in_(list(usernames)), User.full_name.is_not(None)
        )
    )
    return {r.username: r.full_name for r in rows if r.full_name and r.full_name.strip()}


async def set_language(session: AsyncSession, principal: Principal, language: str) -> None:
    await session.execute(
        update(User).where(User.id == principal.user_id).values(language=language)
    )


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
    # a used assertion id is kept only while its assertion could still be presented
    jtis = await session.execute(
        delete(ClientAssertionJti).where(ClientAssertionJti.expires_at < now)
    )
    return {
        "login_sessions": int(getattr(sessions, "rowcount", 0) or 0),
        "login_failures": int(getattr(failures, "rowcount", 0) or 0),
        "client_assertions": int(getattr(jtis, "rowcount", 0) or 0),
    }
