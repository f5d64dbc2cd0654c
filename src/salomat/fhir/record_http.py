"""The shared record's FHIR interactions beyond create, read, update and search:
``PATCH`` (JSON Patch), ``$validate``, and the type-level and system-level ``_history``;
and what the record's routes share (``store_update``, ``history_bundle``).

Every one goes through the record service, with the scope and audit of the interaction
it is made of: a patch is a read of the version it applies to and an update through the
same path as ``PUT`` (the same checks, the same version rule, only the sending facility
changes a resource); ``$validate`` runs a create's checks and stores nothing; a history
shows the versions of resources the caller may read, audited as reads.

Its router is included before every other FHIR router: ``GET /fhir/Observation/_history``
must not be taken for a read of an id ``_history``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from salomat.core import i18n, json_text
from salomat.core.config import get_settings
from salomat.core.errors import (
    N_,
    FieldError,
    Invalid,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    SalomatError,
)
from salomat.core.params import load_json
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.record import service as record
from salomat.domains.record.schemas import StoredResource
from salomat.fhir import jsonpatch
from salomat.fhir import record as mapper
from salomat.fhir.common import (
    PAGING,
    BadRequest,
    Params,
    base_url,
    bundle_out,
    etag,
    fhir_response,
    page_links,
    parse_if_match,
    resource_response,
)
from salomat.fhir.record_claims import cancer_notification, sick_leave_document
from salomat.fhir.record_params import SHARED

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("record:read"))]
Writer = Annotated[Principal, Depends(Require("record:write"))]

#: what the CapabilityStatement declares of these routes (record_api._capability)
INTERACTIONS: list[dict[str, str]] = [
    {
        "code": "patch",
        "documentation": "JSON Patch (application/json-patch+json) of a shr- resource, with "
        "If-Match; the result is checked and stored as an update",
    },
    {
        "code": "history-type",
        "documentation": "the shared record's resources of the type (shr- ids) the caller "
        "may read; _since, _count, _offset",
    },
]
OPERATIONS: list[dict[str, str]] = [
    {
        "name": "validate",
        "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
        "documentation": "POST /fhir/<type>/$validate (the resource, or a Parameters with "
        "resource and mode=create): the checks of a create, nothing stored; 200 with an "
        "OperationOutcome of the errors (record:write)",
    }
]
SYSTEM_INTERACTIONS: list[dict[str, str]] = [
    {
        "code": "history-system",
        "documentation": "GET /fhir/_history: the versions of the shared record's resources "
        "the caller may read, newest first; _since, _count, _offset",
    }
]
HISTORY_PARAMS = PAGING | {"_since"}
#: a FHIR instant: to the second at least, with its zone
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)


def missing(resource_type: str, rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": resource_type, "id": rid}
    )


@contextmanager
def elements(resource_type: str) -> Iterator[None]:
    """The service's field names (``subject``, ``identifier[0].system``) as the element
    paths of the resource sent (``Observation.subject``)."""
    try:
        yield
    except SalomatError as e:
        for f in e.errors:
            f.field = mapper.element(resource_type, f.field)
        raise


async def store_update(
    request: Request,
    session: Any,
    principal: Principal,
    resource_type: str,
    rid: str,
    body: dict[str, Any],
    expected: int,
) -> Response:
    """A new version of ``<type>/<rid>`` (``PUT`` and ``PATCH`` alike), answered as the
    request's ``Prefer`` asks."""
    try:
        with elements(resource_type):
            stored = await record.update_resource(
                session, principal, resource_type, rid, body, if_match=expected
            )
    except NotFound as e:
        # no resource of that id the caller may see, and no update as create
        # (updateCreate false): 405, as R4 http.html has it
        raise mapper.no_update_create(resource_type, rid) from e
    return resource_response(request, mapper.to_fhir(stored), location=True)


# ---- PATCH ---------------------------------------------------------------------------------


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose members are named once (RFC 6902 A.13: an operation with two
    ``op`` members is an error, not the last one)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the member {k!r} is given twice")
        out[k] = v
    return out


def _patch_document(raw: bytes) -> list[dict[str, Any]]:
    """The request's JSON Patch document; 400 when it is not one (RFC 5789: a malformed
    patch document)."""
    try:
        load_json(raw)  # depth, NUL, integers past 64 bits: refused before anything walks it
        # a decimal keeps its text (1.50 stays 1.50), as in a create or an update
        doc = json.loads(raw, parse_float=json_text.Number, object_pairs_hook=_unique_members)
        return jsonpatch.check(doc)
    except jsonpatch.PatchError as e:
        field, problem = f"PATCH{e.location}", e.message
    except (UnicodeDecodeError, ValueError) as e:
        field, problem = "PATCH", str(e)
    raise BadRequest(
        N_("The body is not a JSON Patch document (RFC 6902): %(problem)s"),
        params={"problem": problem[:300]},
        errors=[FieldError(field, problem[:300])],
    )


def _unchanged(resource_type: str, before: dict[str, Any], after: Any) -> list[FieldError]:
    """What a patch may not change: the type, the id, the patient, the version and time
    the server sets."""
    if not isinstance(after, dict):
        return [FieldError(resource_type, N_("A patch must leave a resource (a JSON object)."))]
    errors = []
    subject = record.SUBJECT_FIELD[resource_type]
    for key in ("resourceType", "id", subject):
        if after.get(key) != before.get(key):
            errors.append(
                FieldError(
                    f"{resource_type}.{key}",
                    N_("A patch may not change %(element)s."),
                    {"element": key},
                )
            )
    old_meta, new_meta = before.get("meta") or {}, after.get("meta")
    new_meta = new_meta if isinstance(new_meta, dict) else {}
    for key in ("versionId", "lastUpdated"):
        if new_meta.get(key) != old_meta.get(key):
            errors.append(
                FieldError(
                    f"{resource_type}.meta.{key}",
                    N_("A patch may not change %(element)s: the server sets it."),
                    {"element": f"meta.{key}"},
                )
            )
    return errors


async def _patch(
    request: Request, session: Any, principal: Principal, resource_type: str, rid: str
) -> Response:
    """Apply a JSON Patch to the version ``If-Match`` names and store the result as an
    update would (the same checks, 422 naming what is wrong). FHIR R4 (http.html, patch):
    a failed ``test`` is 422; resource contention is required, so ``If-Match`` is."""
    if record.row_id(rid) is None:
        if resource_type in SHARED:
            # another domain's id (a pregnancy's Encounter, a tumour's Condition): it
            # serves no PATCH
            raise mapper.NoUpdateCreate(
                N_(
                    "PATCH is served for the shared record's resources (ids shr-<n>) only; "
                    "%(reference)s is not one of them."
                ),
                params={"reference": f"{resource_type}/{rid}"[:200]},
                headers={"Allow": "GET, PUT"},
            )
        raise missing(resource_type, rid)
    header = request.headers.get("if-match")
    if header is None:
        raise PreconditionFailed(
            N_('Send If-Match with the ETag you read (W/"<version>"): a patch changes the '
               "version it was written for.")
        )  # fmt: skip
    expected = parse_if_match(header)
    operations = _patch_document(await request.body())
    current = await record.read_resource(session, principal, resource_type, rid)
    if current.version != expected:
        raise PreconditionFailed(
            N_(
                "Version %(sent)s was changed meanwhile (the current one is %(current)s); "
                "read it again and send your change on it."
            ),
            params={"sent": expected, "current": current.version},
            extensions={"current_version": current.version},
        )
    before = mapper.to_fhir(current)
    try:
        after = jsonpatch.apply(before, operations)
    except jsonpatch.PatchError as e:
        if e.failed_test:
            raise Invalid.fields(
                [FieldError(f"PATCH{e.location}", e.message[:300])],
                N_("A test of the patch failed; nothing was changed."),
            ) from e
        raise Invalid.fields(
            [FieldError(f"PATCH{e.location}", e.message[:300])],
            N_("The patch cannot be applied to this version; nothing was changed."),
        ) from e
    if errors := _unchanged(resource_type, before, after):
        raise Invalid.fields(errors)
    size = len(json.dumps(after, ensure_ascii=False, separators=(",", ":")).encode())
    limit = get_settings().max_fhir_body_bytes
    if size > limit:
        # what a PUT could not send, a patch does not make
        raise PayloadTooLarge(
            N_("The patched resource (%(size)s bytes) is over the limit of %(max)s bytes."),
            params={"size": size, "max": limit},
        )
    body = mapper.validate_resource(after, resource_type)
    return await store_update(request, session, principal, resource_type, rid, body, expected)


# ---- $validate -----------------------------------------------------------------------------


def _to_validate(data: Any, resource_type: str) -> Any:
    """The resource to validate: the body itself, or a Parameters' ``resource`` (with
    ``mode`` create, the only mode served)."""
    if not isinstance(data, dict) or data.get("resourceType") != "Parameters":
        return data
    errors: list[FieldError] = []
    resource = None
    for i, p in enumerate(data.get("parameter") or []):
        name = p.get("name") if isinstance(p, dict) else None
        if name == "resource":
            resource = p.get("resource")
        elif name == "mode":
            if p.get("valueCode") != "create":
                errors.append(
                    FieldError(
                        f"Parameters.parameter[{i}]",
                        N_("Only mode create is served: the checks of a create."),
                    )
                )
        else:
            errors.append(
                FieldError(
                    f"Parameters.parameter[{i}]",
                    N_("Unsupported parameter %(name)s: give resource (and mode create)."),
                    {"name": str(name)[:100]},
                )
            )
    if resource is None:
        errors.append(
            FieldError(
                "Parameters.parameter",
                N_("Give the %(type)s to validate as the parameter resource."),
                {"type": resource_type},
            )
        )
    if errors:
        raise Invalid.fields(errors)
    return resource


def _outcome(e: SalomatError) -> dict[str, Any]:
    issues = [
        {"severity": "error", "code": e.fhir_code, "diagnostics": f.message,
         "expression": [f.field]}
        for f in e.errors
    ] or [{"severity": "error", "code": e.fhir_code, "diagnostics": e.detail}]  # fmt: skip
    return {"resourceType": "OperationOutcome", "issue": issues}


async def _validate(
    request: Request, session: Any, principal: Principal, resource_type: str
) -> Response:
    """The checks of a create (FHIR R4B, then the record's: the patient, identifier
    systems, references, attachments, a taken identifier), nothing stored: 200 with an
    OperationOutcome of the errors, or of one information issue when there are none."""
    data = _to_validate(mapper.parse_body(await request.body(), resource_type), resource_type)
    if cancer_notification(data) or sick_leave_document(data):
        # its create goes to the cancer registry or sick leave, whose checks these are not
        return fhir_response(
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "error",
                        "code": "not-supported",
                        "diagnostics": i18n.gettext(
                            N_(
                                "This %(type)s is the cancer registry's or sick leave's (its "
                                "create goes there); $validate checks the shared record's "
                                "resources only."
                            )
                        )
                        % {"type": resource_type},
                    }
                ],
            }
        )
    try:
        body = mapper.validate_resource(data, resource_type)
        with elements(resource_type):
            await record.check_create(session, principal, body)
    except SalomatError as e:
        if e.status >= 500 or e.status in (401, 403):
            raise
        return fhir_response(_outcome(e))
    ok = i18n.gettext(N_("No errors: a create would accept this %(type)s.")) % {
        "type": resource_type
    }
    return fhir_response(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "information", "code": "informational", "diagnostics": ok}],
        }
    )


# ---- _history over many resources ---------------------------------------------------------


def parse_since(raw: str | None) -> datetime | None:
    """``_since`` as an instant (to the second, with its zone); 422 naming it else."""
    if raw is None:
        return None
    if _INSTANT.fullmatch(raw):
        try:
            at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            at.astimezone(UTC)  # 0001-01-01T00:00:00+14:00 has no UTC instant: refused
            return at
        except (ValueError, OverflowError):
            pass
    raise Invalid.fields(
        [FieldError("_since", N_("Give an instant with its zone, e.g. 2026-11-01T00:00:00Z."))]
    )


def history_bundle(
    request: Request,
    path: str,
    versions: list[StoredResource],
    total: int,
    params: Params,
) -> dict[str, Any]:
    """One page of versions (``versions``, that page alone) of ``total``, at ``path``
    (``/Observation/shr-5/_history``, ``/Observation/_history``, ``/_history``)."""
    base = base_url(request)
    page = params.page()
    entries = []
    for s in versions:
        r = mapper.to_fhir(s)
        created = s.version == 1
        entries.append(
            {
                "fullUrl": f"{base}/{mapper.resource_url(s)}",
                "resource": r,
                "request": {
                    "method": "POST" if created else "PUT",
                    "url": s.resource_type if created else mapper.resource_url(s),
                },
                "response": {
                    "status": "201 Created" if created else "200 OK",
                    "etag": etag(s.version),
                    "lastModified": r.get("meta", {}).get("lastUpdated"),
                },
            }
        )
    body = {
        "resourceType": "Bundle",
        "type": "history",
        "total": total,
        "link": page_links(base, path, params.items, total, page),
        "entry": entries,
    }
    return bundle_out(body)  # each version as stored


async def _history(
    request: Request, session: Any, principal: Principal, types: tuple[str, ...], path: str
) -> Response:
    params = Params(list(request.query_params.multi_items()), HISTORY_PARAMS)
    page = params.page()
    since = parse_since(params.get("_since"))
    found = await record.history_of_types(
        session, principal, types, since=since, offset=page.offset, limit=page.limit
    )
    return fhir_response(history_bundle(request, path, found.items, found.total, params))


# ---- routes --------------------------------------------------------------------------------

#: the history's parameters in ``/openapi.json`` (the route reads the raw query)
_QUERY = {
    "parameters": [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
        for n in sorted(HISTORY_PARAMS)
    ]
}


def _add_routes(resource_type: str) -> None:
    t = resource_type

    async def history(request: Request, session: Session, principal: Reader) -> Response:
        return await _history(request, session, principal, (t,), f"/{t}/_history")

    async def validate(request: Request, session: Session, principal: Writer) -> Response:
        return await _validate(request, session, principal, t)

    async def patch(
        request: Request, session: Session, resource_id: str, principal: Writer
    ) -> Response:
        return await _patch(request, session, principal, t, resource_id)

    for fn in (history, validate, patch):
        fn.__name__ = f"{fn.__name__}_record_{t.lower()}"
    router.add_api_route(f"/{t}/_history", history, methods=["GET"], openapi_extra=_QUERY)
    router.add_api_route(f"/{t}/$validate", validate, methods=["POST"])
    router.add_api_route(f"/{t}/{{resource_id}}", patch, methods=["PATCH"])


for _t in record.RESOURCE_TYPES:
    _add_routes(_t)


@router.get("/_history", openapi_extra=_QUERY)
async def history_record_system(request: Request, session: Session, principal: Reader) -> Response:
    """The versions of every type the shared record keeps (the platform's other domains
    keep no versions this way and are not part of it)."""
    return await _history(request, session, principal, tuple(record.RESOURCE_TYPES), "/_history")
