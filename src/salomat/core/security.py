"""Password hashing (Argon2id) and signed access tokens (JWT, HS256 only).

Tokens carry the user id, role and the login session id; the session is
checked against the database on every request, so logout and disabling an
account revoke a token before it expires.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from salomat.core.config import get_settings
from salomat.core.errors import Unauthorized

ALGORITHMS = ["HS256"]


@lru_cache
def _hasher() -> PasswordHasher:
    """Argon2id with RFC 9106's low-memory profile (about 0.13 s a hash on this machine).

    Only the test environment uses argon2's cheapest parameters, so that the
    hundreds of accounts the suite creates and logs in do not cost minutes;
    hashes are still argon2id and go through the same code.
    """
    if get_settings().env == "test":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)


@lru_cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (no user enumeration by timing)."""
    try:
        return (
            _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is acting. Built from a verified token or session cookie."""

    user_id: int
    username: str
    role: str
    session_id: str
    facility_id: int | None = None
    facility_code: str | None = None
    #: the facility's name and its per-language names (``facility_names.get(lang) or
    #: facility_name``): read for a page's session only (the header names the facility)
    facility_name: str | None = None
    facility_names: dict[str, str] = field(default_factory=dict)
    person_id: int | None = None
    #: the employer organisation an ``employer`` account acts for
    employer_id: int | None = None
    via: str = "bearer"
    csrf_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: a client system's granted SMART scopes (core.scopes); None for a person, whose role
    #: alone decides
    scopes: frozenset[str] | None = None


def issue_access_token(
    *, user_id: int, role: str, session_id: str, scope: str | None = None
) -> tuple[str, int]:
    """``scope``: a client system's granted scopes (space-separated), carried as the
    ``scope`` claim; a person's token has none."""
    s = get_settings()
    now = datetime.now(UTC)
    ttl = timedelta(minutes=s.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "role": role,
        "sid": session_id,
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if scope is not None:
        claims["scope"] = scope
    token = jwt.encode(claims, s.resolved_secret_key(), algorithm=ALGORITHMS[0])
    return token, int(ttl.total_seconds())


def decode_access_token(token: str) -> dict[str, Any]:
    s = get_settings()
    try:
        return jwt.decode(
            token,
            s.resolved_secret_key(),
            algorithms=ALGORITHMS,
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "sid", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError as e:
        raise Unauthorized("The access token has expired; refresh it or log in again.") from e
    except jwt.InvalidAudienceError as e:
        raise Unauthorized("The access token is not meant for this service.") from e
    except jwt.PyJWTError as e:
        raise Unauthorized("The access token is invalid.") from e
