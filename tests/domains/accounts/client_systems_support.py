"""Client systems for the SMART Backend Services tests: keys, registration, assertions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from tests.factories import unique

TOKEN_URL = "http://testserver/auth/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ADMIN = Principal(user_id=0, username="fixture-admin", role="admin", session_id="fixture")


@dataclass
class Key:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        cls = jwt.algorithms.RSAAlgorithm if self.alg == "RS384" else jwt.algorithms.ECAlgorithm
        jwk = cls.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg}

    def private_jwk(self) -> dict[str, Any]:
        cls = jwt.algorithms.RSAAlgorithm if self.alg == "RS384" else jwt.algorithms.ECAlgorithm
        return {**cls.to_jwk(self.private, as_dict=True), "kid": self.kid, "alg": self.alg}


_RSA: list[Any] = []


def es384_key(kid: str | None = None) -> Key:
    return Key(kid or unique("ec-"), "ES384", ec.generate_private_key(ec.SECP384R1()))


def rs384_key(kid: str | None = None) -> Key:
    if not _RSA:  # one RSA key for the run: making one costs tens of milliseconds
        _RSA.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return Key(kid or unique("rsa-"), "RS384", _RSA[0])


def jwks(*keys: Key) -> str:
    return json.dumps({"keys": [k.public_jwk() for k in keys]})


@dataclass
class Client:
    client_id: str
    key: Key
    role: str
    facility_code: str | None


def assertion(
    client_id: str,
    key: Key,
    *,
    aud: str = TOKEN_URL,
    exp: float | None = None,
    jti: str | None = None,
    alg: str | None = None,
    kid: str | None = None,
    sub: str | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": sub if sub is not None else client_id,
        "aud": aud,
        "exp": exp if exp is not None else now + 240,
        "jti": jti or uuid.uuid4().hex,
    }
    for d in drop:
        claims.pop(d)
    return jwt.encode(
        claims, key.private, algorithm=alg or key.alg, headers={"kid": kid or key.kid}
    )


def token_form(client_assertion: str, scope: str = "system/Patient.read") -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion,
        "scope": scope,
    }


@pytest.fixture
def make_client(db: AsyncSession, make_facility: Any) -> Callable[..., Awaitable[Client]]:
    from salomat.domains.accounts import service
    from salomat.domains.accounts.schemas import ClientSystemIn

    async def make(
        role: str = "family_doctor",
        scopes: tuple[str, ...] = ("system/Patient.read",),
        *,
        facility_code: str | None = None,
        key: Key | None = None,
        origins: tuple[str, ...] = (),
    ) -> Client:
        from salomat.core.policy import facility_required

        if facility_required(role) and facility_code is None:
            facility_code = (await make_facility()).code
        key = key or es384_key()
        out = await service.register_client(
            db,
            ADMIN,
            ClientSystemIn(
                client_id=unique("his-"),
                name="Hospital information system",
                role=role,
                facility_code=facility_code,
                scopes=list(scopes),
                jwks=jwks(key),
                origins=list(origins),
            ),
        )
        await db.commit()
        return Client(out.client_id, key, role, facility_code)

    return make


async def client_token(http: Any, client: Client, scope: str = "system/Patient.read") -> str:
    r = await http.post(
        "/auth/token", data=token_form(assertion(client.client_id, client.key), scope)
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])
