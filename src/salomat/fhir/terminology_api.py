"""Terminology routes under /fhir: ``CodeSystem`` and ``ValueSet`` (read, search by
``url``, ``name``, ``_count``, ``_offset``) and ``CodeSystem/$lookup``,
``CodeSystem/$validate-code``, ``ValueSet/$validate-code``, ``ValueSet/$expand``, at type
and instance level, by GET (query) or POST (a ``Parameters`` body). Read-only, no person
data: ``terminology:read``, no audit. Answers come from ``fhir/terminology``'s cached
tables; errors are OperationOutcomes naming the parameter (422, 404 for an unknown
system, value set, id or code).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.params import MAX_INT
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.fhir import terminology as terms_service
from salomat.fhir.common import base_url, fhir_response, read_body, resource_response
from salomat.fhir.search import bundle
from salomat.fhir.terminology import Coded, Terminology, ValueSet

router = router(tags=["fhir"])  # type: ignore[no-redef]
Reader = Annotated[Principal, Depends(Require("terminology:read"))]

OP = "http://hl7.org/fhir/OperationDefinition/"
SEARCH = frozenset({"url", "name", "_count", "_offset"})
#: each operation's parameters (GET query and POST Parameters alike)
LOOKUP = frozenset({"system", "code", "version", "coding", "displayLanguage"})
CS_VALIDATE = frozenset(
    {"url", "system", "code", "version", "display", "coding", "codeableConcept", "displayLanguage"}
)
VS_VALIDATE = CS_VALIDATE | {"valueSetVersion", "systemVersion"}
EXPAND = frozenset({"url", "filter", "count", "offset", "displayLanguage", "valueSetVersion"})
#: an expansion page's default and largest size
EXPAND_DEFAULT, EXPAND_MAX = 100, 1000
MAX_TEXT = 1000
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: what a FHIR string may not hold (tab, CR and LF are allowed)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LANG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")

CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "CodeSystem",
        "profile": "http://hl7.org/fhir/StructureDefinition/CodeSystem",
        "documentation": "The national code systems and the external ones the platform "
        "accepts (ICD-10, ICD-O-3, LOINC, ATC, CVX, SNOMED CT fragments); docs/exchange.md",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": "url", "type": "uri"},
            {"name": "name", "type": "string"},
            {"name": "_count", "type": "number"},
        ],
        "operation": [
            {"name": "lookup", "definition": f"{OP}CodeSystem-lookup"},
            {"name": "validate-code", "definition": f"{OP}CodeSystem-validate-code"},
        ],
    },
    {
        "type": "ValueSet",
        "profile": "http://hl7.org/fhir/StructureDefinition/ValueSet",
        "documentation": "One value set per code system and those our profiles bind "
        "(immunization-vaccine, maternal-readings)",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [
            {"name": "url", "type": "uri"},
            {"name": "name", "type": "string"},
            {"name": "_count", "type": "number"},
        ],
        "operation": [
            {"name": "expand", "definition": f"{OP}ValueSet-expand"},
            {"name": "validate-code", "definition": f"{OP}ValueSet-validate-code"},
        ],
    },
]


# ---- parameters ----------------------------------------------------------------------


class Args:
    """An operation's parameters: single values by name, and the codings sent."""

    def __init__(self, values: dict[str, str], codings: list[Coded], concept: list[Coded]):
        self.values = values
        self.codings = codings
        self.concept = concept

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise Invalid.fields(
            [FieldError(name, N_("must be text of 1 to %(max)s characters"), {"max": MAX_TEXT})]
        )
    if _CONTROL.search(value):
        raise Invalid.fields([FieldError(name, N_("must not hold a control character"))])
    return value


def _query_args(request: Request, allowed: frozenset[str]) -> Args:
    items = list(request.query_params.multi_items())
    unknown = sorted({k for k, _ in items} - allowed)
    if unknown:
        raise Invalid.fields([FieldError(k, N_("unsupported parameter")) for k in unknown])
    values: dict[str, str] = {}
    for k, v in items:
        if k in ("coding", "codeableConcept"):
            raise Invalid.fields(
                [
                    FieldError(
                        k, N_("send it in a Parameters body (POST); by GET give system and code")
                    )
                ]
            )
        values[k] = _text(k, v)
    return Args(values, [], [])


def _coded(name: str, coding: Any) -> Coded:
    if not isinstance(coding, dict):
        raise Invalid.fields([FieldError(name, N_("must be a Coding"))])
    return Coded(
        coding.get("system"), coding.get("code"), coding.get("display"), coding.get("version")
    )


async def _body_args(request: Request, allowed: frozenset[str]) -> Args:
    from fhir.resources.R4B.parameters import Parameters

    body = await read_body(request, "Parameters", Parameters)
    data = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    values: dict[str, str] = {}
    codings: list[Coded] = []
    concept: list[Coded] = []
    errors: list[FieldError] = []
    for i, p in enumerate(data.get("parameter") or []):
        name = p.get("name")
        at = f"Parameters.parameter[{i}]"
        if name not in allowed:
            errors.append(
                FieldError(f"{at}.name", N_("unsupported parameter %(name)s"), {"name": str(name)})
            )
            continue
        value = next((v for k, v in p.items() if k.startswith("value")), None)
        if name == "coding":
            codings.append(_coded(name, value))
        elif name == "codeableConcept":
            if not isinstance(value, dict):
                errors.append(FieldError(name, N_("must be a CodeableConcept")))
                continue
            concept += [_coded(name, c) for c in value.get("coding") or []]
            if not value.get("coding"):
                errors.append(FieldError(name, N_("needs a coding")))
        elif isinstance(value, bool) or value is None or isinstance(value, dict | list):
            errors.append(FieldError(name, N_("must be a simple value")))
        else:
            values[name] = _text(name, str(value))
    if errors:
        raise Invalid.fields(errors)
    return Args(values, codings, concept)


def _number(args: Args, name: str, default: int, top: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= top):
        raise Invalid.fields(
            [FieldError(name, N_("must be a whole number from 0 to %(max)s"), {"max": top})]
        )
    return int(raw)


def _language(args: Args) -> str | None:
    lang = args.get("displayLanguage")
    if lang is not None and not _LANG.fullmatch(lang):
        raise Invalid.fields([FieldError("displayLanguage", N_("must be a language code"))])
    return lang


def _items(args: Args, system: str | None) -> list[Coded]:
    """What a $validate-code checks: the codeableConcept's codings, the coding, or the
    code with its system."""
    if args.concept:
        return args.concept
    if args.codings:
        return args.codings
    code = args.get("code")
    if code is None:
        return []
    version = args.get("version") or args.get("systemVersion")
    return [Coded(system, code, args.get("display"), version)]


def _terms() -> Terminology:
    return terms_service.current()


def _by_id(table: dict[str, Any], kind: str, rid: str) -> Any:
    found = table.get(rid) if _ID.fullmatch(rid) else None
    if found is None:
        raise NotFound(
            N_("%(type)s %(id)s not found."),
            errors=[FieldError("id", N_("no %(type)s with this id"), {"type": kind})],
            params={"type": kind, "id": rid},
        )
    return found


def _value_set(terms: Terminology, url: str | None) -> ValueSet:
    if not url:
        raise Invalid.fields([FieldError("url", N_("is required: the value set's url"))])
    vs = terms.value_sets.get(url.split("|")[0])
    if vs is None:
        raise NotFound(
            N_("No value set %(url)s on this server (GET /fhir/ValueSet lists them)."),
            errors=[FieldError("url", N_("unknown value set"))],
            params={"url": url},
        )
    return vs


# ---- search and read -----------------------------------------------------------------


def _search(request: Request, kind: str, resources: list[Any]) -> JSONResponse:
    args = _query_args(request, SEARCH)
    count = _number(args, "_count", 20, 1000)
    offset = _number(args, "_offset", 0, MAX_INT)
    url, name = args.get("url"), args.get("name")
    found = [
        r
        for r in resources
        if (url is None or r.url == url.split("|")[0])
        and (name is None or r.name.casefold().startswith(name.casefold()))
    ]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]
    page = [r.resource() for r in found[offset : offset + count]] if count else []
    return fhir_response(
        bundle(base_url(request), f"/{kind}", params, page, len(found), max(count, 1), offset)
    )


# the operation routes come before ``/{id}``: "$lookup" is no id


async def _lookup(
    request: Request, args: Args, system: str | None = None, *, session: Any
) -> JSONResponse:
    terms = _terms()
    code = args.get("code")
    version = args.get("version")
    if args.codings:
        c = args.codings[0]
        system, code, version = c.system, c.code, c.version or version
    else:
        system = system or args.get("system")
    await terms_service.resolve(terms, session, [(system, code)])
    return fhir_response(terms_service.lookup(terms, system, code, version, _language(args)))


async def _cs_validate(
    request: Request, args: Args, system: str | None = None, *, session: Any
) -> JSONResponse:
    terms = _terms()
    system = system or args.get("url") or args.get("system")
    items = _items(args, system)
    if system and terms.systems.get(system) is None:
        raise NotFound(
            N_("No code system %(system)s on this server (GET /fhir/CodeSystem lists them)."),
            errors=[FieldError("url", N_("unknown code system %(system)s"), {"system": system})],
            params={"system": system},
        )
    await terms_service.resolve(terms, session, [(i.system, i.code) for i in items])
    return fhir_response(terms_service.validate_code(terms, items, None, _language(args)))


async def _vs_validate(
    request: Request, args: Args, vs: ValueSet | None = None, *, session: Any
) -> JSONResponse:
    terms = _terms()
    vs = vs or _value_set(terms, args.get("url"))
    items = _items(args, args.get("system"))
    await terms_service.resolve(terms, session, [(i.system, i.code) for i in items])
    return fhir_response(terms_service.validate_code(terms, items, vs, _language(args)))


async def _expand(
    request: Request, args: Args, vs: ValueSet | None = None, *, session: Any
) -> JSONResponse:
    terms = _terms()
    vs = vs or _value_set(terms, args.get("url"))
    count = _number(args, "count", EXPAND_DEFAULT, EXPAND_MAX)
    offset = _number(args, "offset", 0, MAX_INT)
    return fhir_response(
        terms_service.expand(
            terms, vs, text=args.get("filter"), count=count, offset=offset, lang=_language(args)
        )
    )


Handler = Callable[..., Any]


def _query(names: frozenset[str]) -> dict[str, Any]:
    """The operation's query parameters in ``/openapi.json`` (the route reads the raw
    query), so clients and the schema fuzzer see them; Parameters-only ones left out."""
    simple = sorted(names - {"coding", "codeableConcept"})
    return {
        "parameters": [
            {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in simple
        ]
    }


def _routes(path: str, handler: Handler, allowed: frozenset[str], instance: str | None) -> None:
    """GET (query) and POST (Parameters) of one operation, at type level and, with
    ``instance`` (CodeSystem or ValueSet), at instance level."""

    async def get_type(request: Request, session: DbSession, _: Reader) -> JSONResponse:
        return await handler(request, _query_args(request, allowed), session=session)

    async def post_type(request: Request, session: DbSession, _: Reader) -> JSONResponse:
        return await handler(request, await _body_args(request, allowed), session=session)

    router.add_api_route(f"/{path}", get_type, methods=["GET"], openapi_extra=_query(allowed))
    router.add_api_route(f"/{path}", post_type, methods=["POST"])
    if instance is None:
        return
    kind, op = path.split("/")
    # the instance names the code system (or the value set) the url would
    own = allowed - ({"url", "system"} if kind == "CodeSystem" else {"url"})

    def target(rid: str) -> Any:
        terms = _terms()
        if kind == "CodeSystem":
            return _by_id(terms.systems_by_id, kind, rid).url
        return _by_id(terms.value_sets_by_id, kind, rid)

    async def get_instance(
        request: Request, resource_id: str, session: DbSession, _: Reader
    ) -> JSONResponse:
        found = target(resource_id)
        return await handler(request, _query_args(request, own), found, session=session)

    async def post_instance(
        request: Request, resource_id: str, session: DbSession, _: Reader
    ) -> JSONResponse:
        found = target(resource_id)
        args = await _body_args(request, own)
        return await handler(request, args, found, session=session)

    router.add_api_route(
        f"/{kind}/{{resource_id}}/{op}", get_instance, methods=["GET"], openapi_extra=_query(own)
    )
    router.add_api_route(f"/{kind}/{{resource_id}}/{op}", post_instance, methods=["POST"])


_routes("CodeSystem/$lookup", _lookup, LOOKUP, "CodeSystem")
_routes("CodeSystem/$validate-code", _cs_validate, CS_VALIDATE, "CodeSystem")
_routes("ValueSet/$validate-code", _vs_validate, VS_VALIDATE, "ValueSet")
_routes("ValueSet/$expand", _expand, EXPAND, "ValueSet")


@router.get("/CodeSystem")
async def search_code_systems(request: Request, _: Reader) -> JSONResponse:
    return _search(request, "CodeSystem", list(_terms().systems.values()))


@router.get("/ValueSet")
async def search_value_sets(request: Request, _: Reader) -> JSONResponse:
    return _search(request, "ValueSet", list(_terms().value_sets.values()))


@router.get("/CodeSystem/{resource_id}")
async def read_code_system(request: Request, resource_id: str, _: Reader) -> Response:
    cs = _by_id(_terms().systems_by_id, "CodeSystem", resource_id)
    return resource_response(request, cs.resource())


@router.get("/ValueSet/{resource_id}")
async def read_value_set(request: Request, resource_id: str, _: Reader) -> Response:
    vs = _by_id(_terms().value_sets_by_id, "ValueSet", resource_id)
    return resource_response(request, vs.resource())
