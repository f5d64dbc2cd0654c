"""The bulk export job (kind ``bulk.export``): pages through a population, maps each page
to FHIR with the resources' own mappers, and writes NDJSON files (docs/exchange.md).

The export walks *sources* (``SOURCES``): a resource type and the domain it comes from
(``Observation:maternal``, ``Observation:child``, ``Observation:record``), each with the
permission of that domain's FHIR read route. For each source in turn, the job reads the
population's person ids by keyset (``id > last``, ``bulk_page_size`` at a time), then the
page's rows in one statement (or a fixed few) through the domain's service (no read per
person), maps them with the mapper the domain's FHIR routes use, audits every person
written (one insert a page: ``core.audit.record_listing``, the FHIR type as the resource
type) and appends the lines to the source's current file, starting a new file every
``bulk_file_lines`` lines (a type with several sources has several files). After each page
it saves a checkpoint (the sources, which one, last id, file, byte offset, counts): a
worker killed mid-export leaves the job to another, which truncates the current file to
the saved offset and carries on from the next page, so each resource is in the files
exactly once.

Which sources: those the caller's role may read (each by its own permission, as a reader
would need it); the statistician, who reads no one page by page, exports the sources of
the national statistics agreement (``STATISTICS``).
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
from salomat.core.db import utcnow
from salomat.core.policy import Role, permitted
from salomat.core.security import Principal
from salomat.domains.bulkdata import service as bulk
from salomat.domains.cancer import service as cancer
from salomat.domains.child import service as child
from salomat.domains.immunization import service as immunization
from salomat.domains.insurance import service as insurance
from salomat.domains.maternal import service as maternal
from salomat.domains.prescription import service as prescription
from salomat.domains.record import service as record
from salomat.domains.registry import service as registry
from salomat.domains.sanatorium import service as sanatorium
from salomat.domains.sickleave import service as sickleave
from salomat.fhir import cancer as cancer_mapper
from salomat.fhir import child as child_mapper
from salomat.fhir import dispense as dispense_mapper
from salomat.fhir import immunization as immunization_mapper
from salomat.fhir import insurance_coverage as coverage_mapper
from salomat.fhir import maternal as maternal_mapper
from salomat.fhir import maternal_condition as maternal_conditions
from salomat.fhir import maternal_exchange, sick_leave_api
from salomat.fhir import patient as patient_mapper
from salomat.fhir import prescription as prescription_mapper
from salomat.fhir import record as record_mapper
from salomat.fhir import sanatorium as sanatorium_mapper
from salomat.fhir import sick_leave as sick_leave_mapper
from salomat.fhir.common import unchecked_output


@dataclass(frozen=True)
class Reader:
    """Who the resources are mapped for (a mapper may show a role less: a sick-leave
    certificate's diagnosis), and the server's address (a resource may link to a
    document of it)."""

    principal: Principal
    api_base: str


Fetch = Callable[[Any, list[int], datetime | None, Reader], Awaitable[list[tuple[int, Any]]]]


@dataclass(frozen=True)
class Source:
    """One place resources of a type come from: a type several domains keep (Observation
    from the pregnancy register, the child passport and the shared record) has a source
    for each, each written to its own files."""

    resource_type: str
    #: the domain it comes from: the source's key is ``<resource type>:<source>``
    source: str
    #: what a reader of it needs: the permission of the domain's FHIR read route
    #: (policy.PERMISSIONS)
    permission: str
    #: (session, person ids, _since, reader) -> (person id, resource) in the people's order
    fetch: Fetch
    #: ``_since`` filters the people themselves (the Patient), not only their resources
    since_on_people: bool = False

    @property
    def key(self) -> str:
        return f"{self.resource_type}:{self.source}"


def _per_person(
    read: Callable[..., Awaitable[dict[int, list[Any]]]], to_fhir: Callable[[Any], list[Any]]
) -> Fetch:
    """A source from a domain's read of many people at once (``read(session, ids,
    since=...)``, one statement or a few for the page) and what each row maps to."""

    async def fetch(
        session: Any, ids: list[int], since: datetime | None, reader: Reader
    ) -> list[tuple[int, Any]]:
        found = await read(session, ids, since=since)
        return [(pid, r) for pid in ids for row in found.get(pid, ()) for r in to_fhir(row)]

    return fetch


async def _patients(
    session: Any, ids: list[int], since: datetime | None, reader: Reader
) -> list[tuple[int, Any]]:
    return [(p.id, patient_mapper.to_fhir(p)) for p in await registry.export_people(session, ids)]


async def _immunizations(
    session: Any, ids: list[int], since: datetime | None, reader: Reader
) -> list[tuple[int, Any]]:
    cal = immunization.calendar_options()
    found = await immunization.doses_for_people(session, ids, since=since)
    return [
        (pid, immunization_mapper.immunization(d, cal)) for pid in ids for d in found.get(pid, ())
    ]


def _shared_record(resource_type: str) -> Fetch:
    async def fetch(
        session: Any, ids: list[int], since: datetime | None, reader: Reader
    ) -> list[tuple[int, Any]]:
        found = await record.resources_for_people(session, ids, resource_type, since=since)
        return [(pid, record_mapper.to_fhir(r)) for pid in ids for r in found.get(pid, ())]

    return fetch


def _maternal_observations(r: maternal.PregnancyRecord) -> list[Any]:
    """As the Observation search by patient answers them: the dating, then each contact's."""
    out = maternal_mapper.pregnancy_observations(r.detail)
    for c in r.detail.contacts:
        out += maternal_mapper.contact_observations(c)
    return out


def _risk(r: maternal.PregnancyRecord) -> list[Any]:
    found = maternal_mapper.risk_assessment(r.detail, r.detail.advice)
    return [] if found is None else [found]


async def _certificates(
    session: Any, ids: list[int], since: datetime | None, reader: Reader
) -> list[tuple[int, Any]]:
    """Sick-leave certificates as their FHIR read shows them to this reader: the reason
    and the diagnosis only to a clinical role or the holder herself
    (``sick_leave_api.clinical``)."""
    found = await sickleave.certificates_for_people(session, ids, since=since)
    return [
        (
            pid,
            sick_leave_mapper.document_reference(
                rec,
                clinical=sick_leave_api.clinical(reader.principal, rec.certificate),
                api_base=reader.api_base,
            ),
        )
        for pid in ids
        for rec in found.get(pid, ())
    ]


async def _coverages(
    session: Any, ids: list[int], since: datetime | None, reader: Reader
) -> list[tuple[int, Any]]:
    """Each person's insurance cover today, as ``Coverage/<person id>`` shows it to this
    reader. Computed on each read, not stored: nothing says when it last changed, so
    ``_since`` leaves none out."""
    found = await insurance.coverage_for_people(session, ids, principal=reader.principal)
    return [
        (pid, coverage_mapper.coverage(person, status))
        for pid in ids
        for person, status in found.get(pid, ())
    ]


def _stage(t: Any) -> list[Any]:
    found = cancer_mapper.stage_observation(t)
    return [] if found is None else [found]


def _sanatorium_task(rec: Any) -> list[Any]:
    found = sanatorium_mapper.task(rec)
    return [] if found is None else [found]


_pregnancies = maternal.pregnancies_for_people
_referrals = sanatorium.referrals_for_people
#: every source the export writes, in the order it writes them: the registry's Patient,
#: her insurance cover, the immunization register's doses, the e-prescriptions and
#: their dispensings, the pregnancy register and its referrals, the child passport's
#: growth, the cancer registry's tumours and their stage, the sick-leave certificates,
#: the sanatorium's referrals, queue entries, offers and stays, and what other systems
#: sent to the shared record
SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source("Patient", "registry", "person:read", _patients, since_on_people=True),
        Source("Coverage", "insurance", "insurance:eligibility", _coverages),
        Source("Immunization", "immunization", "immunization:read", _immunizations),
        Source(
            "MedicationRequest",
            "prescription",
            "prescription:read",
            _per_person(
                prescription.prescriptions_for_people,
                lambda p: [prescription_mapper.medication_request(p)],
            ),
        ),
        Source(
            "MedicationDispense",
            "prescription",
            "prescription:read",
            _per_person(
                prescription.dispensings_for_people,
                lambda d: [dispense_mapper.medication_dispense(d)],
            ),
        ),
        Source(
            "EpisodeOfCare",
            "maternal",
            "pregnancy:read",
            _per_person(_pregnancies, lambda r: [maternal_mapper.episode_of_care(r.detail)]),
        ),
        Source(
            "Encounter",
            "maternal",
            "pregnancy:read",
            _per_person(
                _pregnancies, lambda r: [maternal_mapper.encounter(c) for c in r.detail.contacts]
            ),
        ),
        Source(
            "Observation",
            "maternal",
            "pregnancy:read",
            _per_person(_pregnancies, _maternal_observations),
        ),
        Source("RiskAssessment", "maternal", "pregnancy:read", _per_person(_pregnancies, _risk)),
        Source(
            "DetectedIssue",
            "maternal",
            "pregnancy:read",
            _per_person(
                _pregnancies,
                lambda r: [
                    maternal_mapper.detected_issue(r.detail.person_id, a) for a in r.detail.advice
                ],
            ),
        ),
        Source(
            "Condition",
            "maternal",
            "pregnancy:read",
            _per_person(
                _pregnancies, lambda r: [maternal_conditions.condition(c) for c in r.conditions]
            ),
        ),
        Source(
            "ServiceRequest",
            "maternal",
            "referral:read",
            _per_person(
                maternal.referrals_for_people, lambda r: [maternal_exchange.service_request(r)]
            ),
        ),
        Source(
            "Observation",
            "child",
            "child:read",
            _per_person(child.measurements_for_people, child_mapper.growth_observations),
        ),
        Source(
            "Condition",
            "cancer",
            "cancer:read",
            _per_person(cancer.tumours_for_people, lambda t: [cancer_mapper.condition(t)]),
        ),
        Source(
            "Observation",
            "cancer",
            "cancer:read",
            _per_person(cancer.tumours_for_people, _stage),
        ),
        Source("DocumentReference", "sick_leave", "sick_leave:read", _certificates),
        *(
            Source(t, "sanatorium", "sanatorium:read", _per_person(_referrals, to_fhir))
            for t, to_fhir in (
                ("ServiceRequest", lambda rec: [sanatorium_mapper.service_request(rec)]),
                ("Task", _sanatorium_task),
                ("Appointment", lambda rec: sanatorium_mapper.appointments(rec, utcnow())),
                ("Encounter", sanatorium_mapper.encounters),
            )
        ),
        *(
            Source(name, "record", "record:read", _shared_record(name))
            for name in record.RESOURCE_TYPES
        ),
    )
}
#: the resource types exported (what ``_type`` names), in the order of their first source
TYPES: tuple[str, ...] = tuple(dict.fromkeys(s.resource_type for s in SOURCES.values()))
#: the national statistics office's agreement: the sources it exports (it holds no
#: reader's permission; ``bulk:export`` at national scope is the agreement)
STATISTICS = ("Patient:registry", "Immunization:immunization")
OUTPUT_FORMAT = "application/fhir+ndjson"


def may_read(principal: Principal, source: Source) -> bool:
    """Whether the caller's export (or $everything) holds this source."""
    if principal.role == Role.statistician:
        return source.key in STATISTICS
    return permitted(principal, source.permission)


def readable_sources(principal: Principal, types: Sequence[str] | None = None) -> list[Source]:
    """The sources this caller may read, in export order (of ``types`` only, if given)."""
    return [
        s
        for s in SOURCES.values()
        if (types is None or s.resource_type in types) and may_read(principal, s)
    ]


def readable_types(principal: Principal) -> list[str]:
    """The types this caller's export may hold, in export order: each read by one of its
    sources' permissions. A client system's also each read by one of its granted scopes
    (``bulk:export`` alone reads no type)."""
    found = list(dict.fromkeys(s.resource_type for s in readable_sources(principal)))
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


def api_base(request_url: str) -> str:
    """The server's address as the export's kick-off reached it (what a request's
    ``base_url`` is to a read)."""
    return request_url.split("/fhir/", 1)[0]


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

    def write(self, source: Source, lines: Sequence[bytes]) -> None:
        s = self.state
        i = 0
        while i < len(lines):
            if s["file"] is None:
                # numbered by type across its sources (Observation-1 the register's,
                # Observation-2 the passport's): a name short enough for the audit row
                # that names its download (export id/name, 64 characters)
                t = source.resource_type
                s["seq"][t] = s["seq"].get(t, 0) + 1
                s["file"] = f"{t}-{s['seq'][t]}.ndjson"
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
                self.close(source)

    def close(self, source: Source) -> None:
        s = self.state
        if s["file"] is not None and s["lines"]:
            s["closed"].append([source.resource_type, s["file"], s["lines"], s["offset"]])
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
    principal = _principal(export)
    reader = Reader(principal, api_base(export.request_url))
    settings = get_settings()
    state: dict[str, Any]
    if ctx.checkpoint and ctx.checkpoint.get("export") == export_id and "sources" in ctx.checkpoint:
        state = dict(ctx.checkpoint)
    else:
        # the sources are fixed at the start and kept in the checkpoint: a resumed job walks
        # the same list whatever changed meanwhile
        sources = [s.key for s in readable_sources(principal, export.types)]
        total = 0
        async with ctx.session() as s:
            for key in sources:
                total += await registry.count_export_people(
                    s,
                    facility_id=facility,
                    only=export.patients,
                    since=export.since if SOURCES[key].since_on_people else None,
                )
        state = {
            "export": export_id,
            "sources": sources,
            "t": 0,
            "after": 0,
            "file": None,
            "seq": {},
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
    while state["t"] < len(state["sources"]):
        spec = SOURCES[state["sources"][state["t"]]]
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
                    found = await spec.fetch(s, ids, export.since, reader)
                people = list(dict.fromkeys(pid for pid, _ in found))
                if people:
                    await audit.record_listing(
                        s,
                        principal,
                        [audit.Access(pid, "bulk export") for pid in people],
                        action="read",
                        resource_type=spec.resource_type,
                    )
                    await s.commit()
            # still this worker's job (a lease lost meanwhile: another worker has cut the
            # file back to the checkpoint and carries on; writing now would double a page)
            await ctx.progress(state["done"], state["total"])
            files.write(spec, [_line(r) for _, r in found])
            state["after"] = ids[-1]
            state["done"] += len(ids)
            counts = state["counts"]
            counts[spec.resource_type] = counts.get(spec.resource_type, 0) + len(found)
            await ctx.progress(state["done"], state["total"], checkpoint=state)
        files.close(spec)
        state["t"] += 1
        state["after"] = 0
        await ctx.progress(state["done"], state["total"], checkpoint=state)
    outputs = [bulk.ExportFile(t, name, count, size) for t, name, count, size in state["closed"]]
    async with ctx.session() as s:
        if await bulk.export_for_job(s, export_id) is None:
            raise jobs.Permanent("The export was cancelled or has expired.")
        await bulk.record_files(s, export_id, outputs)
        await s.commit()
    return {"files": len(outputs), "resources": state["counts"]}
