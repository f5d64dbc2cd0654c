"""FHIR routes of epidemic surveillance (mappers in fhir/epidemic.py; docs/epidemic.md
"FHIR"). Every call goes through the epidemic services, which check and audit exactly as
the REST API does.

- ``POST /fhir/Condition/$notify``: a case notification as a ``Condition`` alone, or a
  Bundle (``transaction`` or ``collection``) of the Condition and its laboratory
  ``Observation``; 201 with the stored Condition (``epidemic:report``). ``POST
  /fhir/Condition`` with a notification extension (``{EXT}notification-*``) is handed
  here too (``notify_created``, fhir/record_api.py); any other Condition stays the shared
  record's create.
- ``GET /fhir/Condition/epi-<n>`` and ``GET /fhir/Observation/epi-lab-<n>``: read back
  (the epidemiologist, or the notifying facility; anyone else: 404).
- ``POST /fhir/MeasureReport``: a facility's day of occupancy in the SANER style, one
  group per bed profile (``epidemic:capacity``); ``GET /fhir/MeasureReport/beds-<day>-<facility>``,
  ``beds-region-<day>-<region>``, ``beds-country-<day>``: beds and occupancy produced
  (``epidemic:read``; a reporter their own facility).
- ``GET /fhir/MeasureReport/revaccination-<day>-<area>``: revaccination coverage
  (fhir/epidemic_coverage.py; ``immunization:coverage``, as the REST coverage).
- ``GET /fhir/MeasureReport/epi-situation-<day>-<region>``: a region's situation
  (fhir/epidemic_situation.py; ``epidemic:read``, shaped for the reader by
  service/situation_view.py).
- ``GET /fhir/OperationDefinition/condition-notify``: ``$notify``'s definition.

These routes claim only their own ids, so they sit before the other domains' routes of
the same types.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.types import Scope

from salomat.core import i18n
from salomat.core.errors import N_, FieldError, Invalid, NotFound
from salomat.core.params import parse_row_id
from salomat.core.policy import Require, RequireAny
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.epidemic.api_params import EARLIEST
from salomat.domains.epidemic.service import (
    capacity,
    notifications,
    revaccination_sql,
    rules,
    situation_view,
)
from salomat.fhir import capability
from salomat.fhir import epidemic as mapper
from salomat.fhir import epidemic_coverage as coverage
from salomat.fhir import epidemic_operation as operation
from salomat.fhir import epidemic_situation as situation
from salomat.fhir.common import claimed_route, fields_as, read_body, resource_response

router = router(tags=["fhir"])  # type: ignore[no-redef]
Reporter = Annotated[Principal, Depends(Require("epidemic:report"))]
OneReader = Annotated[Principal, Depends(RequireAny("epidemic:cases", "epidemic:report"))]
CapacityReporter = Annotated[Principal, Depends(Require("epidemic:capacity"))]
CapacityReader = Annotated[Principal, Depends(RequireAny("epidemic:read", "epidemic:capacity"))]
#: as GET /api/v1/epidemic/situation
SituationReader = Annotated[Principal, Depends(Require("epidemic:read"))]
#: as GET /api/v1/epidemic/revaccination/coverage
CoverageReader = Annotated[Principal, Depends(Require("immunization:coverage"))]
#: as the other conformance resources (StructureDefinition, CodeSystem): staff
DefinitionReader = Annotated[Principal, Depends(Require("terminology:read"))]


def _prefix(name: str, prefix: str) -> Callable[[Scope], bool]:
    def claim(scope: Scope) -> bool:
        return str(scope.get("path_params", {}).get(name, "")).startswith(prefix)

    return claim


def _missing(resource_type: str, rid: str) -> NotFound:
    return NotFound(
        N_("%(resource)s %(id)s not found."), params={"resource": resource_type, "id": rid}
    )


async def _parts(request: Request) -> tuple[Any, Any]:
    """The posted Condition and its lab Observation (a Bundle's entries, or a Condition)."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.condition import Condition
    from fhir.resources.R4B.observation import Observation

    raw = await request.body()
    try:
        kind = json.loads(raw).get("resourceType") if raw else None
    except (ValueError, AttributeError):
        kind = None
    if kind != "Bundle":
        return await read_body(request, "Condition", Condition), None
    bundle = await read_body(request, "Bundle", Bundle)
    if bundle.type not in ("transaction", "collection"):
        raise Invalid.fields([FieldError("Bundle.type", N_("must be transaction or collection"))])
    conds, labs = [], []
    for i, e in enumerate(bundle.entry or []):
        r = e.resource
        name = r.get_resource_type() if r is not None else None
        if name == "Condition":
            conds.append(r)
        elif name == "Observation":
            labs.append(r)
        else:
            raise Invalid.fields(
                [
                    FieldError(
                        f"Bundle.entry[{i}].resource", N_("Only a Condition and its Observation")
                    )
                ]
            )
    if len(conds) != 1 or len(labs) > 1:
        raise Invalid.fields(
            [FieldError("Bundle.entry", N_("One Condition and at most one Observation"))]
        )
    return Condition.model_validate(conds[0].model_dump()), (
        Observation.model_validate(labs[0].model_dump()) if labs else None
    )


@router.post("/Condition/$notify", status_code=201)
async def notify_condition(request: Request, session: DbSession, principal: Reporter) -> Response:
    """A case notification as FHIR: refused as POST /api/v1/epidemic/notifications refuses
    it, each wrong element named (Condition.onsetDateTime, Condition.code...)."""
    cond, lab = await _parts(request)
    with fields_as(mapper.PATHS):
        data = mapper.notification_in(cond, lab)
        out = await notifications.create_notification(
            session, principal, data, language=i18n.current_language()
        )
    return resource_response(request, mapper.condition(out), status=201, location=True)


async def notify_created(request: Request, session: DbSession, principal: Reporter) -> Response:
    """``POST /fhir/Condition`` of a notifiable case: the notification, as ``$notify``. A
    notification is not conditional: ``If-None-Exist`` is refused (422), never a second
    case created beside the record's conditional-create semantics."""
    if request.headers.get("if-none-exist") is not None:
        raise Invalid.fields(
            [
                FieldError(
                    "If-None-Exist",
                    N_("A case notification is not created conditionally; use Condition/$notify"),
                )
            ]
        )
    return await notify_condition(request, session, principal)


async def read_condition(
    request: Request, session: DbSession, condition_id: str, principal: OneReader
) -> Response:
    n = parse_row_id(condition_id.removeprefix(mapper.CONDITION_PREFIX))
    if n is None:
        raise _missing("Condition", condition_id)
    out = await notifications.get_notification(
        session, principal, n, language=i18n.current_language()
    )
    return resource_response(request, mapper.condition(out))


async def read_lab_observation(
    request: Request, session: DbSession, observation_id: str, principal: OneReader
) -> Response:
    n = parse_row_id(observation_id.removeprefix(mapper.LAB_PREFIX))
    if n is None:
        raise _missing("Observation", observation_id)
    out = await notifications.get_notification(
        session, principal, n, language=i18n.current_language()
    )
    res = mapper.lab_observation(out)
    if res is None:
        raise _missing("Observation", observation_id)
    return resource_response(request, res)


router.add_api_route(
    "/Condition/{condition_id}",
    read_condition,
    methods=["GET"],
    route_class_override=claimed_route(_prefix("condition_id", mapper.CONDITION_PREFIX)),
)
router.add_api_route(
    "/Observation/{observation_id}",
    read_lab_observation,
    methods=["GET"],
    route_class_override=claimed_route(_prefix("observation_id", mapper.LAB_PREFIX)),
)


@router.post("/MeasureReport", status_code=201)
async def post_measure_report(
    request: Request, session: DbSession, principal: CapacityReporter
) -> Response:
    """A facility's day of bed occupancy (SANER style): every group checked as POST
    /api/v1/epidemic/occupancy checks it; all groups or none."""
    from fhir.resources.R4B.measurereport import MeasureReport

    report = await read_body(request, "MeasureReport", MeasureReport)
    parsed = mapper.occupancy_in(report)
    for line, paths in parsed:
        with fields_as(paths):
            errs, _ = await capacity.check_occupancy(session, principal, line)
            if errs:
                raise Invalid.fields(errs)
    lines = [line for line, _ in parsed]
    for line in lines:
        await capacity.report_occupancy(session, principal, line, language=i18n.current_language())
    out = await capacity.facility_capacity(
        session, principal, lines[0].facility, lines[0].day, language=i18n.current_language()
    )
    return resource_response(
        request, mapper.measure_report(out, region=False), status=201, location=True
    )


async def read_measure_report(
    request: Request, session: DbSession, report_id: str, principal: CapacityReader
) -> Response:
    parsed = mapper.parse_report_id(report_id)
    if parsed is None:
        raise _missing("MeasureReport", report_id)
    kind, code, day = parsed
    facility = code if kind == "facility" else None
    region = code if kind == "region" else None
    out = await capacity.read_capacity(
        session, principal, facility, region, day, language=i18n.current_language()
    )
    return resource_response(request, mapper.measure_report(out, region=facility is None))


async def read_coverage_report(
    request: Request, session: DbSession, report_id: str, principal: CoverageReader
) -> Response:
    """Revaccination coverage of a day in the country, a region or a district
    (``revaccination-<day>-<area>``): the REST coverage's figures, permission and audit."""
    parsed = coverage.parse_report_id(report_id)
    if parsed is None:
        raise _missing("MeasureReport", report_id)
    day, area = parsed
    try:
        out = await revaccination_sql.revaccination_coverage(session, principal, area=area, on=day)
    except Invalid as e:
        # an unknown area, or a day outside the figures': no such report
        raise _missing("MeasureReport", report_id) from e
    bands = revaccination_sql.definition().age_bands
    return resource_response(request, coverage.measure_report(out, bands))


async def read_situation_report(
    request: Request, session: DbSession, report_id: str, principal: SituationReader
) -> Response:
    """A region's situation on a day (``epi-situation-<day>-<region>``): the REST
    situation's figures for this reader (service/situation_view.situation_for)."""
    parsed = situation.parse_report_id(report_id)
    if parsed is None or parsed[0] < EARLIEST:
        raise _missing("MeasureReport", report_id)
    day, region = parsed
    try:
        out = await situation_view.situation_for(
            session, principal, language=i18n.current_language(), area=region, on=day
        )
    except Invalid as e:
        # an unknown region, or a day in the future: no such report
        raise _missing("MeasureReport", report_id) from e
    return resource_response(request, situation.measure_report(out, region, rules.current()))


router.add_api_route(
    "/MeasureReport/{report_id}",
    read_situation_report,
    methods=["GET"],
    route_class_override=claimed_route(_prefix("report_id", situation.PREFIX)),
)
router.add_api_route(
    "/MeasureReport/{report_id}",
    read_coverage_report,
    methods=["GET"],
    route_class_override=claimed_route(_prefix("report_id", coverage.PREFIX)),
)
router.add_api_route(
    "/MeasureReport/{report_id}",
    read_measure_report,
    methods=["GET"],
    route_class_override=claimed_route(_prefix("report_id", mapper.REPORT_PREFIX)),
)


#: the operation's canonical (Salomat's own; docs/epidemic.md, "FHIR"), read at
#: OperationDefinition/condition-notify
NOTIFY = operation.NOTIFY


@router.get("/OperationDefinition/{definition_id}")
async def read_notify_definition(
    request: Request, definition_id: str, _: DefinitionReader
) -> Response:
    """``$notify``'s OperationDefinition: its input (a Condition or a Bundle) and output;
    the server defines no other operation of its own here (404)."""
    if definition_id != operation.ID:
        raise _missing("OperationDefinition", definition_id)
    return resource_response(request, operation.definition())


def with_capabilities(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``/fhir/metadata``'s resources with epidemic surveillance's share merged in."""
    ours = [
        {
            "type": "Condition",
            "interaction": [{"code": "read"}],
            "operation": [
                {
                    "name": "notify",
                    "definition": NOTIFY,
                    "documentation": f"OperationDefinition/{operation.ID}",
                }
            ],
            "documentation": "epidemic: a case notification Condition/epi-<n> (read); "
            "notified by POST Condition/$notify (a Condition, or a Bundle with its lab "
            f"Observation; its definition: OperationDefinition/{operation.ID})",
        },
        {
            "type": "Observation",
            "interaction": [{"code": "read"}],
            "documentation": "epidemic: a notification's laboratory result Observation/epi-lab-<n>",
        },
        {
            "type": "OperationDefinition",
            "interaction": [{"code": "read"}],
            "documentation": f"OperationDefinition/{operation.ID}: Condition/$notify",
        },
        {
            "type": "MeasureReport",
            "interaction": [{"code": "read"}, {"code": "create"}],
            "documentation": "epidemic: beds and occupancy in the SANER style "
            "(MeasureReport/beds-<day>-<facility>, beds-region-<day>-<region>, "
            "beds-country-<day>); create: a facility's day of occupancy; revaccination "
            "coverage (MeasureReport/revaccination-<day>-<region, district or country>); "
            "a region's epidemic situation (MeasureReport/epi-situation-<day>-<region>)",
        },
    ]
    return capability.merge(resources, ours, label="epidemic")
