"""REST routes of the pregnancy register (antenatal care)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Header, Query, Response
from fastapi.responses import PlainTextResponse

from salomat.core.downloads import csv_download
from salomat.core.etags import etag, parse_if_match
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.maternal import service
from salomat.domains.maternal.schemas import (
    AdviceOut,
    BirthIn,
    BirthOut,
    BirthPlanIn,
    CloseIn,
    ContactIn,
    DiagnosisOut,
    DiagnosisResolveIn,
    MaternalDashboard,
    PostnatalContactIn,
    PostnatalContactOut,
    PregnancyDetail,
    PregnancyIn,
    PregnancyOut,
    ReferralCancelIn,
    ReferralIn,
    ReferralOut,
    ReferralStatus,
    ReferralUpdateIn,
    WorklistRow,
)

api = router(prefix="/api/v1", tags=["maternal"])
routers = [api]


@api.get("/me/pregnancies", response_model=list[service.MyPregnancy])
async def my_pregnancies(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("pregnancy:portal"))],
) -> list[service.MyPregnancy]:
    """The citizen's own pregnancies (the current one first) as her portal page shows them:
    contacts, the next contact due, standing diagnoses, referrals, birth plan and birth."""
    return await service.my_pregnancies(session, principal)


@api.post(
    "/persons/{person_id}/pregnancies",
    response_model=PregnancyDetail,
    status_code=201,
    responses={409: {"description": "she already has a current pregnancy, has died, or is male"}},
)
async def open_pregnancy(
    session: DbSession,
    person_id: RowId,
    data: PregnancyIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
) -> PregnancyDetail:
    """Register a pregnancy: dated (LMP, ultrasound or fundal height) and evaluated."""
    p = await service.open_pregnancy(session, principal, person_id, data)
    response.headers["Location"] = f"/api/v1/pregnancies/{p.id}"
    response.headers["ETag"] = etag(p.version)
    return p


@api.get("/persons/{person_id}/pregnancies", response_model=list[PregnancyOut])
async def list_pregnancies(
    session: DbSession,
    person_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> list[PregnancyOut]:
    """Her pregnancies, the newest first."""
    return await service.list_pregnancies(session, principal, person_id)


@api.get("/pregnancies/{pregnancy_id}", response_model=PregnancyDetail)
async def read_pregnancy(
    session: DbSession,
    pregnancy_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> PregnancyDetail:
    """With its contacts, its active advice and its risk level; the ETag is for If-Match."""
    p = await service.get_pregnancy(session, principal, pregnancy_id)
    response.headers["ETag"] = etag(p.version)
    return p


@api.post("/pregnancies/{pregnancy_id}/contacts", response_model=PregnancyDetail, status_code=201)
async def record_contact(
    session: DbSession,
    pregnancy_id: RowId,
    data: ContactIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:contact"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PregnancyDetail:
    """Record an antenatal contact; the answer is the pregnancy re-evaluated."""
    p = await service.record_contact(
        session, principal, pregnancy_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["Location"] = f"/api/v1/pregnancies/{p.id}"
    response.headers["ETag"] = etag(p.version)
    return p


@api.post("/pregnancies/{pregnancy_id}/close", response_model=PregnancyDetail)
async def close_pregnancy(
    session: DbSession,
    pregnancy_id: RowId,
    data: CloseIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PregnancyDetail:
    """Record the outcome; a new pregnancy may then be registered."""
    p = await service.close_pregnancy(
        session, principal, pregnancy_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(p.version)
    return p


@api.get("/pregnancies/{pregnancy_id}/advice", response_model=list[AdviceOut])
async def pregnancy_advice(
    session: DbSession,
    pregnancy_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
    retired: bool = False,
) -> list[AdviceOut]:
    """The active advice; ``retired=true`` adds what earlier evaluations advised."""
    return await service.list_advice(session, principal, pregnancy_id, retired=retired)


@api.get("/pregnancies/{pregnancy_id}/diagnoses", response_model=list[DiagnosisOut])
async def pregnancy_diagnoses(
    session: DbSession,
    pregnancy_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> list[DiagnosisOut]:
    """Diagnoses and findings standing since the contact that gave them, then resolved ones."""
    return await service.list_diagnoses(session, principal, pregnancy_id)


@api.post(
    "/pregnancies/{pregnancy_id}/diagnoses/{diagnosis_id}/resolve",
    response_model=PregnancyDetail,
    responses={409: {"description": "already resolved, or the pregnancy is closed"}},
)
async def resolve_diagnosis(
    session: DbSession,
    pregnancy_id: RowId,
    diagnosis_id: RowId,
    data: DiagnosisResolveIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:diagnose"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PregnancyDetail:
    """Resolve a standing diagnosis with a reason; the answer is the pregnancy re-evaluated."""
    p = await service.resolve_diagnosis(
        session,
        principal,
        pregnancy_id,
        diagnosis_id,
        data,
        expected_version=parse_if_match(if_match),
    )
    response.headers["ETag"] = etag(p.version)
    return p


# ---- referrals, birth plan and worklists -----------------------------------------------


@api.post(
    "/pregnancies/{pregnancy_id}/referrals",
    response_model=ReferralOut,
    status_code=201,
    responses={422: {"description": "no suitable facility (named, or in the region)"}},
)
async def send_referral(
    session: DbSession,
    pregnancy_id: RowId,
    data: ReferralIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("referral:send"))],
) -> ReferralOut:
    """Refer her to a screening or perinatal centre (default: the nearest suitable one)."""
    r = await service.send_referral(session, principal, pregnancy_id, data)
    response.headers["Location"] = f"/api/v1/referrals/{r.id}"
    response.headers["ETag"] = etag(r.version)
    return r


@api.get("/pregnancies/{pregnancy_id}/referrals", response_model=list[ReferralOut])
async def list_referrals(
    session: DbSession,
    pregnancy_id: RowId,
    principal: Annotated[Principal, Depends(Require("referral:read"))],
) -> list[ReferralOut]:
    """The referrals of this pregnancy, oldest first."""
    return await service.list_referrals(session, principal, pregnancy_id)


@api.get("/referrals/{referral_id}", response_model=ReferralOut)
async def read_referral(
    session: DbSession,
    referral_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("referral:read"))],
) -> ReferralOut:
    """For the receiving facility's staff, or anyone who has her in scope."""
    r = await service.get_referral(session, principal, referral_id)
    response.headers["ETag"] = etag(r.version)
    return r


@api.get("/facilities/{code}/referrals", response_model=list[ReferralOut])
async def referral_inbox(
    session: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
    status: ReferralStatus | None = None,
) -> list[ReferralOut]:
    """The facility's inbox, oldest first; only for its own staff."""
    return await service.inbox(session, principal, code, status=status)


@api.get("/facilities/{code}/referrals/triage", response_model=list[service.InboxItem])
async def referral_triage(
    session: DbSession,
    code: str,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
    status: ReferralStatus | None = None,
) -> list[service.InboxItem]:
    """The inbox with what the receiving clinician triages on: the woman's name and age,
    gestational age today, risk and level of care, standing diagnoses, the most urgent
    advice and the referring facility (audited as the inbox: one row per woman listed).
    Her facts only while the referral is live; an ended one comes without them."""
    return await service.triage_inbox(session, principal, code, status=status)


@api.post("/referrals/{referral_id}/accept", response_model=ReferralOut)
async def accept_referral(
    session: DbSession,
    referral_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralOut:
    """sent -> accepted: the facility may now open her record."""
    r = await service.accept_referral(
        session, principal, referral_id, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(r.version)
    return r


@api.post("/referrals/{referral_id}/seen", response_model=ReferralOut)
async def referral_seen(
    session: DbSession,
    referral_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralOut:
    """accepted -> seen."""
    r = await service.mark_seen(
        session, principal, referral_id, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(r.version)
    return r


@api.post("/referrals/{referral_id}/return", response_model=ReferralOut)
async def return_referral(
    session: DbSession,
    referral_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
    data: ReferralUpdateIn | None = None,
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralOut:
    """seen -> returned, with a conclusion; the facility's access ends."""
    r = await service.return_referral(
        session,
        principal,
        referral_id,
        data or ReferralUpdateIn(),
        expected_version=parse_if_match(if_match),
    )
    response.headers["ETag"] = etag(r.version)
    return r


@api.post("/referrals/{referral_id}/decline", response_model=ReferralOut)
async def decline_referral(
    session: DbSession,
    referral_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("referral:receive"))],
    data: ReferralUpdateIn | None = None,
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralOut:
    """sent -> declined (the conclusion says why)."""
    r = await service.decline_referral(
        session,
        principal,
        referral_id,
        data or ReferralUpdateIn(),
        expected_version=parse_if_match(if_match),
    )
    response.headers["ETag"] = etag(r.version)
    return r


@api.post("/referrals/{referral_id}/cancel", response_model=ReferralOut)
async def cancel_referral(
    session: DbSession,
    referral_id: RowId,
    response: Response,
    principal: Annotated[Principal, Depends(Require("referral:send"))],
    data: ReferralCancelIn | None = None,
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralOut:
    """sent or accepted -> cancelled, by the sending facility; ``{"reason"}`` required."""
    r = await service.cancel_referral(
        session,
        principal,
        referral_id,
        data or ReferralCancelIn(),
        expected_version=parse_if_match(if_match),
    )
    response.headers["ETag"] = etag(r.version)
    return r


@api.put("/pregnancies/{pregnancy_id}/birth-plan", response_model=PregnancyDetail)
async def plan_birth(
    session: DbSession,
    pregnancy_id: RowId,
    data: BirthPlanIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
    if_match: Annotated[str | None, Header()] = None,
) -> PregnancyDetail:
    """The planned place of birth: an open facility giving the level of care she needs."""
    p = await service.plan_birth(
        session, principal, pregnancy_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["ETag"] = etag(p.version)
    return p


@api.get("/worklists/antenatal", response_model=list[WorklistRow])
async def antenatal_worklist(
    session: DbSession,
    principal: Annotated[Principal, Depends(Require("worklist:read"))],
) -> list[WorklistRow]:
    """Women of the user's facility due a contact, high risk without an accepted
    referral, or at 36+ weeks without a planned place of birth; each row says why."""
    return await service.antenatal_worklist(session, principal)


# ---- birth and after ---------------------------------------------------------------------


@api.post(
    "/pregnancies/{pregnancy_id}/birth",
    response_model=BirthOut,
    status_code=201,
    responses={409: {"description": "the birth is already recorded or the pregnancy closed"}},
)
async def record_birth(
    session: DbSession,
    pregnancy_id: RowId,
    data: BirthIn,
    response: Response,
    principal: Annotated[Principal, Depends(Require("pregnancy:register"))],
    if_match: Annotated[str | None, Header()] = None,
) -> BirthOut:
    """Record the birth: the pregnancy closes and each live-born baby is registered."""
    b = await service.record_birth(
        session, principal, pregnancy_id, data, expected_version=parse_if_match(if_match)
    )
    response.headers["Location"] = f"/api/v1/pregnancies/{pregnancy_id}/birth"
    return b


@api.get("/pregnancies/{pregnancy_id}/birth", response_model=BirthOut)
async def read_birth(
    session: DbSession,
    pregnancy_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> BirthOut:
    """The birth record with its babies (each live-born one's person id)."""
    return await service.get_birth(session, principal, pregnancy_id)


@api.post(
    "/pregnancies/{pregnancy_id}/postnatal-contacts",
    response_model=PostnatalContactOut,
    status_code=201,
)
async def record_postnatal_contact(
    session: DbSession,
    pregnancy_id: RowId,
    data: PostnatalContactIn,
    principal: Annotated[Principal, Depends(Require("pregnancy:contact"))],
) -> PostnatalContactOut:
    """A postnatal contact (up to 42 days after the birth)."""
    return await service.record_postnatal_contact(session, principal, pregnancy_id, data)


@api.get("/pregnancies/{pregnancy_id}/postnatal-contacts", response_model=list[PostnatalContactOut])
async def list_postnatal_contacts(
    session: DbSession,
    pregnancy_id: RowId,
    principal: Annotated[Principal, Depends(Require("pregnancy:read"))],
) -> list[PostnatalContactOut]:
    """The postnatal contacts, oldest first."""
    return await service.list_postnatal_contacts(session, principal, pregnancy_id)


# ---- monitoring dashboard ----------------------------------------------------------------

DashboardReader = Annotated[Principal, Depends(Require("maternal_dashboard:read"))]
AreaParam = Annotated[
    str | None,
    Query(max_length=32, description="a region or district code; none: the whole country"),
]
FromParam = Annotated[date | None, Query(alias="from", description="default: 365 days back")]
ToParam = Annotated[date | None, Query(alias="to", description="default: today")]


@api.get("/dashboards/maternal", response_model=MaternalDashboard)
async def maternal_dashboard(
    session: DbSession,
    principal: DashboardReader,
    area: AreaParam = None,
    period_from: FromParam = None,
    period_to: ToParam = None,
) -> MaternalDashboard:
    """Pregnant women by risk and trimester, early registration, ANC4+/ANC8+, outcomes,
    high-risk referrals pending over 24 h: for the area and per unit one level down."""
    return await service.maternal_dashboard(
        session, principal, area=area, period_from=period_from, period_to=period_to
    )


@api.get(
    "/dashboards/maternal.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def maternal_dashboard_csv(
    session: DbSession,
    principal: DashboardReader,
    area: AreaParam = None,
    period_from: FromParam = None,
    period_to: ToParam = None,
) -> Response:
    """The same figures as CSV: one line per unit, then the area's total."""
    d = await service.maternal_dashboard(
        session, principal, area=area, period_from=period_from, period_to=period_to
    )
    return csv_download(service.dashboard_csv(d))
