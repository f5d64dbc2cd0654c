"""``salomat client add/list/key/disable``: an operator registers a client system from a
script, hands its generated private key over, rotates its keys and disables it; the key
works against the live server's token endpoint."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import jwt

from tests.domains.accounts.client_systems_support import ASSERTION_TYPE, es384_key
from tests.factories import unique
from tests.test_cli import facility_code, invoke  # noqa: F401 (facility_code is a fixture)


def ask(base: str, client_id: str, key: object, kid: str) -> httpx.Response:
    url = f"{base}/auth/token"
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": url,
        "exp": int(time.time()) + 120,
        "jti": uuid.uuid4().hex,
    }
    signed = jwt.encode(claims, key, algorithm="ES384", headers={"kid": kid})
    return httpx.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
            "scope": "system/Patient.read",
        },
    )


def test_add_list_rotate_and_disable(live_server, facility_code, tmp_path: Path):  # noqa: F811
    client_id = unique("lab-")
    env = {"SALOMAT_VAR_DIR": str(tmp_path)}
    r = invoke(
        [
            "client",
            "add",
            "--name",
            "District laboratory",
            "--role",
            "nurse",
            "--facility",
            facility_code,
            "--scope",
            "system/Patient.read",
            "--client-id",
            client_id,
            "--generate-key",
            "ES384",
            "--origin",
            "https://lab.example.uz",
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    assert f"Registered client system {client_id}" in r.output
    pem_path = tmp_path / "client-keys" / f"{client_id}.es384-1.pem"
    assert str(pem_path) in r.output.replace("\n", "")
    assert pem_path.stat().st_mode & 0o077 == 0
    private = pem_path.read_text()
    assert ask(live_server, client_id, private, "es384-1").status_code == 200

    listed = invoke(["client", "list"], env=env)
    assert listed.exit_code == 0
    assert client_id in listed.output
    assert "es384-1 (ES384)" in listed.output
    assert "https://lab.example.uz" in listed.output

    new = es384_key("es384-2")
    jwks_file = tmp_path / "new.json"
    jwks_file.write_text(json.dumps(new.public_jwk()))
    assert invoke(["client", "key", client_id, "--add", str(jwks_file)], env=env).exit_code == 0
    r = invoke(["client", "key", client_id, "--remove", "es384-1"], env=env)
    assert r.exit_code == 0, r.output
    assert "es384-2 (ES384)" in r.output
    assert "es384-1" not in r.output
    assert ask(live_server, client_id, private, "es384-1").status_code == 401
    assert ask(live_server, client_id, new.private, "es384-2").status_code == 200

    r = invoke(["client", "disable", client_id], env=env)
    assert r.exit_code == 0, r.output
    assert ask(live_server, client_id, new.private, "es384-2").status_code == 401
    assert "disabled" in invoke(["client", "list"], env=env).output


def test_refusals_name_each_wrong_field(facility_code):  # noqa: F811
    r = invoke(
        [
            "client",
            "add",
            "--name",
            "Admin robot",
            "--role",
            "admin",
            "--scope",
            "system/Patient.read",
            "--scope",
            "user/Patient.read",
            "--origin",
            "*",
        ]
    )
    assert r.exit_code == 1
    assert "role: a client system may not act as admin" in r.output
    assert "scopes: user/Patient.read is no system scope" in r.output
    assert "origins: * is no origin" in r.output
    r = invoke(["client", "key", "nobody-at-all", "--remove", "k"])
    assert r.exit_code == 1
    assert "Client system nobody-at-all not found." in r.output
