"""FHIR read and search over the pregnancy register (issue 4 item 7).

Read-only: pregnancies, contacts and advice are written through the REST API.
Every call goes through the maternal service, which checks scope and audits
(an out-of-scope pregnancy is 404 like a missing one). Permission: ``pregnancy:read``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import PregnancyDetail
from salomat.fhir import child_api
from salomat.fhir import maternal as mapper
from salomat.fhir import maternal_condition as conditions
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    fhir_response,
    reference_id,
    resource_response,
    searchset,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("pregnancy:read"))]

#: each resource's search parameters: name -> (type, documentation)
SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "EpisodeOfCare": {
        "patient": ("reference", "required: the woman, Patient/<id>"),
        "status": ("token", "active (the current pregnancy) or finished"),
    },
    "Encounter": {
        "patient": ("reference", "the woman, Patient/<id>; this or episode-of-care is required"),
        "episode-of-care": ("reference", "the pregnancy, EpisodeOfCare/<id>"),
    },
    "Observation": {
        "patient": (
            "reference",
            "Patient/<id>; this or encounter is required: a woman's antenatal and a child's "
            "growth Observations (fhir/child_api.py)",
        ),
        "encounter": ("reference", "the antenatal contact, Encounter/<id>"),
        "code": ("token", "a LOINC code: http://loinc.org|<code> or <code> (Observation.code)"),
    },
    "RiskAssessment": {"patient": ("reference", "required: the woman, Patient/<id>")},
    "DetectedIssue": {
        "patient": ("reference", "required: the woman, Patient/<id>; active advice only")
    },
    "Condition": {
        "patient": ("reference", "required: the woman, Patient/<id>"),
        "clinical-status": ("token", "active or resolved"),
        "code": ("token", "an ICD-10 code: http://hl7.org/fhir/sid/icd-10|<code> or <code>"),
    },
}
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": t,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{t}",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": [{"name": n, "type": ty, "documentation": d} for n, (ty, d) in ps.items()]
        + [{"name": "_count", "type": "number"}],
    }
    for t, ps in SEARCH_PARAMS.items()
]
_OBSERVATION_ID = re.compile(r"(p?)(\d{1,18})-([a-z0-9]+)", re.ASCII)


def _params(request: Request, resource_type: str) -> Params:
    return Params(
        list(request.query_params.multi_items()),
        frozenset(SEARCH_PARAMS[resource_type]) | PAGING,
    )


def _id_of(params: Params, name: str, kind: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    v = reference_id(raw, kind)
    if v is None:
        raise Invalid.fields([FieldError(name, f"must be a {kind} id or {kind}/<id>")])
    return v


def _need(*names: str) -> Invalid:
    return Invalid.fields([FieldError(n, "is required") for n in names])


def _found(request: Request, resource_type: str, params: Params, resources: list[Any]) -> Any:
    page = params.page()
    shown = resources[page.offset : page.offset + page.limit]
    return fhir_response(
        searchset(base_url(request), resource_type, params.items, shown, len(resources), page)
    )


async def _pregnancies(session: Any, principal: Principal, person_id: int) -> list[PregnancyDetail]:
    """Her pregnancies, newest first, each with contacts and active advice (all audited)."""
    listed = await service.list_pregnancies(session, principal, person_id)
    return [await service.get_pregnancy(session, principal, p.id) for p in listed]


# ---- EpisodeOfCare --------------------------------------------------------------------


@router.get("/EpisodeOfCare")
async def search_episodes(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "EpisodeOfCare")
    person = _id_of(params, "patient", "Patient")
    status = params.get("status")
    if status is not None and status not in ("active", "finished"):
        raise Invalid.fields([FieldError("status", "must be active or finished")])
    if person is None:
        raise _need("patient")
    found = [
        mapper.episode_of_care(p)
        for p in await service.list_pregnancies(session, principal, person)
    ]
    if status is not None:
        found = [r for r in found if r["status"] == status]
    return _found(request, "EpisodeOfCare", params, found)


@router.get("/EpisodeOfCare/{pregnancy_id}")
async def read_episode(
    request: Request, session: Session, pregnancy_id: RowId, principal: Reader
) -> JSONResponse:
    p = await service.get_pregnancy(session, principal, pregnancy_id)
    return resource_response(request, mapper.episode_of_care(p))


# ---- Encounter ------------------------------------------------------------------------


@router.get("/Encounter")
async def search_encounters(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "Encounter")
    person = _id_of(params, "patient", "Patient")
    episode = _id_of(params, "episode-of-care", "EpisodeOfCare")
    if episode is not None:
        contacts = await service.list_contacts(session, principal, episode)
        if person is not None:
            contacts = [c for c in contacts if c.person_id == person]
    elif person is not None:
        contacts = [c for p in await _pregnancies(session, principal, person) for c in p.contacts]
    else:
        raise _need("patient", "episode-of-care")
    return _found(request, "Encounter", params, [mapper.encounter(c) for c in contacts])


@router.get("/Encounter/{contact_id}")
async def read_encounter(session: Session, contact_id: RowId, principal: Reader) -> JSONResponse:
    return fhir_response(
        mapper.encounter(await service.get_contact(session, principal, contact_id))
    )


# ---- Observation ----------------------------------------------------------------------


def _code_filter(params: Params) -> str | None:
    raw = params.get("code")
    if raw is None:
        return None
    system, bar, code = raw.rpartition("|")
    if bar and system not in ("", mapper.LOINC):
        return ""  # another system: matches nothing
    return code


@router.get("/Observation")
async def search_observations(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = _params(request, "Observation")
    person = _id_of(params, "patient", "Patient")
    contact_id = _id_of(params, "encounter", "Encounter")
    code = _code_filter(params)
    if contact_id is not None:
        contact = await service.get_contact(session, principal, contact_id)
        found = (
            [] if person not in (None, contact.person_id) else mapper.contact_observations(contact)
        )
    elif person is not None:
        found = []
        for p in await _pregnancies(session, principal, person):
            found += mapper.pregnancy_observations(p)
            for c in p.contacts:
                found += mapper.contact_observations(c)
        found += await child_api.search_growth(session, principal, person)
    else:
        raise _need("patient", "encounter")
    if code is not None:
        found = [r for r in found if r["code"]["coding"][0]["code"] == code]
    return _found(request, "Observation", params, found)


@router.get("/Observation/{observation_id}")
async def read_observation(
    session: Session, observation_id: str, principal: Reader
) -> JSONResponse:
    """``<contact id>-<measure>``, or ``p<pregnancy id>-edd`` / ``-lmp``; growth: ``g...``."""
    if child_api.is_growth_id(observation_id):
        return fhir_response(await child_api.read_growth(session, principal, observation_id))
    hit = _OBSERVATION_ID.fullmatch(observation_id)
    missing = NotFound(f"Observation {observation_id} not found.")
    if hit is None or hit.group(3) not in mapper.MEASURES:
        raise missing
    per_pregnancy, rid = hit.group(1) == "p", int(hit.group(2))
    if per_pregnancy != (hit.group(3) in mapper.PREGNANCY_MEASURES):
        raise missing
    if per_pregnancy:
        found = mapper.pregnancy_observations(await service.get_pregnancy(session, principal, rid))
    else:
        found = mapper.contact_observations(await service.get_contact(session, principal, rid))
    for r in found:
        if r["id"] == observation_id:
            return fhir_response(r)
    raise missing


# ---- RiskAssessment and DetectedIssue -------------------------------------------------


@router.get("/RiskAssessment")
async def search_risk(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "RiskAssessment")
    person = _id_of(params, "patient", "Patient")
    if person is None:
        raise _need("patient")
    found = [
        r
        for p in await _pregnancies(session, principal, person)
        if (r := mapper.risk_assessment(p, p.advice)) is not None
    ]
    return _found(request, "RiskAssessment", params, found)


@router.get("/RiskAssessment/{pregnancy_id}")
async def read_risk(session: Session, pregnancy_id: RowId, principal: Reader) -> JSONResponse:
    p = await service.get_pregnancy(session, principal, pregnancy_id)
    r = mapper.risk_assessment(p, p.advice)
    if r is None:
        raise NotFound(f"RiskAssessment {pregnancy_id} not found.")
    return fhir_response(r)


@router.get("/DetectedIssue")
async def search_issues(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "DetectedIssue")
    person = _id_of(params, "patient", "Patient")
    if person is None:
        raise _need("patient")
    found = [
        mapper.detected_issue(p.person_id, a)
        for p in await _pregnancies(session, principal, person)
        for a in p.advice
    ]
    return _found(request, "DetectedIssue", params, found)


@router.get("/DetectedIssue/{advice_id}")
async def read_issue(session: Session, advice_id: RowId, principal: Reader) -> JSONResponse:
    person_id, advice = await service.get_advice_item(session, principal, advice_id)
    return fhir_response(mapper.detected_issue(person_id, advice))


# ---- Condition ------------------------------------------------------------------------


@router.get("/Condition")
async def search_conditions(request: Request, session: Session, principal: Reader) -> JSONResponse:
    params = _params(request, "Condition")
    person = _id_of(params, "patient", "Patient")
    status = params.get("clinical-status")
    if status is not None:
        status = status.removeprefix(f"{conditions.CLINICAL}|")
        if status not in conditions.CLINICAL_STATUSES:
            raise Invalid.fields(
                [
                    FieldError(
                        "clinical-status", "must be a condition-clinical code (active, resolved)"
                    )
                ]
            )
    code = params.get("code")
    if person is None:
        raise _need("patient")
    found = [
        conditions.condition(c) for c in await service.list_conditions(session, principal, person)
    ]
    if status is not None:
        found = [r for r in found if conditions.clinical_status(r) == status]
    if code is not None:
        found = [r for r in found if conditions.matches_code(r, code)]
    return _found(request, "Condition", params, found)


@router.get("/Condition/{condition_id}")
async def read_condition(session: Session, condition_id: str, principal: Reader) -> JSONResponse:
    """``<pregnancy id>-<diagnosis>`` or ``<pregnancy id>-reg-<recorded condition>``."""
    return fhir_response(
        conditions.condition(await service.get_condition(session, principal, condition_id))
    )
