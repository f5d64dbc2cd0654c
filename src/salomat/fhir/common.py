"""What every FHIR resource route shares: responses, versions, parsing, error paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.routing import Match
from starlette.types import Scope

from salomat.core import i18n, json_text
from salomat.core.config import get_settings
from salomat.core.errors import N_, FieldError, Invalid, PreconditionFailed, SalomatError
from salomat.core.pagination import PageParams, check_page
from salomat.core.params import BodyError, load_json, parse_row_id, parse_version
from salomat.core.uow import UnitOfWorkRoute
from salomat.country import pack
from salomat.fhir import output

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


def boolean_param(params: Params, name: str) -> bool | None:
    """A search parameter of type token true/false (``active``): None when not given;
    ``Invalid`` naming it otherwise."""
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise Invalid.fields([FieldError(name, N_("must be true or false"))])
    return raw == "true"


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


class FhirJSONResponse(JSONResponse):
    """JSON as ``core.json_text`` writes it: a decimal by the text it was sent with
    (``dump_bytes``: by orjson)."""

    def render(self, content: Any) -> bytes:
        return json_text.dump_bytes(content)


def fhir_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return FhirJSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def etag(version: int) -> str:
    return f'W/"{version}"'


def http_date(when: datetime) -> str:
    return format_datetime(
        (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC), True
    )


def instant(when: datetime) -> str:
    """A FHIR ``instant`` (meta.lastUpdated) in UTC, written as the R4B model writes it
    (``Z``), so a resource that skips the model (``unchecked_output``) reads the same."""
    text = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


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
    warnings: list[FieldError] | None = None,
) -> Response:
    """A resource with ETag, Last-Modified and (create, update) its versioned Location.

    A GET whose ``If-None-Match`` names the resource's ETag (or ``*``) is answered 304
    with no body. A create or update (``location``) answers as its ``Prefer: return=``
    asks: ``minimal`` no body, ``OperationOutcome`` an OperationOutcome saying what was
    stored and the ``warnings`` the store made, else (``representation``, the default)
    the resource."""
    version = resource["meta"]["versionId"]
    headers = {"ETag": etag(int(version))}
    if "lastUpdated" in resource["meta"]:
        updated = datetime.fromisoformat(resource["meta"]["lastUpdated"])
        headers["Last-Modified"] = http_date(updated)
    if location:
        headers["Location"] = (
            f"{base_url(request)}/{resource['resourceType']}/{resource['id']}/_history/{version}"
        )
    if request.method == "GET" and etag_matches(request.headers.get("if-none-match"), version):
        return Response(status_code=304, headers=headers)
    if not location:
        return fhir_response(resource, status, headers)
    wanted = preferred_return(request.headers.get("prefer"))
    if wanted is None:
        return fhir_response(resource, status, headers)
    headers["Preference-Applied"] = f"return={wanted}"
    if wanted == "minimal":
        return Response(status_code=status, headers=headers)
    if wanted == "OperationOutcome":
        return fhir_response(stored_outcome(request, resource, status, warnings), status, headers)
    return fhir_response(resource, status, headers)


def etag_matches(header: str | None, version: str | int) -> bool:
    """``If-None-Match`` names the version (weak comparison: ``W/"3"`` and ``"3"`` both
    name version 3) or is ``*``."""
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/").strip('"') == str(version):
            return True
    return False


#: the values of ``Prefer: return=`` (FHIR R4 http.html, "Managing Return Content")
RETURN_PREFERENCES = ("minimal", "representation", "OperationOutcome")


def preferred_return(header: str | None) -> str | None:
    """The ``return`` preference of a ``Prefer`` header (RFC 7240: preferences separated
    by commas, parameters by semicolons), None without one or with a value FHIR does not
    define (a preference the server does not know is ignored, RFC 7240 section 2)."""
    if not header:
        return None
    for part in header.replace(";", ",").split(","):
        name, _, value = part.partition("=")
        if name.strip().lower() == "return":
            value = value.strip().strip('"')
            return value if value in RETURN_PREFERENCES else None
    return None


def stored_outcome(
    request: Request,
    resource: dict[str, Any],
    status: int,
    warnings: list[FieldError] | None = None,
) -> dict[str, Any]:
    """What ``Prefer: return=OperationOutcome`` answers a create or update: one
    information issue saying what was stored (or, a conditional create that matched,
    found), then each warning of the store."""
    params = {
        "reference": f"{resource['resourceType']}/{resource['id']}",
        "version": resource["meta"]["versionId"],
    }
    if request.method == "POST" and status == 201:
        msgid = N_("Created %(reference)s, version %(version)s.")
    elif request.method == "POST":
        msgid = N_("%(reference)s (version %(version)s) matched the condition; nothing was stored.")
    else:
        msgid = N_("Updated %(reference)s, version %(version)s.")
    issues: list[dict[str, Any]] = [
        {"severity": "information", "code": "informational",
         "diagnostics": i18n.gettext(msgid) % params}
    ]  # fmt: skip
    issues += [
        {"severity": "warning", "code": "informational", "diagnostics": w.message,
         "expression": [w.field]}
        for w in warnings or []
    ]  # fmt: skip
    return {"resourceType": "OperationOutcome", "issue": issues}


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


# ---- formats: _format, Accept, Content-Type -------------------------------------------

#: the media types a FHIR JSON body or answer goes by (``application/json+fhir``: DSTU2's
#: name, which older clients still send)
JSON_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})
#: ``_format`` values meaning JSON (FHIR R4 http.html, "Content Types and encodings")
JSON_FORMATS = JSON_TYPES | {"json"}
JSON_PATCH = "application/json-patch+json"


class NotAcceptable(SalomatError):
    """The caller asked for a format this server does not write (XML, Turtle, HTML)."""

    status, code, title, fhir_code = 406, "not-acceptable", "Not acceptable", "not-supported"


class UnsupportedMediaType(SalomatError):
    """The body is in a format this server does not read."""

    status, code, fhir_code = 415, "unsupported-media-type", "not-supported"
    title = "Unsupported media type"


def _media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    """An ``Accept`` header's media ranges with their parameters (``q`` among them)."""
    out = []
    for part in header.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        if not kind:
            continue
        values = {}
        for param in params:
            name, _, value = param.partition("=")
            values[name.strip().lower()] = value.strip().strip('"')
        out.append((kind.lower(), values))
    return out


def _json_accepted(kind: str, params: dict[str, str]) -> bool:
    try:
        q = float(params.get("q", "1"))
    except ValueError:
        q = 0.0
    if not q > 0:
        return False
    version = params.get("fhirversion")
    if version is not None and not version.startswith("4.0"):
        return False
    return kind in JSON_TYPES or kind in ("*/*", "application/*")


def _only_json(detail: str, **params: Any) -> NotAcceptable:
    return NotAcceptable(detail, params=params)


async def negotiate(request: Request) -> None:
    """Every FHIR route's formats, checked once (a dependency of the ``/fhir`` router):

    - ``_format`` (which overrides ``Accept``): json, application/fhir+json or
      application/json; anything else 406. It is then taken out of the query, so no
      route's parameters see it.
    - ``Accept``: 406 when no range admits JSON (``application/fhir+xml`` alone).
    - a body's ``Content-Type``: FHIR JSON or JSON (a PATCH: JSON Patch), else 415. A
      body sent without one is read as JSON.
    """
    items = list(request.query_params.multi_items())
    formats = [v for k, v in items if k == "_format"]
    if formats:
        for value in formats:
            if value.strip().lower().split(";")[0].strip() not in JSON_FORMATS:
                raise _only_json(
                    N_("This server speaks JSON only (_format=%(format)s): ask for "
                       "json, application/fhir+json or application/json."),
                    format=value[:100],
                )  # fmt: skip
        request.scope["query_string"] = urlencode(
            [(k, v) for k, v in items if k != "_format"]
        ).encode("latin-1", "replace")
        request.__dict__.pop("_query_params", None)
        request.__dict__.pop("_url", None)
    else:
        accept = request.headers.get("accept")
        if accept and accept.strip():
            ranges = _media_ranges(accept)
            if ranges and not any(_json_accepted(k, p) for k, p in ranges):
                raise _only_json(
                    N_("This server speaks JSON only (Accept: %(accept)s): accept "
                       "application/fhir+json or application/json."),
                    accept=accept[:200],
                )  # fmt: skip
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.headers.get("content-type")
    has_body = request.headers.get("content-length", "0") not in ("", "0") or (
        "transfer-encoding" in request.headers
    )
    if not content_type or not has_body:
        return
    kind, _, rest = content_type.partition(";")
    kind = kind.strip().lower()
    charset = dict(_media_ranges(f"x;{rest}")[0][1]).get("charset") if rest else None
    allowed = frozenset({JSON_PATCH}) if request.method == "PATCH" else JSON_TYPES
    if kind not in allowed or (charset is not None and charset.lower() not in ("utf-8", "utf8")):
        expected = JSON_PATCH if request.method == "PATCH" else FHIR_JSON
        raise UnsupportedMediaType(
            N_("This server reads %(expected)s here, in UTF-8; not %(type)s."),
            params={"expected": expected, "type": content_type[:200]},
            headers={"Accept-Patch": JSON_PATCH} if request.method == "PATCH" else None,
        )


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
            # past 64 bits check_page names it; thousands of digits Python will not read
            if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) <= 100):
                raise Invalid.fields([FieldError(name, N_("must be a whole number"))])
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
    request and response) written as the R4B model writes it (``output.ordered``, checked
    against the model under test); the entries' resources are put back exactly as given,
    not as the model writes them again. Each one has been through its own model already
    (a domain's mapper, or the shared record's check when it was sent), and the model's
    dump would change what a sender wrote: ``09:20:00.000+05:00`` becomes
    ``09:20:00+05:00``, ``09:15:00.5`` ``09:15:00.500000``. A ``response.lastModified``
    given as text is kept as written too (it passed the model as an instant), so that it
    reads as the resource's ``meta.lastUpdated`` does."""
    from fhir.resources.R4B.bundle import Bundle

    entries = body.get("entry")
    if not isinstance(entries, list):
        return _written(Bundle, body)
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

    def as_given(out: dict[str, Any]) -> dict[str, Any]:
        for i, text in modified.items():
            out["entry"][i]["response"]["lastModified"] = text
        return out

    out = _written(Bundle, {**body, "entry": shell_entries}, as_given)
    out_entries = out.get("entry", [])
    for i, resource in kept.items():
        # after fullUrl, where the model writes an entry's resource
        before = {k: v for k, v in out_entries[i].items() if k in _BEFORE_RESOURCE}
        after = {k: v for k, v in out_entries[i].items() if k not in _BEFORE_RESOURCE}
        out_entries[i] = {**before, "resource": resource, **after}
    return out


#: a Bundle entry's elements that come before its resource
_BEFORE_RESOURCE = frozenset({"id", "extension", "modifierExtension", "link", "fullUrl"})


#: set by ``unchecked_output`` (a bulk export's mapping only)
_UNCHECKED: ContextVar[bool] = ContextVar("salomat_fhir_unchecked_output", default=False)


@contextmanager
def unchecked_output() -> Iterator[None]:
    """Within it, ``validated`` skips the comparison with the model made under test, and
    where ``output.ordered`` is not sure it only drops the empty (None) elements.

    For a bulk export: millions of resources from the same mappers whose answers are
    compared with the model everywhere else. tests/fhir/test_bulk_export.py holds that
    every exported line is exactly what the model makes of it, and HL7's schema checks
    them.
    """
    token = _UNCHECKED.set(True)
    try:
        yield
    finally:
        _UNCHECKED.reset(token)


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


def validated(model: type[BaseModel], resource: dict[str, Any]) -> dict[str, Any]:
    """An outgoing resource as its R4B model writes it (``output.ordered``: the model's
    element order, no empty elements) without the model's round trip: what the platform
    produced was validated where it came in. A Bundle's shell likewise and its entries'
    resources kept as given (``bundle_out``). Under test each one is also made the
    model's way and must be the same, key order included."""
    if resource.get("resourceType") == "Bundle" and model.__name__ == "Bundle":
        return bundle_out(resource)
    return _written(model, resource)


def _written(
    model: type[BaseModel],
    resource: dict[str, Any],
    adjust: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``output.ordered``, or the model's round trip where the walk is not sure to write
    what the model would (then the model refuses what it must); ``adjust`` is applied to
    either answer. Under test (``SALOMAT_ENV=test``) both, compared."""
    fast = output.ordered(model, resource)
    if fast is not None and adjust is not None:
        fast = adjust(fast)
    if _UNCHECKED.get():
        return fast if fast is not None else _without_none(resource)
    if fast is not None and get_settings().env != "test":
        return fast
    expected = model.model_validate(resource).model_dump(mode="json", exclude_none=True)
    if adjust is not None:
        expected = adjust(expected)
    if fast is None:
        return expected
    if not output.same(fast, expected):
        raise AssertionError(
            f"fhir.output wrote a {model.__name__} otherwise than its R4B model: "
            f"{json_text.dumps(fast)} != {json_text.dumps(expected)}"
        )
    return fast
