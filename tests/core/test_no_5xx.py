"""Hostile input answers 4xx with a clear message; an unexpected error is a well-formed 500.

NUL characters (which PostgreSQL text cannot store), integers past the id
columns (which the driver refuses), offsets past 64 bits and JSON nested
thousands deep used to reach the database or the parser and come back as 500.
Each is refused before that, naming what was wrong. What still goes wrong
inside answers a 500 problem+json with the security headers and the request id,
and leaves the keep-alive connection open.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import func, select

from salomat.core.db import session_factory
from salomat.core.params import MAX_INT, MAX_JSON_DEPTH, MAX_SMALL_ID, BodyError, check_json
from salomat.core.policy import PUBLIC
from salomat.core.uow import router
from salomat.domains.registry.models import Person
from tests.conftest import _free_port

pytestmark = pytest.mark.anyio

SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "content-security-policy")


def nested(depth: int) -> Any:
    """``depth`` arrays, one inside the other."""
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def deep_body(depth: int) -> str:
    """A JSON text nested ``depth`` deep, built as text (json.dumps would recurse)."""
    return "[" * depth + "0" + "]" * depth


def assert_problem(r: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
        assert field in body["detail"]
    return body


def assert_outcome(r: Any, status: int) -> list[dict[str, Any]]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/fhir+json"
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]  # type: ignore[no-any-return]


async def people_count() -> int:
    async with session_factory()() as s:
        return int((await s.execute(select(func.count()).select_from(Person))).scalar_one())


# ---- NUL characters --------------------------------------------------------------------


async def test_a_nul_in_a_query_parameter_is_refused_naming_it(client, make_user, login):
    doctor = await login(await make_user("family_doctor"))
    r = await client.get("/api/v1/persons?name=Kari%00mova", headers=doctor)
    body = assert_problem(r, 422, "name")
    assert "NUL" in body["errors"][0]["message"]
    assert "x-request-id" in r.headers
    # on the FHIR API, an OperationOutcome naming it
    issues = assert_outcome(await client.get("/fhir/Patient?family=A%00", headers=doctor), 422)
    assert issues[0]["expression"] == ["family"]


async def test_a_nul_in_the_path_is_refused(client, make_user, login):
    doctor = await login(await make_user("family_doctor"))
    r = await client.get("/api/v1/territory/UZ%00", headers=doctor)
    body = assert_problem(r, 400)
    assert "NUL" in body["detail"]
    # a page answers a readable page, not a 500
    r = await client.get("/patients%00")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")


async def test_a_percent_encoded_percent_is_not_a_nul(client, make_user, login):
    doctor = await login(await make_user("family_doctor"))
    r = await client.get("/api/v1/persons?name=Kari%2500", headers=doctor)  # the text "Kari%00"
    assert r.status_code == 200, r.text


async def test_a_nul_in_a_json_body_is_refused_naming_the_field_and_nothing_is_written(
    client, make_user, login
):
    registrar = await login(await make_user("registrar"))
    before = await people_count()
    person = {
        "family_name": "Kari\u0000mova",
        "given_name": "Dilnoza",
        "birth_date": "1994-05-17",
        "sex": "female",
    }
    r = await client.post("/api/v1/persons", json=person, headers=registrar)
    body = assert_problem(r, 422, "family_name")
    assert "NUL" in body["errors"][0]["message"]
    # nested too: the field is named by its path
    r = await client.post(
        "/api/v1/persons",
        json={**person, "family_name": "Karimova", "names": [{"lang": "ru", "text": "\u0000"}]},
        headers=registrar,
    )
    assert_problem(r, 422, "names.0.text")
    assert await people_count() == before


async def test_a_nul_in_a_form_is_refused_naming_the_field(client):
    r = await client.post("/auth/token", data={"username": "ad\u0000min", "password": "x"})
    assert_problem(r, 422, "username")


async def test_a_nul_in_a_fhir_body_is_an_operation_outcome(client, make_user, login):
    registrar = await login(await make_user("registrar"))
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Kari\u0000mova", "given": ["Dilnoza"]}],
        "gender": "female",
        "birthDate": "1994-05-17",
    }
    r = await client.post(
        "/fhir/Patient",
        content=json.dumps(patient),
        headers={**registrar, "Content-Type": "application/fhir+json"},
    )
    issues = assert_outcome(r, 400)
    assert issues[0]["expression"] == ["Patient.name[0].family"]
    assert "NUL" in issues[0]["diagnostics"]


# ---- integers past the columns ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/api/v1/persons/{2**64}", "person_id"),
        (f"/api/v1/persons/{2**63}/history", "person_id"),
        (f"/api/v1/pregnancies/{2**64}", "pregnancy_id"),
        (f"/api/v1/prescriptions/{2**64}", "prescription_id"),
        # 32-bit tables: PostgreSQL refused the id outright
        (f"/api/v1/facilities/{MAX_SMALL_ID + 1}", "facility_id"),
        (f"/api/v1/practitioners/{2**32}", "practitioner_id"),
        # a route typed nowhere (the immunization domain): bounded by the route class
        (f"/api/v1/immunizations/{2**64}", "dose_id"),
    ],
)
async def test_an_id_past_its_column_is_422_naming_the_parameter(
    client, make_user, login, url, field
):
    admin_or_doctor = "admin" if "facilities" in url or "practitioners" in url else "family_doctor"
    auth = await login(await make_user(admin_or_doctor))
    assert_problem(await client.get(url, headers=auth), 422, field)


async def test_the_largest_ids_are_not_found_and_one_more_is_invalid(client, make_user, login):
    doctor = await login(await make_user("family_doctor"))
    admin = await login(await make_user("admin"))
    assert (await client.get(f"/api/v1/persons/{MAX_INT}", headers=doctor)).status_code == 404
    assert_problem(await client.get(f"/api/v1/persons/{MAX_INT + 1}", headers=doctor), 422)
    assert (
        await client.get(f"/api/v1/facilities/{MAX_SMALL_ID}", headers=admin)
    ).status_code == 404
    assert_problem(await client.get(f"/api/v1/facilities/{MAX_SMALL_ID + 1}", headers=admin), 422)
    assert_problem(await client.get("/api/v1/persons/0", headers=doctor), 422, "person_id")


async def test_an_id_past_64_bits_on_fhir_and_on_a_page(client, make_user, login):
    doctor = await login(await make_user("family_doctor"))
    issues = assert_outcome(await client.get(f"/fhir/Patient/{2**64}", headers=doctor), 422)
    assert issues[0]["expression"] == ["person_id"]
    issues = assert_outcome(await client.get(f"/fhir/Organization/{2**31}", headers=doctor), 422)
    assert issues[0]["expression"] == ["rid"]
    # a reference in a search parameter
    r = await client.get(f"/fhir/EpisodeOfCare?patient=Patient/{2**64}", headers=doctor)
    assert_outcome(r, 422)
    r = await client.get("/fhir/EpisodeOfCare?patient=Patient/\u00b2", headers=doctor)  # "²"
    assert_outcome(r, 422)


async def test_an_integer_past_64_bits_in_a_json_body_is_refused_naming_it(
    client, make_user, login
):
    registrar = await login(await make_user("registrar"))
    r = await client.post(
        f"/api/v1/persons/{MAX_INT}/merge",
        json={"merged_id": 2**70, "reason": "the same woman registered twice"},
        headers=registrar,
    )
    assert_problem(r, 422, "merged_id")


async def test_a_reference_past_a_32_bit_table_is_refused(client, make_user, login, make_facility):
    admin = await login(await make_user("admin"))
    facility = await make_facility()
    r = await client.post(
        f"/api/v1/facilities/{facility.id}/sections",
        json={"code": "S1", "name": "Section 1", "practitioner_id": MAX_SMALL_ID + 1},
        headers=admin,
    )
    assert_problem(r, 422, "practitioner_id")


@pytest.mark.parametrize("if_match", ['W/"\u00b2"'.encode(), f'W/"{MAX_SMALL_ID + 1}"'.encode()])
async def test_an_if_match_that_cannot_be_a_version_is_422(
    client, make_user, login, make_person, if_match
):
    account = await make_user("family_doctor")
    doctor = await login(account)
    person = await make_person(account.facility_code)
    r = await client.post(
        f"/api/v1/persons/{person.id}/pregnancies",
        json={"lmp": (date.today() - timedelta(weeks=8)).isoformat(), "gravida": 1, "parity": 0},
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/pregnancies/{r.json()['id']}/contacts",
        json={"on": date.today().isoformat()},
        headers={**doctor, "If-Match": if_match},
    )
    assert_problem(r, 422, "If-Match")


# ---- offsets ---------------------------------------------------------------------------


async def test_an_offset_past_64_bits_is_422_naming_it(client, make_user, login):
    admin = await login(await make_user("admin"))
    assert_problem(
        await client.get(f"/api/v1/facilities?offset={2**70}", headers=admin), 422, "offset"
    )
    assert_problem(
        await client.get(f"/api/v1/facilities?offset={2**63}", headers=admin), 422, "offset"
    )
    r = await client.get(f"/api/v1/facilities?offset={MAX_INT}", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["items"] == []
    issues = assert_outcome(
        await client.get(f"/fhir/Organization?_offset={2**70}", headers=admin), 422
    )
    assert issues[0]["expression"] == ["offset"]


# ---- nesting ---------------------------------------------------------------------------


async def test_a_fhir_body_nested_10000_deep_is_an_operation_outcome(client, make_user, login):
    registrar = await login(await make_user("registrar"))
    body = '{"resourceType": "Patient", "extension": ' + deep_body(10_000) + "}"
    r = await client.post(
        "/fhir/Patient",
        content=body,
        headers={**registrar, "Content-Type": "application/fhir+json"},
    )
    issues = assert_outcome(r, 400)
    assert "nested more than" in issues[0]["diagnostics"]
    # just past the limit, parsed fine by Python but refused the same way
    body = '{"resourceType": "Patient", "extension": ' + deep_body(MAX_JSON_DEPTH) + "}"
    r = await client.post(
        "/fhir/Patient",
        content=body,
        headers={**registrar, "Content-Type": "application/fhir+json"},
    )
    assert "nested more than" in assert_outcome(r, 400)[0]["diagnostics"]


async def test_a_rest_body_nested_10000_deep_is_422(client, make_user, login):
    registrar = await login(await make_user("registrar"))
    r = await client.post(
        "/api/v1/persons",
        content='{"names": ' + deep_body(10_000) + "}",
        headers={**registrar, "Content-Type": "application/json"},
    )
    body = assert_problem(r, 422, "body")
    assert "nested more than" in body["detail"] + body["errors"][0]["message"]


def test_nesting_up_to_the_limit_passes_and_one_more_level_is_refused() -> None:
    check_json(nested(MAX_JSON_DEPTH))
    check_json({"a": nested(MAX_JSON_DEPTH - 1)})
    with pytest.raises(BodyError, match="nested more than"):
        check_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(BodyError, match="nested more than"):
        check_json({"a": nested(MAX_JSON_DEPTH)})


def test_integers_at_the_64_bit_bounds_pass_and_past_them_are_refused() -> None:
    check_json({"a": [MAX_INT, -MAX_INT - 1, True]})
    with pytest.raises(BodyError) as e:
        check_json({"a": [1, MAX_INT + 1]})
    assert e.value.loc == ("a", 1)
    with pytest.raises(BodyError):
        check_json(-MAX_INT - 2)


# ---- every route -----------------------------------------------------------------------


def _int_params(route: APIRoute) -> Iterator[Any]:
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        for f in dep.path_params + dep.query_params + dep.header_params + dep.cookie_params:
            if f.field_info.annotation in (int, int | None):
                yield f
        stack.extend(dep.dependencies)


def test_every_integer_in_every_url_of_the_app_is_bounded_to_64_bits(app) -> None:
    """A route added without bounds, however it declares its parameter, fails here."""
    unbounded = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue
        for f in _int_params(route):
            meta = f.field_info.metadata
            upper = [getattr(m, "le", None) for m in meta if getattr(m, "le", None) is not None]
            lower = [getattr(m, "ge", None) for m in meta if getattr(m, "ge", None) is not None]
            if not upper or min(upper) > MAX_INT or not lower or max(lower) < -MAX_INT - 1:
                unbounded.append(f"{ctx.path} {f.name}")
    assert unbounded == []


# ---- the last-resort 500 ---------------------------------------------------------------


class Boom(RuntimeError):
    pass


def _app_that_fails() -> FastAPI:
    from salomat.main import create_app

    app = create_app()
    extra = router()

    @extra.get("/api/v1/test-boom", dependencies=[Depends(PUBLIC)])
    async def api_boom() -> None:
        raise Boom("secret detail /srv/salomat/service.py line 42")

    @extra.get("/fhir/test-boom", dependencies=[Depends(PUBLIC)])
    async def fhir_boom() -> None:
        raise Boom("secret detail")

    @extra.get("/test-boom", dependencies=[Depends(PUBLIC)])
    async def page_boom() -> None:
        raise Boom("secret detail")

    app.include_router(extra)
    return app


@pytest.fixture(scope="module")
def failing_server(migrated_database: str) -> Iterator[tuple[str, int]]:
    """The app with routes that raise, served by uvicorn on a thread (real HTTP/1.1)."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(
        _app_that_fails(), host="127.0.0.1", port=port, log_level="critical", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        time.sleep(0.05)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_unhandled_error_is_a_500_problem_with_headers_and_the_connection_stays_open(
    failing_server,
) -> None:
    host, port = failing_server
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/api/v1/test-boom", headers={"X-Request-ID": "boom-1"})
        r = conn.getresponse()
        raw = r.read()
        assert r.status == 500
        assert r.getheader("content-type") == "application/problem+json"
        assert r.getheader("x-request-id") == "boom-1"
        for name in SECURITY_HEADERS:
            assert r.getheader(name), name
        body = json.loads(raw)
        assert body["status"] == 500
        assert body["request_id"] == "boom-1"
        assert "secret" not in raw.decode()
        assert "Traceback" not in raw.decode()
        assert r.getheader("connection") != "close"
        sock = conn.sock
        assert sock is not None

        conn.request("GET", "/healthz")  # the same connection serves the next request
        r = conn.getresponse()
        assert r.status == 200
        assert json.loads(r.read())["status"] == "ok"
        assert conn.sock is sock
    finally:
        conn.close()


def test_an_unhandled_error_on_fhir_and_on_a_page(failing_server) -> None:
    host, port = failing_server
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/fhir/test-boom")
        r = conn.getresponse()
        body = json.loads(r.read())
        assert r.status == 500
        assert r.getheader("content-type") == "application/fhir+json"
        assert body["issue"][0]["code"] == "exception"
        assert "secret" not in json.dumps(body)
        assert r.getheader("x-request-id")

        conn.request("GET", "/test-boom")
        r = conn.getresponse()
        page = r.read().decode()
        assert r.status == 500
        assert r.getheader("content-type").startswith("text/html")
        assert "secret" not in page
        for name in SECURITY_HEADERS:
            assert r.getheader(name), name
    finally:
        conn.close()
