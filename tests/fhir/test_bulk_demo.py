"""Issue 19's "Done when": a bulk export of the demo country completes, and every NDJSON
line conforms to the published profiles, as the independent validator reads them
(tests/external/node/profiles.mjs: HL7's fhirpath.js, the server's StructureDefinitions and
ValueSet expansions; nothing of our Python decides).

The demo is loaded as ``make run`` loads it (``salomat demo load``), without the
synthetic birth cohort of the vital statistics (``--no-vital-sample``: some 13,000
children and 240,000 doses of the same generator ``salomat synth`` uses, which
tests/test_demo_vital.py checks), into a database of its own, served over HTTP; the
statistics office exports the whole country, and a family doctor her polyclinic's
population (the types a clinician reads: prescriptions, the shared record). The export
jobs run in this process, as ``salomat worker`` would run them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from salomat.core import jobs
from salomat.core.db import dispose_engines
from salomat.domains.bulkdata import service as bulk
from salomat.domains.registry import service as registry
from tests.conftest import migrated_sqlite, scratch_database, serve_app
from tests.fhir.profile_check import check_ndjson
from tests.fhir.validator import invalid, require_node, schema_errors
from tests.test_cli import _env, _parse_logins, invoke, run

FHIR = "application/fhir+json"


def _export(base: str, token: str, path: str, url: str) -> dict[str, list[str]]:
    """Kick off, run the job here, read the manifest, download every file: the lines by
    type."""
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{base}{path}", headers={**auth, "Prefer": "respond-async", "Accept": FHIR})
    assert r.status_code == 202, r.text
    status = r.headers["content-location"]

    async def work() -> int:
        try:
            return await jobs.run_until_idle(url=url, only=[bulk.EXPORT_KIND])
        finally:
            await dispose_engines()

    assert asyncio.run(work()) == 1
    r = httpx.get(status, headers=auth)
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["error"] == []
    lines: dict[str, list[str]] = {}
    for out in manifest["output"]:
        got = httpx.get(out["url"], headers=auth)
        assert got.status_code == 200, got.text
        body = got.text.splitlines()
        assert len(body) == out["count"]
        lines.setdefault(out["type"], []).extend(body)
    return lines


def _token(base: str, username: str, password: str) -> str:
    r = httpx.post(f"{base}/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def demo_url(tmp_path: Path) -> Any:
    from tests.test_cli import MAIN_URL

    if MAIN_URL.startswith("sqlite"):
        yield migrated_sqlite(tmp_path / "demo.sqlite3")
        return
    with scratch_database("salomat_demo_export") as url:
        yield url


def test_a_bulk_export_of_the_demo_country_conforms_to_the_published_profiles(demo_url, tmp_path):
    require_node()
    loaded = invoke(["demo", "load", "--no-vital-sample"], env=_env(demo_url, tmp_path / "var"))
    assert loaded.exit_code == 0, loaded.output
    logins = _parse_logins(loaded.output)
    with serve_app(SALOMAT_DATABASE_URL=demo_url) as base:
        stat = _token(base, "statistician", logins["statistician"][0])
        country = _export(base, stat, "/fhir/$export", demo_url)
        assert set(country) == {"Patient", "Immunization"}
        # every person of the index, once
        people = run(registry.count_people, demo_url)
        assert len({json.loads(p)["id"] for p in country["Patient"]}) == people > 30
        assert len(country["Immunization"]) > 0
        doctor = _token(base, "doctor", logins["doctor"][0])
        clinic = _export(base, doctor, "/fhir/Patient/$export", demo_url)
        assert {"Patient", "Immunization", "Condition"} <= set(clinic), set(clinic)

        for name, lines in (("country", country), ("polyclinic", clinic)):
            every = [line for per_type in lines.values() for line in per_type]
            # HL7's R4 JSON schema, then the national profiles
            labelled = [(f"{name}-{i}", json.loads(line)) for i, line in enumerate(every, 1)]
            schema = invalid(asyncio.run(schema_errors(labelled)))
            assert schema == [], schema[:5]
            problems = asyncio.run(check_ndjson(every, base=f"{base}/fhir", token=stat))
            assert problems == [], (name, problems[:10])
