"""A bulk-data client that is not ours (@medplum/core's MedplumClient.bulkExport, run by
tests/external/node/bulk.mjs) exports from the live server as the statistics office: the
whole index since an instant, and a facility's Group; it downloads every file the manifest
lists, and every NDJSON line passes HL7's R4 JSON schema (tests/fhir/validator.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import pytest

from salomat.core import jobs
from salomat.domains.bulkdata import service as bulk
from tests.fhir.test_node_client import token
from tests.fhir.validator import invalid, require_node, run_node, schema_errors

pytestmark = pytest.mark.anyio

BORN = date.today() - timedelta(days=150)


@pytest.fixture
async def pulled(live_server, make_facility, make_person, make_user, client, login) -> dict:
    require_node()
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    polyclinic = await make_facility()
    people = [await make_person(polyclinic.code, birth_date=BORN) for _ in range(3)]
    nurse = await login(await make_user("nurse", facility_code=polyclinic.code))
    r = await client.post(
        "/fhir/Immunization",
        json={
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {"coding": [{"system": "urn:salomat:vaccine", "code": "penta"}]},
            "patient": {"reference": f"Patient/{people[0].id}"},
            "occurrenceDateTime": (BORN + timedelta(days=61)).isoformat(),
            "protocolApplied": [{"series": "penta", "doseNumberPositiveInt": 1}],
        },
        headers={**nurse, "Content-Type": "application/fhir+json"},
    )
    assert r.status_code == 201, r.text
    statistician = await make_user("statistician")
    # the exports run in a worker of this process (the test server runs none of its own)
    stop = anyio.Event()
    out: dict[str, Any] = {}
    async with anyio.create_task_group() as tg:

        async def worker() -> None:
            import asyncio

            halt = asyncio.Event()

            async def watch() -> None:
                await stop.wait()
                halt.set()

            tg.start_soon(watch)
            await jobs.work(halt, only=[bulk.EXPORT_KIND], poll=0.1)

        tg.start_soon(worker)
        out = json.loads(
            await run_node(
                "bulk.mjs",
                "--base",
                live_server,
                "--token",
                await token(live_server, statistician),
                "--group",
                str(polyclinic.id),
                "--since",
                since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )
        stop.set()
    return {"out": out, "people": people, "polyclinic": polyclinic}


async def test_an_external_bulk_client_exports_and_every_line_is_valid_fhir(pulled):
    out, people = pulled["out"], pulled["people"]
    ours = {str(p.id) for p in people}
    for name in ("system", "group"):
        manifest = out[name]["manifest"]
        assert manifest["requiresAccessToken"] is True
        assert manifest["error"] == []
        for f in out[name]["files"]:
            assert f["status"] == 200
            assert f["contentType"].startswith("application/fhir+ndjson")
            assert len(f["resources"]) == f["count"]
    system = {f["type"]: f for f in out["system"]["files"]}
    exported = {
        r["id"] for f in out["system"]["files"] if f["type"] == "Patient" for r in f["resources"]
    }
    assert ours <= exported
    assert any(
        r["patient"]["reference"] == f"Patient/{people[0].id}"
        for f in out["system"]["files"]
        if f["type"] == "Immunization"
        for r in f["resources"]
    )
    assert set(system) == {"Patient", "Immunization"}
    group = {
        r["id"] for f in out["group"]["files"] if f["type"] == "Patient" for r in f["resources"]
    }
    assert group == ours
    # a type the server does not export: the client is told (400)
    assert out["refused"]["status"] == "refused"
    assert "Claim" in out["refused"]["message"]
    # every NDJSON line through HL7's R4 JSON schema
    lines = [
        (f"{name} {f['url'].rsplit('/', 1)[1]} line {i + 1}", res)
        for name in ("system", "group")
        for f in out[name]["files"]
        for i, res in enumerate(f["resources"])
    ]
    assert len(lines) >= 3 + 1 + 3
    errors = await schema_errors(lines)
    assert not invalid(errors), "\n".join(invalid(errors))
