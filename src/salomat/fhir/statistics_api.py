"""FHIR Measure and MeasureReport for the national health indicators.

``GET /fhir/Measure`` (every indicator), ``GET /fhir/Measure/<id>``, and
``GET /fhir/MeasureReport?measure=<id>&period=<YYYY|YYYY-MM>[&subject=<area code>]``:
one summary report, computed by the statistics service (masked cells, audited as an
aggregate read). Permission: ``statistics:read``. A bad parameter is an
OperationOutcome naming it; an unknown Measure id is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from salomat.core.errors import FieldError, Invalid, NotFound
from salomat.core.i18n import N_
from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.statistics import service
from salomat.fhir import statistics as mapper
from salomat.fhir.common import (
    PAGING,
    Params,
    base_url,
    fhir_response,
    resource_response,
    searchset,
)

router = router(tags=["fhir"])  # type: ignore[no-redef]
Reader = Annotated[Principal, Depends(Require("statistics:read"))]

REPORT_PARAMS: dict[str, tuple[str, str]] = {
    "measure": ("reference", "required: the Measure (its id, Measure/<id> or its url)"),
    "period": ("date", "required: a closed year YYYY or month YYYY-MM"),
    "subject": ("token", f"a region or district, {mapper.TERRITORY_SYSTEM}|<code>; none: "
                "the country"),
}  # fmt: skip
CAPABILITIES: list[dict[str, Any]] = [
    {
        "type": "Measure",
        "profile": "http://hl7.org/fhir/StructureDefinition/Measure",
        "documentation": "The national health indicators (docs/statistics.md)",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
    },
    {
        "type": "MeasureReport",
        "profile": "http://hl7.org/fhir/StructureDefinition/MeasureReport",
        "documentation": "An indicator for a period and an area, with strata; cells with "
        "fewer than five events are masked (docs/statistics.md)",
        "interaction": [{"code": "search-type"}],
        "searchParam": [
            {"name": n, "type": ty, "documentation": d} for n, (ty, d) in REPORT_PARAMS.items()
        ],
    },
]


@router.get("/Measure")
async def search_measures(request: Request, principal: Reader) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), PAGING)
    page = params.page()
    base = base_url(request)
    found = [mapper.measure(i, base) for i in service.catalogue()]
    shown = found[page.offset : page.offset + page.limit]
    return fhir_response(searchset(base, "Measure", params.items, shown, len(found), page))


@router.get("/Measure/{measure_id}")
async def read_measure(request: Request, measure_id: str, principal: Reader) -> Any:
    ind = service.get_indicator(mapper.indicator_code(measure_id))
    return resource_response(request, mapper.measure(ind, base_url(request)))


@router.get("/MeasureReport")
async def search_reports(request: Request, session: DbSession, principal: Reader) -> JSONResponse:
    params = Params(list(request.query_params.multi_items()), frozenset(REPORT_PARAMS) | PAGING)
    errors = []
    measure, period = params.get("measure"), params.get("period")
    if not measure:
        errors.append(FieldError("measure", N_("is required")))
    if not period:
        errors.append(FieldError("period", N_("is required")))
    if errors or measure is None or period is None:
        raise Invalid.fields(errors)
    subject = params.get("subject")
    area = subject.rpartition("|")[2] if subject else None
    code = mapper.indicator_code(measure)
    try:
        service.get_indicator(code)
    except NotFound as e:
        raise Invalid.fields(
            [FieldError("measure", N_("no indicator has code %(code)s"), {"code": code})]
        ) from e
    try:
        vs, strata = await service.indicator_report(session, principal, code, period, area=area)
    except Invalid as e:
        # the service names its own parameters; FHIR's are subject, not area
        for f in e.errors:
            if f.field == "area":
                f.field = "subject"
        raise
    base = base_url(request)
    names = vs.values[0].area_name if vs.values else None
    report = mapper.measure_report(vs, strata, base, names)
    page = params.page()
    return fhir_response(searchset(base, "MeasureReport", params.items, [report], 1, page))
