"""``Condition/$notify``'s OperationDefinition: read at OperationDefinition/condition-notify,
named by the CapabilityStatement's Condition operation, its parameters the input (a
Condition or a Bundle) and the output (the stored Condition); checked against HL7's R4 JSON
schema."""

from __future__ import annotations

import pytest

from tests.fhir.validator import invalid, schema_errors

pytestmark = pytest.mark.anyio


async def test_the_capability_statement_names_a_definition_that_reads(
    client, make_user, login
) -> None:  # type: ignore[no-untyped-def]
    r = await client.get("/fhir/metadata")
    assert r.status_code == 200, r.text
    metadata = r.json()
    by = {x["type"]: x for x in metadata["rest"][0]["resource"]}
    ops = {o["name"]: o for o in by["Condition"].get("operation", [])}
    canonical = ops["notify"]["definition"]
    assert "read" in {i["code"] for i in by["OperationDefinition"]["interaction"]}
    tail = canonical.split("/OperationDefinition/")[1]
    auth = await login(await make_user("family_doctor"))
    r = await client.get(f"/fhir/OperationDefinition/{tail}", headers=auth)
    assert r.status_code == 200, r.text
    od = r.json()
    assert od["url"] == canonical
    assert od["id"] == "condition-notify"
    assert od["code"] == "notify"
    assert od["resource"] == ["Condition"]
    assert (od["system"], od["type"], od["instance"]) == (False, True, False)
    params = {(p["name"], p["use"]): p for p in od["parameter"]}
    assert params[("condition", "in")]["type"] == "Condition"
    assert params[("bundle", "in")]["type"] == "Bundle"
    ret = params[("return", "out")]
    assert (ret["type"], ret["min"], ret["max"]) == ("Condition", 1, "1")
    errors = await schema_errors([("operation", od), ("metadata", metadata)])
    assert not invalid(errors), invalid(errors)


async def test_who_reads_the_definition(client, make_user, login) -> None:  # type: ignore[no-untyped-def]
    url = "/fhir/OperationDefinition/condition-notify"
    assert (await client.get(url)).status_code == 401
    employer = await login(await make_user("employer"))
    assert (await client.get(url, headers=employer)).status_code == 403
    staff = await login(await make_user("epidemiologist"))
    assert (await client.get(url, headers=staff)).status_code == 200
    r = await client.get("/fhir/OperationDefinition/condition-notif", headers=staff)
    assert r.status_code == 404
