"""What every FHIR resource route shares: responses, versions, parsing, error paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.routing import Match
from starlette.types import Scope

from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, PreconditionFailed, SalomatError
from salomat.core.pagination import PageParams, check_page
from salomat.core.params import BodyError, load_json, parse_row_id, parse_version
from salomat.core.uow import UnitOfWorkRoute
from salomat.country import pack

FHIR_JSON = "application/fhir+json"
#: Salomat's own extensions (the placeholder domain of docs/fhir.md)
EXT = "https://salomat.example/fhir/StructureDefinition/"
FACILITY_SYSTEM = "urn:salomat:facility"
TERRITORY_SYSTEM = "urn:salomat:territory"
#: result parameters every search accepts
PAGING = frozenset({"_count", "_offset"})


#: resources kept in reference tables, whose ids are 32-bit
SMALL_ID_KINDS = frozenset(
    {"Organization", "Location", "Practitioner", "PractitionerRole", "Medication"}
)


def reference_id(reference: str, kind: str) -> int | None:
    """The id in ``<kind>/<id>`` (or a bare ``<id>``), None if it cannot be one of ours.

    ASCII digits within the id column's range only: "²" passes ``str.isdigit``
    but not ``int``, and an id past the column's range fails in the driver.
    """
    return parse_row_id(reference.removeprefix(f"{kind}/"), small=kind in SMALL_ID_KINDS)


def reference_param(raw: str | None, kind: str, field: str) -> int | None:
    """A search parameter's ``<kind>/<id>`` (or bare id) as the id; None when it was not
    given; ``Invalid`` naming ``field`` when it cannot be one of ours."""
    if raw is None:
        return None
    v = reference_id(raw, kind)
    if v is None:
        raise Invalid.fields(
            [FieldError(field, N_("must be a %(kind)s id or %(kind)s/<id>"), {"kind": kind})]
        )
    return v


def pack_currency() -> str:
    """The deployed country's currency (ISO 4217), as the pack states it."""
    return str(pack.load(get_settings().country).get("currency", "XXX"))


def money(minor: int, currency: str) -> dict[str, Any]:
    """A FHIR Money from an amount in minor units (x100)."""
    return {"value": minor / 100, "currency": currency}


class BadRequest(SalomatError):
    """The body is not JSON or not a valid R4B resource of the expected type."""

    status, code, title, fhir_code = 400, "bad-request", "Bad request", "structure"


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def fhir_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def etag(version: int) -> str:
    return f'W/"{version}"'


def http_date(when: datetime) -> str:
    return format_datetime(
        (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC), True
    )


def instant(when: datetime) -> str:
    """A FHIR ``instant`` (meta.lastUpdated) in UTC."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def meta(version: int, last_updated: datetime | None) -> dict[str, str]:
    out = {"versionId": str(version)}
    if last_updated is not None:
        out["lastUpdated"] = instant(last_updated)
    return out


def resource_response(
    request: Request,
    resource: dict[str, Any],
    *,
    status: int = 200,
    location: bool = False,
) -> JSONResponse:
    """A resource with ETag, Last-Modified and (create, update) its versioned Location."""
    version = resource["meta"]["versionId"]
    headers = {"ETag": etag(int(version))}
    if "lastUpdated" in resource["meta"]:
        updated = datetime.fromisoformat(resource["meta"]["lastUpdated"])
        headers["Last-Modified"] = http_date(updated)
    if location:
        headers["Location"] = (
            f"{base_url(request)}/{resource['resourceType']}/{resource['id']}/_history/{version}"
        )
    return fhir_response(resource, status, headers)


def parse_if_match(value: str | None, *, body_version: str | None = None) -> int:
    """The version an update expects: ``If-Match`` (an ETag), else the body's meta.versionId."""
    if value is None:
        if body_version is None:
            raise PreconditionFailed(
                'Send If-Match with the ETag you read (W/"<version>"), '
                "or meta.versionId in the resource."
            )
        value = body_version
        field = "meta.versionId"
    else:
        field = "If-Match"
    v = parse_version(value.strip().removeprefix("W/").strip('"'))
    if v is None:
        raise Invalid.fields([FieldError(field, 'must be a version such as W/"3"')])
    return v


async def read_body(request: Request, resource_type: str, model: type[BaseModel]) -> Any:
    """The request's resource, parsed with its R4B model; errors name the element.

    ``load_json`` refuses what no resource holds before anything walks it: nesting
    deeper than ``MAX_JSON_DEPTH``, a NUL character, an integer past 64 bits.
    """
    raw = await request.body()
    try:
        data = load_json(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadRequest("The body is not JSON.", errors=[FieldError(resource_type, str(e))]) from e
    except BodyError as e:
        raise BadRequest(
            f"Not a valid FHIR R4 {resource_type}.",
            errors=[FieldError(element_path(resource_type, e.loc), e.message)],
        ) from e
    if not isinstance(data, dict) or data.get("resourceType") != resource_type:
        raise BadRequest(
            f"Send a {resource_type} resource.",
            errors=[FieldError(f"{resource_type}.resourceType", f"must be {resource_type}")],
        )
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise BadRequest(
            f"Not a valid FHIR R4 {resource_type}.",
            errors=[
                FieldError(element_path(resource_type, err["loc"]), err["msg"])
                for err in e.errors()
            ],
        ) from e


def element_path(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as FHIRPath: ``("name", 0)`` -> ``Patient.name[0]``."""
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("__root__",):
            out += f".{part}"
    return out


@contextmanager
def fields_as(paths: Mapping[str, str]) -> Iterator[None]:
    """Rename a service error's REST field names to the FHIR elements the client sent."""
    try:
        yield
    except SalomatError as e:
        e.errors = [FieldError(paths.get(f.field, f.field), f.message) for f in e.errors]
        raise


# ---- routes that claim their share of a shared type ---------------------------------


def query_of(scope: Scope) -> list[tuple[str, str]]:
    """A request's query parameters, from its ASGI scope (before routing ends)."""
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


def claimed_route(claim: Callable[[Scope], bool]) -> type[UnitOfWorkRoute]:
    """A route class matching only the requests ``claim`` accepts; the others go on to
    the next route of the same path (another domain's share of a resource type)."""

    class Claimed(UnitOfWorkRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            match, child = super().matches(scope)
            if match is not Match.NONE and not claim({**scope, **child}):
                return Match.NONE, {}
            return match, child

    return Claimed


# ---- search plumbing ----------------------------------------------------------------


class Params:
    """A search's query parameters: unknown ones refused, repeated ones take the last value."""

    def __init__(self, items: list[tuple[str, str]], allowed: frozenset[str]) -> None:
        unknown = sorted({k for k, _ in items} - allowed)
        if unknown:
            raise Invalid.fields([FieldError(k, "unsupported search parameter") for k in unknown])
        self.items = items
        self._last = dict(items)

    def get(self, name: str) -> str | None:
        return self._last.get(name)

    def page(self) -> PageParams:
        count, offset = self.get("_count"), self.get("_offset")
        for name, raw in (("_count", count), ("_offset", offset)):
            if raw is not None and not (raw.isascii() and raw.isdigit()):
                raise Invalid.fields([FieldError(name, "must be a whole number")])
        # past 64 bits, check_page refuses the offset by name
        return check_page(
            int(count) if count else None, int(offset) if offset else None, field="_count"
        )


def page_links(
    base: str, path: str, params: list[tuple[str, str]], total: int, page: PageParams
) -> list[dict[str, str]]:
    def link(rel: str, off: int) -> dict[str, str]:
        q = [(k, v) for k, v in params if k not in PAGING]
        q += [("_count", str(page.limit)), ("_offset", str(off))]
        return {"relation": rel, "url": f"{base}{path}?{urlencode(q)}"}

    links = [link("self", page.offset)]
    if page.offset + page.limit < total:
        links.append(link("next", page.offset + page.limit))
    if page.offset > 0:
        links.append(link("previous", max(0, page.offset - page.limit)))
    return links


def searchset(
    base: str,
    resource_type: str,
    params: list[tuple[str, str]],
    resources: list[dict[str, Any]],
    total: int,
    page: PageParams,
) -> dict[str, Any]:
    body = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": page_links(base, f"/{resource_type}", params, total, page),
        "entry": [
            {
                "fullUrl": f"{base}/{resource_type}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
    return bundle_out(body)


def history_bundle(
    base: str,
    resource_type: str,
    resource_id: int,
    versions: list[tuple[str, dict[str, Any]]],
    total: int,
    page: PageParams,
) -> dict[str, Any]:
    """``_history`` of one resource, newest first; ``versions`` are (action, resource).
    An entry's ``response.lastModified`` is its resource's ``meta.lastUpdated`` as
    written there."""
    path = f"/{resource_type}/{resource_id}/_history"
    entries = []
    for action, r in versions:
        created = action == "create"
        entries.append(
            {
                "fullUrl": f"{base}/{resource_type}/{r['id']}",
                "resource": r,
                "request": {
                    "method": "POST" if created else "PUT",
                    "url": resource_type if created else f"{resource_type}/{r['id']}",
                },
                "response": {
                    "status": "201 Created" if created else "200 OK",
                    "etag": etag(int(r["meta"]["versionId"])),
                    "lastModified": r["meta"].get("lastUpdated"),
                },
            }
        )
    body = {
        "resourceType": "Bundle",
        "type": "history",
        "total": total,
        "link": page_links(base, path, [], total, page),
        "entry": entries,
    }
    return bundle_out(body)


def bundle_out(body: dict[str, Any]) -> dict[str, Any]:
    """An outgoing Bundle: its shell (type, total, links, each entry's fullUrl, search,
    request and response) goes through the R4B model; the entries' resources are put back
    exactly as given, not as the model writes them again. Each one has been through its
    own model already (a domain's mapper, or the shared record's check when it was
    sent), and the model's dump would change what a sender wrote: ``09:20:00.000+05:00``
    becomes ``09:20:00+05:00``, ``09:15:00.5`` ``09:15:00.500000``. A
    ``response.lastModified`` given as text is kept as written too (it passed the model
    as an instant), so that it reads as the resource's ``meta.lastUpdated`` does."""
    from fhir.resources.R4B.bundle import Bundle

    entries = body.get("entry")
    if not isinstance(entries, list):
        return Bundle.model_validate(body).model_dump(mode="json", exclude_none=True)
    shell_entries: list[Any] = []
    kept: dict[int, Any] = {}
    modified: dict[int, str] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            shell_entries.append(entry)
            continue
        entry = dict(entry)
        if entry.get("resource") is not None:
            kept[i] = entry.pop("resource")
        response = entry.get("response")
        if isinstance(response, dict) and isinstance(response.get("lastModified"), str):
            modified[i] = response["lastModified"]
        shell_entries.append(entry)
    out = Bundle.model_validate({**body, "entry": shell_entries}).model_dump(
        mode="json", exclude_none=True
    )
    out_entries = out.get("entry", [])
    for i, text in modified.items():
        out_entries[i]["response"]["lastModified"] = text
    for i, resource in kept.items():
        # after fullUrl, where the model writes an entry's resource
        before = {k: v for k, v in out_entries[i].items() if k in _BEFORE_RESOURCE}
        after = {k: v for k, v in out_entries[i].items() if k not in _BEFORE_RESOURCE}
        out_entries[i] = {**before, "resource": resource, **after}
    return out


#: a Bundle entry's elements that come before its resource
_BEFORE_RESOURCE = frozenset({"id", "extension", "modifierExtension", "link", "fullUrl"})


def validated(model: type[BaseModel], resource: dict[str, Any]) -> dict[str, Any]:
    """Every outgoing resource goes through its R4B model; a Bundle's shell does and its
    entries' resources are kept as given (``bundle_out``)."""
    if resource.get("resourceType") == "Bundle" and model.__name__ == "Bundle":
        return bundle_out(resource)
    return model.model_validate(resource).model_dump(mode="json", exclude_none=True)
