"""REST API of the insurance fund: payers, employment, protected categories, payment
files and contribution lines, expected contributions and arrears, the dashboards."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response

from salomat.core.downloads import csv_download
from salomat.core.errors import N_, FieldError, Invalid, api_language
from salomat.core.pagination import Page, PageParams
from salomat.core.params import RowId
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.insurance.schemas.contributions import (
    ArrearsRow,
    CategoryMemberIn,
    CategoryMemberOut,
    ContributionsIn,
    EmploymentIn,
    EmploymentOut,
    FundDashboard,
    ImportOut,
    ImportResult,
    PayerArrears,
    PayerIn,
    PayerOut,
    PlanIn,
    PlanOut,
)
from salomat.domains.insurance.service import (
    categories,
    contributions,
    dashboards,
    expected,
    payers,
)

api = router(prefix="/api/v1/insurance", tags=["insurance"])

routers = [api]

Manager = Annotated[Principal, Depends(Require("insurance:manage"))]
Dashboard = Annotated[Principal, Depends(Require("insurance:dashboard"))]

_IMPORT = {
    200: {"description": "the same file or lines were imported before: nothing added"},
    422: {
        "description": "a wrong line (each named as lines.<line>.<field>: unknown payer or "
        "national id, a bad amount, month or date, a month too far ahead, a state line "
        "for an unprotected person, a kind the payer may not pay): nothing stored; or a "
        "universal scheme, which takes no contributions"
    },
}


@api.post("/payers", response_model=PayerOut, status_code=201)
async def create_payer(session: DbSession, data: PayerIn, principal: Manager) -> PayerOut:
    """An employer (its business id in the register), an individual entrepreneur
    (business id), an independent or self-employed person (national id), or the state."""
    return await payers.create_payer(session, principal, data)


@api.get("/payers", response_model=Page[PayerOut])
async def list_payers(
    session: DbSession,
    principal: Manager,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[PayerOut]:
    return await payers.list_payers(session, principal, PageParams(limit, offset), kind=kind, q=q)


@api.get("/payers/{payer_id}/employment", response_model=list[EmploymentOut])
async def list_employment(
    session: DbSession, payer_id: RowId, principal: Manager
) -> list[EmploymentOut]:
    return await payers.list_employment(session, principal, payer_id)


@api.post("/employment", response_model=EmploymentOut, status_code=201)
async def create_employment(
    session: DbSession, data: EmploymentIn, principal: Manager
) -> EmploymentOut:
    """A person employed by an employer payer from a day, at a monthly wage (major units)."""
    return await payers.create_employment(session, principal, data)


@api.post("/category-members", response_model=CategoryMemberOut, status_code=201)
async def add_category_member(
    session: DbSession, data: CategoryMemberIn, principal: Manager
) -> CategoryMemberOut:
    """A person in a listed protected category for a time (children and pensioners follow
    from the register and are refused here)."""
    return await categories.add_category_member(session, principal, data)


@api.get("/category-members", response_model=list[CategoryMemberOut])
async def list_category_members(
    session: DbSession,
    principal: Manager,
    category: Annotated[str | None, Query(max_length=32)] = None,
    national_id: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9]+$")] = None,
) -> list[CategoryMemberOut]:
    return await categories.list_category_members(
        session, principal, category=category, national_id=national_id
    )


_FILE_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        }
    }
}


async def _file(request: Request, filename: str | None) -> tuple[bytes, str | None]:
    """The file of a multipart upload (field ``file``), or the whole body as CSV text."""
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Invalid.fields([FieldError("file", N_("choose a file"))])
        return await upload.read(), filename or upload.filename or None
    return await request.body(), filename


@api.post(
    "/payment-files",
    response_model=ImportResult,
    status_code=201,
    responses=_IMPORT,
    openapi_extra=_FILE_BODY,
)
async def import_payment_file(
    request: Request,
    session: DbSession,
    response: Response,
    principal: Manager,
    filename: Annotated[str | None, Query(max_length=200)] = None,
) -> ImportResult:
    """A payment file, uploaded as multipart/form-data (field ``file``) or sent as the
    request body (text/csv): payer, national_id, month, amount, paid_on [, kind]. All
    lines or none; the same file again adds nothing (200)."""
    data, name = await _file(request, filename)
    result = await contributions.import_payment_file(session, principal, data, name)
    if result.already_imported:
        response.status_code = 200
    return result


@api.post("/contributions", response_model=ImportResult, status_code=201, responses=_IMPORT)
async def import_contributions(
    session: DbSession, data: ContributionsIn, response: Response, principal: Manager
) -> ImportResult:
    """Contribution lines as JSON, checked and taken like a payment file."""
    result = await contributions.import_contributions(session, principal, data)
    if result.already_imported:
        response.status_code = 200
    return result


@api.get("/payment-files", response_model=list[ImportOut])
async def list_imports(session: DbSession, principal: Manager) -> list[ImportOut]:
    return await contributions.list_imports(session)


@api.get("/payers/{payer_id}/arrears", response_model=PayerArrears)
async def payer_arrears(
    session: DbSession,
    payer_id: RowId,
    principal: Manager,
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
) -> PayerArrears:
    """Expected (the pack's rates and caps of each year), paid and arrears by month."""
    return await expected.payer_arrears(session, principal, payer_id, month_from, month_to)


@api.get("/arrears", response_model=list[ArrearsRow])
async def arrears(
    session: DbSession,
    principal: Manager,
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
) -> list[ArrearsRow]:
    """Every payer's arrears over the months, the most owed first."""
    return (await expected.arrears_by_payer(session, principal, month_from, month_to, kind=kind))[1]


@api.get("/dashboard", response_model=FundDashboard)
async def dashboard(
    session: DbSession,
    principal: Dashboard,
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
) -> FundDashboard:
    """Collected vs expected, spending vs plan by region, provider and package, flags."""
    return await dashboards.fund_dashboard(session, month_from, month_to)


@api.get("/dashboard.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
async def dashboard_csv(
    request: Request,
    session: DbSession,
    principal: Dashboard,
    table: Annotated[str, Query(max_length=16)] = "collected",
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
) -> Response:
    """One table of the dashboard as CSV: the header, kinds, rules, packages and regions
    in the language of Accept-Language (English without it)."""
    lang = api_language(request)
    d = await dashboards.fund_dashboard(session, month_from, month_to, lang=lang)
    return csv_download(await dashboards.localised_csv(session, d, table, lang))


@api.put("/plans", response_model=PlanOut)
async def set_plan(session: DbSession, data: PlanIn, principal: Manager) -> PlanOut:
    """The year's spending plan of a region and package (major units)."""
    return await dashboards.set_plan(session, principal, data)


@api.get("/plans", response_model=list[PlanOut])
async def list_plans(
    session: DbSession,
    principal: Dashboard,
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> list[PlanOut]:
    return await dashboards.list_plans(session, [year])
