"""FHIR Patient: the national person index through the registry's service.

Reads and searches are scoped and audited by the service (out of scope
answers 404 like a missing id); nothing here audits again.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.patient import Patient
from pydantic import BaseModel, ValidationError

from salomat.core.config import get_settings
from salomat.core.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    PreconditionFailed,
)
from salomat.core.i18n import N_
from salomat.core.pagination import PageParams
from salomat.core.params import RowId, Version, parse_row_id
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.registry import service
from salomat.domains.registry.schemas import (
    AttachIn,
    PersonIn,
    PersonOut,
    PersonPatch,
)
from salomat.fhir import patient as mapper
from salomat.fhir.common import (
    PAGING,
    BadRequest,
    Params,
    base_url,
    fhir_response,
    fields_as,
    history_bundle,
    parse_if_match,
    read_body,
    reference_id,
    resource_response,
    validated,
)
from salomat.fhir.record_chain import HAS_DOC, MAX_HAS_PEOPLE, has_persons, is_has
from salomat.fhir.record_params import (
    date_values,
    element_names,
    page_size,
    searchset_of,
    subset,
)
from salomat.fhir.search_handling import lenient, split_known, with_ignored

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession

#: what ``GET /fhir/Patient`` accepts (and ``If-None-Exist`` on create)
SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "_id": ("token", "the person's id (comma: any of them)"),
    "identifier": (
        "token",
        "the national id: <system>|<value>, or just <value> (comma: any of them; another "
        "system's matches nobody)",
    ),
    "name": (
        "string",
        "any part of the name, in either script, or its beginning (3 letters or more); "
        "spelling slips tolerated; comma: any of them; name:exact the whole of a part, as "
        "written (case too); name:contains any part containing it, any case",
    ),
    "family": (
        "string",
        "the family name or its beginning, in either script; comma: any; :exact, :contains as name",
    ),
    "given": (
        "string",
        "the given name or the patronymic, or its beginning, in either script; comma: any; "
        ":exact, :contains as name",
    ),
    "birthdate": (
        "date",
        "the birth date, a day (read in UTC); prefixes eq ne lt le gt ge sa eb ap as R4 "
        "search defines them on the day's interval; a partial date (1990, 1990-05) is its "
        "interval; repeated: all of them, comma in one value: any of them",
    ),
    "gender": ("token", "male or female (comma: any; other and unknown match nobody)"),
    "general-practitioner": (
        "reference",
        "the primary-care facility: Organization/<id> (comma: any of them)",
    ),
    "_lastUpdated": (
        "date",
        "the last change of the person's record; prefixes, repeats and commas as birthdate",
    ),
    "_sort": (
        "string",
        "birthdate, family, _lastUpdated, each with - for descending, comma: in turn; then "
        "by id (default: by how well the name matches, else by id)",
    ),
    "_summary": ("token", "count: the total only (as _count=0)"),
    "_elements": (
        "string",
        "top-level elements to return, comma-separated (deceased: deceased[x]); each "
        "match keeps them with id and meta, tagged SUBSETTED",
    ),
    "_offset": ("number", "how many matches to skip (the next link sets it)"),
}
PARAMS = frozenset(SEARCH_PARAMS) | PAGING
MATCH_GRADE_EXT = "http://hl7.org/fhir/StructureDefinition/match-grade"
#: this resource in ``/fhir/metadata``: exactly the routes below
CAPABILITY: dict[str, Any] = {
    "type": "Patient",
    "profile": "http://hl7.org/fhir/StructureDefinition/Patient",
    "interaction": [
        {"code": c}
        for c in ("read", "vread", "update", "history-instance", "create", "search-type")
    ],
    "versioning": "versioned-update",
    "readHistory": True,
    "updateCreate": False,
    "conditionalCreate": True,
    "conditionalUpdate": False,
    "conditionalDelete": "not-supported",
    "searchParam": [
        {"name": n, "type": t, "documentation": d} for n, (t, d) in SEARCH_PARAMS.items()
    ]
    + [{"name": "_count", "type": "number", "documentation": "page size; 0: the total only"}],
    "operation": [
        {"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match"}
    ],
    "documentation": f"search: _has: {HAS_DOC}; Prefer: handling=lenient leaves out a "
    "parameter the search does not take, in an OperationOutcome entry (search.mode outcome); "
    "a search names people by _id, identifier, name, family, given (with or without :exact "
    "/ :contains) or _has, the others narrow it",
}
#: the REST names of the search's fields -> the FHIR parameters
_QUERY_FIELDS = {
    "national_id": "identifier",
    "name": "name",
    "family": "family",
    "given": "given",
    "birth_date": "birthdate",
    "sex": "gender",
    "attached_to": "general-practitioner",
}
_HOW = ("exact", "contains")


def build(model: type[BaseModel], values: dict[str, Any], paths: dict[str, str]) -> Any:
    """A service schema from mapped values; its validation errors name FHIR elements."""
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise Invalid.fields(
            [
                FieldError(
                    paths.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else "body",
                    err["msg"].removeprefix("Value error, "),
                )
                for err in e.errors()
            ]
        ) from e


def _one(person: PersonOut) -> dict[str, Any]:
    return mapper.to_fhir(person)


# ---- search ---------------------------------------------------------------------------


#: a search lists at most this many ids or national ids (commas)
MAX_LISTED = MAX_HAS_PEOPLE
#: what names people (the others narrow a search)
_NAMING = ("_id", "identifier", "name", "family", "given")


def _values(params: Params, name: str) -> list[str] | None:
    """A parameter's comma-separated values (any of them), None when not given."""
    raw = params.get(name)
    if raw is None:
        return None
    values = [v.strip() for v in raw.split(",")]
    if not all(values):
        raise Invalid.fields([FieldError(name, "give a value (each of a comma list)")])
    if len(values) > MAX_LISTED:
        raise Invalid.fields([FieldError(name, f"at most {MAX_LISTED} values")])
    return values


def _sort(params: Params) -> list[tuple[str, bool]]:
    raw = params.get("_sort")
    if raw is None:
        return []
    out = []
    for v in raw.split(","):
        key = v.strip().removeprefix("-")
        if key not in service.SORTS:
            raise Invalid.fields(
                [
                    FieldError(
                        "_sort", "must be birthdate, family or _lastUpdated, each with - or not"
                    )
                ]
            )
        out.append((key, v.strip().startswith("-")))
    return out


def _names(params: Params) -> dict[str, list[str]]:
    out = {}
    for name, least, most in (("name", 2, 200), ("family", 1, 100), ("given", 1, 100)):
        values = _values(params, name) or []
        if any(not least <= len(v) <= most for v in values):
            raise Invalid.fields(
                [FieldError(name, f"give {least} to {most} characters (each of a comma list)")]
            )
        out[name] = values
    return out


async def _filter(
    session: Any, params: Params, among: list[int] | None
) -> service.PersonFilter | None:
    """The registry's filter for ``params`` (and the people ``among`` allows); None when
    nothing can match."""
    ids = among
    asked_ids = _values(params, "_id")
    if asked_ids is not None:
        asked = [int(v) for v in asked_ids if v.isascii() and v.isdigit() and len(v) <= 18]
        ids = asked if ids is None else sorted(set(ids) & set(asked))
    if ids is not None and not ids:
        return None
    national: list[str] = []
    identifiers = _values(params, "identifier")
    if identifiers is not None:
        for v in identifiers:
            system, sep, value = v.rpartition("|")
            if not value:
                raise Invalid.fields([FieldError("identifier", "give the value: <system>|<value>")])
            if not sep or system == mapper.national_system():
                national.append(value)  # FHIR: another system's identifier finds nobody here
        if not national:
            return None
    names = _names(params)
    sexes: list[str] = []
    genders = _values(params, "gender")
    if genders is not None:
        if any(g not in ("male", "female", "other", "unknown") for g in genders):
            raise Invalid.fields([FieldError("gender", "must be male, female, other or unknown")])
        sexes = [g for g in genders if g in ("male", "female")]
        if not sexes:
            return None
    facilities: list[int] = []
    gps = _values(params, "general-practitioner")
    if gps is not None:
        for gp in gps:
            ref = reference_id(gp, "Organization")
            if ref is None:
                raise Invalid.fields(
                    [FieldError("general-practitioner", "must be Organization/<id> or <id>")]
                )
            try:
                facilities.append((await service.get_facility(session, ref)).id)
            except NotFound:
                continue
        if not facilities:
            return None
    birth, birth_any = date_values(params, "birthdate")
    updated, updated_any = date_values(params, "_lastUpdated")
    return service.PersonFilter(
        ids=ids,
        national_ids=national,
        names=names["name"],
        families=names["family"],
        givens=names["given"],
        birth=birth,
        birth_any=birth_any,
        sexes=sexes,
        facility_ids=facilities,
        updated=updated,
        updated_any=updated_any,
        sort=_sort(params),
    )


async def _find(
    session: Any,
    principal: Principal,
    params: Params,
    among: list[int] | None,
    limit: int,
    offset: int,
) -> tuple[list[PersonOut], int]:
    """The people the search names (only those in scope, each shown audited) and their
    total; ``limit`` 0: the total only. A search must name people (``_NAMING`` or
    ``among``): one by birth date, gender or facility alone is refused."""
    if among is None and all(params.get(k) is None for k in _NAMING):
        raise Invalid.fields(
            [
                FieldError(n, "give _id, identifier, a name (name, family, given) or _has")
                for n in ("identifier", "name")
            ]
        )
    f = await _filter(session, params, among)
    if f is None:
        return [], 0
    found = await service.search_where(session, principal, f, limit=limit, offset=offset)
    return found.items, found.total


async def _search(
    session: Any, principal: Principal, params: Params, page: PageParams
) -> tuple[list[PersonOut], int]:
    return await _find(session, principal, params, None, page.limit, page.offset)


#: ``name:exact``, ``family:contains``, ...: the string parameters' modifiers
_STRING_MODIFIED = frozenset(f"{p}:{m}" for p in ("name", "family", "given") for m in _HOW)


def _known(key: str) -> bool:
    return key in PARAMS or key in _STRING_MODIFIED or is_has(key)


async def _among(
    session: Any, principal: Principal, items: list[tuple[str, str]]
) -> list[int] | None:
    """The people ``_has`` and the exact / contained names allow (all of them), None when
    the search names none of these."""
    among = await has_persons(session, principal, items)
    for key, raw in items:
        if key not in _STRING_MODIFIED:
            continue
        part, _, how = key.partition(":")
        if not raw.strip():
            raise Invalid.fields([FieldError(key, "give the name or a part of it")])
        found = await service.person_ids_by_name_part(session, part, raw, how, limit=MAX_HAS_PEOPLE)
        if len(found) > MAX_HAS_PEOPLE:
            raise Invalid.fields(
                [
                    FieldError(
                        key,
                        f"more than {MAX_HAS_PEOPLE} people match: give more letters or "
                        "another parameter",
                    )
                ]
            )
        among = found if among is None else sorted(set(among) & set(found))
    return among


@router.get("/Patient")
async def search_patients(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:search"))],
) -> JSONResponse:
    """By national id, or by name in either script, narrowed by birth date, gender, facility;
    or by ``_has`` (the shared record) and ``name:exact`` / ``:contains`` (the string
    parameters), narrowed by the others. ``Prefer: handling=lenient`` leaves out a
    parameter it does not take, saying so in an OperationOutcome entry."""
    asked = list(request.query_params.multi_items())
    return fhir_response(await searchset(request, session, principal, asked))


async def searchset(
    request: Request, session: Any, principal: Principal, asked: list[tuple[str, str]]
) -> dict[str, Any]:
    """The searchset of ``GET /fhir/Patient?<asked>``; a Bundle's GET entry answers it too."""
    ignored: list[str] = []
    if lenient(request.headers.get("prefer")):
        asked, ignored = split_known(asked, _known)
    plain = [(k, v) for k, v in asked if k not in _STRING_MODIFIED and not is_has(k)]
    params = Params(plain, PARAMS)
    limit, offset = page_size(params)
    names = element_names(params)
    among = await _among(session, principal, asked)
    items, total = await _find(session, principal, params, among, limit, offset)
    resources = [_one(p) for p in items]
    if names is not None:
        resources = [subset(r, names) for r in resources]
    link = Params(asked, frozenset(k for k, _ in asked))
    bundle = searchset_of(request, "Patient", link, resources, total, limit, offset)
    return with_ignored(bundle, ignored)


async def batch_get(
    request: Request, session: Any, principal: Principal, target: str | None, query: str
) -> dict[str, Any]:
    """A Bundle's GET entry of Patient (fhir/bundle.py): ``Patient?<query>`` as the search
    route answers it, or ``Patient/<id>`` as the read; the same permissions, scope and
    audit."""
    if target is None:
        await Require("person:search")(request)
        asked = parse_qsl(query, keep_blank_values=True)
        return await searchset(request, session, principal, asked)
    await Require("person:read")(request)
    person_id = parse_row_id(target)
    if person_id is None:  # as the read route's path parameter answers
        raise Invalid.fields([FieldError("id", N_("must be a Patient's id (a whole number)"))])
    return _one(await service.get_person(session, principal, person_id))


# ---- create ----------------------------------------------------------------------------


async def _facility_code(session: Any, incoming: mapper.Incoming) -> str | None:
    if incoming.facility_id is not None:
        try:
            return (await service.get_facility(session, incoming.facility_id)).code
        except NotFound:
            raise Invalid.fields(
                [
                    FieldError(
                        "Patient.generalPractitioner[0]",
                        f"no Organization {incoming.facility_id}",
                    )
                ]
            ) from None
    return incoming.facility_code


def _refuse_lifecycle(incoming: mapper.Incoming, current: PersonOut | None) -> None:
    """Death, merging and detachment have their own workflows: a Patient cannot set them."""
    errors = []
    deceased_on = current.deceased_on if current else None
    d = incoming.deceased
    if (d is True and deceased_on is None) or (isinstance(d, date) and d != deceased_on):
        errors.append(
            FieldError(
                "Patient.deceased[x]",
                "a death is registered with its ICD-10 cause: POST /api/v1/persons/{id}/death",
            )
        )
    elif d is False and deceased_on is not None:
        errors.append(FieldError("Patient.deceased[x]", f"the death on {deceased_on} stands"))
    merged = current is not None and current.merged_into_id is not None
    if incoming.active is False and not merged:
        errors.append(FieldError("Patient.active", "only a merge makes a record inactive"))
    if incoming.replaced_by is not None and (
        current is None or incoming.replaced_by != current.merged_into_id
    ):
        errors.append(FieldError("Patient.link", "records are merged by the registry, not here"))
    if errors:
        raise Invalid.fields(errors)


def _candidates_conflict(e: Conflict) -> Conflict:
    """A 409 whose issues name each likely duplicate and how to register anyway."""
    candidates = e.extensions.get("candidates") or []
    existing = e.extensions.get("existing_id")
    errors = []
    if existing is not None:
        errors.append(FieldError("Patient.identifier", f"already registered: Patient/{existing}"))
    if candidates:
        errors.append(
            FieldError(
                mapper.FIELDS["duplicate_reason"],
                "required: the Patient resembles registered people (below); if it is "
                "another person, say why in this extension",
            )
        )
        for c in candidates:
            errors.append(
                FieldError(
                    "Patient",
                    f"resembles Patient/{c['person']['id']} (score {c['score']}: "
                    f"{', '.join(c['reasons'])})",
                )
            )
    if errors:
        e.errors = errors
    return e


async def register_patient(session: Any, principal: Principal, patient: Patient) -> PersonOut:
    """Register the person a Patient describes: its mapping and checks, the registry's
    duplicate check (a 409 naming each likely duplicate) and its audit.

    The Patient create and a Bundle's Patient entry (fhir/bundle.py) both register
    through here; errors name elements as ``Patient.<element>``.
    """
    incoming = mapper.check(mapper.from_fhir(patient))
    _refuse_lifecycle(incoming, None)
    data = build(
        PersonIn,
        {
            **incoming.person(),
            "attached_facility_code": await _facility_code(session, incoming),
            "section_code": incoming.section_code,
            "duplicate_reason": incoming.duplicate_reason,
        },
        mapper.FIELDS,
    )
    try:
        with fields_as(mapper.FIELDS):
            return await service.register_person(session, principal, data)
    except Conflict as e:
        raise _candidates_conflict(e) from None


@router.post("/Patient")
async def create_patient(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:create"))],
) -> JSONResponse:
    """Register a person; ``If-None-Exist`` makes it conditional (200 with the match)."""
    patient = await read_body(request, "Patient", Patient)
    condition = request.headers.get("if-none-exist")
    if condition is not None:
        pairs = parse_qsl(condition.lstrip("?"), keep_blank_values=True)
        if not pairs:
            raise Invalid.fields([FieldError("If-None-Exist", "give search parameters")])
        try:
            params = Params(pairs, frozenset(SEARCH_PARAMS))
        except Invalid as e:
            e.errors = [FieldError(f"If-None-Exist: {f.field}", f.message) for f in e.errors]
            raise
        found, total = await _search(session, principal, params, PageParams(2, 0))
        if total > 1:
            raise PreconditionFailed(
                f"If-None-Exist matches {total} patients; make the condition more selective."
            )
        if total == 1:
            return resource_response(request, _one(found[0]))
    person = await register_patient(session, principal, patient)
    return resource_response(request, _one(person), status=201, location=True)


# ---- $match ---------------------------------------------------------------------------


def _grade(score: float, reasons: list[str]) -> str:
    if "same national id" in reasons or score >= 0.95:
        return "certain"
    return "probable" if score >= 0.8 else "possible"


@router.post("/Patient/$match")
async def match_patients(
    request: Request,
    session: Session,
    principal: Annotated[Principal, Depends(Require("person:search"))],
) -> JSONResponse:
    """Registered people who may be the Patient given (MPI match), best first, with grades."""
    parameters = await read_body(request, "Parameters", Parameters)
    patient = None
    only_certain = False
    count = get_settings().max_page_size
    for i, p in enumerate(parameters.parameter or []):
        path = f"Parameters.parameter[{i}]"
        if p.name == "resource" and isinstance(p.resource, Patient) and patient is None:
            patient = p.resource
        elif p.name == "onlyCertainMatches" and p.valueBoolean is not None:
            only_certain = p.valueBoolean
        elif p.name == "count" and p.valueInteger is not None and p.valueInteger >= 1:
            count = min(p.valueInteger, count)
        else:
            raise Invalid.fields(
                [
                    FieldError(
                        path,
                        "expected one resource (a Patient), onlyCertainMatches (boolean) "
                        "or count (a positive integer)",
                    )
                ]
            )
    if patient is None:
        raise Invalid.fields([FieldError("Parameters.parameter", "give the resource: a Patient")])
    incoming = mapper.check(mapper.from_fhir(patient))
    data = build(PersonIn, incoming.person(), mapper.FIELDS)
    with fields_as(mapper.FIELDS):
        service.check_identity(data.national_id, data.birth_date, data.sex)
        candidates = await service.find_candidates(session, principal, data)
    base = base_url(request)
    entries = []
    for c in candidates:
        grade = _grade(c.score, c.reasons)
        if only_certain and grade != "certain":
            continue
        entries.append(
            {
                "fullUrl": f"{base}/Patient/{c.person.id}",
                "resource": _one(c.person),
                "search": {
                    "mode": "match",
                    "score": c.score,
                    "extension": [{"url": MATCH_GRADE_EXT, "valueCode": grade}],
                },
            }
        )
    entries = entries[:count]
    body = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": f"{base}/Patient/$match"}],
        "entry": entries,
    }
    return fhir_response(validated(Bundle, body))


# ---- read, vread, history, update --------------------------------------------------------


@router.get("/Patient/{person_id}")
async def read_patient(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:read"))],
) -> JSONResponse:
    person = await service.get_person(session, principal, person_id)
    return resource_response(request, _one(person))


@router.get("/Patient/{person_id}/_history/{version}")
async def vread_patient(
    request: Request,
    session: Session,
    person_id: RowId,
    version: Version,
    principal: Annotated[Principal, Depends(Require("person:read"))],
) -> JSONResponse:
    """One version as it was (scoped like a read: the person's scope today decides)."""
    await service.get_person(session, principal, person_id)
    stored = await service.stored_version(session, "Patient", person_id, version)
    return resource_response(request, _one(PersonOut.model_validate(stored.data)))


@router.get("/Patient/{person_id}/_history")
async def patient_history(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:read"))],
) -> JSONResponse:
    """Every version, newest first; one audited read of the record."""
    params = Params(list(request.query_params.multi_items()), PAGING)
    page = params.page()
    await service.get_person(session, principal, person_id, purpose="history")
    stored = await service.history(session, "Patient", person_id, page)
    versions = [(v.action, _one(PersonOut.model_validate(v.data))) for v in stored.items]
    return fhir_response(
        history_bundle(base_url(request), "Patient", person_id, versions, stored.total, page)
    )


@router.put("/Patient/{person_id}")
async def update_patient(
    request: Request,
    session: Session,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("person:update"))],
) -> JSONResponse:
    """Replace the person's data; needs the version read (``If-Match`` or meta.versionId).

    A changed ``generalPractitioner`` attaches the person there (a second
    version). Leaving out ``generalPractitioner`` or ``deceased[x]`` keeps
    them: detaching and deaths have their own workflows.
    """
    patient = await read_body(request, "Patient", Patient)
    if patient.id != str(person_id):
        raise BadRequest(
            "The resource's id must be the id in the URL.",
            errors=[FieldError("Patient.id", f"must be {person_id}")],
        )
    body_version = patient.meta.versionId if patient.meta else None
    expected = parse_if_match(request.headers.get("if-match"), body_version=body_version)
    incoming = mapper.check(mapper.from_fhir(patient))
    patch = build(PersonPatch, incoming.person(), mapper.FIELDS)
    facility_code = await _facility_code(session, incoming)
    stored_version = await service.person_version(session, person_id)
    with fields_as(mapper.FIELDS):
        # values equal to the stored ones are no change: 200 with the current version,
        # even from an older one; an attachment still needs the version the client read
        person = await service.update_person(
            session, principal, person_id, patch, expected_version=expected
        )
        attach_version = person.version if person.version != stored_version else expected
        _refuse_lifecycle(incoming, person)
        if facility_code is not None and (
            facility_code != person.attached_facility_code
            or incoming.section_code != person.section_code
        ):
            attach = build(
                AttachIn,
                {"facility_code": facility_code, "section_code": incoming.section_code},
                mapper.FIELDS,
            )
            person = await service.attach_person(
                session, principal, person_id, attach, expected_version=attach_version
            )
    return resource_response(request, _one(person), location=True)
