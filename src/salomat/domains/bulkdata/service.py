"""Bulk data export requests (FHIR Bulk Data Access 2.0, docs/exchange.md): kick-off,
status, files, cancel, expiry.

An export is a row of ``bulk_export`` and a job of core/jobs.py (kind ``bulk.export``);
the job's handler, which maps to FHIR, lives in fhir/bulk_export.py (fhir may import the
domains, not the other way). Only the user who asked may see an export and its files:
anyone else gets 404, as for a missing one. An export and its files expire
(``bulk_export_hours``): a ``bulk.purge`` job queued for the moment of expiry removes the
row, the files and every other expired export.
"""

from __future__ import annotations

import secrets
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit, jobs
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.errors import N_, NotFound, TooManyRequests
from salomat.core.security import Principal
from salomat.domains.bulkdata.models import BulkExport, BulkExportFile
from salomat.domains.bulkdata.schemas import ExportFile, ExportOut, ExportRequest

__all__ = [
    "EXPORT_KIND",
    "JOB_KINDS",
    "JOB_STATUSES",
    "PURGE_KIND",
    "ExportFile",
    "ExportOut",
    "ExportRequest",
    "cancel_export",
    "cancel_job",
    "create_export",
    "export_dir",
    "export_for_job",
    "file_for_download",
    "get_export",
    "list_jobs",
    "purge_expired",
    "record_files",
    "retry_job",
]

EXPORT_KIND = "bulk.export"
PURGE_KIND = "bulk.purge"
#: an export id: 32 hex digits (the URLs are checked against this before any lookup)
ID_LENGTH = 32


def export_dir(export_id: str) -> Path:
    """Where an export's NDJSON files are written (``var/bulk/<export id>``)."""
    return get_settings().var_dir / "bulk" / export_id


def _valid_id(export_id: str) -> bool:
    return len(export_id) == ID_LENGTH and all(c in "0123456789abcdef" for c in export_id)


def _out(row: BulkExport, files: list[ExportFile] | None = None, job: Any = None) -> ExportOut:
    return ExportOut(
        id=row.id,
        job_id=row.job_id,
        user_id=row.user_id,
        username=row.username,
        role=row.role,
        facility_id=row.facility_id,
        facility_code=row.facility_code,
        level=row.level,
        group_id=row.group_id,
        types=tuple(t for t in row.types.split(",") if t),
        since=row.since,
        patients=tuple(int(p) for p in row.patients.split(",")) if row.patients else None,
        output_format=row.output_format,
        request_url=row.request_url,
        transaction_time=row.transaction_time,
        created_at=row.created_at,
        expires_at=row.expires_at,
        files=files or [],
        job=job,
    )


async def create_export(
    session: AsyncSession, principal: Principal, request: ExportRequest
) -> ExportOut:
    """Store the request and queue its job (both exist once the unit of work commits).

    The caller (fhir/bulk_api.py) has checked the parameters and the caller's right to the
    population; the job writes the files and audits every person it exports.
    """
    settings = get_settings()
    # each caller runs a few at a time: an export reads a whole population, and a client
    # that kicks off one after another would take every worker (Bulk Data 2.0: 429)
    unfinished = await session.scalar(
        select(func.count())
        .select_from(BulkExport)
        .join(jobs.Job, jobs.Job.id == BulkExport.job_id)
        .where(
            BulkExport.user_id == principal.user_id,
            jobs.Job.status.in_((jobs.QUEUED, jobs.RUNNING)),
        )
    )
    if (unfinished or 0) >= settings.bulk_exports_per_caller:
        raise TooManyRequests(
            N_(
                "You have %(count)s exports still running; wait for one to finish "
                "(or cancel one) before starting another."
            ),
            params={"count": unfinished},
            headers={"Retry-After": "60"},
        )
    now = utcnow()
    export_id = secrets.token_hex(ID_LENGTH // 2)
    expires = now + timedelta(hours=settings.bulk_export_hours)
    job_id = await jobs.enqueue(
        session, EXPORT_KIND, {"export": export_id}, created_by=principal.username
    )
    row = BulkExport(
        id=export_id,
        job_id=job_id,
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,
        facility_id=principal.facility_id,
        facility_code=principal.facility_code,
        level=request.level,
        group_id=request.group_id,
        types=",".join(request.types),
        since=request.since,
        patients=",".join(str(p) for p in request.patients)
        if request.patients is not None
        else None,
        output_format=request.output_format,
        request_url=request.request_url[:2000],
        transaction_time=now,
        created_at=now,
        expires_at=expires,
    )
    session.add(row)
    await session.flush()
    # the files go when the export expires (a purge also takes every other expired one)
    await jobs.enqueue(
        session,
        PURGE_KIND,
        {"export": export_id},
        created_by=principal.username,
        run_at=expires + timedelta(seconds=1),
    )
    return _out(row)


async def _files(session: AsyncSession, export_id: str) -> list[ExportFile]:
    rows = await session.scalars(
        select(BulkExportFile)
        .where(BulkExportFile.export_id == export_id)
        .order_by(BulkExportFile.id)
    )
    return [ExportFile(f.resource_type, f.name, f.count, f.size) for f in rows]


async def _row(session: AsyncSession, principal: Principal, export_id: str) -> BulkExport:
    """The caller's own live export; another user's, an expired or a missing one: 404."""
    row = await session.get(BulkExport, export_id) if _valid_id(export_id) else None
    if row is None or row.user_id != principal.user_id or row.expires_at <= utcnow():
        raise NotFound(N_("Bulk export %(id)s not found."), params={"id": export_id[:64]})
    return row


async def get_export(session: AsyncSession, principal: Principal, export_id: str) -> ExportOut:
    """The caller's export with its job's status and, once done, its files."""
    row = await _row(session, principal, export_id)
    job = await jobs.get(session, row.job_id)
    files = await _files(session, export_id) if job.status == jobs.DONE else []
    return _out(row, files, job)


async def export_for_job(session: AsyncSession, export_id: str) -> ExportOut | None:
    """The export a job runs (None: it was cancelled and removed, or it expired)."""
    row = await session.get(BulkExport, export_id)
    return _out(row) if row is not None else None


async def record_files(session: AsyncSession, export_id: str, files: list[ExportFile]) -> None:
    """The finished export's files (replacing any of an earlier, interrupted finish)."""
    await session.execute(delete(BulkExportFile).where(BulkExportFile.export_id == export_id))
    if files:
        await session.execute(
            insert(BulkExportFile),
            [
                {
                    "export_id": export_id,
                    "resource_type": f.resource_type,
                    "name": f.name,
                    "count": f.count,
                    "size": f.size,
                }
                for f in files
            ],
        )


async def file_for_download(
    session: AsyncSession, principal: Principal, export_id: str, name: str
) -> tuple[Path, ExportFile]:
    """A file of the caller's finished export, audited as a read of the export's data."""
    await _row(session, principal, export_id)
    found = next((f for f in await _files(session, export_id) if f.name == name), None)
    path = export_dir(export_id) / name
    if found is None or not path.is_file():
        raise NotFound(N_("Bulk export file %(name)s not found."), params={"name": name[:100]})
    await audit.record(
        session,
        principal,
        action="read",
        resource_type=found.resource_type,
        resource_id=f"{export_id}/{name}",
        purpose="bulk export download",
        detail=f"{found.count} resources",
    )
    return path, found


def _remove_files(export_id: str) -> None:
    shutil.rmtree(export_dir(export_id), ignore_errors=True)


async def cancel_export(session: AsyncSession, principal: Principal, export_id: str) -> None:
    """Stop the export's job (a running one stops at its next page), forget the request
    and remove its files (the spec's DELETE on the status URL)."""
    row = await _row(session, principal, export_id)
    job = await jobs.get(session, row.job_id)
    if job.status in (jobs.QUEUED, jobs.RUNNING):
        await jobs.cancel(session, row.job_id)
    await session.execute(delete(BulkExportFile).where(BulkExportFile.export_id == export_id))
    await session.execute(delete(BulkExport).where(BulkExport.id == export_id))
    await session.flush()
    _remove_files(export_id)


async def purge_expired(session: AsyncSession) -> int:
    """Remove every expired export (rows and files); how many were removed."""
    now = utcnow()
    rows = (
        await session.execute(
            select(BulkExport.id, BulkExport.job_id).where(BulkExport.expires_at <= now)
        )
    ).all()
    for export_id, job_id in rows:
        job = await jobs.get_many(session, [job_id])
        if job.get(job_id) and job[job_id].status in (jobs.QUEUED, jobs.RUNNING):
            await jobs.cancel(session, job_id)
        await session.execute(delete(BulkExportFile).where(BulkExportFile.export_id == export_id))
        await session.execute(delete(BulkExport).where(BulkExport.id == export_id))
    await session.flush()
    for export_id, _ in rows:
        _remove_files(export_id)
    return len(rows)


@jobs.handler(PURGE_KIND, max_attempts=3, backoff=(60, 600))
async def _purge(ctx: jobs.JobContext) -> dict[str, Any]:
    async with ctx.session() as s:
        removed = await purge_expired(s)
        await s.commit()
    return {"removed": removed}


# ---- the operations page: every background job (all kinds) --------------------------

#: what the jobs page calls each kind it knows (any other kind is shown by its code)
JOB_KINDS: dict[str, str] = {
    EXPORT_KIND: N_("Bulk data export"),
    PURGE_KIND: N_("Removal of expired exports"),
}
JOB_STATUSES: dict[str, str] = {
    jobs.QUEUED: N_("queued"),
    jobs.RUNNING: N_("running"),
    jobs.DONE: N_("done"),
    jobs.FAILED: N_("failed"),
    jobs.CANCELLED: N_("cancelled"),
}
JOBS_PAGE = 50


async def list_jobs(
    session: AsyncSession, *, kind: str | None, status: str | None, offset: int = 0
) -> tuple[list[jobs.JobView], int, dict[str, int], list[str]]:
    """A page of jobs, newest first, the count of each status and the kinds there are.

    No person data: a job shows its kind, status, progress, who asked, when and its error
    (the payload, which may name a person, is not shown)."""
    page, total = await jobs.recent(
        session, kind=kind or None, status=status or None, limit=JOBS_PAGE, offset=offset
    )
    kinds = sorted(jobs.kinds() | set(JOB_KINDS))
    return page, total, await jobs.counts(session), kinds


async def cancel_job(session: AsyncSession, job_id: int) -> jobs.JobView:
    return await jobs.cancel(session, job_id)


async def retry_job(session: AsyncSession, job_id: int) -> jobs.JobView:
    return await jobs.retry(session, job_id)
