"""REST routes of the cancer registry's statistics (aggregates, small cells suppressed for
readers outside the registry) and of its flat export for CanReg5 (the registrar's, one
audited bulk read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from salomat.core import i18n
from salomat.core.downloads import csv_download
from salomat.core.errors import api_speaking
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.cancer import service

api = router(prefix="/api/v1", tags=["cancer registry statistics"])
routers = [api]

Analyst = Annotated[Principal, Depends(Require("cancer:statistics"))]
Registrar = Annotated[Principal, Depends(Require("cancer:register"))]
Year = Annotated[int, Query(ge=1900, le=2100, description="year of incidence")]
Region = Annotated[
    str | None, Query(max_length=32, description="a region's code; none: the whole country")
]
Standard = Annotated[
    str, Query(max_length=16, description="world standard population: segi or who2000")
]
Sex = Annotated[
    str | None, Query(max_length=8, description="male, female or both; none: all three")
]
_INVALID = {422: {"description": "a wrong year, region, standard or sex (each named)"}}


@api.get("/cancer-statistics/incidence", response_model=service.IncidenceTable, responses=_INVALID)
async def cancer_incidence(
    session: DbSession,
    principal: Analyst,
    year: Year,
    region: Region = None,
    standard: Standard = "segi",
    sex: Sex = None,
) -> service.IncidenceTable:
    """Cases, crude rate, age-standardised rate (95 % interval, Fay & Feuer) and the
    cumulative rate and risk 0–74 per site group and sex; cases by five-year age band.
    Outside the registry, counts of 1 to 4 are "<5" and such lines have no rate."""
    return await service.incidence_table(
        session, principal, year=year, region_code=region, standard=standard, sex=sex
    )


@api.get(
    "/cancer-statistics/incidence.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}, **_INVALID},
)
async def cancer_incidence_csv(
    request: Request,
    session: DbSession,
    principal: Analyst,
    year: Year,
    region: Region = None,
    standard: Standard = "segi",
    sex: Sex = None,
) -> Response:
    """The incidence table as CSV, suppressed as the answer; headers, sexes and site names
    in the language of Accept-Language (English without it)."""
    with api_speaking(request):
        t = await service.incidence_table(
            session, principal, year=year, region_code=region, standard=standard, sex=sex
        )
        _ = i18n.gettext
        file = service.incidence_csv(
            t,
            labels={k: _(v) for k, v in service.INCIDENCE_LABELS.items()},
            names={k: _(v) for k, v in service.SEX_LABELS.items()},
            area=t.region_name or _("whole country"),
        )
    return csv_download(file)


@api.get(
    "/cancer-statistics/quality",
    response_model=service.QualityTable,
    responses={422: {"description": "a wrong year or region (each named)"}},
)
async def cancer_quality(
    session: DbSession, principal: Analyst, year: Year, region: Region = None
) -> service.QualityTable:
    """% microscopically verified, % death certificate only, the mortality:incidence ratio
    and % primary site unknown per site group; per region too when none is given."""
    return await service.quality_indicators(session, principal, year=year, region_code=region)


@api.get(
    "/cancer-registry/export.canreg",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/tab-separated-values": {}}}},
)
async def cancer_registry_export(
    session: DbSession,
    principal: Registrar,
    year: Annotated[int | None, Query(ge=1900, le=2100, description="year of incidence")] = None,
    region: Region = None,
) -> Response:
    """The registered tumours as a tab-separated file with CanReg5's variable names, one line
    per tumour (person ids only: no name, no national id). UNVERIFIED against a CanReg5
    import: docs/cancer.md gives the mapping."""
    f = await service.canreg_export(session, principal, year=year, region_code=region)
    return Response(
        f.text,
        media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{f.filename}"'},
    )
