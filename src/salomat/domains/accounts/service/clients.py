"""Registered client systems (SMART Backend Services): register, keys, scopes, disable.

A client system acts through its own ``app_user`` row (username = client id, a password
hash that matches nothing), so every permission check, person scope and audit row
treats it as it treats a person, under its own name. What it may do beyond its role is
narrowed by its scopes (core.scopes). The browser origins of the active systems are
what CORS admits (core.middleware reads them once, and again after a change here).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import jwt
from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, middleware, scopes
from salomat.core.db import utcnow
from salomat.core.errors import N_, Conflict, FieldError, Invalid, InvalidState, NotFound
from salomat.core.policy import PERMISSIONS, Role, facility_required
from salomat.core.security import Principal
from salomat.domains.accounts.models import AuthSession, ClientKey, ClientSystem, User
from salomat.domains.accounts.schemas import (
    CLIENT_ROLES,
    ORIGIN,
    ClientKeyOut,
    ClientSystemChange,
    ClientSystemIn,
    ClientSystemOut,
)
from salomat.domains.accounts.service import principal_cache
from salomat.domains.registry import service as registry

__all__ = [
    "SIGNING_ALGORITHMS",
    "add_client_keys",
    "allowed_origins",
    "change_client",
    "client_by_id",
    "granted_scopes",
    "list_clients",
    "register_client",
    "remove_client_key",
    "set_client_active",
]

#: what SMART Backend Services requires a server to accept (and all we accept)
SIGNING_ALGORITHMS = ("RS384", "ES384")
#: the password hash of a client system's account: no Argon2 hash, so no password matches
NO_PASSWORD = "!client-system"  # noqa: S105
_PRIVATE = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_PUBLIC = {
    "RSA": ("kty", "kid", "alg", "use", "n", "e"),
    "EC": ("kty", "kid", "alg", "use", "crv", "x", "y"),
}
KID = re.compile(r"^[A-Za-z0-9._:+=~-]{1,200}$")
_ORIGIN = re.compile(ORIGIN)


def _roles_hold(role: str) -> list[str]:
    return [p for p, holders in PERMISSIONS.items() if role in holders]


def _check_scopes(role: str, asked: list[str], errors: list[FieldError]) -> list[str]:
    out: list[str] = []
    holds = _roles_hold(role)
    for raw in asked:
        s = raw.strip()
        if scopes.parse(s) is None:
            errors.append(
                FieldError(
                    "scopes",
                    N_("%(scope)s is no system scope (system/<Type|*>.<read|write|*|cruds>)"),
                    {"scope": s[:100]},
                )
            )
        elif not scopes.useful_permissions(s, holds):
            errors.append(
                FieldError(
                    "scopes",
                    N_("%(scope)s allows nothing the role %(role)s may do"),
                    {"scope": s, "role": role},
                )
            )
        elif s not in out:
            out.append(s)
    return out


def _check_origins(asked: list[str], errors: list[FieldError]) -> list[str]:
    out: list[str] = []
    for raw in asked:
        o = raw.strip().rstrip("/").lower()
        if not _ORIGIN.match(o):
            errors.append(
                FieldError(
                    "origins",
                    N_("%(origin)s is no origin (https://host or https://host:port)"),
                    {"origin": raw[:100]},
                )
            )
        elif o not in out:
            out.append(o)
    return out


def parse_keys(text: str, field: str = "jwks") -> list[dict[str, Any]]:
    """The public keys of a JWKS (``{"keys": [...]}``) or of one JWK; each needs a
    ``kid``, is RSA (RS384, at least 2048 bits) or EC P-384 (ES384), and has no private
    member. Returns each as the public members only (with its ``alg``)."""
    try:
        data = json.loads(text)
    except ValueError:
        raise Invalid.fields([FieldError(field, N_("is not JSON (a JWKS or one JWK)"))]) from None
    keys = data.get("keys") if isinstance(data, dict) and "keys" in data else [data]
    if not isinstance(keys, list) or not keys:
        raise Invalid.fields([FieldError(field, N_("holds no key"))])
    errors: list[FieldError] = []
    out: list[dict[str, Any]] = []
    for i, key in enumerate(keys[:20]):
        name = f"{field}.keys[{i}]"
        if not isinstance(key, dict):
            errors.append(FieldError(name, N_("is not a JWK (a JSON object)")))
            continue
        if any(m in key for m in _PRIVATE):
            errors.append(FieldError(name, N_("is a private key: register only the public key")))
            continue
        kid = key.get("kid")
        if not isinstance(kid, str) or not KID.match(kid):
            errors.append(
                FieldError(
                    name,
                    N_(
                        "needs a kid, the key id the assertions name "
                        "(letters, digits and . _ : + = ~ -, up to 200)"
                    ),
                )
            )
            continue
        kty = key.get("kty")
        alg = key.get("alg") or {"RSA": "RS384", "EC": "ES384"}.get(str(kty))
        if alg not in SIGNING_ALGORITHMS or (kty, alg) not in (("RSA", "RS384"), ("EC", "ES384")):
            errors.append(
                FieldError(name, N_("must be an RSA key for RS384 or an EC P-384 key for ES384"))
            )
            continue
        if kty == "EC" and key.get("crv") != "P-384":
            errors.append(FieldError(name, N_("an ES384 key is on the curve P-384")))
            continue
        public = {m: key[m] for m in _PUBLIC[kty] if m in key}
        public["alg"] = alg
        try:
            parsed = jwt.PyJWK(public, algorithm=alg)
        except (jwt.PyJWTError, ValueError, TypeError):
            errors.append(FieldError(name, N_("is not a valid public key")))
            continue
        if kty == "RSA" and parsed.key.key_size < 2048:  # type: ignore[union-attr]
            errors.append(FieldError(name, N_("an RSA key has at least 2048 bits")))
            continue
        if any(k["kid"] == kid for k in out):
            errors.append(FieldError(name, N_("the kid %(kid)s is given twice"), {"kid": kid}))
            continue
        out.append(public)
    if len(keys) > 20:
        errors.append(FieldError(field, N_("at most 20 keys")))
    if errors:
        raise Invalid.fields(errors)
    return out


def _origins_changed(session: AsyncSession) -> None:
    """CORS reads the origins again once this transaction has committed."""
    event.listen(
        session.sync_session,
        "after_commit",
        lambda _s: middleware.cors_origins_changed(),
        once=True,
    )


async def _out(session: AsyncSession, c: ClientSystem) -> ClientSystemOut:
    keys = (
        await session.scalars(
            select(ClientKey).where(ClientKey.client_system_id == c.id).order_by(ClientKey.id)
        )
    ).all()
    code = await registry.facility_code(session, c.facility_id) if c.facility_id else None
    return ClientSystemOut(
        id=c.id,
        client_id=c.client_id,
        name=c.name,
        role=Role(c.role),
        facility_id=c.facility_id,
        facility_code=code,
        scopes=c.scopes.split(),
        origins=c.origins.split(),
        keys=[
            ClientKeyOut(
                kid=k.kid, alg=k.alg, kty=json.loads(k.jwk)["kty"], created_at=k.created_at
            )
            for k in keys
        ],
        is_active=c.is_active,
        created_at=c.created_at,
        disabled_at=c.disabled_at,
    )


def _add_keys(session: AsyncSession, c: ClientSystem, keys: list[dict[str, Any]]) -> None:
    now = utcnow()
    for k in keys:
        session.add(
            ClientKey(
                client_system_id=c.id,
                kid=k["kid"],
                alg=k["alg"],
                jwk=json.dumps(k, sort_keys=True),
                created_at=now,
            )
        )


async def register_client(
    session: AsyncSession, principal: Principal, data: ClientSystemIn
) -> ClientSystemOut:
    errors: list[FieldError] = []
    facility_id = None
    if data.role not in CLIENT_ROLES:
        errors.append(
            FieldError(
                "role",
                N_("a client system may not act as %(role)s"),
                {"role": data.role.value},
            )
        )
    elif facility_required(data.role):
        if not data.facility_code:
            errors.append(
                FieldError(
                    "facility_code",
                    N_("the role %(role)s works for a facility"),
                    {"role": data.role.value},
                )
            )
        else:
            fac = await registry.facility_by_code(session, data.facility_code)
            if fac is None:
                errors.append(
                    FieldError(
                        "facility_code",
                        N_("no facility has the code %(code)s"),
                        {"code": data.facility_code},
                    )
                )
            else:
                facility_id = fac.id
    elif data.facility_code:
        errors.append(
            FieldError(
                "facility_code",
                N_("the role %(role)s is not bound to a facility"),
                {"role": data.role.value},
            )
        )
    granted = _check_scopes(data.role.value, data.scopes, errors)
    origins = _check_origins(data.origins, errors)
    keys: list[dict[str, Any]] = []
    if data.jwks:
        try:
            keys = parse_keys(data.jwks)
        except Invalid as e:
            errors += e.errors
    if errors:
        raise Invalid.fields(errors)
    client_id = data.client_id or f"client-{secrets.token_hex(4)}"
    taken = await session.execute(select(User.id).where(User.username == client_id))
    if taken.first():
        raise Conflict(
            N_("The client id %(client_id)s is taken."),
            params={"client_id": client_id},
            errors=[FieldError("client_id", N_("already taken"))],
        )
    now = utcnow()
    user = User(
        username=client_id,
        password_hash=NO_PASSWORD,
        role=data.role.value,
        full_name=data.name,
        facility_id=facility_id,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    c = ClientSystem(
        client_id=client_id,
        user_id=user.id,
        name=data.name,
        role=data.role.value,
        facility_id=facility_id,
        scopes=" ".join(granted),
        origins=" ".join(origins),
        is_active=True,
        created_at=now,
    )
    session.add(c)
    await session.flush()
    _add_keys(session, c, keys)
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type="ClientSystem",
        resource_id=client_id,
        detail=f"{data.role.value}; {' '.join(granted)}"[:500],
    )
    _origins_changed(session)
    return await _out(session, c)


async def _get(session: AsyncSession, client_id: str) -> ClientSystem:
    c = (
        await session.execute(select(ClientSystem).where(ClientSystem.client_id == client_id))
    ).scalar_one_or_none()
    if c is None:
        raise NotFound(
            N_("Client system %(client_id)s not found."), params={"client_id": client_id}
        )
    return c


async def client_by_id(session: AsyncSession, client_id: str) -> ClientSystemOut:
    return await _out(session, await _get(session, client_id))


async def granted_scopes(session: AsyncSession, user_id: int) -> frozenset[str] | None:
    """The scopes a client system's account holds now (None: the account is a person's;
    empty: a client system switched off). What acts later for a client, a subscription,
    takes no more than this."""
    row = (
        await session.execute(
            select(ClientSystem.scopes, ClientSystem.is_active).where(
                ClientSystem.user_id == user_id
            )
        )
    ).first()
    if row is None:
        return None
    return frozenset(row.scopes.split()) if row.is_active else frozenset()


async def _changed(
    session: AsyncSession, principal: Principal, c: ClientSystem, detail: str
) -> ClientSystemOut:
    """Audit an administrator's change of a registration; the registration as it is now."""
    await audit.record(
        session,
        principal,
        action="update",
        resource_type="ClientSystem",
        resource_id=c.client_id,
        detail=detail[:500],
    )
    return await _out(session, c)


async def list_clients(session: AsyncSession) -> list[ClientSystemOut]:
    rows = (await session.scalars(select(ClientSystem).order_by(ClientSystem.name))).all()
    return [await _out(session, c) for c in rows]


async def _revoke_tokens(session: AsyncSession, user_id: int) -> None:
    principal_cache.forget(session, user_ids=[user_id])
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def add_client_keys(
    session: AsyncSession, principal: Principal, client_id: str, jwks: str
) -> ClientSystemOut:
    c = await _get(session, client_id)
    keys = parse_keys(jwks)
    have = set(
        (
            await session.scalars(select(ClientKey.kid).where(ClientKey.client_system_id == c.id))
        ).all()
    )
    dup = [
        FieldError("jwks", N_("the kid %(kid)s is registered already"), {"kid": k["kid"]})
        for k in keys
        if k["kid"] in have
    ]
    if dup:
        raise Invalid.fields(dup)
    _add_keys(session, c, keys)
    await session.flush()
    return await _changed(session, principal, c, f"key added: {', '.join(k['kid'] for k in keys)}")


async def remove_client_key(
    session: AsyncSession, principal: Principal, client_id: str, kid: str
) -> ClientSystemOut:
    c = await _get(session, client_id)
    done = await session.execute(
        delete(ClientKey).where(ClientKey.client_system_id == c.id, ClientKey.kid == kid)
    )
    if not getattr(done, "rowcount", 0):
        raise NotFound(
            N_("Client system %(client_id)s has no key %(kid)s."),
            params={"client_id": client_id, "kid": kid[:200]},
        )
    return await _changed(session, principal, c, f"key removed: {kid}")


async def change_client(
    session: AsyncSession, principal: Principal, client_id: str, data: ClientSystemChange
) -> ClientSystemOut:
    """New scopes revoke its live tokens (they carry the old ones)."""
    c = await _get(session, client_id)
    errors: list[FieldError] = []
    granted = _check_scopes(c.role, data.scopes, errors) if data.scopes is not None else None
    origins = _check_origins(data.origins, errors) if data.origins is not None else None
    if errors:
        raise Invalid.fields(errors)
    if granted is not None and " ".join(granted) != c.scopes:
        c.scopes = " ".join(granted)
        await _revoke_tokens(session, c.user_id)
    if origins is not None:
        c.origins = " ".join(origins)
        _origins_changed(session)
    await session.flush()
    return await _changed(session, principal, c, f"scopes: {c.scopes}; origins: {c.origins}")


async def set_client_active(
    session: AsyncSession, principal: Principal, client_id: str, active: bool
) -> ClientSystemOut:
    """Disabling ends its live tokens at once and refuses new ones; its account too."""
    c = await _get(session, client_id)
    if c.is_active == active:
        raise InvalidState(
            N_("Client system %(client_id)s is already enabled.")
            if active
            else N_("Client system %(client_id)s is already disabled."),
            params={"client_id": client_id},
        )
    now = utcnow()
    c.is_active = active
    c.disabled_at = None if active else now
    await session.execute(
        update(User)
        .where(User.id == c.user_id)
        .values(is_active=active, disabled_at=None if active else now)
    )
    if not active:
        await _revoke_tokens(session, c.user_id)
    await session.flush()
    _origins_changed(session)
    return await _changed(session, principal, c, "enabled" if active else "disabled")


async def client_key(
    session: AsyncSession, client_id: str, kid: str
) -> tuple[ClientSystem | None, ClientKey | None]:
    """The client system named by ``client_id`` and its key ``kid`` (token endpoint)."""
    c = (
        await session.execute(select(ClientSystem).where(ClientSystem.client_id == client_id))
    ).scalar_one_or_none()
    if c is None:
        return None, None
    k = (
        await session.execute(
            select(ClientKey).where(ClientKey.client_system_id == c.id, ClientKey.kid == kid)
        )
    ).scalar_one_or_none()
    return c, k


async def allowed_origins(session: AsyncSession) -> frozenset[str]:
    """The browser origins of the active client systems (CORS)."""
    rows = await session.scalars(select(ClientSystem.origins).where(ClientSystem.is_active))
    return frozenset(o for row in rows for o in row.split())
