"""REST routes of the cancer registry: notifications, the registrar's decisions and
queue, the tumour record, treatments, follow-up and the oncologist's worklist."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Query, Response

from salomat.core.etags import etag, parse_if_match
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.cancer import api_statistics, service
from salomat.domains.cancer.schemas import (
    ConfirmIn,
    DecisionIn,
    FollowUpIn,
    FollowUpOut,
    NotificationIn,
    NotificationOut,
    NotifyResult,
    QueueItem,
    TreatmentIn,
    TreatmentOut,
    TumourDetail,
    TumourOut,
    TumourPatch,
    WorklistItem,
)

api = router(prefix="/api/v1", tags=["cancer registry"])
routers = [*api_statistics.routers, api]

Notifier = Annotated[Principal, Depends(Require("cancer:notify"))]
Reader = Annotated[Principal, Depends(Require("cancer:read"))]
Registrar = Annotated[Principal, Depends(Require("cancer:register"))]
FollowUp = Annotated[Principal, Depends(Require("cancer:follow_up"))]
IfMatch = Annotated[str | None, Header()]

_NOTIFY = {
    404: {"description": "no such person, or not in the user's scope"},
    409: {
        "description": "the record was merged into another; or the report was sent for "
        "another patient under the same identifier"
    },
    422: {
        "description": "a field is wrong (each named): an invalid ICD-O-3 code, an "
        "impossible combination (a male with a cervical primary), behaviour /6, a date "
        "after death or before birth"
    },
}


@api.post(
    "/persons/{person_id}/cancer-notifications",
    response_model=NotifyResult,
    status_code=201,
    responses=_NOTIFY,
)
async def notify(
    session: DbSession,
    person_id: RowId,
    data: NotificationIn,
    response: Response,
    principal: Notifier,
) -> NotifyResult:
    """Notify a cancer. It joins the person's tumour of that organ and histology, makes a
    new primary (IARC/IACR 2004), or waits for the registrar; the answer says which and
    why. A rare combination (age 3 with C61) is kept and waits for a confirmation."""
    r = await service.notify(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/cancer-notifications/{r.notification.id}"
    return r


@api.get("/cancer-notifications/{notification_id}", response_model=NotificationOut)
async def read_notification(
    session: DbSession, notification_id: RowId, principal: Reader
) -> NotificationOut:
    return await service.get_notification(session, principal, notification_id)


@api.post(
    "/cancer-notifications/{notification_id}/decision",
    response_model=NotifyResult,
    responses={409: {"description": "already decided"}},
)
async def decide(
    session: DbSession, notification_id: RowId, data: DecisionIn, principal: Registrar
) -> NotifyResult:
    """The registrar places a notification the rules could not: attach, new primary, or
    reject."""
    return await service.decide_notification(session, principal, notification_id, data)


@api.get("/cancer-registry/queue", response_model=list[QueueItem])
async def queue(
    session: DbSession,
    principal: Registrar,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[QueueItem]:
    """The registry's work: notifications to place and rare combinations to confirm."""
    return await service.registrar_queue(session, principal, limit=limit)


@api.get("/persons/{person_id}/tumours", response_model=list[TumourOut])
async def person_tumours(
    session: DbSession, person_id: RowId, principal: Reader
) -> list[TumourOut]:
    """A person's primary tumours in order of incidence."""
    return await service.person_tumours(session, principal, person_id)


@api.get("/tumours/{tumour_id}", response_model=TumourDetail)
async def read_tumour(
    session: DbSession, tumour_id: RowId, response: Response, principal: Reader
) -> TumourDetail:
    """The tumour record with its notifications, first treatments and follow-up."""
    t = await service.get_tumour(session, principal, tumour_id)
    response.headers["ETag"] = etag(t.version)
    return t


@api.patch(
    "/tumours/{tumour_id}",
    response_model=TumourOut,
    responses={412: {"description": "If-Match names an older version"}},
)
async def update_tumour(
    session: DbSession,
    tumour_id: RowId,
    data: TumourPatch,
    response: Response,
    principal: FollowUp,
    if_match: IfMatch = None,
) -> TumourOut:
    """Grade, laterality, stage (TNM and group) and the facility that follows up."""
    t = await service.update_tumour(
        session, principal, tumour_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(t.version)
    return t


@api.post("/tumours/{tumour_id}/confirmations", response_model=TumourOut)
async def confirm(
    session: DbSession,
    tumour_id: RowId,
    data: ConfirmIn,
    response: Response,
    principal: Registrar,
    if_match: IfMatch = None,
) -> TumourOut:
    """Confirm rare combinations (kept with the tumour: who, when, why)."""
    t = await service.confirm_checks(
        session, principal, tumour_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(t.version)
    return t


@api.post("/tumours/{tumour_id}/treatments", response_model=TreatmentOut, status_code=201)
async def add_treatment(
    session: DbSession, tumour_id: RowId, data: TreatmentIn, principal: FollowUp
) -> TreatmentOut:
    """A first treatment: surgery, radiotherapy or systemic therapy, with its dates."""
    return await service.add_treatment(session, principal, tumour_id, data)


@api.post("/tumours/{tumour_id}/follow-ups", response_model=FollowUpOut, status_code=201)
async def add_follow_up(
    session: DbSession, tumour_id: RowId, data: FollowUpIn, principal: FollowUp
) -> FollowUpOut:
    """A follow-up contact: the next falls due by the pack's schedule."""
    return await service.add_follow_up(session, principal, tumour_id, data)


@api.get("/cancer-follow-up/worklist", response_model=list[WorklistItem])
async def worklist(
    session: DbSession,
    principal: FollowUp,
    due_by: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[WorklistItem]:
    """Living patients your facility follows up whose next contact is due."""
    return await service.follow_up_worklist(session, principal, due_by=due_by, limit=limit)
