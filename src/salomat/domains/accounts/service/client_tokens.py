"""The token endpoint for client systems: client credentials with a signed JWT assertion
(SMART Backend Services; RFC 7523 ``private_key_jwt``).

The assertion must be signed (RS384 or ES384) by a key the client registered, named by
its ``kid``; ``iss`` and ``sub`` are the client id, ``aud`` this token endpoint's URL,
``exp`` at most five minutes ahead, and its ``jti`` used once (a primary key keeps it
until the assertion expires, so two requests with one assertion get one token). Every
failure answers ``invalid_client`` alike, is audited under the name the assertion gave,
and counts towards the same throttle as failed logins. The access token is the platform's
own, naming a login session (``AuthSession``, kind ``system``): disabling the client or
changing its scopes revokes it at once.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, scopes
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, FieldError, Invalid, TooManyRequests, Unauthorized
from salomat.core.policy import PERMISSIONS
from salomat.core.security import Principal, issue_access_token, new_opaque_token, token_digest
from salomat.domains.accounts.models import (
    AuthSession,
    ClientAssertionJti,
    ClientSystem,
    LoginFailure,
)
from salomat.domains.accounts.schemas import USERNAME, ClientToken
from salomat.domains.accounts.service import clients
from salomat.domains.accounts.service.sessions import CLIENT_FACTOR

__all__ = ["ASSERTION_TYPE", "MAX_ASSERTION_SECONDS", "issue_client_token"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: SMART Backend Services: an assertion expires no more than five minutes after it is made
MAX_ASSERTION_SECONDS = 300
_MAX_ASSERTION_CHARS = 16_000
_CLIENT_ID = re.compile(USERNAME)


def _now() -> float:
    """The clock the ``exp`` limit reads (a test holds it still)."""
    return time.time()


class OAuthRefusal(Unauthorized):
    """``invalid_client``: the assertion does not prove who the client is."""


def _oauth_invalid(errors: list[FieldError], error: str) -> Invalid:
    e = Invalid.fields(errors)
    e.extensions["oauth_error"] = error
    return e


def _invalid_request(field: str, message: str) -> Invalid:
    return _oauth_invalid([FieldError(field, message)], "invalid_request")


async def _refuse(
    session: AsyncSession,
    name: str | None,
    client_address: str | None,
    reason: str,
    message: str = N_("The client assertion is not valid."),
) -> OAuthRefusal:
    """Audit the failure under the client it names and count it against the address it
    came from (both outlive the failed request), and say so. Not against the client: its
    id is no secret and a signature can't be guessed, so counting failures under the name
    would let anyone lock a system out (``_address_throttled``)."""
    who = (name or "")[:150] or None
    if client_address:
        audit.keep_after_rollback(
            session,
            LoginFailure.__table__,
            {"username": _NO_NAME, "client_address": client_address, "at": utcnow()},
        )
    await audit.denied(
        session,
        None,
        action="login",
        resource_type="Session",
        username=who,
        detail=f"client_credentials: {reason}"[:500],
    )
    return OAuthRefusal(message, extensions={"oauth_error": "invalid_client"})


#: the name a client-credentials failure is counted under: none a login can have
_NO_NAME = "~client-credentials"


async def _address_throttled(session: AsyncSession, client_address: str | None) -> int | None:
    """Seconds to wait when the address failed too often lately (as a login's address)."""
    if not client_address:
        return None
    s = get_settings()
    since = utcnow() - timedelta(minutes=s.login_window_minutes)
    failed = await session.scalar(
        select(func.count()).where(
            LoginFailure.client_address == client_address, LoginFailure.at >= since
        )
    )
    if (failed or 0) >= s.login_max_failures * CLIENT_FACTOR:
        return s.login_window_minutes * 60
    return None


async def _remember_jti(
    session: AsyncSession, client: ClientSystem, jti: str, expires_at: datetime
) -> bool:
    """Keeps the ``jti``; False if it was used already (ON CONFLICT DO NOTHING: of two
    requests at once with one assertion, the second waits for the first and inserts
    nothing)."""
    table = ClientAssertionJti.__table__
    ins = (
        postgresql.insert(table)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(table)
    )
    stored = await session.execute(
        ins.values(client_system_id=client.id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing()
        .returning(table.c.jti)
    )
    return stored.first() is not None


async def issue_client_token(
    session: AsyncSession,
    *,
    assertion_type: str | None,
    assertion: str | None,
    scope: str | None,
    token_url: str,
    client_address: str | None,
) -> ClientToken:
    if assertion_type != ASSERTION_TYPE:
        raise _invalid_request("client_assertion_type", f"must be {ASSERTION_TYPE}")
    if not assertion:
        raise _invalid_request("client_assertion", "required: the signed JWT")
    if scope is not None and len(scope) > 4000:
        raise _invalid_request("scope", "at most 4000 characters")
    if len(assertion) > _MAX_ASSERTION_CHARS:
        raise await _refuse(session, None, client_address, "assertion too long")
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise await _refuse(session, None, client_address, "not a JWT") from None
    iss, sub = unverified.get("iss"), unverified.get("sub")
    # only what could be a client id is kept as the name the failure is audited under
    name = iss if isinstance(iss, str) and _CLIENT_ID.match(iss) else None
    if name is None:
        raise await _refuse(session, None, client_address, "iss is no client id")
    if iss != sub:
        raise await _refuse(session, name, client_address, "iss and sub must both be the client id")
    retry_after = await _address_throttled(session, client_address)
    if retry_after is not None:
        await audit.denied(
            session,
            None,
            action="login",
            resource_type="Session",
            username=name,
            detail="client_credentials: throttled",
        )
        raise TooManyRequests(
            N_("Too many failed token requests; wait before trying again."),
            headers={"Retry-After": str(retry_after)},
            extensions={"oauth_error": "invalid_client"},
        )
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in clients.SIGNING_ALGORITHMS:
        raise await _refuse(session, name, client_address, f"algorithm {ascii(alg)[:30]} refused")
    if not isinstance(kid, str) or not clients.KID.match(kid):
        raise await _refuse(session, name, client_address, "no kid, or a malformed one")
    client, key = await clients.client_key(session, name, kid)
    if client is None:
        raise await _refuse(session, name, client_address, "unknown client")
    if not client.is_active:
        raise await _refuse(session, name, client_address, "client disabled")
    if key is None:
        raise await _refuse(session, name, client_address, f"unregistered key {kid[:100]}")
    if key.alg != alg:
        raise await _refuse(session, name, client_address, f"key {kid[:100]} is for {key.alg}")
    try:
        public = jwt.PyJWK(json.loads(key.jwk), algorithm=key.alg)
        claims: dict[str, Any] = jwt.decode(
            assertion,
            public.key,
            algorithms=[key.alg],
            audience=token_url,
            issuer=client.client_id,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise await _refuse(session, name, client_address, "assertion expired") from None
    except jwt.InvalidAudienceError:
        raise await _refuse(
            session, name, client_address, "aud is not this token endpoint"
        ) from None
    except (jwt.PyJWTError, ValueError, TypeError, ArithmeticError) as e:
        # an exp of 1e400 is infinite: int() of it overflows inside pyjwt
        raise await _refuse(session, name, client_address, f"{type(e).__name__}") from None
    exp, jti = claims["exp"], claims["jti"]
    if not isinstance(exp, int | float) or exp - _now() > MAX_ASSERTION_SECONDS:
        raise await _refuse(session, name, client_address, "exp more than 5 minutes ahead")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 255 or not jti.isprintable():
        raise await _refuse(
            session, name, client_address, "jti missing, over 255 characters or not printable"
        )
    expires_at = datetime.fromtimestamp(float(exp), UTC)
    if not await _remember_jti(session, client, jti, expires_at):
        raise await _refuse(session, name, client_address, "jti replayed")
    try:
        # no scope asked: the registered ones (RFC 6749 section 3.3 allows a default;
        # SMART's clients send one, some generic ones, @medplum/core's, do not)
        granted = _granted(
            client, scope.split() if scope and scope.strip() else client.scopes.split()
        )
    except Invalid as e:
        await audit.denied(
            session,
            None,
            action="login",
            resource_type="Session",
            username=client.client_id,
            detail="client_credentials: scope refused: "
            + (scope or "").encode("unicode_escape").decode("ascii")[:450],
        )
        raise e
    # the assertion is good: what fails from here is the scope asked for
    await session.execute(delete(LoginFailure).where(LoginFailure.username == client.client_id))
    return await _open(session, client, granted, client_address)


def _granted(client: ClientSystem, asked: list[str]) -> list[str]:
    """The scopes asked for, each within what the client was granted and each allowing
    something its role may do; else ``invalid_scope`` naming them (we grant all that was
    asked or nothing, never less than asked without saying so)."""
    registered = client.scopes.split()
    holds = [p for p, holders in PERMISSIONS.items() if client.role in holders]
    errors: list[FieldError] = []
    out: list[str] = []
    for s in asked:
        if scopes.parse(s) is None:
            errors.append(
                FieldError("scope", N_("%(scope)s is no system scope"), {"scope": s[:100]})
            )
        elif not scopes.includes(registered, s):
            errors.append(
                FieldError(
                    "scope", N_("%(scope)s was not granted to this client"), {"scope": s[:100]}
                )
            )
        elif not scopes.useful_permissions(s, holds):
            errors.append(
                FieldError("scope", N_("%(scope)s allows nothing this client may do"), {"scope": s})
            )
        elif s not in out:
            out.append(s)
    if errors:
        raise _oauth_invalid(errors, "invalid_scope")
    return out


async def _open(
    session: AsyncSession, client: ClientSystem, granted: list[str], client_address: str | None
) -> ClientToken:
    now = utcnow()
    sid = uuid.uuid4().hex
    scope = " ".join(granted)
    access, ttl = issue_access_token(
        user_id=client.user_id, role=client.role, session_id=sid, scope=scope
    )
    session.add(
        AuthSession(
            id=sid,
            user_id=client.user_id,
            kind="system",
            token_digest=token_digest(new_opaque_token()),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
            client_address=client_address,
        )
    )
    await session.flush()
    principal = Principal(
        user_id=client.user_id,
        username=client.client_id,
        role=client.role,
        session_id=sid,
        facility_id=client.facility_id,
        scopes=frozenset(granted),
    )
    await audit.record(
        session,
        principal,
        action="login",
        resource_type="Session",
        resource_id=sid,
        detail=f"client_credentials: {scope}"[:500],
    )
    return ClientToken(access_token=access, expires_in=ttl, scope=scope)
