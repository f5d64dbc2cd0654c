"""A caller runs a few bulk exports at a time (``bulk_exports_per_caller``, 3): one more
is refused 429 with Retry-After, as Bulk Data 2.0 lets a server say; a finished or
cancelled export frees its place, and one caller's exports never hold back another's."""

from __future__ import annotations

import pytest

from salomat.core import jobs
from salomat.domains.bulkdata import service as bulk
from tests.own_database import own_database_fixtures

pytestmark = pytest.mark.anyio

# it reads the whole database (the country's figures, an export of everything): a
# database of its own keeps its cost what this module wrote, not the whole run
own_database, app = own_database_fixtures("salomat_bulk_cap")

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


async def kick(client, headers) -> tuple[int, object]:
    r = await client.get("/fhir/Patient/$export", headers={**headers, **ASYNC})
    return r.status_code, r


async def test_the_fourth_running_export_is_429_until_one_ends(client, make_user, login):
    alice = await login(await make_user("statistician"))
    bob = await login(await make_user("statistician"))
    started = []
    for _ in range(3):
        status, r = await kick(client, alice)
        assert status == 202, r.text
        started.append(r.headers["content-location"].removeprefix("http://testserver"))
    status, r = await kick(client, alice)
    assert status == 429, r.text
    assert r.headers["retry-after"] == "60"
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "3" in body["issue"][0]["diagnostics"]
    # another caller is not held back by hers
    status, r = await kick(client, bob)
    assert status == 202, r.text
    # cancelling one frees its place
    assert (await client.delete(started[0], headers=alice)).status_code == 202
    status, r = await kick(client, alice)
    assert status == 202, r.text
    status, r = await kick(client, alice)
    assert status == 429, r.text
    # and so does finishing
    await jobs.run_until_idle(only=[bulk.EXPORT_KIND])
    status, r = await kick(client, alice)
    assert status == 202, r.text
