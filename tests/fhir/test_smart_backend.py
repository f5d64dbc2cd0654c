"""SMART Backend Services from the outside: a client system gets only what its scopes and
its facility allow, its calls are audited under its own name; discovery, the
CapabilityStatement's security, CORS for registered origins; and clients that are not
ours (authlib in Python, jose in Node) obtain a token and call the API over HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from salomat.core import middleware
from tests.domains.accounts.client_systems_support import (
    ASSERTION_TYPE,
    assertion,
    client_token,
    rs384_key,
    token_form,
)
from tests.domains.accounts.client_systems_support import make_client as _make_client
from tests.fhir.validator import require_node, run_node

make_client = _make_client  # the fixture
pytestmark = pytest.mark.anyio
FHIR_JSON = "application/fhir+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON}


def immunization(patient: int) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "urn:x", "code": "penta"}]},
        "patient": {"reference": f"Patient/{patient}"},
        "occurrenceDateTime": "2026-01-10",
    }


async def test_a_client_gets_what_its_scopes_and_facility_allow(
    client, make_client, make_person, make_facility
):
    c = await make_client("family_doctor", ("system/Patient.read",))
    ours = await make_person(c.facility_code)
    theirs = await make_person((await make_facility()).code)
    h = bearer(await client_token(client, c))

    r = await client.get(f"/fhir/Patient/{ours.id}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(ours.id)
    # outside its facility: as if there were no such person
    assert (await client.get(f"/fhir/Patient/{theirs.id}", headers=h)).status_code == 404
    # its role reads immunizations, its scopes do not
    r = await client.get(f"/fhir/Immunization?patient={ours.id}", headers=h)
    assert r.status_code == 403, r.text
    assert "scopes" in r.text
    # nor may it write anything its role may write
    r = await client.post(
        "/fhir/Immunization",
        json=immunization(ours.id),
        headers={**h, "Content-Type": FHIR_JSON},
    )
    assert r.status_code == 403, r.text
    # and what its role may not do, no scope gives
    r = await client.post(
        "/fhir/Patient",
        json={"resourceType": "Patient", "gender": "female"},
        headers={**h, "Content-Type": FHIR_JSON},
    )
    assert r.status_code == 403


async def test_a_clients_scopes_end_with_its_request(
    client, make_client, make_person, make_user, login
):
    """After a client system's request, a person's request in the same task (an
    in-process client) is decided by the person's role alone."""
    c = await make_client("family_doctor", ("system/Patient.read",))
    person = await make_person(c.facility_code)
    h = bearer(await client_token(client, c))
    r = await client.get(f"/fhir/Immunization?patient={person.id}", headers=h)
    assert r.status_code == 403
    doctor = await login(await make_user("family_doctor", facility_code=c.facility_code))
    r = await client.get(f"/fhir/Immunization?patient={person.id}", headers=doctor)
    assert r.status_code == 200, r.text


async def test_a_wider_scope_reads_immunizations_of_its_own_people(
    client, make_client, make_person, make_facility
):
    c = await make_client("family_doctor", ("system/*.read",))
    ours = await make_person(c.facility_code)
    theirs = await make_person((await make_facility()).code)
    h = bearer(await client_token(client, c, "system/Patient.read system/Immunization.read"))
    r = await client.get(f"/fhir/Immunization?patient={ours.id}", headers=h)
    assert r.status_code == 200, r.text
    r = await client.get(f"/fhir/Immunization?patient={theirs.id}", headers=h)
    assert r.status_code in (200, 404)
    assert not r.json().get("entry")
    # it asked for read only: a write stays refused though its grant is system/*.read
    r = await client.post(
        "/fhir/Immunization",
        json=immunization(ours.id),
        headers={**h, "Content-Type": FHIR_JSON},
    )
    assert r.status_code == 403


async def test_its_calls_are_audited_under_its_own_name(
    client, make_client, make_person, make_user, login
):
    c = await make_client("family_doctor", ("system/Patient.read",))
    person = await make_person(c.facility_code)
    h = bearer(await client_token(client, c))
    assert (await client.get(f"/fhir/Patient/{person.id}", headers=h)).status_code == 200
    assert (
        await client.get(f"/fhir/Immunization?patient={person.id}", headers=h)
    ).status_code == 403
    auditor = await login(await make_user("auditor"))
    r = await client.get(f"/fhir/AuditEvent?agent={c.client_id}", headers=auditor)
    assert r.status_code == 200, r.text
    events = [e["resource"] for e in r.json()["entry"]]
    names = {a.get("altId") for e in events for a in e["agent"]}
    assert names == {c.client_id}
    outcomes = sorted(e.get("outcome") for e in events)
    assert "0" in outcomes  # the read and the login
    assert any(e.get("outcome") != "0" for e in events)  # the refused Immunization search
    patients = [
        e["entity"][0]["what"]["reference"]
        for e in events
        if e.get("entity") and e["entity"][0].get("what", {}).get("reference")
    ]
    assert f"Patient/{person.id}" in patients


async def test_smart_configuration_is_public_and_names_the_token_endpoint(client):
    r = await client.get("/fhir/.well-known/smart-configuration")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_endpoint"] == "http://testserver/auth/token"
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert body["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in body["capabilities"]
    assert "system/Patient.read" in body["scopes_supported"]


async def test_the_capability_statement_declares_smart_security(client):
    r = await client.get("/fhir/metadata")
    security = r.json()["rest"][0]["security"]
    codes = {c["code"] for s in security["service"] for c in s["coding"]}
    assert codes == {"OAuth", "SMART-on-FHIR"}
    uris = security["extension"][0]
    assert uris["url"].endswith("/oauth-uris")
    assert uris["extension"] == [{"url": "token", "valueUri": "http://testserver/auth/token"}]


async def test_cors_for_registered_origins_only(client, make_client):
    origin = f"https://his{time.time_ns()}.example.uz"
    await make_client(origins=(origin,))
    middleware.cors_origins_changed()  # registered outside a request's commit hook here
    pre = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    r = await client.options("/auth/token", headers=pre)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == origin
    assert "authorization" in r.headers["access-control-allow-headers"]
    assert r.headers["x-content-type-options"] == "nosniff"
    r = await client.get("/fhir/metadata", headers={"Origin": origin})
    assert r.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-credentials" not in r.headers
    # another origin: no CORS header, a refused preflight
    other = "https://evil.example.com"
    r = await client.options("/auth/token", headers={**pre, "Origin": other})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    r = await client.get("/fhir/metadata", headers={"Origin": other})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


async def test_origins_are_read_once_not_per_request(client, make_client, monkeypatch):
    middleware.cors_origins_changed()
    calls = []
    loader = middleware._cors["loader"]

    async def counted() -> frozenset[str]:
        calls.append(1)
        return await loader()

    monkeypatch.setitem(middleware._cors, "loader", counted)
    for _ in range(3):
        await client.get("/healthz", headers={"Origin": "https://a.example"})
    assert len(calls) == 1


async def test_registering_a_client_over_http_refreshes_cors(client, admin_headers, make_facility):
    from tests.domains.accounts.client_systems_support import es384_key, jwks

    origin = f"https://lab{time.time_ns()}.example.kz"
    await client.get("/healthz", headers={"Origin": origin})  # the origins read now
    fac = await make_facility()
    r = await client.post(
        "/api/v1/client-systems",
        json={
            "name": "Laboratory system",
            "role": "nurse",
            "facility_code": fac.code,
            "scopes": ["system/Patient.read"],
            "jwks": jwks(es384_key()),
            "origins": [origin],
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    pre = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    assert (await client.options("/fhir/Patient", headers=pre)).status_code == 204


# ---- clients that are not ours, over real HTTP ----------------------------------------


async def test_authlib_private_key_jwt_client_gets_a_token_and_reads(
    live_server, make_client, make_person
):
    from authlib.integrations.httpx_client import OAuth2Client
    from authlib.oauth2.rfc7523 import PrivateKeyJWT
    from cryptography.hazmat.primitives import serialization

    class FiveMinutePrivateKeyJWT(PrivateKeyJWT):
        """authlib's assertion expires in an hour unless told; SMART allows five minutes
        at most (a fresh exp and jti for each token request)."""

        def sign(self, auth, token_endpoint):  # type: ignore[no-untyped-def]
            self.claims = {"exp": int(time.time()) + 240}
            return super().sign(auth, token_endpoint)

    key = rs384_key()
    c = await make_client("family_doctor", ("system/Patient.read",), key=key)
    person = await make_person(c.facility_code)
    token_url = f"{live_server}/auth/token"
    async with httpx.AsyncClient() as http:
        config = (await http.get(f"{live_server}/fhir/.well-known/smart-configuration")).json()
    assert config["token_endpoint"] == token_url
    with OAuth2Client(
        client_id=c.client_id,
        # the private key as PEM, as an operator keeps it in a file
        client_secret=key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        token_endpoint_auth_method=FiveMinutePrivateKeyJWT(
            config["token_endpoint"], alg="RS384", headers={"kid": key.kid}
        ),
        scope="system/Patient.read",
    ) as oauth:
        token = oauth.fetch_token(config["token_endpoint"], grant_type="client_credentials")
        assert token["token_type"] == "bearer"
        assert token["scope"] == "system/Patient.read"
        r = oauth.get(f"{live_server}/fhir/Patient/{person.id}", headers={"Accept": FHIR_JSON})
        assert r.status_code == 200, r.text
        assert r.json()["resourceType"] == "Patient"
        assert oauth.get(f"{live_server}/fhir/Immunization?patient={person.id}").status_code == 403


async def test_node_jose_and_medplum_es384_clients_get_a_token_and_read(
    live_server, make_client, make_person
):
    require_node()
    c = await make_client("family_doctor", ("system/Patient.read",))
    person = await make_person(c.facility_code)
    out = await run_node(
        "backend_services.mjs",
        "--base",
        live_server,
        "--client-id",
        c.client_id,
        "--patient",
        str(person.id),
        stdin=json.dumps(c.key.private_jwk()).encode(),
    )
    s = json.loads(out)
    assert s["configuration"]["token_endpoint"] == f"{live_server}/auth/token"
    assert s["token"]["status"] == 200
    assert s["token"]["token_type"] == "bearer"
    assert s["token"]["scope"] == "system/Patient.read"
    assert s["patient"] == {"status": 200, "resourceType": "Patient", "id": str(person.id)}
    # its assertion, sent again, is refused as a replay
    assert s["replay"] == {"status": 401, "error": "invalid_client"}
    # @medplum/core's startJwtAssertionLogin (no scope sent: the registered ones) and read
    assert s["medplum"] == {"resourceType": "Patient", "id": str(person.id)}


async def test_the_token_endpoint_answers_a_form_exactly_as_rfc_6749_says(client, make_client):
    c = await make_client()
    form = token_form(assertion(c.client_id, c.key))
    assert form["client_assertion_type"] == ASSERTION_TYPE
    r = await client.post("/auth/token", data=form)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert set(r.json()) == {"access_token", "token_type", "expires_in", "scope"}


@pytest.fixture
def public_url(monkeypatch):
    """The platform configured with its public address (behind a proxy)."""
    from salomat.core.config import get_settings

    monkeypatch.setenv("SALOMAT_PUBLIC_URL", "https://health.example.uz/")
    get_settings.cache_clear()
    yield "https://health.example.uz"
    monkeypatch.delenv("SALOMAT_PUBLIC_URL")
    get_settings.cache_clear()


async def test_with_a_public_url_the_assertion_names_it_not_the_host_asked(
    client, make_client, public_url
):
    """No Host header decides what an assertion may be for: with the public address
    configured, an assertion for the address the request came to is refused, and one for
    the public token endpoint taken; discovery advertises that endpoint."""
    c = await make_client("family_doctor", ("system/Patient.read",))
    config = (await client.get("/fhir/.well-known/smart-configuration")).json()
    assert config["token_endpoint"] == f"{public_url}/auth/token"
    r = await client.post("/auth/token", data=token_form(assertion(c.client_id, c.key)))
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"
    r = await client.post(
        "/auth/token",
        data=token_form(assertion(c.client_id, c.key, aud=f"{public_url}/auth/token")),
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("bad", ["health.example.uz", "ftp://health.example.uz", "https://a b"])
def test_a_public_url_that_is_no_http_address_is_refused_at_start(monkeypatch, bad):
    from pydantic import ValidationError

    from salomat.core.config import Settings

    monkeypatch.setenv("SALOMAT_PUBLIC_URL", bad)
    with pytest.raises(ValidationError):
        Settings()
