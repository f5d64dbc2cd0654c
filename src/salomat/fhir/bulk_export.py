"""The bulk export job (kind ``bulk.export``): pages through a population, maps each page
to FHIR with the resources' own mappers, and writes NDJSON files (docs/exchange.md).

For each resource type in turn, the job reads the population's person ids by keyset
(``id > last``, ``bulk_page_size`` at a time), then the page's rows in one statement per
type through the domain's service (no read per person), maps them, audits every person
written (one insert a page: ``core.audit.record_listing``) and appends the lines to the
type's current file, starting a new file every ``bulk_file_lines`` lines. After each page
it saves a checkpoint (type, last id, file, byte offset, counts): a worker killed
mid-export leaves the job to another, which truncates the current file to the saved offset
and carries on from the next page, so each resource is in the files exactly once.

Which types: those the caller's role may read (each by its own permission, as a reader
would need it); the statistician, who reads no one page by page, exports the types of the
national statistics agreement (``STATISTICS``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from salomat.core import audit, jobs, scopes
from salomat.core.config import get_settings
from salomat.core.policy import Role, permitted
from salomat.core.security import Principal
from salomat.domains.bulkdata import service as bulk
from salomat.domains.immunization import service as immunization
from salomat.domains.prescription import service as prescription
from salomat.domains.record import service as record
from salomat.domains.registry import service as registry
from salomat.fhir import immunization as immunization_mapper
from salomat.fhir import patient as patient_mapper
from salomat.fhir import prescription as prescription_mapper
from salomat.fhir import record as record_mapper
from salomat.fhir.common import unchecked_output

Fetch = Callable[[Any, list[int], datetime | None], Awaitable[list[tuple[int, Any]]]]


@dataclass(frozen=True)
class ExportType:
    name: str
    #: what a reader of this type needs (policy.PERMISSIONS)
    permission: str
    #: (session, person ids, _since) -> (person id, resource) in the people's order
    fetch: Fetch
    #: ``_since`` filters the people themselves (the Patient), not only their resources
    since_on_people: bool = False


async def _patients(session: Any, ids: list[int], since: datetime | None) -> list[tuple[int, Any]]:
    return [(p.id, patient_mapper.to_fhir(p)) for p in await registry.export_people(session, ids)]


async def _immunizations(
    session: Any, ids: list[int], since: datetime | None
) -> list[tuple[int, Any]]:
    cal = immunization.calendar_options()
    found = await immunization.doses_for_people(session, ids, since=since)
    return [
        (pid, immunization_mapper.immunization(d, cal)) for pid in ids for d in found.get(pid, ())
    ]


async def _prescriptions(
    session: Any, ids: list[int], since: datetime | None
) -> list[tuple[int, Any]]:
    found = await prescription.prescriptions_for_people(session, ids, since=since)
    return [
        (pid, prescription_mapper.medication_request(p)) for pid in ids for p in found.get(pid, ())
    ]


def _shared_record(resource_type: str) -> Fetch:
    async def fetch(session: Any, ids: list[int], since: datetime | None) -> list[tuple[int, Any]]:
        found = await record.resources_for_people(session, ids, resource_type, since=since)
        return [(pid, record_mapper.to_fhir(r)) for pid in ids for r in found.get(pid, ())]

    return fetch


#: every type the export writes, in the order it writes them: the registry's Patient, the
#: immunization register's doses, the e-prescriptions, and what other systems sent to the
#: shared record
TYPES: dict[str, ExportType] = {
    t.name: t
    for t in (
        ExportType("Patient", "person:read", _patients, since_on_people=True),
        ExportType("Immunization", "immunization:read", _immunizations),
        ExportType("MedicationRequest", "prescription:read", _prescriptions),
        *(ExportType(name, "record:read", _shared_record(name)) for name in record.RESOURCE_TYPES),
    )
}
#: the national statistics office's agreement: the types it exports (it holds no reader's
#: permission; ``bulk:export`` at national scope is the agreement)
STATISTICS = ("Patient", "Immunization")
OUTPUT_FORMAT = "application/fhir+ndjson"


def readable_types(principal: Principal) -> list[str]:
    """The types this caller's export may hold, in export order. A client system's also
    each read by one of its granted scopes (``bulk:export`` alone reads no type)."""
    if principal.role == Role.statistician:
        found = [t for t in TYPES if t in STATISTICS]
    else:
        found = [t for t, spec in TYPES.items() if permitted(principal, spec.permission)]
    if principal.scopes is not None:
        found = [t for t in found if scopes.reads(principal.scopes, t)]
    return found


def _principal(export: bulk.ExportOut) -> Principal:
    """Who the job acts for (its audit rows name them), as they asked."""
    return Principal(
        user_id=export.user_id,
        username=export.username,
        role=export.role,
        session_id=f"bulk-export:{export.id}",
        facility_id=export.facility_id,
        facility_code=export.facility_code,
    )


def population_facility(export: bulk.ExportOut) -> int | None:
    """The facility whose people the export holds (None: the whole index)."""
    if export.level == "group":
        return export.group_id
    if export.role == Role.statistician:
        return None
    return export.facility_id


def _line(resource: Any) -> bytes:
    return (json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class _Files:
    """The export's NDJSON files as the checkpoint knows them."""

    def __init__(self, directory: Path, state: dict[str, Any], per_file: int) -> None:
        self.dir = directory
        self.state = state
        self.per_file = per_file

    def resume(self) -> None:
        """Back to the checkpoint: files started after it go, the current one is cut to
        the saved offset (what a killed worker wrote past it is written again)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        keep = {c[1] for c in self.state["closed"]}
        current = self.state["file"]
        for path in self.dir.iterdir():
            if path.name not in keep and path.name != current:
                path.unlink()
        if current:
            path = self.dir / current
            with open(path, "ab") as f:
                f.truncate(self.state["offset"])

    def write(self, type_name: str, lines: Sequence[bytes]) -> None:
        s = self.state
        i = 0
        while i < len(lines):
            if s["file"] is None:
                s["seq"] += 1
                s["file"] = f"{type_name}-{s['seq']}.ndjson"
                s["offset"], s["lines"] = 0, 0
            room = self.per_file - s["lines"]
            chunk = lines[i : i + room]
            with open(self.dir / s["file"], "ab") as f:
                data = b"".join(chunk)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            s["offset"] += len(data)
            s["lines"] += len(chunk)
            i += len(chunk)
            if s["lines"] >= self.per_file:
                self.close(type_name)

    def close(self, type_name: str) -> None:
        s = self.state
        if s["file"] is not None and s["lines"]:
            s["closed"].append([type_name, s["file"], s["lines"], s["offset"]])
        elif s["file"] is not None:
            (self.dir / s["file"]).unlink(missing_ok=True)
        s["file"], s["offset"], s["lines"] = None, 0, 0


@jobs.handler(bulk.EXPORT_KIND, max_attempts=5, backoff=(5, 30, 120, 600))
async def run_export(ctx: jobs.JobContext) -> dict[str, Any]:
    export_id = str(ctx.payload.get("export", ""))
    async with ctx.session() as s:
        export = await bulk.export_for_job(s, export_id)
    if export is None:
        raise jobs.Permanent("The export was cancelled or has expired.")
    facility = population_facility(export)
    types = [t for t in export.types if t in TYPES]
    settings = get_settings()
    state: dict[str, Any]
    if ctx.checkpoint and ctx.checkpoint.get("export") == export_id:
        state = dict(ctx.checkpoint)
    else:
        total = 0
        async with ctx.session() as s:
            for name in types:
                total += await registry.count_export_people(
                    s,
                    facility_id=facility,
                    only=export.patients,
                    since=export.since if TYPES[name].since_on_people else None,
                )
        state = {
            "export": export_id,
            "t": 0,
            "after": 0,
            "file": None,
            "seq": 0,
            "offset": 0,
            "lines": 0,
            "closed": [],
            "counts": {},
            "done": 0,
            "total": total,
        }
    files = _Files(bulk.export_dir(export_id), state, settings.bulk_file_lines)
    files.resume()
    await ctx.progress(state["done"], state["total"], checkpoint=state)
    principal = _principal(export)
    while state["t"] < len(types):
        spec = TYPES[types[state["t"]]]
        while True:
            async with ctx.session() as s:
                ids = await registry.export_person_ids(
                    s,
                    after=state["after"],
                    limit=settings.bulk_page_size,
                    facility_id=facility,
                    only=export.patients,
                    since=export.since if spec.since_on_people else None,
                )
                if not ids:
                    break
                with unchecked_output():
                    found = await spec.fetch(s, ids, export.since)
                people = list(dict.fromkeys(pid for pid, _ in found))
                if people:
                    await audit.record_listing(
                        s,
                        principal,
                        [audit.Access(pid, "bulk export") for pid in people],
                        action="read",
                        resource_type=spec.name,
                    )
                    await s.commit()
            # still this worker's job (a lease lost meanwhile: another worker has cut the
            # file back to the checkpoint and carries on; writing now would double a page)
            await ctx.progress(state["done"], state["total"])
            files.write(spec.name, [_line(r) for _, r in found])
            state["after"] = ids[-1]
            state["done"] += len(ids)
            state["counts"][spec.name] = state["counts"].get(spec.name, 0) + len(found)
            await ctx.progress(state["done"], state["total"], checkpoint=state)
        files.close(spec.name)
        state["t"] += 1
        state["after"] = 0
        state["seq"] = 0
        await ctx.progress(state["done"], state["total"], checkpoint=state)
    outputs = [bulk.ExportFile(t, name, count, size) for t, name, count, size in state["closed"]]
    async with ctx.session() as s:
        if await bulk.export_for_job(s, export_id) is None:
            raise jobs.Permanent("The export was cancelled or has expired.")
        await bulk.record_files(s, export_id, outputs)
        await s.commit()
    return {"files": len(outputs), "resources": state["counts"]}
