"""FHIR read and search over the child passport: growth Observations and RelatedPerson.

Read-only; measurements are written through the REST API. The growth
Observations share ``/fhir/Observation`` with the antenatal ones
(``maternal_api`` serves the route and calls ``search_growth`` and
``read_growth`` here: a search by patient returns both kinds, a read goes by
the id's ``g`` prefix). Every call goes through the child service, which
checks scope and audits. Permission: ``child:read``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.policy import Require, allowed
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.child import service
from salomat.fhir import child as mapper
from salomat.fhir.common import PAGING, Params, base_url, fhir_response, searchset

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Reader = Annotated[Principal, Depends(Require("child:read"))]

SEARCH_PARAMS: dict[str, dict[str, tuple[str, str]]] = {
    "RelatedPerson": {"patient": ("reference", "required: the child, Patient/<id>")},
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


# ---- growth Observations (called from maternal_api's Observation routes) ---------------


def is_growth_id(observation_id: str) -> bool:
    return observation_id.startswith(mapper.ID_PREFIX)


async def search_growth(session: Any, principal: Principal, person_id: int) -> list[dict[str, Any]]:
    """The growth Observations of a person (none when the role may not read the passport)."""
    if not allowed(principal.role, "child:read"):
        return []
    return [
        r
        for m in await service.list_measurements(session, principal, person_id)
        for r in mapper.growth_observations(m)
    ]


async def read_growth(session: Any, principal: Principal, observation_id: str) -> dict[str, Any]:
    missing = NotFound(f"Observation {observation_id} not found.")
    parsed = mapper.parse_growth_id(observation_id)
    if parsed is None or not allowed(principal.role, "child:read"):
        raise missing
    m = await service.get_measurement(session, principal, parsed[0])
    for r in mapper.growth_observations(m):
        if r["id"] == observation_id:
            return r
    raise missing


# ---- RelatedPerson (the mother) -----------------------------------------------------------


@router.get("/RelatedPerson")
async def search_related_persons(
    request: Request, session: Session, principal: Reader
) -> JSONResponse:
    params = Params(
        list(request.query_params.multi_items()),
        frozenset(SEARCH_PARAMS["RelatedPerson"]) | PAGING,
    )
    raw = params.get("patient")
    if raw is None:
        raise Invalid.fields([FieldError("patient", "is required")])
    v = raw.removeprefix("Patient/")
    if not (v.isascii() and v.isdigit()):
        raise Invalid.fields([FieldError("patient", "must be a Patient id or Patient/<id>")])
    child = int(v)
    b = await service.birth_summary(session, principal, child)
    found = [] if b is None else [mapper.mother(child, b)]
    page = params.page()
    return fhir_response(
        searchset(
            base_url(request),
            "RelatedPerson",
            params.items,
            found[page.offset : page.offset + page.limit],
            len(found),
            page,
        )
    )


@router.get("/RelatedPerson/{related_person_id}")
async def read_related_person(
    session: Session, related_person_id: str, principal: Reader
) -> JSONResponse:
    """``<child id>-mother``: the mother recorded at the child's birth."""
    missing = NotFound(f"RelatedPerson {related_person_id} not found.")
    child = mapper.parse_related_person_id(related_person_id)
    if child is None:
        raise missing
    try:
        b = await service.birth_summary(session, principal, child)
    except NotFound:
        raise missing from None
    if b is None:
        raise missing
    return fhir_response(mapper.mother(child, b))
