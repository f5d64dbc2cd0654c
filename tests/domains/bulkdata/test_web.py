"""The administrator's jobs page (no browser): every kind, filters, cancel and retry, who
may see it, no person data."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from salomat.core import jobs
from salomat.core.db import session_factory, utcnow
from salomat.domains.bulkdata import service as bulk
from tests.domains.registry.test_web import web_login

pytestmark = pytest.mark.anyio


async def _job(status: str = jobs.QUEUED, **values) -> int:
    async with session_factory()() as s:
        job_id = await jobs.enqueue(
            s,
            bulk.PURGE_KIND,
            {"export": "0" * 32},
            created_by="ops-tester",
            run_at=utcnow() + timedelta(days=365),
        )
        if status != jobs.QUEUED or values:
            await s.execute(
                update(jobs.Job).where(jobs.Job.id == job_id).values(status=status, **values)
            )
        await s.commit()
    return job_id


def row(html: str, job_id: int) -> str:
    m = re.search(rf'<tr id="job-{job_id}".*?</tr>', html, re.S)
    assert m, f"job {job_id} is not on the page"
    return m.group(0)


async def test_the_admin_sees_every_job_filters_cancels_and_runs_a_failed_one_again(
    client, make_user
):
    admin = await make_user("admin")
    csrf = await web_login(client, admin)
    failed = await _job(jobs.FAILED, error="The disk is full.", progress_done=3, progress_total=4)
    queued = await _job()
    r = await client.get("/admin/jobs")
    assert r.status_code == 200, r.text
    assert 'href="/admin/jobs"' in r.text  # in the admin's menu
    text = row(r.text, failed)
    assert "Removal of expired exports" in text
    assert "The disk is full." in text
    assert "ops-tester" in text
    assert 'value="75"' in text  # the progress bar
    assert "0" * 32 not in r.text  # the payload is not shown
    # filter by status
    r = await client.get("/admin/jobs", params={"status": "failed", "kind": bulk.PURGE_KIND})
    assert f'id="job-{failed}"' in r.text
    assert f'id="job-{queued}"' not in r.text
    # cancel the queued one (htmx swaps the row)
    r = await client.post(
        f"/admin/jobs/{queued}/cancel", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 200, r.text
    assert 'data-status="cancelled"' in r.text
    # run the failed one again; a cancelled one cannot be
    r = await client.post(
        f"/admin/jobs/{failed}/retry", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert 'data-status="queued"' in r.text, r.text
    r = await client.post(
        f"/admin/jobs/{queued}/retry", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 409
    # no token from the form: refused
    r = await client.post(f"/admin/jobs/{failed}/cancel")
    assert r.status_code == 403


async def test_only_the_administrator_sees_the_jobs(client, make_user):
    await web_login(client, await make_user("statistician"))
    r = await client.get("/admin/jobs")
    assert r.status_code == 403
    assert 'href="/admin/jobs"' not in (await client.get("/")).text
