"""FHIR Bulk Data Access 2.0 export, the facility Group, and Patient/$everything
(docs/exchange.md).

- Kick-off: ``GET|POST /fhir/$export`` (system), ``/fhir/Patient/$export`` and
  ``/fhir/Group/<id>/$export``, with ``Prefer: respond-async``: 202 and the status URL in
  ``Content-Location``. Parameters: ``_outputFormat``, ``_since``, ``_type``, ``patient``
  (a POST's Parameters, or the query); any other is refused with 400 naming it, unless
  ``Prefer: handling=lenient`` (then it is left out and the manifest says so).
- Status ``GET /fhir/bulk/<id>``: 202 with ``X-Progress`` and ``Retry-After`` while it
  runs; 200 with the manifest when done; a failed export answers 4xx with an
  OperationOutcome saying why (never 5xx). ``DELETE`` cancels it and removes its files.
- Files ``GET /fhir/bulk/<id>/<file>``: NDJSON, streamed from disk, to the user who asked.

Who may (``bulk:export``): the statistician the whole index (system, Patient, any
Group); a facility's clinicians and registrar only the people their facility holds
(Patient level, or their own facility's Group; another facility's Group is 404). Each
resource type is exported only to a role that may read it (fhir/bulk_export.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import FileResponse, JSONResponse

from salomat.core import audit, jobs
from salomat.core.errors import N_, FieldError, Forbidden, Invalid, NotFound, SalomatError
from salomat.core.params import RowId, SmallRowId, load_json, parse_row_id
from salomat.core.policy import Require, Role
from salomat.core.security import Principal
from salomat.core.uow import DbSession
from salomat.core.uow import router as make_router
from salomat.domains.bulkdata import service as bulk
from salomat.domains.registry import service as registry
from salomat.fhir import bulk_export, capability
from salomat.fhir import patient as patient_mapper
from salomat.fhir.common import (
    FACILITY_SYSTEM,
    PAGING,
    Params,
    base_url,
    fhir_response,
    reference_id,
    searchset,
    validated,
)
from salomat.fhir.record_http import parse_since
from salomat.fhir.search_handling import lenient

__all__ = ["CAPABILITIES", "OPERATIONS", "downloads", "router", "with_capabilities"]

router = make_router(tags=["fhir"])
#: the file downloads (NDJSON): outside the /fhir router and its JSON negotiation
downloads = make_router(tags=["fhir"])
Session = DbSession
Exporter = Annotated[Principal, Depends(Require("bulk:export"))]
PersonReader = Annotated[Principal, Depends(Require("person:read"))]

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
KICK_OFF_PARAMS = frozenset({"_outputFormat", "_since", "_type", "patient"})
#: the spec's parameters this server does not support (400 unless lenient), besides any
#: name it does not know
RETRY_AFTER = "2"


class BulkBadRequest(SalomatError):
    """A kick-off the server will not start (the spec's 400 with an OperationOutcome)."""

    status, code, title, fhir_code = 400, "bad-request", "Bad request", "invalid"


class ExportFailed(SalomatError):
    """The export's job ended failed: the status URL says why (no 5xx: a project rule)."""

    status, code, title, fhir_code = 409, "export-failed", "Export failed", "exception"


class ExportGone(SalomatError):
    """The export was cancelled (by its user, or on the jobs page): its files are gone."""

    status, code, title, fhir_code = 410, "gone", "Gone", "deleted"


# ---- kick-off -----------------------------------------------------------------------


def _bad(field: str, message: str, detail: str | None = None, **params: Any) -> BulkBadRequest:
    return BulkBadRequest(
        detail or N_("The export was not started: %(field)s %(message)s."),
        params={"field": field, "message": message, **params},
        errors=[FieldError(field, message)],
    )


def _shown(text: str) -> str:
    """A value the client sent, as an answer may repeat it: its first 64 characters, each
    one a FHIR string cannot hold (a control character) shown as "?"."""
    return "".join(c if c.isprintable() else "?" for c in text[:64]) or "?"


def _prefers_async(header: str | None) -> bool:
    return any(
        part.strip().lower() == "respond-async"
        for part in (header or "").replace(";", ",").split(",")
    )


def _parameters(body: Any) -> list[tuple[str, str]]:
    """A POST's Parameters resource as (name, value) pairs (a reference as its text)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise _bad("Parameters", N_("must be a Parameters resource"))
    out: list[tuple[str, str]] = []
    for i, p in enumerate(body.get("parameter") or []):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            raise _bad(f"Parameters.parameter[{i}]", N_("must have a name"))
        value: Any = None
        for key, v in p.items():
            if key.startswith("value"):
                value = v.get("reference") if isinstance(v, dict) else v
        if not isinstance(value, str):
            raise _bad(f"Parameters.parameter[{i}]", N_("must have a value"))
        out.append((p["name"], value))
    return out


async def _items(request: Request) -> list[tuple[str, str]]:
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        raw = await request.body()
        if raw.strip():
            try:
                body = load_json(raw)
            except Exception:
                raise _bad("Parameters", N_("must be a FHIR JSON Parameters resource")) from None
            items += _parameters(body)
    return items


def _since(raw: str | None) -> datetime | None:
    try:
        return parse_since(raw)
    except Invalid:
        raise _bad(
            "_since", N_("must be an instant with its zone, e.g. 2026-11-01T00:00:00Z")
        ) from None


def _types(values: list[str], principal: Principal) -> tuple[str, ...]:
    readable = bulk_export.readable_types(principal)
    if not values:
        if not readable:
            if principal.scopes is not None:
                raise Forbidden(
                    N_(
                        "The client system's scopes read none of the resource types "
                        "exported: ask for system/Patient.read (or another exported type)."
                    )
                )
            raise Forbidden(N_("Your role may read none of the resource types exported."))
        return tuple(readable)
    from fhir.resources.R4B import get_fhir_model_class

    asked: list[str] = []
    for raw in values:
        for name in (t.strip() for t in raw.split(",")):
            if not name:
                continue
            if name not in bulk_export.TYPES:
                try:
                    get_fhir_model_class(name)
                    known = name[:1].isupper()
                except (ValueError, KeyError):
                    known = False
                if known:
                    raise _bad(
                        "_type",
                        _shown(name),
                        N_("The export was not started: this server does not export %(message)s "
                           "resources (it exports %(types)s)."),
                        types=", ".join(bulk_export.TYPES),
                    )  # fmt: skip
                raise _bad(
                    "_type",
                    _shown(name),
                    N_("The export was not started: %(message)s is no FHIR resource type."),
                )
            if name not in readable:
                if principal.scopes is not None:
                    raise Forbidden(
                        N_(
                            "The client system's scopes do not read %(type)s resources: "
                            "ask for system/%(type)s.read."
                        ),
                        params={"type": name},
                    )
                raise Forbidden(
                    N_("Your role may not read %(type)s resources."), params={"type": name}
                )
            if name not in asked:
                asked.append(name)
    if not asked:
        raise _bad("_type", N_("names no resource type"))
    return tuple(sorted(asked, key=list(bulk_export.TYPES).index))


async def _patients(
    session: Any, values: list[str], facility: int | None
) -> tuple[int, ...] | None:
    if not values:
        return None
    ids: list[int] = []
    for raw in values:
        for ref in (r.strip() for r in raw.split(",")):
            pid = reference_id(ref, "Patient")
            if pid is None:
                raise _bad("patient", N_("must be Patient/<id>"))
            ids.append(pid)
    if not ids:
        raise _bad("patient", N_("must be Patient/<id>"))
    wanted = sorted(set(ids))
    held = set(
        await registry.export_person_ids(
            session, after=0, limit=len(wanted), facility_id=facility, only=wanted
        )
    )
    missing = [p for p in wanted if p not in held]
    if missing:  # not in the population the caller may export: as a missing one
        raise NotFound(N_("Patient %(id)s not found."), params={"id": missing[0]})
    return tuple(wanted)


async def _kick_off(
    request: Request,
    session: Any,
    principal: Principal,
    level: str,
    group_id: int | None = None,
) -> JSONResponse:
    if not _prefers_async(request.headers.get("prefer")):
        raise _bad("Prefer", N_("must be respond-async (the export runs in the background)"))
    items = await _items(request)
    allowed = KICK_OFF_PARAMS - ({"patient"} if level == "system" else set())
    unknown = list(dict.fromkeys(k for k, _ in items if k not in allowed))
    if unknown and not lenient(request.headers.get("prefer")):
        raise BulkBadRequest(
            N_("The export was not started: %(names)s not supported (send Prefer: "
               "handling=lenient to have it left out)."),
            params={"names": ", ".join(_shown(n) for n in unknown)},
            errors=[FieldError(_shown(n), N_("unsupported parameter")) for n in unknown],
        )  # fmt: skip
    got: dict[str, list[str]] = {}
    for k, v in items:
        if k in allowed:
            got.setdefault(k, []).append(v)
    fmt = (got.get("_outputFormat") or [bulk_export.OUTPUT_FORMAT])[-1]
    if fmt not in OUTPUT_FORMATS:
        raise _bad("_outputFormat", N_("must be application/fhir+ndjson"))
    since = _since((got.get("_since") or [None])[-1])
    types = _types(got.get("_type", []), principal)
    facility: int | None
    if level == "group":
        facility = group_id
    elif principal.role == Role.statistician:
        facility = None
    else:
        facility = principal.facility_id
    patients = await _patients(session, got.get("patient", []), facility)
    export = await bulk.create_export(
        session,
        principal,
        bulk.ExportRequest(
            level=level,
            types=types,
            output_format=bulk_export.OUTPUT_FORMAT,
            request_url=str(request.url),
            group_id=group_id,
            since=since,
            patients=patients,
        ),
    )
    jobs.wake()
    note = N_("The export was started; poll the status URL in Content-Location.")
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": note}],
    }
    if unknown:
        body["issue"].append(
            {
                "severity": "warning",
                "code": "not-supported",
                "diagnostics": "left out (handling=lenient): "
                + ", ".join(_shown(n) for n in unknown)[:400],
            }
        )
    return fhir_response(
        body, 202, headers={"Content-Location": f"{base_url(request)}/bulk/{export.id}"}
    )


def _national(principal: Principal) -> bool:
    return principal.role == Role.statistician


def _facility_bound(principal: Principal) -> int:
    if principal.facility_id is None:
        raise Forbidden(N_("A facility's export needs an account bound to the facility."))
    return principal.facility_id


@router.get("/$export", operation_id="bulk_export_system_get")
@router.post("/$export", operation_id="bulk_export_system_post")
async def export_system(request: Request, session: Session, principal: Exporter) -> JSONResponse:
    """Everything the export covers, of the whole index: the statistician's alone."""
    if not _national(principal):
        raise Forbidden(N_("A system-level export is for the national statistics office."))
    return await _kick_off(request, session, principal, "system")


@router.get("/Patient/$export", operation_id="bulk_export_patients_get")
@router.post("/Patient/$export", operation_id="bulk_export_patients_post")
async def export_patients(request: Request, session: Session, principal: Exporter) -> JSONResponse:
    """The statistician: every person; a facility role: the people its facility holds."""
    if not _national(principal):
        _facility_bound(principal)
    return await _kick_off(request, session, principal, "patient")


async def _group(session: Any, principal: Principal, group_id: int) -> Any:
    """The facility a Group stands for, if the caller may see it (else 404)."""
    if not _national(principal) and principal.facility_id != group_id:
        raise NotFound(N_("Group %(id)s not found."), params={"id": group_id})
    try:
        return await registry.get_facility(session, group_id)
    except NotFound:
        raise NotFound(N_("Group %(id)s not found."), params={"id": group_id}) from None


@router.get("/Group/{group_id}/$export", operation_id="bulk_export_group_get")
@router.post("/Group/{group_id}/$export", operation_id="bulk_export_group_post")
async def export_group(
    request: Request, session: Session, group_id: SmallRowId, principal: Exporter
) -> JSONResponse:
    await _group(session, principal, group_id)
    return await _kick_off(request, session, principal, "group", group_id)


# ---- status, cancel, files ------------------------------------------------------------


def _manifest(request: Request, export: bulk.ExportOut) -> dict[str, Any]:
    base = base_url(request)
    return {
        "transactionTime": export.transaction_time.astimezone(UTC).isoformat(),
        "request": export.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": f.resource_type, "url": f"{base}/bulk/{export.id}/{f.name}", "count": f.count}
            for f in export.files
        ],
        "deleted": [],
        "error": [],
    }


@router.get("/bulk/{export_id}")
async def export_status(
    request: Request, session: Session, export_id: str, principal: Exporter
) -> JSONResponse:
    export = await bulk.get_export(session, principal, export_id)
    job = export.job
    assert job is not None
    if job.status in (jobs.QUEUED, jobs.RUNNING):
        if job.progress_total:
            progress = f"{job.percent or 0}% ({job.progress_done} of {job.progress_total})"
        else:
            progress = "queued" if job.status == jobs.QUEUED else "started"
        return JSONResponse(
            None, status_code=202, headers={"X-Progress": progress, "Retry-After": RETRY_AFTER}
        )
    if job.status == jobs.CANCELLED:
        raise ExportGone(N_("Bulk export %(id)s was cancelled."), params={"id": export.id})
    if job.status == jobs.FAILED:
        raise ExportFailed(
            N_("Bulk export %(id)s failed: %(reason)s Start a new export."),
            params={"id": export.id, "reason": (job.error or "")[:300]},
        )
    return JSONResponse(
        _manifest(request, export),
        headers={"Expires": export.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")},
    )


@router.delete("/bulk/{export_id}")
async def cancel_export(session: Session, export_id: str, principal: Exporter) -> JSONResponse:
    await bulk.cancel_export(session, principal, export_id)
    note = N_("The export was cancelled and its files removed.")
    return fhir_response(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "informational", "diagnostics": note}],
        },
        202,
    )


@downloads.get("/fhir/bulk/{export_id}/{name}")
async def export_file(
    session: Session, export_id: str, name: str, principal: Exporter
) -> FileResponse:
    """One NDJSON file of the caller's export, streamed from disk (never read whole)."""
    path, _ = await bulk.file_for_download(session, principal, export_id, name)
    return FileResponse(path, media_type=NDJSON)


# ---- Group: a facility's attached population ------------------------------------------

GROUP_PARAMS = frozenset({"identifier", "name", "_id"}) | PAGING


def _group_resource(facility: Any, quantity: int) -> dict[str, Any]:
    from fhir.resources.R4B.group import Group

    return validated(
        Group,
        {
            "resourceType": "Group",
            "id": str(facility.id),
            "identifier": [{"system": FACILITY_SYSTEM, "value": facility.code}],
            "active": facility.is_open,
            "type": "person",
            "actual": True,
            "name": facility.name,
            "quantity": quantity,
            "managingEntity": {
                "reference": f"Organization/{facility.id}",
                "display": facility.name,
            },
        },
    )


@router.get("/Group/{group_id}")
async def read_group(
    request: Request, session: Session, group_id: SmallRowId, principal: Exporter
) -> JSONResponse:
    """A facility's population: the people attached to it or in care there (a count, no
    members: the export lists them)."""
    facility = await _group(session, principal, group_id)
    quantity = await registry.count_export_people(session, facility_id=facility.id)
    return fhir_response(_group_resource(facility, quantity))


@router.get("/Group")
async def search_groups(request: Request, session: Session, principal: Exporter) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), GROUP_PARAMS)
    page = params.page()
    code = None
    if (raw := params.get("identifier")) is not None:
        system, sep, code = raw.rpartition("|")
        if sep and system and system != FACILITY_SYSTEM:
            raise Invalid.fields([FieldError("identifier", f"system must be {FACILITY_SYSTEM}")])
    only = None
    if (raw := params.get("_id")) is not None:
        if not (raw.isascii() and raw.isdigit() and len(raw) < 20):
            raise Invalid.fields([FieldError("_id", N_("must be a Group id"))])
        # a number past the facilities' ids names no Group (-1: none)
        only = parse_row_id(raw, small=True) or -1
    if not _national(principal):
        if only is not None and only != principal.facility_id:
            only = -1
        only = only if only is not None else (principal.facility_id or -1)
    found, total = await registry.group_facilities(
        session,
        code=code,
        name=params.get("name"),
        facility_id=only,
        limit=page.limit,
        offset=page.offset,
    )
    counts = {f.id: await registry.count_export_people(session, facility_id=f.id) for f in found}
    return fhir_response(
        searchset(
            base_url(request),
            "Group",
            params.items,
            [_group_resource(f, counts[f.id]) for f in found],
            total,
            page,
        )
    )


# ---- Patient/$everything ---------------------------------------------------------------

EVERYTHING_PARAMS = frozenset({"_since", "_type", "start", "end"}) | PAGING


def _day(raw: str | None, field: str) -> Any:
    if raw is None:
        return None
    from salomat.core.fhir_dates import fhir_interval

    try:
        return fhir_interval(raw)[0].date()
    except ValueError:
        raise Invalid.fields([FieldError(field, N_("must be a date, e.g. 2026-01-31"))]) from None


@router.get("/Patient/{person_id}/$everything")
async def patient_everything(
    request: Request, session: Session, person_id: RowId, principal: PersonReader
) -> JSONResponse:
    """The Patient and every resource of her compartment the caller may read, from the
    export's sources (fhir/bulk_export.py), each by its own permission; the person's
    scope checked once, each source's read audited under its FHIR type."""
    params = Params(list(request.query_params.multi_items()), EVERYTHING_PARAMS)
    page = params.page()
    since = parse_since(params.get("_since"))
    start, end = _day(params.get("start"), "start"), _day(params.get("end"), "end")
    readable = bulk_export.readable_sources(principal)
    wanted = list(dict.fromkeys(["Patient", *(s.resource_type for s in readable)]))
    if (raw := params.get("_type")) is not None:
        asked = [t.strip() for t in raw.split(",") if t.strip()]
        if not asked or any(t not in bulk_export.TYPES for t in asked):
            raise Invalid.fields(
                [FieldError("_type", N_("names a type this server does not export"))]
            )
        wanted = [t for t in wanted if t in asked]
    # the person's scope, checked once (404 out of scope), and the Patient's read audited
    person = await registry.get_person(session, principal, person_id, purpose="$everything")
    reader = bulk_export.Reader(principal, str(request.base_url).rstrip("/"))
    resources: list[dict[str, Any]] = []
    if "Patient" in wanted and (since is None or person.updated_at > since):
        resources.append(patient_mapper.to_fhir(person))
    for source in readable:
        if source.resource_type == "Patient" or source.resource_type not in wanted:
            continue
        found = [r for _, r in await source.fetch(session, [person_id], since, reader)]
        if source.resource_type == "Immunization":  # start/end: the day the dose was given
            found = [
                r
                for r in found
                if (start is None or r["occurrenceDateTime"][:10] >= start.isoformat())
                and (end is None or r["occurrenceDateTime"][:10] <= end.isoformat())
            ]
        if found:
            await audit.record_listing(
                session,
                principal,
                [audit.Access(person_id, "$everything")],
                action="read",
                resource_type=source.resource_type,
            )
        resources += found
    shown = resources[page.offset : page.offset + page.limit]
    body = searchset(
        base_url(request),
        f"Patient/{person_id}/$everything",
        params.items,
        shown,
        len(resources),
        page,
    )
    for entry, res in zip(body.get("entry", []), shown, strict=True):
        entry["fullUrl"] = f"{base_url(request)}/{res['resourceType']}/{res['id']}"
    return fhir_response(body)


#: what /fhir/metadata declares (fhir/api.py): the system-level operation, the Group type,
#: and the Patient's operations (merged into the registry's Patient entry)
OPERATIONS: list[dict[str, Any]] = [
    {
        "name": "export",
        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
        "documentation": "the national statistics office's: NDJSON of "
        + ", ".join(dict.fromkeys(k.split(":")[0] for k in bulk_export.STATISTICS))
        + " (Patient and Group level: of each type the caller's role reads, among "
        + ", ".join(bulk_export.TYPES)
        + ")",
    },
]
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "Patient",
        "interaction": [],
        "operation": [
            {
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
            },
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            },
        ],
    },
    {
        "type": "Group",
        "profile": "http://hl7.org/fhir/StructureDefinition/Group",
        "documentation": "a facility's population: the people attached to it or in care there",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": "identifier", "type": "token", "documentation": "the facility's code"},
            {"name": "name", "type": "string", "documentation": "a part of the facility's name"},
            {"name": "_id", "type": "token"},
            {"name": "_count", "type": "number"},
        ],
        "operation": [
            {
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
            }
        ],
    },
]


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return capability.merge(resources, CAPABILITIES, label="bulk data")
