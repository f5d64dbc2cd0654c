"""FHIR Bulk Data export (issue 19): the population's Patient and Immunization resources
written as NDJSON by the export job, beside a raw ``COPY`` of the same rows in the same run.

``run(ctx)`` kicks off an export as the statistics office would (``bulk.create_export``,
the kick-off's service) and runs its job in this process (``jobs.run_until_idle``: the
job ``salomat worker`` would run), timing it from the queue to the last file: keyset
pages of people, their rows through the registry and immunization services, the FHIR
mappers (without the R4B model's round trip: ``fhir.common.unchecked_output``), one
audit insert a page, the files. Its baseline is
PostgreSQL's ``COPY (SELECT ...) TO STDOUT`` of the same person and dose rows (text
format), read whole by the client in the same run: the floor of getting those rows out
of the database at all. Figures: the export's time (ratio: export time / COPY time) and
its MB/s beside COPY's.

At full size it is the whole population (1M people with the bench's default); with
``--quick`` the population of the facility with most attached people (a Group export).
It runs on a throwaway copy of the population's database (``api.scratch_copy``): the
export writes an audit row per person exported.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

from bench.api import scratch_copy
from bench.common import BenchContext, Figure, load_average

SUITE = "bulk"


def run(ctx: BenchContext) -> list[Figure]:
    with scratch_copy(ctx) as copy:
        from salomat.core import migrate

        migrate.upgrade(copy.async_url)
        return asyncio.run(_run(copy))


async def _largest_facility(url: str) -> tuple[int, int]:
    from sqlalchemy import text

    from salomat.core.db import session_factory

    async with session_factory(url)() as s:
        row = (
            await s.execute(
                text(
                    "SELECT attached_facility_id, count(*) FROM person "
                    "WHERE attached_facility_id IS NOT NULL "
                    "GROUP BY attached_facility_id ORDER BY count(*) DESC LIMIT 1"
                )
            )
        ).one()
    return int(row[0]), int(row[1])


def _copy(dsn: str, facility: int | None) -> tuple[float, int, int, int]:
    """COPY of the same rows to the client: seconds, bytes, person rows, dose rows."""
    import psycopg

    people = (
        "SELECT p.* FROM person p"
        if facility is None
        else "SELECT p.* FROM person p WHERE p.attached_facility_id = {f} OR EXISTS "
        "(SELECT 1 FROM care_relationship c WHERE c.person_id = p.id AND c.facility_id = {f} "
        "AND c.closed_at IS NULL)"
    ).format(f=int(facility or 0))
    doses = (
        f"SELECT d.* FROM immunization_dose d WHERE d.person_id IN (SELECT id FROM ({people}) q)"  # noqa: S608 (ids only)
    )
    size = 0
    counts = []
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for query in (people, doses):
            n = 0
            with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
                for block in copy:
                    size += len(block)
                    n += bytes(block).count(b"\n")
            counts.append(n)
    return time.perf_counter() - started, size, counts[0], counts[1]


async def _run(ctx: BenchContext) -> list[Figure]:
    from salomat.core import jobs
    from salomat.core.config import get_settings
    from salomat.core.db import dispose_engines, session_factory
    from salomat.core.security import Principal
    from salomat.domains.bulkdata import service as bulk
    from salomat.fhir import bulk_export  # registers the job's handler

    url = ctx.async_url
    facility: int | None = None
    population = ctx.people
    if ctx.quick:
        facility, population = await _largest_facility(url)
    statistician = Principal(
        user_id=0, username="bench-statistician", role="statistician", session_id="bench"
    )
    load = load_average()
    started = time.perf_counter()
    async with session_factory(url)() as s:
        export = await bulk.create_export(
            s,
            statistician,
            bulk.ExportRequest(
                level="system" if facility is None else "group",
                types=("Patient", "Immunization"),
                output_format=bulk_export.OUTPUT_FORMAT,
                request_url="bench",
                group_id=facility,
            ),
        )
        await s.commit()
    await jobs.run_until_idle(only=[bulk.EXPORT_KIND], url=url)
    seconds = time.perf_counter() - started
    async with session_factory(url)() as s:
        done = await bulk.get_export(s, statistician, export.id)
    job, files = done.job, done.files
    assert job is not None
    await dispose_engines()
    shutil.rmtree(bulk.export_dir(export.id), ignore_errors=True)
    if job.status != jobs.DONE:
        raise RuntimeError(f"the export ended {job.status}: {job.error}")
    size = sum(f.size for f in files)
    counts: dict[str, int] = {}
    for f in files:
        counts[f.resource_type] = counts.get(f.resource_type, 0) + f.count
    copy_seconds, copy_size, copy_people, copy_doses = _copy(ctx.dsn, facility)
    mb = 1024 * 1024
    scope = "the whole index" if facility is None else f"facility {facility} (Group)"
    detail: dict[str, Any] = {
        "scope": scope,
        "people": population,
        "resources": counts,
        "files": len(files),
        "ndjson_mb": round(size / mb, 1),
        "page_size": get_settings().bulk_page_size,
        "file_lines": get_settings().bulk_file_lines,
        "copy_rows": {"person": copy_people, "immunization_dose": copy_doses},
        "copy_mb": round(copy_size / mb, 1),
        "copy_seconds": round(copy_seconds, 2),
        "load_average": load,
    }
    return [
        Figure(
            suite=SUITE,
            name=f"bulk export of Patient and Immunization ({scope})",
            people=ctx.people,
            value=round(seconds, 2),
            unit="s",
            baseline="COPY of the same person and dose rows",
            baseline_value=round(copy_seconds, 2),
            ratio=round(seconds / copy_seconds, 1) if copy_seconds else None,
            detail=detail,
        ),
        Figure(
            suite=SUITE,
            name=f"bulk export throughput ({scope})",
            people=ctx.people,
            value=round(size / mb / seconds, 2),
            unit="MB/s",
            baseline="COPY MB/s of the same rows",
            baseline_value=round(copy_size / mb / copy_seconds, 2) if copy_seconds else None,
            ratio=round((size / seconds) / (copy_size / copy_seconds), 3)
            if copy_seconds and copy_size
            else None,
            detail={"resources_per_s": round(sum(counts.values()) / seconds, 1)},
        ),
    ]
