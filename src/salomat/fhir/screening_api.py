"""FHIR for screening and the disease-management programmes (issue 21; mappers in
fhir/screening.py): screening Observations (read, search, and another system's result
as create; the follow-up visits' readings searched with them, read in
fhir/screening_dmp.py with the programme diagnosis as Condition), screening visits as
Encounter, enrolments as EpisodeOfCare, their visit
schedule as CarePlan, the recall of an overdue patient as Task, and the HEARTS control
indicators as Measure / MeasureReport.

Every call goes through the screening service, which checks scope and audits exactly as
the REST API (a person out of scope is 404 like a missing one). Permissions as in REST:
``screening:read`` to read and search a person's screenings and programmes,
``screening:record`` to submit a result, ``screening:worklist`` for the recall Tasks,
``screening:coverage`` for the Measures and MeasureReports.

**Shared types.** Observation, Encounter, EpisodeOfCare, Task, Measure and MeasureReport
are also other domains'. These routes come before theirs and *claim* only what is
screening's: an id ``screening-<n>[-<n>]`` / ``dmp-<n>`` / ``dmp-recall-<n>`` /
``hearts-<programme>``, or a search naming screening (the national screening category
``urn:salomat:observation-category|screening``, a programme type
``urn:salomat:screening-programme|<code>``, the recall code, ``measure=hearts-…``); every
other request passes on unchanged. ``POST /fhir/Observation`` is the shared record's
create unless the body declares the screening profile (or carries the screening
category): then it is a screening result, taken by ``record_screening``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.types import Scope

from salomat.core import i18n
from salomat.core.errors import (
    FieldError,
    Invalid,
    NotFound,
    field_errors_from_pydantic,
)
from salomat.core.i18n import N_
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.screening import service
from salomat.domains.screening.schemas import ScreeningVisitIn, ScreeningVisitOut
from salomat.domains.screening.service import common
from salomat.domains.screening.service.indicators import (
    DEFINITIONS,
    programme_indicators,
    targets_on,
)
from salomat.fhir import capability, screening_dmp
from salomat.fhir import screening as mapper
from salomat.fhir.cancer import has_token
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    claimed_route,
    fhir_response,
    fields_as,
    query_of,
    read_body,
    reference_param,
    resource_response,
    searchset,
)
from salomat.fhir.search import parse_date_param
from salomat.fhir.terminology_bindings import codes_checked

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("screening:read"))]
WorklistReader = Annotated[Principal, Depends(Require("screening:worklist"))]
Counter = Annotated[Principal, Depends(Require("screening:coverage"))]
#: any account: the create decides (the record's or screening's permission)
Anyone = Annotated[Principal, Depends(Require("session:self"))]

_CATEGORY = f"{mapper.CATEGORY_SYSTEM}|{mapper.CATEGORY_CODE}"
_FOLLOWUP = f"{mapper.CATEGORY_SYSTEM}|{mapper.FOLLOWUP_CATEGORY_CODE}"
_RECALL = f"{mapper.RECALL_SYSTEM}|{mapper.RECALL_CODE}"

SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "Observation": {
        "category": (
            "token",
            f"{_CATEGORY}: screening measurements, {_FOLLOWUP}: disease-management "
            "follow-up readings (either, a screening-<visit>-<n> or dmp-<visit>-<n> _id or a "
            "screening encounter picks them); vital-signs, laboratory, exam, social-history",
        ),
        "patient": ("reference", "the person, Patient/<id> (with the screening category)"),
        "encounter": ("reference", "the screening visit, Encounter/screening-<id>"),
        "code": ("token", "LOINC (85354-9, 4548-4, 1558-6, ...) or the national measurement"),
        "date": ("date", "the day measured (prefixes ge, gt, le, lt, eq)"),
        "_id": (
            "token",
            "screening-<visit id>-<measurement id>, or a follow-up visit's reading "
            "dmp-<follow-up visit id>-<reading id>",
        ),
    },
    "Encounter": {
        "type": (
            "token",
            f"{mapper.PROGRAMME_SYSTEM}|<programme>: screening visits (this or a "
            "screening-<n> _id picks them)",
        ),
        "patient": ("reference", "the person, Patient/<id>"),
        "date": ("date", "the day of the screening"),
        "reason-code": ("token", "ICD-10 reason, Z13.6, Z12.4, ..."),
        "_id": ("token", "screening-<visit id>"),
    },
    "EpisodeOfCare": {
        "type": (
            "token",
            f"{mapper.PROGRAMME_SYSTEM}|<programme>: programme enrolments (this or a "
            "dmp-<n> _id picks them)",
        ),
        "patient": ("reference", "the person, Patient/<id>"),
        "status": ("token", "active or finished"),
        "_id": ("token", "dmp-<enrolment id>"),
    },
    "CarePlan": {
        "patient": ("reference", "the person, Patient/<id>; this or _id is required"),
        "status": ("token", "active or completed"),
        "category": ("token", f"the programme, {mapper.PROGRAMME_SYSTEM}|<programme>"),
        "_id": ("token", "dmp-<enrolment id>"),
    },
    "Task": {
        "code": (
            "token",
            f"{_RECALL}: recalls of patients overdue for their programme visit, at the "
            "user's facility (this, a dmp-recall-<n> _id or the focus picks them)",
        ),
        "patient": ("reference", "the person, Patient/<id>"),
        "focus": ("reference", "the enrolment, EpisodeOfCare/dmp-<id>"),
        "_id": ("token", "dmp-recall-<enrolment id>"),
    },
    "Condition": screening_dmp.SEARCH_PARAMS,
    "Measure": {
        "_id": ("token", "hearts-<programme> (hearts-hypertension, hearts-t2dm, ...)"),
        "url": ("uri", "the Measure's canonical URL"),
    },
    "MeasureReport": {
        "measure": (
            "reference",
            "hearts-<programme> (its id, Measure/<id> or url): the programme's HEARTS control "
            "indicators",
        ),
        "period": ("date", "a closed month YYYY-MM or quarter YYYY-Qn"),
        "subject": ("token", f"a region or district, {mapper.TERRITORY_SYSTEM}|<code>; none: "
                    "the country"),
        "by": ("token", "local: region, district or facility strata (default: one level down)"),
    },
}  # fmt: skip
_DOCS = {
    "Observation": "Screening: measurements of screening visits, ids screening-<visit>-<n>, and "
    "readings of disease-management follow-up visits, ids dmp-<visit>-<n>; create: a "
    "screening result (the screening-observation profile), also in a transaction or batch",
    "Encounter": "Screening: screening visits, ids screening-<n>",
    "EpisodeOfCare": "Screening: disease-management programme enrolments, ids dmp-<n>",
    "CarePlan": "Screening: the programme's visit schedule, ids dmp-<n>",
    "Task": "Screening: recall of a patient overdue for her programme visit, ids dmp-recall-<n>",
    "Measure": "Screening: HEARTS control indicators of a programme, ids hearts-<programme>",
    "Condition": screening_dmp.DOCS,
    "MeasureReport": "Screening: HEARTS control indicators for a period and an area, strata by "
    "region, district or facility; counts below five withheld",
}
_INTERACTIONS = {
    "Observation": ["read", "search-type", "create"],
    "MeasureReport": ["search-type"],
}


def _capability(resource_type: str) -> dict[str, Any]:
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "documentation": _DOCS[resource_type],
        "interaction": [
            {"code": c} for c in _INTERACTIONS.get(resource_type, ["read", "search-type"])
        ],
        "searchParam": [
            {"name": n, "type": t, "documentation": d}
            for n, (t, d) in SEARCH_PARAMS[resource_type].items()
        ]
        + [{"name": "_count", "type": "number"}],
    }


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with screening's share merged into each type's entry
    (CarePlan added: only screening serves it)."""
    return capability.merge(resources, [_capability(t) for t in SEARCH_PARAMS], label="screening")


# ---- claims --------------------------------------------------------------------------


def _path_prefix(name: str, prefix: str, not_prefix: str | None = None) -> Callable[[Scope], bool]:
    def claim(scope: Scope) -> bool:
        value = str(scope.get("path_params", {}).get(name, ""))
        return value.startswith(prefix) and not (not_prefix and value.startswith(not_prefix))

    return claim


def _any(value: str, test: Callable[[str], bool]) -> bool:
    return any(test(v) for v in value.split(","))


def _search_claim(rules: dict[str, Callable[[str], bool]]) -> Callable[[Scope], bool]:
    def claim(scope: Scope) -> bool:
        return any(k in rules and _any(v, rules[k]) for k, v in query_of(scope))

    return claim


def _system_is(system: str) -> Callable[[str], bool]:
    return lambda v: v.startswith(f"{system}|")


_claims_observations = _search_claim(
    {
        "category": lambda v: v in (_CATEGORY, _FOLLOWUP),
        "_id": lambda v: (
            mapper.parse_observation_id(v) is not None or mapper.parse_followup_id(v) is not None
        ),
        "encounter": lambda v: mapper.parse_encounter_id(v) is not None,
        "code": _system_is(mapper.MEASUREMENT_SYSTEM),
    }
)
_claims_encounters = _search_claim(
    {
        "type": _system_is(mapper.PROGRAMME_SYSTEM),
        "_id": lambda v: mapper.parse_encounter_id(v) is not None,
    }
)
_claims_episodes = _search_claim(
    {
        "type": _system_is(mapper.PROGRAMME_SYSTEM),
        "_id": lambda v: mapper.enrolment_id(v, "EpisodeOfCare") is not None,
    }
)
_claims_tasks = _search_claim(
    {
        "code": lambda v: v == _RECALL,
        "_id": lambda v: mapper.recall_id(v) is not None,
        "focus": lambda v: mapper.enrolment_id(v, "EpisodeOfCare") is not None,
    }
)
_claims_measures = _search_claim(
    {
        "_id": lambda v: mapper.measure_programme(v) is not None,
        "url": lambda v: mapper.measure_programme(v) is not None,
    }
)
_claims_reports = _search_claim({"measure": lambda v: mapper.measure_programme(v) is not None})


# ---- search plumbing -------------------------------------------------------------------


def _params(request: Request, resource_type: str) -> Params:
    return Params(
        list(request.query_params.multi_items()),
        frozenset(SEARCH_PARAMS[resource_type]) | PAGING,
    )


def _found(
    request: Request, resource_type: str, params: Params, resources: list[dict[str, Any]]
) -> JSONResponse:
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), resource_type, params.items, shown, len(resources), page)
    )


def _missing(resource_type: str, rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": resource_type, "id": rid}
    )


def _need(name: str) -> Invalid:
    return Invalid.fields([FieldError(name, N_("is required"))])


def _matches(codings: list[dict[str, Any]], raw: str | None) -> bool:
    return raw is None or any(has_token(codings, v) for v in raw.split(","))


def _codings(concepts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for concept in concepts for c in concept.get("coding", [])]


def _tokens(params: Params, name: str, allowed: tuple[str, ...]) -> set[str] | None:
    raw = params.get(name)
    if raw is None:
        return None
    codes = {v.rpartition("|")[2] for v in raw.split(",")}
    if not codes <= set(allowed):
        raise Invalid.fields(
            [FieldError(name, N_("must be one of %(codes)s"), {"codes": ", ".join(allowed)})]
        )
    return codes


def _day_filter(request: Request, name: str = "date") -> Callable[[date], bool]:
    values = request.query_params.getlist(name)
    if not values:
        return lambda _d: True
    since, until = parse_date_param(values, name)

    def test(d: date) -> bool:
        start = datetime.combine(d, time(), UTC)
        end = start + timedelta(days=1)
        return (since is None or end > since) and (until is None or start < until)

    return test


def _ids(params: Params, parse: Callable[[str], Any]) -> set[Any] | None:
    raw = params.get("_id")
    if raw is None:
        return None
    return {p for p in (parse(v) for v in raw.split(",")) if p is not None}


async def _visits(session: Any, principal: Principal, person: int) -> list[ScreeningVisitOut]:
    card = await service.programme_card(session, principal, person)
    return card.visits


async def _visit(session: Any, principal: Principal, visit_id: int) -> ScreeningVisitOut | None:
    try:
        return await service.get_visit(session, principal, visit_id)
    except NotFound:
        return None


# ---- Observation ------------------------------------------------------------------------


async def search_screening_observations(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "Observation")
    person = reference_param(params.get("patient"), "Patient", "patient")
    ids = _ids(params, mapper.parse_observation_id)
    followup_ids = _ids(params, mapper.parse_followup_id)
    raw_encounter = params.get("encounter")
    encounter = mapper.parse_encounter_id(raw_encounter) if raw_encounter else None
    if raw_encounter is not None and encounter is None:
        raise Invalid.fields([FieldError("encounter", N_("must be Encounter/screening-<id>"))])
    on_day = _day_filter(request)
    if person is not None:
        visits = await _visits(session, principal, person)
    elif encounter is not None or ids:
        wanted = {encounter} if encounter is not None else {v for v, _ in ids or ()}
        visits = [v for v in [await _visit(session, principal, i) for i in sorted(wanted)] if v]
    elif ids is not None:
        visits = []
    else:
        raise _need("patient")
    resources = []
    if encounter is None:
        # the follow-up visits' readings (no Encounter): a person's, or those _id names
        for res in await screening_dmp.followup_observations(
            session, principal, person, followup_ids
        ):
            if not on_day(date.fromisoformat(res["effectiveDateTime"])):
                continue
            if not _matches(_codings(res["category"]), params.get("category")):
                continue
            if not _matches(res["code"]["coding"], params.get("code")):
                continue
            resources.append(res)
    for visit in visits:
        if encounter is not None and visit.id != encounter:
            continue
        for o in visit.measurements:
            if ids is not None and (visit.id, o.id) not in ids:
                continue
            if not on_day(o.observed_on):
                continue
            res = mapper.observation(visit, o)
            if not _matches(_codings(res["category"]), params.get("category")):
                continue
            if not _matches(res["code"]["coding"], params.get("code")):
                continue
            resources.append(res)
    # oldest first, screenings and follow-up visits together (a trend reads in order)
    resources.sort(key=lambda r: r["effectiveDateTime"])
    return _found(request, "Observation", params, resources)


async def read_screening_observation(
    request: Request, session: Session, observation_id: str, principal: Reader
) -> Response:
    parsed = mapper.parse_observation_id(observation_id)
    visit = await _visit(session, principal, parsed[0]) if parsed else None
    if parsed is None or visit is None:
        raise _missing("Observation", observation_id)
    for o in visit.measurements:
        if o.id == parsed[1]:
            return resource_response(request, mapper.observation(visit, o))
    raise _missing("Observation", observation_id)


router.add_api_route(
    "/Observation",
    search_screening_observations,
    methods=["GET"],
    route_class_override=claimed_route(_claims_observations),
)
router.add_api_route(
    "/Observation/{observation_id}",
    read_screening_observation,
    methods=["GET"],
    route_class_override=claimed_route(_path_prefix("observation_id", mapper.OBSERVATION_PREFIX)),
)


def _build(values: dict[str, Any]) -> ScreeningVisitIn:
    try:
        return ScreeningVisitIn.model_validate(values)
    except ValidationError as e:
        raise Invalid.fields(field_errors_from_pydantic(e.errors())) from e


async def submit_observation(
    session: Any, principal: Principal, obs: Any
) -> tuple[dict[str, Any], list[FieldError]]:
    """A screening result another system submits (R4B Observation): one measurement of a
    screening visit, checked and stored by the same ``record_screening`` as
    POST /api/v1/persons/{id}/screenings (ranges, UCUM units, the programme's
    measurements, opportunistic outside the target group); the Observation stored and
    the warnings to tell. Refusals name the element (``Observation.…``); a transaction
    Bundle's entry (fhir/bundle.py) comes here too."""
    if not mapper.is_screening(obs.model_dump(mode="json", exclude_none=True)):
        raise Invalid.fields(
            [
                FieldError(
                    "Observation.meta.profile",
                    N_("must name %(profile)s for a screening result"),
                    {"profile": mapper.PROFILE},
                )
            ]
        )
    with codes_checked(obs):
        incoming = mapper.incoming(obs)
        with fields_as(incoming.paths):
            data = _build(incoming.values)
            visit = await service.record_screening(session, principal, incoming.person_id, data)
    warnings = []
    if visit.opportunistic:
        warnings.append(
            FieldError(
                mapper._ext_path(mapper.PROGRAMME_EXT),
                i18n.gettext(
                    N_(
                        "Recorded as opportunistic (%(reason)s): outside the programme's "
                        "target group, not counted as its coverage."
                    )
                )
                % {"reason": visit.opportunistic_reason or ""},
            )
        )
    return mapper.observation(visit, visit.measurements[0]), warnings


async def create_observation(request: Request, session: Any, principal: Principal) -> Response:
    """A screening result another system submits (``submit_observation``); 201 with the
    Observation."""
    from fhir.resources.R4B.observation import Observation

    obs = await read_body(request, "Observation", Observation)
    res, warnings = await submit_observation(session, principal, obs)
    return resource_response(request, res, status=201, location=True, warnings=warnings)


@router.post(
    "/Observation",
    status_code=201,
    responses={
        422: {
            "description": "a screening result with a wrong element (each named): an "
            "impossible value, an unknown unit, a programme that does not measure it"
        }
    },
)
async def create_observation_screening_or_record(
    request: Request, session: Session, principal: Anyone
) -> Response:
    """Create an Observation: a screening result (the screening-observation profile, or
    the screening category: ``screening:record``), else the shared record's create
    (``record:write``) as before."""
    from salomat.fhir import record_api

    return await record_api._create_shared(
        request, session, principal, "Observation", mapper.is_screening, create_observation,
        "screening:record",
    )  # fmt: skip


# ---- Encounter ------------------------------------------------------------------------------


async def search_screening_encounters(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "Encounter")
    person = reference_param(params.get("patient"), "Patient", "patient")
    ids = _ids(params, mapper.parse_encounter_id)
    on_day = _day_filter(request)
    if person is not None:
        visits = await _visits(session, principal, person)
    elif ids:
        visits = [v for v in [await _visit(session, principal, i) for i in sorted(ids)] if v]
    elif ids is not None:
        visits = []
    else:
        raise _need("patient")
    resources = []
    for v in visits:
        if ids is not None and v.id not in ids:
            continue
        if not on_day(v.performed_on):
            continue
        res = mapper.encounter(v)
        if not _matches(_codings(res["type"]), params.get("type")):
            continue
        if not _matches(_codings(res.get("reasonCode", [])), params.get("reason-code")):
            continue
        resources.append(res)
    return _found(request, "Encounter", params, resources)


async def read_screening_encounter(
    request: Request, session: Session, encounter_id: str, principal: Reader
) -> Response:
    vid = mapper.parse_encounter_id(encounter_id)
    visit = await _visit(session, principal, vid) if vid is not None else None
    if visit is None:
        raise _missing("Encounter", encounter_id)
    return resource_response(request, mapper.encounter(visit))


router.add_api_route(
    "/Encounter",
    search_screening_encounters,
    methods=["GET"],
    route_class_override=claimed_route(_claims_encounters),
)
router.add_api_route(
    "/Encounter/{encounter_id}",
    read_screening_encounter,
    methods=["GET"],
    route_class_override=claimed_route(_path_prefix("encounter_id", mapper.ENCOUNTER_PREFIX)),
)


# ---- EpisodeOfCare and CarePlan --------------------------------------------------------------


async def _enrolments(session: Any, principal: Principal, params: Params, kind: str) -> list[Any]:
    person = reference_param(params.get("patient"), "Patient", "patient")
    ids = _ids(params, lambda v: mapper.enrolment_id(v, kind))
    if person is not None:
        found = await service.list_enrolments(session, principal, person)
    elif ids:
        found = []
        for i in sorted(ids):
            try:
                found.append(await service.get_enrolment(session, principal, i))
            except NotFound:
                continue
    elif ids is not None:
        found = []
    else:
        raise _need("patient")
    return [e for e in found if ids is None or e.id in ids]


async def _enrolment(session: Any, principal: Principal, rid: str, kind: str) -> Any:
    eid = mapper.enrolment_id(rid, kind)
    if eid is None:
        raise _missing(kind, rid)
    try:
        return await service.get_enrolment(session, principal, eid)
    except NotFound:
        raise _missing(kind, rid) from None


async def search_screening_episodes(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "EpisodeOfCare")
    statuses = _tokens(params, "status", ("active", "finished"))
    resources = []
    for e in await _enrolments(session, principal, params, "EpisodeOfCare"):
        res = mapper.episode_of_care(e)
        if statuses is not None and res["status"] not in statuses:
            continue
        if not _matches(_codings(res["type"]), params.get("type")):
            continue
        resources.append(res)
    return _found(request, "EpisodeOfCare", params, resources)


async def read_screening_episode(
    request: Request, session: Session, episode_id: str, principal: Reader
) -> Response:
    e = await _enrolment(session, principal, episode_id, "EpisodeOfCare")
    return resource_response(request, mapper.episode_of_care(e))


router.add_api_route(
    "/EpisodeOfCare",
    search_screening_episodes,
    methods=["GET"],
    route_class_override=claimed_route(_claims_episodes),
)
router.add_api_route(
    "/EpisodeOfCare/{episode_id}",
    read_screening_episode,
    methods=["GET"],
    route_class_override=claimed_route(
        _path_prefix("episode_id", mapper.ENROLMENT_PREFIX, mapper.RECALL_PREFIX)
    ),
)


@router.get("/CarePlan")
async def search_screening_care_plans(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "CarePlan")
    statuses = _tokens(params, "status", ("active", "completed"))
    resources = []
    for e in await _enrolments(session, principal, params, "CarePlan"):
        res = mapper.care_plan(e)
        if statuses is not None and res["status"] not in statuses:
            continue
        if not _matches(_codings(res["category"]), params.get("category")):
            continue
        resources.append(res)
    return _found(request, "CarePlan", params, resources)


@router.get("/CarePlan/{care_plan_id}")
async def read_screening_care_plan(
    request: Request, session: Session, care_plan_id: str, principal: Reader
) -> Response:
    e = await _enrolment(session, principal, care_plan_id, "CarePlan")
    return resource_response(request, mapper.care_plan(e))


# ---- Task (recall) ------------------------------------------------------------------------------


async def _recalls(session: Any, principal: Principal) -> list[dict[str, Any]]:
    """The recall of every patient on the facility's overdue worklist today (audited by
    the worklist as a search of the patients shown)."""
    day = common.today()
    wl = await service.dmp_worklist(session, principal, "overdue", day)
    return [mapper.recall_task(row, principal.facility_id, day) for row in wl.patients]


async def search_screening_tasks(
    request: Request, session: Session, principal: WorklistReader
) -> JSONResponse:
    params = _params(request, "Task")
    raw_code = params.get("code")
    if raw_code is not None and not _any(raw_code, lambda v: v in (_RECALL, mapper.RECALL_CODE)):
        return _found(request, "Task", params, [])
    person = reference_param(params.get("patient"), "Patient", "patient")
    ids = _ids(params, mapper.recall_id)
    raw_focus = params.get("focus")
    focus = mapper.enrolment_id(raw_focus, "EpisodeOfCare") if raw_focus else None
    if raw_focus is not None and focus is None:
        raise Invalid.fields([FieldError("focus", N_("must be EpisodeOfCare/dmp-<id>"))])
    resources = []
    for res in await _recalls(session, principal):
        rid = mapper.recall_id(res["id"])
        if ids is not None and rid not in ids:
            continue
        if focus is not None and rid != focus:
            continue
        if person is not None and res["for"]["reference"] != f"Patient/{person}":
            continue
        resources.append(res)
    return _found(request, "Task", params, resources)


async def read_screening_task(
    request: Request, session: Session, task_id: str, principal: WorklistReader
) -> Response:
    rid = mapper.recall_id(task_id)
    if rid is None:
        raise _missing("Task", task_id)
    for res in await _recalls(session, principal):
        if res["id"] == task_id:
            return resource_response(request, res)
    raise _missing("Task", task_id)


router.add_api_route(
    "/Task",
    search_screening_tasks,
    methods=["GET"],
    route_class_override=claimed_route(_claims_tasks),
)
router.add_api_route(
    "/Task/{task_id}",
    read_screening_task,
    methods=["GET"],
    route_class_override=claimed_route(_path_prefix("task_id", mapper.RECALL_PREFIX)),
)


# ---- Measure and MeasureReport ------------------------------------------------------------------


def _programmes(day: date) -> list[str]:
    return list(common.rules().edition(day).dmps)


def _definitions(day: date) -> dict[str, str]:
    """Each indicator's definition with its denominator, as the indicator page states it,
    with the targets of the edition in force (the report's period names the cohort)."""
    t = targets_on(day, common.rules().country)
    params: dict[str, Any] = {
        "systolic": t.bp.systolic,
        "diastolic": t.bp.diastolic,
        "cohort": i18n.gettext(N_("the cohort's quarter")),
        "followup": i18n.gettext(N_("the following quarter")),
    }
    out = {}
    for key, text in DEFINITIONS.items():
        values = params
        if key in ("sugar_dhis2", "sugar_simple"):
            target = t.sugar if key == "sugar_dhis2" else t.lenient
            values = {"fbs": f"{target.fasting_mg_dl:g}", "hba1c": f"{target.hba1c_percent:g}"}
        out[key] = i18n.gettext(text) % values if "%(" in text else i18n.gettext(text)
    return out


def _measure(request: Request, programme: str) -> dict[str, Any]:
    day = common.today()
    if programme not in _programmes(day):
        raise _missing("Measure", mapper.measure_id(programme))
    return mapper.measure(programme, day, base_url(request), _definitions(day))


async def search_screening_measures(request: Request, principal: Counter) -> JSONResponse:
    params = _params(request, "Measure")
    wanted = {
        mapper.measure_programme(v)
        for name in ("_id", "url")
        if params.get(name)
        for v in (params.get(name) or "").split(",")
    }
    resources = [_measure(request, p) for p in _programmes(common.today()) if p in wanted]
    return _found(request, "Measure", params, resources)


async def read_screening_measure(request: Request, measure_id: str, principal: Counter) -> Response:
    programme = mapper.measure_programme(measure_id)
    if programme is None:
        raise _missing("Measure", measure_id)
    return resource_response(request, _measure(request, programme))


router.add_api_route(
    "/Measure",
    search_screening_measures,
    methods=["GET"],
    route_class_override=claimed_route(_claims_measures),
)
router.add_api_route(
    "/Measure/{measure_id}",
    read_screening_measure,
    methods=["GET"],
    route_class_override=claimed_route(_path_prefix("measure_id", mapper.MEASURE_PREFIX)),
)


async def search_screening_reports(
    request: Request, session: Session, principal: Counter
) -> JSONResponse:
    params = _params(request, "MeasureReport")
    measure, period = params.get("measure"), params.get("period")
    errors = []
    if not period:
        errors.append(FieldError("period", N_("is required")))
    programme = mapper.measure_programme(measure or "")
    if errors or programme is None or period is None:
        raise Invalid.fields(errors)
    subject = params.get("subject")
    area = subject.rpartition("|")[2] if subject else None
    try:
        result = await programme_indicators(
            session, principal, period=period, area=area, by=params.get("by"), programme=programme,
            today=common.today(),
        )  # fmt: skip
    except Invalid as e:
        # the service names its own parameters; FHIR's are subject and measure
        renamed = {"area": "subject", "programme": "measure"}
        for f in e.errors:
            f.field = renamed.get(f.field, f.field)
        raise
    report = mapper.measure_report(result, base_url(request))
    page = params.page()
    return fhir_response(
        searchset(base_url(request), "MeasureReport", params.items, [report], 1, page)
    )


router.add_api_route(
    "/MeasureReport",
    search_screening_reports,
    methods=["GET"],
    route_class_override=claimed_route(_claims_reports),
)


# the programme diagnoses (Condition) and the follow-up readings' reads (fhir/screening_dmp.py)
router.include_router(screening_dmp.router)
