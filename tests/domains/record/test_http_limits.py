"""The attachment limit a sender meets over HTTP is the documented one: a FHIR write's
body may hold a 5 MiB attachment base64-encoded (``SALOMAT_MAX_FHIR_BODY_BYTES``), the
record refuses a larger attachment naming its size, a body over the FHIR limit gets 413
naming its size; every other route keeps ``SALOMAT_MAX_BODY_BYTES``."""

from __future__ import annotations

import base64
import json

import pytest

from salomat.core.config import get_settings
from salomat.domains.record import service as record
from tests.domains.record.helpers import document

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
FHIR_JSON = {"content-type": "application/fhir+json"}


def pdf(size: int) -> bytes:
    return (b"%PDF-1.7\n" + bytes(range(256)) * (size // 256 + 1))[:size]


async def test_the_limits_in_the_settings_make_room_for_a_five_mib_attachment():
    settings = get_settings()
    encoded = (record.MAX_ATTACHMENT_BYTES + 2) // 3 * 4
    assert settings.max_body_bytes == MiB
    assert settings.max_fhir_body_bytes == 8 * MiB
    assert encoded + 64 * 1024 < settings.max_fhir_body_bytes


async def test_a_document_is_sent_up_to_the_attachment_limit_over_http(
    client, shr, make_user, login
):
    auth = await login(await make_user("family_doctor", facility_code=shr.hospital.code))
    p = await shr.make_patient()
    data = pdf(4 * MiB)
    assert len(data) == 4 * MiB
    body = json.dumps(document(p.id, data, title="Discharge summary")).encode()
    assert len(body) > 5 * MiB  # over the other routes' limit five times over
    r = await client.post("/fhir/DocumentReference", content=body, headers={**auth, **FHIR_JSON})
    assert r.status_code == 201, r.text[:500]
    stored = await client.get(r.headers["location"], headers=auth)
    assert stored.status_code == 200
    assert stored.json()["content"][0]["attachment"]["data"] == base64.b64encode(data).decode()

    # a larger attachment that fits in the body: the record names its size
    over = pdf(5 * MiB + 512 * 1024)
    body = json.dumps(document(p.id, over)).encode()
    assert len(body) < get_settings().max_fhir_body_bytes
    r = await client.post("/fhir/DocumentReference", content=body, headers={**auth, **FHIR_JSON})
    assert r.status_code == 422, r.text[:500]
    text = json.dumps(r.json())
    assert "content[0].attachment.size" in text
    assert f"this one has {len(over)}" in text

    # a body over the FHIR limit: 413 naming its size and the limit, nothing read
    big = json.dumps(document(p.id, pdf(6 * MiB))).encode()
    assert len(big) > get_settings().max_fhir_body_bytes
    r = await client.post("/fhir/DocumentReference", content=big, headers={**auth, **FHIR_JSON})
    assert r.status_code == 413
    assert f"({len(big)} bytes)" in r.text
    assert str(8 * MiB) in r.text

    async def chunks():
        for _ in range(get_settings().max_fhir_body_bytes // 65536 + 2):
            yield b" " * 65536

    r = await client.post(
        "/fhir/DocumentReference", content=chunks(), headers={**auth, **FHIR_JSON}
    )
    assert r.status_code == 413
    assert str(8 * MiB) in r.text


async def test_other_routes_keep_the_smaller_limit(client, make_user, login):
    auth = await login(await make_user("registrar"))
    body = b'{"family_name": "' + b"x" * (2 * MiB) + b'"}'
    for method, path in (
        ("POST", "/api/v1/persons"),
        ("GET", "/fhir/DocumentReference"),  # only a FHIR write has the larger limit
        ("POST", "/fhirx/DocumentReference"),
    ):
        headers = {
            **auth,
            "content-type": "application/json",
            "accept": "application/json",
            "accept-language": "en",
        }
        r = await client.request(method, path, content=body, headers=headers)
        assert r.status_code == 413, (method, path)
        assert f"limit of {MiB} bytes" in r.text
    # in Russian the answer names the same limit
    headers = {**headers, "accept-language": "ru"}
    r = await client.post("/api/v1/persons", content=body, headers=headers)
    assert r.status_code == 413
    assert f"{MiB} байт" in r.text
