"""Transactions and batches: ``POST /fhir`` with a Bundle (issue 18).

A Bundle whose Encounter belongs to a pregnancy (``episodeOfCare`` naming an
``EpisodeOfCare/<id>``) is an antenatal contact: a transaction goes to
fhir/maternal_exchange.py, unchanged; a batch is refused naming Bundle.type. Every other
transaction or batch is the shared health record's: POST (create, ``ifNoneExist``), PUT
(update of ``<Type>/shr-<n>``, ``ifMatch``) and GET (read, vread, history, search) of the
record's types, and Patient entries matched against the registry by national id
(``ifNoneExist``; registered through the Patient create when nobody has it and the
account may register people). A POST of an Observation declaring the screening profile
(or category) is a screening result: the screening create takes it (fhir/screening_api.
submit_observation: its checks, ``screening:record``), not the record's.

In a transaction, an entry's ``fullUrl`` (``urn:uuid:...`` or absolute) becomes the stored
``<Type>/<id>`` wherever R4 says it is replaced: references, elements of type uri, url,
canonical, oid or uuid, and the narrative's href/src; a reference ``<Type>/<id>`` names
the entry whose absolute fullUrl ends so (on the base of the referring entry's own
fullUrl). The entries are processed in R4's order: the POSTs (Patients, then Encounters,
then the rest, each after the POSTs it refers to), then the PUTs, then the GETs. A cycle,
an unknown ``urn:uuid:``, a resource written twice and a fullUrl given twice fail the
entry, naming the element. ``Patient?identifier=<system>|<value>`` (and
``<Type>?identifier=`` of the record's types) in a reference is resolved; no match or more
than one fails the entry. A batch's entries are independent of each other (R4): one that
refers to another entry fails.

A transaction is one unit of work: the first failing entry answers for the whole Bundle
(its status, the elements named from ``Bundle.entry[i]``) and nothing is stored. A batch
runs each entry in a savepoint of its own and reports each entry's outcome. Every write
and read goes through the record's service (scope, audit); each entry needs its own
permission (record:write for writes, record:read for reads; a search, what
``GET /fhir/<Type>?<query>`` needs: fhir/record_search.search_bundle answers both).
"""

from __future__ import annotations

import copy
import functools
import heapq
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from salomat.core import audit
from salomat.core.errors import (
    N_,
    FieldError,
    Invalid,
    NotFound,
    PreconditionFailed,
    SalomatError,
)
from salomat.core.pagination import check_page
from salomat.core.params import parse_version
from salomat.core.policy import Require, RequireAny, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession
from salomat.domains.record import service as record
from salomat.domains.record.schemas import RecordQuery, StoredResource
from salomat.domains.registry import service as registry
from salomat.fhir import maternal_exchange, patient_api
from salomat.fhir import patient as patient_mapper
from salomat.fhir.common import (
    BadRequest,
    base_url,
    element_path,
    etag,
    fhir_response,
    history_bundle,
    instant,
)
from salomat.fhir.record import (
    RESOURCE_TYPES,
    no_update_create,
    parse_body,
    resource_url,
    to_fhir,
    validate_resource,
)
from salomat.fhir.record_search import search_bundle

Session = DbSession

#: entries in one Bundle at most (the app's body size limit applies as well)
MAX_ENTRIES = 1000
#: system-level interactions in ``/fhir/metadata``
SYSTEM_INTERACTIONS: list[dict[str, Any]] = [
    {
        "code": "transaction",
        "documentation": "all or nothing: the shared record's resources (POST with "
        "ifNoneExist, PUT with ifMatch, GET), Patients matched by national id "
        "(ifNoneExist), urn:uuid references between entries and Patient?identifier= "
        "references resolved; screening results (Observations with the "
        "screening-observation profile, checked and stored as POST Observation stores "
        "them); or one antenatal contact (an Encounter of an EpisodeOfCare and its "
        "Observations)",
    },
    {
        "code": "batch",
        "documentation": "the same entries, each on its own, with an outcome per entry; "
        "an entry may not refer to another entry of the batch",
    },
]
WRITES = frozenset({"POST", "PUT"})
#: the order the POST entries are written in when their references allow it
_RANK = {"Patient": 0, "Encounter": 1}
#: an absolute fullUrl of a RESTful server: base, type, id (and a version)
_RESTFUL = re.compile(r"(https?://.+)/([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?")
_RELATIVE = re.compile(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")
_CONDITIONAL = re.compile(r"([A-Za-z]+)\?(.+)", re.DOTALL)
_URN_UUID = "urn:uuid:"


Sender = Annotated[
    Principal,
    Depends(
        RequireAny(
            "record:write", "record:read", "pregnancy:contact", "person:create", "screening:record"
        )
    ),
]


# ---- references ----------------------------------------------------------------------
#
# Where an entry's fullUrl may stand in another entry's resource, and so what a
# transaction replaces with the stored ``<Type>/<id>`` (R4 http.html, transaction
# processing): Reference.reference, every element of type uri, url, canonical, oid or
# uuid, and the href/src attributes of the narrative. The elements' types come from the
# R4B model of the resource; a value without a resourceType is walked for ``reference``
# keys only.

REFERENCE, URI, NARRATIVE = "reference", "uri", "narrative"
#: what a field of a model holds: (kind, model of its elements)
_Shape = tuple[str, Any]
_LINK_ATTR = re.compile(r"""(\b(?:href|src)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _model(resource_type: Any) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    if not isinstance(resource_type, str):
        return None
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def _shape(annotation: Any) -> _Shape:
    import uuid

    from fhir_core import types as fhir_types

    t = annotation
    while True:
        origin = typing.get_origin(t)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            if len(args) != 1:
                return ("other", None)
            t = args[0]
        elif origin in (list, typing.List):  # noqa: UP006
            t = typing.get_args(t)[0]
        else:
            break
    if typing.get_origin(t) is typing.Annotated:
        base, *extra = typing.get_args(t)
        uris = (
            fhir_types.Uri,
            fhir_types.Url,
            fhir_types.Canonical,
            fhir_types.Oid,
            fhir_types.Uuid,
        )
        if base is uuid.UUID or any(isinstance(m, uris) for m in extra):
            return (URI, None)
        if any(isinstance(m, fhir_types.Xhtml) for m in extra):
            return (NARRATIVE, None)
        return ("other", None)
    klass = getattr(t, "get_model_klass", None)
    if klass is not None:
        model = klass()
        if model.__name__ == "Resource":  # contained: the type each one names
            return ("resource", None)
        return ("model", model)
    return ("other", None)


@functools.cache
def _fields(model: Any) -> dict[str, _Shape]:
    return {(f.alias or name): _shape(f.annotation) for name, f in model.model_fields.items()}


LinkVisit = Callable[[str, str, str], str]


def _visit_links(value: Any, model: Any, path: str, visit: LinkVisit) -> Any:
    """``value`` rebuilt with ``visit(kind, path, text)`` in place of each link's text."""
    if isinstance(value, list):
        return [_visit_links(v, model, f"{path}[{i}]", visit) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if "resourceType" in value and (model is None or model == "resource"):
        model = _model(value["resourceType"])
    fields = _fields(model) if model not in (None, "resource") else {}
    is_reference = getattr(model, "__name__", "") == "Reference"
    out: dict[str, Any] = {}
    for k, v in value.items():
        # a value of no known type: only its ``reference`` keys are references
        kind, child = fields.get(k, ("other", None)) if fields else ("?", None)
        if k == "reference" and isinstance(v, str) and (is_reference or not fields):
            out[k] = visit(REFERENCE, path, v)
        elif kind == URI and isinstance(v, str):
            out[k] = visit(URI, _join(path, k), v)
        elif kind == URI and isinstance(v, list):
            out[k] = [
                visit(URI, f"{_join(path, k)}[{i}]", x) if isinstance(x, str) else x
                for i, x in enumerate(v)
            ]
        elif kind == NARRATIVE and isinstance(v, str):
            at = _join(path, k)
            out[k] = _LINK_ATTR.sub(
                lambda m, at=at: (
                    m.group(1) + m.group(2) + visit(NARRATIVE, at, m.group(3)) + m.group(2)
                ),
                v,
            )
        elif kind == "model":
            out[k] = _visit_links(v, child, _join(path, k), visit)
        elif kind == "resource":
            out[k] = _visit_links(v, "resource", _join(path, k), visit)
        elif kind == "?":
            out[k] = _visit_links(v, None, _join(path, k), visit)
        else:
            out[k] = v
    return out


def links(value: Any) -> list[tuple[str, str, str]]:
    """Every place an entry's fullUrl may stand in ``value``: (kind, path, text); the
    path of a reference is its Reference element (``encounter``, ``result[1]``,
    ``extension[0].valueReference``), of a uri its element, of a narrative link
    ``text.div``."""
    found: list[tuple[str, str, str]] = []

    def visit(kind: str, path: str, text: str) -> str:
        found.append((kind, path, text))
        return text

    _visit_links(value, None, "", visit)
    return found


def references(value: Any) -> Iterator[tuple[str, str]]:
    """Every ``Reference.reference`` in ``value`` with the path of its Reference element."""
    return ((path, text) for kind, path, text in links(value) if kind == REFERENCE)


def rewrite_references(
    value: Any, resolved: Mapping[str, str], relative: Mapping[str, str] | None = None
) -> Any:
    """``value`` with every link (reference, uri-typed element, narrative href/src) that
    ``resolved`` knows replaced by what it maps to, and every reference that ``relative``
    knows (``<Type>/<id>`` resolved against the Bundle) by what that maps to; everything
    else as it was (a new structure: ``value`` is not changed)."""

    def visit(kind: str, path: str, text: str) -> str:
        if kind == REFERENCE and relative and text in relative:
            return relative[text]
        return resolved.get(text, text)

    return _visit_links(value, None, "", visit)


# ---- entries -------------------------------------------------------------------------


@dataclass
class _Entry:
    index: int
    method: str
    url: str
    full_url: str | None
    request: dict[str, Any]
    resource: Any
    #: the resource type the entry writes or reads
    kind: str = ""
    #: PUT / GET: the resource's id (``shr-<n>``)
    target: str | None = None
    #: GET: what follows the id (``_history``, ``_history/<v>``) and the query
    rest: list[str] = field(default_factory=list)
    query: str = ""
    deps: set[int] = field(default_factory=set)
    #: the links of its resource: (kind, path, text)
    links: list[tuple[str, str, str]] = field(default_factory=list)
    #: text of a link -> (the entry it names, the first element naming it); ``relative``
    #: for references ``<Type>/<id>`` naming an entry by the end of its absolute fullUrl
    names: dict[str, tuple[int, str]] = field(default_factory=dict)
    relative: dict[str, tuple[int, str]] = field(default_factory=dict)
    error: SalomatError | None = None
    #: ``<Type>/<id>`` once written (what references to its fullUrl become)
    location: str | None = None
    response: dict[str, Any] | None = None

    @property
    def at(self) -> str:
        return f"Bundle.entry[{self.index}]"

    def element(self, name: str) -> str:
        """A service error's field as the element of this entry it names."""
        if name.startswith("Bundle."):
            return name
        if name.startswith("If-None-Exist"):
            return f"{self.at}.request.ifNoneExist"
        if name == "If-Match":
            return f"{self.at}.request.ifMatch"
        if self.method == "GET":
            return f"{self.at}.request.url"
        if name in ("", self.kind):
            return f"{self.at}.resource"
        return f"{self.at}.resource.{name.removeprefix(self.kind + '.')}"


def _invalid(path: str, message: str, params: dict[str, Any] | None = None) -> Invalid:
    return Invalid.fields([FieldError(path, message, params)])


def _named(exc: SalomatError, e: _Entry) -> SalomatError:
    """``exc`` with every element named from the entry (``Bundle.entry[i]...``)."""
    if not exc.errors:
        exc.errors = [FieldError(e.at, exc.msgid, exc.params)]
        return exc
    moved = []
    for f in exc.errors:
        g = copy.copy(f)
        g.field = e.element(f.field)
        moved.append(g)
    exc.errors = moved
    return exc


def _outcome(exc: SalomatError) -> dict[str, Any]:
    """An entry's failure as an OperationOutcome (as core.errors answers a request)."""
    issues = [
        {
            "severity": "error",
            "code": exc.fhir_code,
            "diagnostics": f.message,
            "expression": [f.field],
        }
        for f in exc.errors
    ] or [{"severity": "error", "code": exc.fhir_code, "diagnostics": exc.detail}]
    return {"resourceType": "OperationOutcome", "issue": issues}


def _status(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def _antenatal_contact(data: Any) -> bool:
    """A Bundle holding an Encounter of a pregnancy (EpisodeOfCare/<id>): fhir/
    maternal_exchange.py's antenatal contact, which refuses anything else it holds."""
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        return False
    for e in data["entry"]:
        res = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "Encounter":
            continue
        episodes = res.get("episodeOfCare")
        for ep in episodes if isinstance(episodes, list) else []:
            ref = ep.get("reference") if isinstance(ep, dict) else None
            if isinstance(ref, str) and ref.startswith("EpisodeOfCare/"):
                return True
    return False


def _bundle(raw: bytes) -> dict[str, Any]:
    """The Bundle as sent; its own elements checked against R4B (the entries' resources
    are checked one by one, so that a batch can answer for each)."""
    from fhir.resources.R4B.bundle import Bundle

    data = parse_body(raw, "Bundle")
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise BadRequest(
            N_("Send a %(type)s resource."),
            params={"type": "Bundle"},
            errors=[FieldError("Bundle.resourceType", N_("must be Bundle"))],
        )
    entries = data.get("entry") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadRequest(
            N_("Not a valid FHIR R4 %(type)s."),
            params={"type": "Bundle"},
            errors=[FieldError("Bundle.entry", N_("must be a list of entries"))],
        )
    if len(entries) > MAX_ENTRIES:
        raise _invalid(
            "Bundle.entry", N_("at most %(n)s entries in one Bundle"), {"n": MAX_ENTRIES}
        )
    shell = {**data, "entry": [{k: v for k, v in e.items() if k != "resource"} for e in entries]}
    if not shell["entry"]:
        shell.pop("entry")
    try:
        Bundle.model_validate(shell)
    except ValidationError as exc:
        raise BadRequest(
            N_("Not a valid FHIR R4 %(type)s."),
            params={"type": "Bundle"},
            errors=[
                FieldError(element_path("Bundle", err["loc"]), err["msg"]) for err in exc.errors()
            ],
        ) from exc
    return data


def _entry(i: int, raw: dict[str, Any]) -> _Entry:
    request = raw.get("request") or {}
    e = _Entry(
        index=i,
        method=str(request.get("method") or ""),
        url=str(request.get("url") or "").lstrip("/"),
        full_url=raw.get("fullUrl"),
        request=request,
        resource=raw.get("resource"),
    )
    try:
        _check(e)
    except SalomatError as exc:
        e.error = _named(exc, e)
    return e


def _check(e: _Entry) -> None:
    """What the entry asks for, from its request and resource; refused naming the element."""
    path, _, e.query = e.url.partition("?")
    parts = path.split("/") if path else []
    e.kind = parts[0] if parts else ""
    if e.method not in ("POST", "PUT", "GET"):
        raise _invalid(f"{e.at}.request.method", N_("must be POST, PUT or GET"))
    if e.method == "GET":
        if e.resource is not None:
            raise _invalid(f"{e.at}.resource", N_("a GET entry has no resource"))
        if e.kind not in RESOURCE_TYPES and e.kind != "Patient":
            raise _unsupported_type(e)
        if e.kind == "Patient" and len(parts) > 2:
            raise _invalid(
                f"{e.at}.request.url", N_("a Patient is read (Patient/<id>) or searched here")
            )
        if len(parts) > 1:
            e.target, e.rest = parts[1], parts[2:]
            if e.query or (
                e.rest not in ([], ["_history"])
                and not (len(e.rest) == 2 and e.rest[0] == "_history")
            ):
                raise _invalid(
                    f"{e.at}.request.url",
                    N_("must be <Type>/<id>, <Type>/<id>/_history[/<version>] or <Type>?<query>"),
                )
        return
    kind = e.resource.get("resourceType") if isinstance(e.resource, dict) else None
    if kind is None:
        raise _invalid(
            f"{e.at}.resource", N_("a %(method)s entry needs a resource"), {"method": e.method}
        )
    e.kind = kind
    if kind == "Patient":
        if e.method != "POST" or path != "Patient" or e.query:
            raise _invalid(
                f"{e.at}.request",
                N_(
                    "a Patient entry is a POST to Patient with ifNoneExist "
                    "identifier=<national id system>|<value>"
                ),
            )
        _patient_model(e)
        return
    if kind not in RESOURCE_TYPES:
        raise _unsupported_type(e)
    if e.method == "POST":
        if path != kind or e.query:
            raise _invalid(f"{e.at}.request.url", N_("must be %(type)s"), {"type": kind})
    else:
        if len(parts) != 2 or parts[0] != kind or e.query or not parts[1]:
            raise _invalid(
                f"{e.at}.request.url",
                N_("must be %(type)s/<id> (a conditional update is not supported)"),
                {"type": kind},
            )
        e.target = parts[1]
        sent_id = e.resource.get("id")
        if sent_id is not None and sent_id != e.target:
            raise _invalid(f"{e.at}.resource.id", N_("must be the id of the request's url"))
    try:
        validate_resource(e.resource, kind)
    except SalomatError as exc:
        raise _named(exc, e) from None


def _condition(query: str) -> list[tuple[str, str]]:
    """The items of an ifNoneExist or a conditional reference: percent-decoded, a ``+``
    kept as sent (it is part of identifier values, not a space)."""
    return parse_qsl(query.replace("+", "%2B"), keep_blank_values=True)


def _unsupported_type(e: _Entry) -> Invalid:
    return _invalid(
        f"{e.at}.request.url" if e.method == "GET" else f"{e.at}.resource.resourceType",
        N_(
            "not a type a Bundle may write or read here: %(types)s (and Patient: created by "
            "ifNoneExist, read or searched)"
        ),
        {"types": ", ".join(RESOURCE_TYPES)},
    )


def _patient_model(e: _Entry) -> Any:
    from fhir.resources.R4B.patient import Patient

    try:
        return Patient.model_validate(e.resource)
    except ValidationError as exc:
        raise Invalid.fields(
            [
                FieldError(
                    f"{e.at}.resource{element_path('', err['loc'])}",
                    err["msg"].removeprefix("Value error, "),
                )
                for err in exc.errors()
            ]
        ) from exc


def _plan(entries: list[_Entry], *, batch: bool) -> list[_Entry]:
    """The writes in the order R4 processes a transaction's: the POSTs (Patients, then
    Encounters, then the rest, each after the POSTs it refers to), then the PUTs. Refused
    (naming the element): a fullUrl given twice, a resource written twice, a reference to
    an unknown urn:uuid, the entries of a cycle, a relative reference that could name
    several entries; in a batch, a link to another entry (a batch's entries are
    independent of each other: R4 bundle.html)."""
    by_url: dict[str, int] = {}
    written: dict[str, int] = {}
    # an entry refused already keeps its fullUrl: what refers to it fails with it
    writes = [e for e in entries if e.method in WRITES]
    for e in writes:
        if e.full_url is None:
            continue
        if e.full_url in by_url:
            e.error = _invalid(
                f"{e.at}.fullUrl",
                N_("the same fullUrl as Bundle.entry[%(other)s]"),
                {"other": by_url[e.full_url]},
            )
        else:
            by_url[e.full_url] = e.index
    for e in writes:
        if e.method != "PUT" or e.target is None:
            continue
        n = record.row_id(e.target)
        key = f"{e.kind}/{record.fhir_id(n) if n is not None else e.target}"
        if key in written:
            e.error = e.error or _invalid(
                f"{e.at}.request.url",
                N_(
                    "%(ref)s is written by Bundle.entry[%(other)s] already: "
                    "a resource is written once in a Bundle"
                ),
                {"ref": key, "other": written[key]},
            )
        else:
            written[key] = e.index
    restful: dict[str, list[tuple[str, int]]] = {}  # "<Type>/<id>" -> [(base, entry)]
    for url, i in by_url.items():
        m = _RESTFUL.fullmatch(url)
        if m is not None:
            restful.setdefault(f"{m[2]}/{m[3]}", []).append((m[1], i))
    by_index = {e.index: e for e in writes}
    for e in writes:
        if e.error is not None or e.kind == "Patient":
            continue
        try:
            _names(e, by_url, restful)
            if batch:
                _independent(e, by_index)
        except SalomatError as exc:
            e.error = exc
            continue
        e.deps = {i for i, _ in [*e.names.values(), *e.relative.values()]}
    live = {e.index: e for e in writes if e.error is None}
    posts = {i: e for i, e in live.items() if e.method == "POST"}
    # a PUT's location is its url: what refers to it waits for nothing
    waiting = {i: {d for d in e.deps if d in posts} for i, e in posts.items()}
    needed_by: dict[int, list[int]] = {}
    for i, deps in waiting.items():
        for d in deps:
            needed_by.setdefault(d, []).append(i)
    ready = [(_RANK.get(e.kind, 2), i) for i, e in posts.items() if not waiting[i]]
    heapq.heapify(ready)
    order: list[_Entry] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(posts[i])
        for j in needed_by.get(i, []):
            waiting[j].discard(i)
            if not waiting[j]:
                heapq.heappush(ready, (_RANK.get(posts[j].kind, 2), j))
    placed = {e.index for e in order}
    for i, e in posts.items():
        if i in placed:
            continue
        value, path = next(
            (v, p)
            for v, (d, p) in [*e.names.items(), *e.relative.items()]
            if d in posts and d not in placed
        )
        e.error = _invalid(
            e.element(path),
            N_("%(ref)s is part of a cycle of references between entries"),
            {"ref": value},
        )
        order.append(e)  # its failure is reported in its turn
    order.extend(e for e in live.values() if e.method == "PUT")
    return order


def _names(
    e: _Entry, by_url: Mapping[str, int], restful: Mapping[str, list[tuple[str, int]]]
) -> None:
    """The entries ``e``'s links name: by their fullUrl, or (a reference ``<Type>/<id>``)
    by the end of an absolute fullUrl on the base of ``e``'s own fullUrl (R4 bundle.html,
    resolving references), or on any base when ``e`` has none and only one entry fits."""
    e.links = links(e.resource)
    own = _RESTFUL.fullmatch(e.full_url or "")
    for kind, path, value in e.links:
        if value in by_url:
            e.names.setdefault(value, (by_url[value], path))
            continue
        if kind != REFERENCE:
            continue
        if value.startswith(_URN_UUID):
            raise _invalid(
                e.element(path),
                N_("%(ref)s is the fullUrl of no entry of this Bundle"),
                {"ref": value},
            )
        candidates = restful.get(value, []) if _RELATIVE.fullmatch(value) else []
        if own is not None:
            candidates = [(b, i) for b, i in candidates if b == own[1]]
        if len(candidates) > 1:
            raise _invalid(
                e.element(path),
                N_(
                    "%(ref)s could be Bundle.entry[%(one)s] or Bundle.entry[%(other)s]: "
                    "refer to the entry by its fullUrl"
                ),
                {"ref": value, "one": candidates[0][1], "other": candidates[1][1]},
            )
        if candidates:
            e.relative.setdefault(value, (candidates[0][1], path))


def _independent(e: _Entry, by_index: Mapping[int, _Entry]) -> None:
    """A batch entry may not need another entry for what it stores (R4: no
    interdependencies between a batch's entries); a link that already is the stored
    ``<Type>/<id>`` of a PUT entry needs nothing of it."""
    for value, (i, path) in [*e.names.items(), *e.relative.items()]:
        other = by_index[i]
        if other.method == "PUT" and value == f"{other.kind}/{other.target}":
            continue
        raise _invalid(
            e.element(path),
            N_(
                "%(ref)s refers to Bundle.entry[%(other)s]: the entries of a batch are "
                "independent of each other (send a transaction, or refer to what is "
                "stored)"
            ),
            {"ref": value, "other": i},
        )


# ---- running the entries ----------------------------------------------------------------


class _Run:
    def __init__(
        self, request: Request, session: Any, principal: Principal, entries: list[_Entry]
    ) -> None:
        self.request = request
        self.session = session
        self.principal = principal
        self.entries = entries
        self.by_index = {e.index: e for e in entries}
        self.conditional: dict[str, str] = {}

    async def permit(self, permission: str) -> None:
        await Require(permission)(self.request)

    async def run(self, e: _Entry) -> None:
        if e.error is not None:
            raise e.error
        try:
            if e.method == "GET":
                if e.target is not None:  # a search is permitted as its route permits it
                    await self.permit("record:read")
                await self.get(e)
            elif e.kind == "Patient":
                await self.patient(e)
            elif _screening_result(e):
                await self.permit("screening:record")
                await self.screening_result(e)
            else:
                await self.permit("record:write")
                await self.write(e)
        except SalomatError as exc:
            raise _named(exc, e) from None

    # -- references

    def location_of(self, e: _Entry, i: int, path: str) -> str:
        """What a link naming entry ``i`` becomes: a PUT's url, a POST's stored
        ``<Type>/<id>`` (written before ``e``: the plan's order)."""
        target = self.by_index[i]
        if target.method == "PUT":
            return f"{target.kind}/{target.target}"
        if target.location is None:
            raise _invalid(
                e.element(path),
                N_("refers to Bundle.entry[%(other)s], which failed"),
                {"other": target.index},
            )
        return target.location

    async def resolve(self, e: _Entry) -> dict[str, Any]:
        resolved = {v: self.location_of(e, i, p) for v, (i, p) in e.names.items()}
        relative = {v: self.location_of(e, i, p) for v, (i, p) in e.relative.items()}
        for kind, path, value in e.links:
            if kind != REFERENCE or value in resolved or value in relative:
                continue
            hit = _CONDITIONAL.fullmatch(value)
            if hit is not None:
                resolved[value] = await self.conditional_reference(
                    hit.group(1), hit.group(2), e.element(path), value
                )
        return rewrite_references(e.resource, resolved, relative)  # type: ignore[no-any-return]

    async def conditional_reference(self, kind: str, query: str, path: str, value: str) -> str:
        if value in self.conditional:
            return self.conditional[value]
        pairs = _condition(query)
        if kind not in (*RESOURCE_TYPES, "Patient") or [k for k, _ in pairs] != ["identifier"]:
            raise _invalid(
                path,
                N_("a conditional reference here is <Type>?identifier=<system>|<value>"),
            )
        token = pairs[0][1]
        if kind == "Patient":
            person_id = await self.person_by_identifier(token, path)
            if person_id is None:
                raise _invalid(
                    path, N_("no registered person has the identifier %(value)s"), {"value": token}
                )
            found = f"Patient/{person_id}"
        else:
            system, sep, code = token.rpartition("|")
            page = await record.search_resources(
                self.session,
                self.principal,
                kind,
                RecordQuery(identifiers=[(system if sep else None, code)], limit=2),
            )
            if page.total != 1:
                raise _invalid(
                    path,
                    N_("%(ref)s matches %(n)s resources; exactly one is needed"),
                    {"ref": value, "n": page.total},
                )
            found = resource_url(page.items[0])
        self.conditional[value] = found
        return found

    async def person_by_identifier(self, token: str, path: str) -> int | None:
        """The registered person with this national id (``<system>|<value>``), whichever
        facility holds them: a hospital sends records of patients not attached to it."""
        system = patient_mapper.national_system()
        sent_system, sep, value = token.rpartition("|")
        value = value.strip()
        if not sep or sent_system != system or not value:
            raise _invalid(
                path, N_("must be identifier=%(system)s|<national id>"), {"system": system}
            )
        found = (await registry.person_ids_by_national_ids(self.session, [value])).get(value)
        if found is not None:
            await audit.record(
                self.session,
                self.principal,
                action="search",
                resource_type="Patient",
                resource_id=str(found),
                patient_id=found,
                purpose="shared record: Bundle matched by national id",
            )
        return found

    # -- the interactions

    async def patient(self, e: _Entry) -> None:
        condition = e.request.get("ifNoneExist")
        path = f"{e.at}.request.ifNoneExist"
        if not condition:
            raise _invalid(
                path,
                N_(
                    "a Patient entry is matched against the registry: give "
                    "identifier=<national id system>|<value>"
                ),
            )
        pairs = _condition(str(condition).lstrip("?"))
        if [k for k, _ in pairs] != ["identifier"]:
            raise _invalid(path, N_("only identifier=<national id system>|<value>"))
        # matched for the records that refer to it, or registered by the registry's staff
        role = self.principal.role
        if not (allowed(role, "record:write") or allowed(role, "person:create")):
            await self.permit("record:write")
        person_id = await self.person_by_identifier(pairs[0][1], path)
        if person_id is not None:
            e.location = f"Patient/{person_id}"
            e.response = {"status": "200 OK", "location": e.location}
            return
        # nobody has the national id: registered as the Patient create registers
        await self.permit("person:create")
        person = await patient_api.register_patient(self.session, self.principal, _patient_model(e))
        e.location = f"Patient/{person.id}"
        e.response = {
            "status": "201 Created",
            "location": f"{e.location}/_history/{person.version}",
            "etag": etag(person.version),
            "lastModified": instant(person.updated_at),
        }

    async def write(self, e: _Entry) -> None:
        resource = await self.resolve(e)
        if e.method == "POST":
            stored, created = await record.create_resource(
                self.session,
                self.principal,
                resource,
                if_none_exist=_if_none_exist(e),
            )
        else:
            assert e.target is not None
            try:
                stored = await record.update_resource(
                    self.session,
                    self.principal,
                    e.kind,
                    e.target,
                    resource,
                    if_match=_if_match(e, resource),
                )
            except NotFound as missing:
                # no update as create (updateCreate false): 405, as a plain PUT answers
                raise no_update_create(e.kind, e.target) from missing
            created = False
        e.location = resource_url(stored)
        e.response = {
            "status": "201 Created" if created else "200 OK",
            "location": f"{e.location}/_history/{stored.version}",
            "etag": etag(stored.version),
            "lastModified": _last_modified(stored),
        }

    async def screening_result(self, e: _Entry) -> None:
        """A screening result (the screening-observation profile): the screening create,
        with its checks (fhir/screening_api.submit_observation), not the record's."""
        from fhir.resources.R4B.observation import Observation

        from salomat.fhir import screening_api

        if e.request.get("ifNoneExist") is not None:
            raise _invalid(
                f"{e.at}.request.ifNoneExist",
                N_("not taken for a screening result (send it once, or an Idempotency-Key)"),
            )
        resource = await self.resolve(e)
        res, warnings = await screening_api.submit_observation(
            self.session, self.principal, Observation.model_validate(resource)
        )
        e.location = f"Observation/{res['id']}"
        e.response = {
            "status": "201 Created",
            "location": f"{e.location}/_history/{res['meta']['versionId']}",
            "etag": etag(int(res["meta"]["versionId"])),
        }
        if warnings:
            e.response["outcome"] = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "warning",
                        "code": "informational",
                        "diagnostics": w.message,
                        "expression": [e.element(w.field)],
                    }
                    for w in warnings
                ],
            }

    async def get(self, e: _Entry) -> None:
        base = base_url(self.request)
        assert e.response is None
        if e.kind == "Patient":
            e.resource = await patient_api.batch_get(
                self.request, self.session, self.principal, e.target, e.query
            )
            e.response = {"status": "200 OK"}
            if e.target is not None:
                e.response |= {
                    "etag": etag(int(e.resource["meta"]["versionId"])),
                    "lastModified": e.resource["meta"]["lastUpdated"],
                }
            return
        if e.target is None:
            e.response = {"status": "200 OK"}
            e.resource = await self.search(e)
            return
        if e.rest == ["_history"]:
            # the first page, read as the history route reads it (in SQL, not every body)
            page = check_page(None, None)
            found = await record.resource_history_page(
                self.session, self.principal, e.kind, e.target, offset=0, limit=page.limit
            )
            e.resource = history_bundle(
                base,
                e.kind,
                e.target,  # type: ignore[arg-type]
                [("create" if v.version == 1 else "update", to_fhir(v)) for v in found.items],
                found.total,
                page,
            )
            e.response = {"status": "200 OK"}
            return
        version = None
        if e.rest:
            version = parse_version(e.rest[1])
            if version is None:
                raise NotFound(
                    N_("%(type)s %(id)s has no version %(version)s."),
                    params={"type": e.kind, "id": e.target, "version": e.rest[1]},
                )
        stored = await record.read_resource(
            self.session, self.principal, e.kind, e.target, version=version
        )
        e.resource = to_fhir(stored)
        e.response = _read_response(stored)

    async def search(self, e: _Entry) -> dict[str, Any]:
        """The search route's own answer (its parameters, paging and merging), for the
        entry's query."""
        items = parse_qsl(e.query, keep_blank_values=True)
        return await search_bundle(self.request, self.session, self.principal, e.kind, items)


def _screening_result(e: _Entry) -> bool:
    """A POST of an Observation declaring the screening profile (or category): a screening
    result, which the screening domain stores (fhir/screening_api.py)."""
    from salomat.fhir.screening import is_screening

    return e.method == "POST" and e.kind == "Observation" and is_screening(e.resource)


def _read_response(stored: StoredResource) -> dict[str, Any]:
    return {
        "status": "200 OK",
        "etag": etag(stored.version),
        "lastModified": _last_modified(stored),
    }


def _last_modified(stored: StoredResource) -> str:
    """The resource's meta.lastUpdated, written as it is there."""
    meta = stored.resource.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("lastUpdated"), str):
        return meta["lastUpdated"]  # type: ignore[no-any-return]
    return instant(stored.last_updated)


def _if_none_exist(e: _Entry) -> list[tuple[str, str]] | None:
    condition = e.request.get("ifNoneExist")
    if condition is None:
        return None
    pairs = _condition(str(condition).lstrip("?"))
    names = {k for k, _ in pairs}
    if not pairs or names - {"identifier", "_id"}:
        raise _invalid(
            f"{e.at}.request.ifNoneExist",
            N_("give identifier=<system>|<value> or _id=<id>"),
        )
    return pairs


def _if_match(e: _Entry, resource: dict[str, Any]) -> int:
    """The version a PUT entry expects, as a plain PUT takes it: ``request.ifMatch``, else
    the resource's meta.versionId; neither is refused (412) rather than overwriting
    whatever version is current."""
    value = e.request.get("ifMatch")
    if value is None:
        meta = resource.get("meta")
        value = meta.get("versionId") if isinstance(meta, dict) else None
        if value is None:
            raise PreconditionFailed(
                N_(
                    'Send request.ifMatch with the ETag you read (W/"<version>"), '
                    "or meta.versionId in the resource."
                ),
                errors=[FieldError(f"{e.at}.request.ifMatch", N_("is required"))],
            )
    version = parse_version(str(value).strip().removeprefix("W/").strip('"'))
    if version is None:
        raise _invalid(f"{e.at}.request.ifMatch", N_('must be a version such as W/"3"'))
    return version


def _entry_out(e: _Entry, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if e.method == "GET" and e.resource is not None:
        if e.target is not None and e.rest != ["_history"]:
            out["fullUrl"] = f"{base}/{e.resource['resourceType']}/{e.resource['id']}"
        out["resource"] = e.resource
    out["response"] = e.response
    return out


async def submit(request: Request, session: Session, principal: Sender) -> JSONResponse:
    """A transaction or batch Bundle; answers transaction-response or batch-response."""
    data = _bundle(await request.body())
    if _antenatal_contact(data):
        if data.get("type") != "transaction":
            raise _invalid(
                "Bundle.type",
                N_(
                    "must be transaction: an Encounter of an EpisodeOfCare is an antenatal "
                    "contact, which is sent as a transaction"
                ),
            )
        writer = await Require("pregnancy:contact")(request)
        return await maternal_exchange.transaction(request, session, writer)
    if data.get("type") not in ("transaction", "batch"):
        raise _invalid("Bundle.type", N_("must be transaction or batch"))
    entries = [_entry(i, raw) for i, raw in enumerate(data.get("entry") or [])]
    order = _plan(entries, batch=data["type"] == "batch")
    reads = [e for e in entries if e.method == "GET"]
    planned = {e.index for e in [*order, *reads]}
    # writes are done first, in the order their references need, then the reads
    order = [*order, *reads, *(e for e in entries if e.index not in planned)]
    run = _Run(request, session, principal, entries)
    if data["type"] == "transaction":
        for e in sorted((e for e in entries if e.error is not None), key=lambda e: e.index):
            raise e.error  # type: ignore[misc]
        for e in order:
            await run.run(e)
        kind = "transaction-response"
    else:
        for e in order:
            try:
                async with session.begin_nested():
                    await run.run(e)
            except SalomatError as exc:
                e.location = None
                e.resource = None
                e.response = {"status": _status(exc.status), "outcome": _outcome(exc)}
        # refusals are audited even though the batch itself succeeds
        await audit.write_after_rollback(session)
        kind = "batch-response"
    base = base_url(request)
    body = {"resourceType": "Bundle", "type": kind, "entry": [_entry_out(e, base) for e in entries]}
    # checked against R4B, sent as built: the resources as stored, instants as written
    return fhir_response(checked_response(body))


# ---- the answer's check -----------------------------------------------------------------

#: R4's mark of a resource returned with elements left out (a search's ``_elements``)
_SUBSETTED = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED")
#: pydantic's and fhir.resources' names of a required element left out
_MISSING = frozenset({"missing", "model_field_validation.missing"})


def _subsetted(resource: Any) -> bool:
    meta = resource.get("meta") if isinstance(resource, dict) else None
    tags = meta.get("tag") if isinstance(meta, dict) else None
    return isinstance(tags, list) and any(
        isinstance(t, dict) and (t.get("system"), t.get("code")) == _SUBSETTED for t in tags
    )


def _check_subset(resource: dict[str, Any], path: str) -> None:
    """A SUBSETTED resource checked against its R4B model for what it holds: a required
    element left out is no error (R4: a subset need not be valid), any other is."""
    model = _model(resource.get("resourceType"))
    if model is None:
        raise ValueError(f"{path}: no R4B resource type {resource.get('resourceType')!r}")
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        wrong = [
            err for err in exc.errors() if not (err["type"] in _MISSING and len(err["loc"]) == 1)
        ]
        if wrong:
            raise ValueError(f"{path}: {wrong}") from exc


def _without_subsets(value: dict[str, Any], path: str) -> dict[str, Any]:
    """``value`` (a Bundle) with each SUBSETTED resource of its entries, and of the
    Bundles among them, checked on its own (``_check_subset``) and replaced by a Basic
    that holds its id, so that the rest is checked whole."""
    out = dict(value)
    entries = value.get("entry")
    if not isinstance(entries, list):
        return out
    out["entry"] = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        at = f"{path}.entry[{i}].resource"
        if _subsetted(resource):
            _check_subset(resource, at)  # type: ignore[arg-type]
            stub = {"resourceType": "Basic", "code": {"text": "subsetted"}}
            if isinstance(resource.get("id"), str):  # type: ignore[union-attr]
                stub["id"] = resource["id"]  # type: ignore[index]
            entry = {**entry, "resource": stub}
        elif isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
            entry = {**entry, "resource": _without_subsets(resource, at)}
        out["entry"].append(entry)
    return out


def checked_response(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (a transaction- or batch-response as built), unchanged, once it passes
    R4B: each resource whole, but a SUBSETTED one (a search's ``_elements``) only for the
    elements it holds. Raises ValueError (pydantic's ValidationError is one) when not:
    a server error, the answer being the server's own."""
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(_without_subsets(body, "Bundle"))
    return body
