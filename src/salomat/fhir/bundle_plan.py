"""A transaction's or batch's entries read and planned (fhir/bundle.py): each entry's
request and resource checked, the references between entries found, and the writes put in
R4's order. Nothing is stored here."""

from __future__ import annotations

import copy
import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from salomat.core.errors import N_, FieldError, Invalid, SalomatError
from salomat.domains.record import service as record
from salomat.fhir.bundle_links import REFERENCE, links
from salomat.fhir.bundle_notification import bind_labs, is_notification
from salomat.fhir.common import BadRequest, element_path
from salomat.fhir.record import RESOURCE_TYPES, parse_body, validate_resource

#: entries in one Bundle at most (the app's body size limit applies as well)
MAX_ENTRIES = 1000
WRITES = frozenset({"POST", "PUT"})
#: the order the POST entries are written in when their references allow it
_RANK = {"Patient": 0, "Encounter": 1}
#: an absolute fullUrl of a RESTful server: base, type, id (and a version)
_RESTFUL = re.compile(r"(https?://.+)/([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?")
_RELATIVE = re.compile(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")
_CONDITIONAL = re.compile(r"([A-Za-z]+)\?(.+)", re.DOTALL)
_URN_UUID = "urn:uuid:"


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
    #: a case notification (fhir/bundle_notification.py); its laboratory Observation
    #: entry, and an Observation's notification
    notification: bool = False
    lab: int | None = None
    lab_of: int | None = None

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
    e.notification = is_notification(e.method, kind, e.resource)


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
    bind_labs(writes)
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
