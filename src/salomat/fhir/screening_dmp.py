"""FHIR of the disease-management programmes beyond the enrolment (issue 21; mappers in
fhir/screening.py, the other screening routes in fhir/screening_api.py, which includes
these routes before the other domains'):

- the readings of the follow-up visits as Observations ``dmp-<follow-up visit>-<reading>``
  (LOINC and UCUM as the screening measurements; ``basedOn`` the programme's CarePlan):
  read here, searched with the screening measurements (fhir/screening_api.py), so a
  patient's blood-pressure trend is one search;
- the enrolment's qualifying diagnosis as a problem-list Condition ``dmp-<enrolment>``:
  read, searched by ``_id`` here, and answered with the pregnancy register's and the
  shared record's Conditions in a search by ``patient`` (fhir/record_merged.py).

``screening:read`` reads both (a role without it sees no diagnosis of a programme); scope
and audit are the screening service's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Scope

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.i18n import N_
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.screening import service
from salomat.domains.screening.schemas import EnrolmentOut
from salomat.fhir import screening as mapper
from salomat.fhir.cancer import has_token
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    claimed_route,
    fhir_response,
    query_of,
    reference_param,
    resource_response,
    searchset,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("screening:read"))]

CLINICAL_STATUSES = ("active", "resolved")
SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "patient": (
        "reference",
        "the person, Patient/<id>: answered with the pregnancy register's and the shared "
        "record's Conditions",
    ),
    "code": ("token", f"the ICD-10 diagnosis, {mapper.ICD10}|<code> or <code>"),
    "clinical-status": (
        "token",
        "active (enrolled, or the programme ended otherwise) or resolved (ended: recovered)",
    ),
    "_id": ("token", "dmp-<enrolment id>"),
}
DOCS = (
    "Screening: the qualifying diagnosis of a disease-management programme enrolment, "
    "ids dmp-<n> (EpisodeOfCare.diagnosis names it)"
)


def _missing(resource_type: str, rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": resource_type, "id": rid}
    )


def _condition_id(value: str) -> int | None:
    return mapper.enrolment_id(value, "Condition")


def _claims_conditions(scope: Scope) -> bool:
    return any(
        k == "_id" and any(_condition_id(v) is not None for v in value.split(","))
        for k, value in query_of(scope)
    )


def _path_claim(name: str, test: Callable[[str], bool]) -> Callable[[Scope], bool]:
    def claim(scope: Scope) -> bool:
        return test(str(scope.get("path_params", {}).get(name, "")))

    return claim


# ---- Condition ---------------------------------------------------------------------------


async def _enrolments(session: Any, principal: Principal, params: Params) -> list[EnrolmentOut]:
    person = reference_param(params.get("patient"), "Patient", "patient")
    raw_ids = params.get("_id")
    ids = None
    if raw_ids is not None:
        ids = {i for i in (_condition_id(v) for v in raw_ids.split(",")) if i is not None}
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
        raise Invalid.fields([FieldError("patient", N_("is required"))])
    return [e for e in found if ids is None or e.id in ids]


async def search_conditions(request: Request, session: Any, principal: Principal) -> JSONResponse:
    """The programme diagnoses of a person (``patient``) or of enrolments (``_id``),
    filtered by ``code`` and ``clinical-status``. Also called by the merged search of
    ``Condition?patient=…`` (fhir/record_merged.py), which checks ``screening:read``."""
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    raw_status = params.get("clinical-status")
    statuses = None
    if raw_status is not None:
        statuses = {v.rpartition("|")[2] for v in raw_status.split(",")}
        if not statuses <= set(CLINICAL_STATUSES):
            raise Invalid.fields(
                [
                    FieldError(
                        "clinical-status",
                        N_("must be one of %(codes)s"),
                        {"codes": ", ".join(CLINICAL_STATUSES)},
                    )
                ]
            )
    code = params.get("code")
    resources = []
    for e in await _enrolments(session, principal, params):
        if statuses is not None and mapper.clinical_status(e) not in statuses:
            continue
        res = mapper.condition(e)
        if code is not None and not any(
            has_token(res["code"]["coding"], v) for v in code.split(",")
        ):
            continue
        resources.append(res)
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), "Condition", params.items, shown, len(resources), page)
    )


async def search_screening_conditions(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    return await search_conditions(request, session, principal)


async def read_screening_condition(
    request: Request, session: Session, condition_id: str, principal: Reader
) -> Response:
    eid = _condition_id(condition_id)
    if eid is None:
        raise _missing("Condition", condition_id)
    try:
        e = await service.get_enrolment(session, principal, eid)
    except NotFound:
        raise _missing("Condition", condition_id) from None
    return resource_response(request, mapper.condition(e))


router.add_api_route(
    "/Condition",
    search_screening_conditions,
    methods=["GET"],
    route_class_override=claimed_route(_claims_conditions),
)
router.add_api_route(
    "/Condition/{condition_id}",
    read_screening_condition,
    methods=["GET"],
    route_class_override=claimed_route(
        _path_claim("condition_id", lambda v: _condition_id(v) is not None)
    ),
)


# ---- the follow-up visits' readings ----------------------------------------------------------


async def followup_observations(
    session: Any, principal: Principal, person: int | None, ids: set[tuple[int, int]] | None
) -> list[dict[str, Any]]:
    """The follow-up readings of a person, or those ``ids`` name (each read on its own,
    a reading out of scope left out), as Observations."""
    if person is not None:
        readings = await service.list_observations(session, principal, person)
    elif ids:
        readings = []
        for visit, obs in sorted(ids):
            try:
                readings.append(await service.get_observation(session, principal, obs, visit))
            except NotFound:
                continue
    else:
        return []
    return [
        mapper.followup_observation(r)
        for r in readings
        if ids is None or (r.dmp_visit_id, r.observation.id) in ids
    ]


async def read_followup_observation(
    request: Request, session: Session, observation_id: str, principal: Reader
) -> Response:
    parsed = mapper.parse_followup_id(observation_id)
    if parsed is None:
        raise _missing("Observation", observation_id)
    try:
        r = await service.get_observation(session, principal, parsed[1], parsed[0])
    except NotFound:
        raise _missing("Observation", observation_id) from None
    return resource_response(request, mapper.followup_observation(r))


router.add_api_route(
    "/Observation/{observation_id}",
    read_followup_observation,
    methods=["GET"],
    route_class_override=claimed_route(
        _path_claim("observation_id", lambda v: mapper.parse_followup_id(v) is not None)
    ),
)
