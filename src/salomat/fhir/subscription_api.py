"""FHIR ``Subscription`` (R4 rest-hook): create, read, update, delete and search.

Permission ``subscription:manage``. A subscriber sees and changes its own subscriptions
only: another's answers 404, as a missing one does. The criteria is checked by running
it as the subscriber's search (fhir/subscription.py); everything wrong with the resource
is refused at once, 422, each error naming its element.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from fhir.resources.R4B.subscription import Subscription

from salomat.core.errors import N_, FieldError, Invalid
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.subscriptions import service
from salomat.domains.subscriptions.schemas import STATUSES, SubscriptionIn
from salomat.fhir import subscription as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    fhir_response,
    parse_if_match,
    read_body,
    resource_response,
    searchset,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Session = DbSession
Manager = Annotated[Principal, Depends(Require("subscription:manage"))]

SEARCH_PARAMS: dict[str, tuple[str, str]] = {
    "status": ("token", "requested, active, error or off"),
    "type": ("token", "the channel type: rest-hook (the only one served)"),
    "url": ("uri", "the channel's endpoint, exactly"),
    "criteria": ("string", "the criteria, exactly"),
}
CAPABILITY: dict[str, Any] = {
    "type": "Subscription",
    "profile": "http://hl7.org/fhir/StructureDefinition/Subscription",
    "documentation": (
        "R4 rest-hook. The criteria is a search this server answers, for one of: "
        + ", ".join(sorted(mapper.TYPES))
        + "; matched as the subscriber (docs/exchange.md, Subscriptions)"
    ),
    "interaction": [
        {"code": "read"},
        {"code": "create"},
        {"code": "update"},
        {"code": "delete"},
        {"code": "search-type"},
    ],
    "searchParam": [
        {"name": n, "type": ty, "documentation": d} for n, (ty, d) in SEARCH_PARAMS.items()
    ]
    + [{"name": "_count", "type": "number"}],
}


async def _checked(request: Request, principal: Principal) -> SubscriptionIn:
    """The body as the service's input, once the criteria, the channel and the rest pass
    (every error at once). The criteria's search runs before this request writes."""
    data = mapper.from_fhir(await read_body(request, "Subscription", Subscription))
    errors: list[FieldError] = []
    try:
        await mapper.check_criteria(principal, data.criteria)
    except Invalid as e:
        errors += e.errors
    errors += await service.problems(data)
    if errors:
        raise Invalid.fields(errors)
    return data


@router.post("/Subscription", status_code=201)
async def create_subscription(request: Request, session: Session, principal: Manager) -> Response:
    data = await _checked(request, principal)
    out = await service.create(session, principal, data)
    return resource_response(request, mapper.to_fhir(out), status=201, location=True)


@router.get("/Subscription")
async def search_subscriptions(
    request: Request, session: Session, principal: Manager
) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(SEARCH_PARAMS) | PAGING)
    status, kind = params.get("status"), params.get("type")
    if status is not None and status not in STATUSES:
        raise Invalid.fields([FieldError("status", N_("must be requested, active, error or off"))])
    if kind is not None and kind != "rest-hook":
        found = []
    else:
        found = await service.search(
            session,
            principal,
            status=status,
            endpoint=params.get("url"),
            criteria=params.get("criteria"),
        )
    page = params.page()
    shown = [mapper.to_fhir(s) for s in found[page.offset : page.offset + page.limit]]
    return fhir_response(
        searchset(base_url(request), "Subscription", params.items, shown, len(found), page)
    )


@router.get("/Subscription/{subscription_id}")
async def read_subscription(
    request: Request, session: Session, subscription_id: RowId, principal: Manager
) -> Response:
    return resource_response(
        request, mapper.to_fhir(await service.get(session, principal, subscription_id))
    )


@router.put("/Subscription/{subscription_id}")
async def update_subscription(
    request: Request, session: Session, subscription_id: RowId, principal: Manager
) -> Response:
    """Replace it (status requested or active starts it again, off stops it); If-Match
    is checked when sent."""
    await service.get(session, principal, subscription_id)  # 404 before the body is read
    raw_match = request.headers.get("if-match")
    expected = parse_if_match(raw_match) if raw_match is not None else None
    sent = await read_body(request, "Subscription", Subscription)
    if sent.id is not None and sent.id != str(subscription_id):
        raise Invalid.fields(
            [
                FieldError(
                    "Subscription.id",
                    N_("must be the id in the URL (%(id)s)"),
                    {"id": subscription_id},
                )
            ]
        )
    data = await _checked(request, principal)
    out = await service.update_subscription(
        session, principal, subscription_id, data, expected_version=expected
    )
    return resource_response(request, mapper.to_fhir(out), location=True)


@router.delete("/Subscription/{subscription_id}")
async def delete_subscription(
    session: Session, subscription_id: RowId, principal: Manager
) -> Response:
    await service.delete_subscription(session, principal, subscription_id)
    return Response(status_code=204)
