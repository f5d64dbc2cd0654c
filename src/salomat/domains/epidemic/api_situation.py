"""REST routes of the epidemic situation (docs/epidemic.md "Situation, zones and
alerts"): every region's counts, Rt, incidence, beds, zone and forecast on a day; the
recorded zones by day; the alerts of the reader's region. Aggregates only
(``epidemic:read``): no person's data, so the reads are not audited (as the registry's
population by region is not). Daily counts of 1-4 are shown as "<5" to readers who do not
read notifications (``epidemic:cases``), as ``GET /counts`` shows them.

The shaping for the reader (names in their language, what is withheld) is the service's
``situation_view``, which the dashboard pages (web_dashboard.py) call too.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Query

from salomat.core.policy import Require
from salomat.core.security import Principal
from salomat.core.uow import DbSession, router
from salomat.domains.epidemic.api_params import (
    _INVALID,
    Area,
    From,
    Language,
    To,
    check_days,
)
from salomat.domains.epidemic.schemas_situation import AlertOut, SituationOut, ZoneDayOut
from salomat.domains.epidemic.service import notifications, situation_view

api = router(prefix="/api/v1/epidemic", tags=["epidemic"])
routers = [api]

Reader = Annotated[Principal, Depends(Require("epidemic:read"))]
Edition = Annotated[
    str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="an edition")
]


@api.get("/situation", response_model=SituationOut, responses=_INVALID)
async def read_situation(
    session: DbSession,
    principal: Reader,
    lang: Language,
    area: Area = None,
    on: date | None = None,
    edition: Edition = None,
    by: Annotated[Literal["onset", "report"], Query()] = "onset",
    horizon: Annotated[int | None, Query(ge=1, le=366)] = None,
) -> SituationOut:
    """Every region of the country (or the one ``area``) on ``on`` (default today): daily
    counts, Rt (or why there is none), incidence and hospitalised per 100 000, beds, the
    zone with the rule that decided it, and the forecast as ranges with the first day the
    beds are passed."""
    check_days(on=on)
    return await situation_view.situation_for(
        session, principal, language=lang, area=area, on=on, edition=edition, by=by,
        horizon=horizon,
    )  # fmt: skip


@api.get("/zones", response_model=list[ZoneDayOut], responses=_INVALID)
async def read_zones(
    session: DbSession,
    principal: Reader,
    lang: Language,
    area: Area = None,
    start: From = None,
    end: To = None,
) -> list[ZoneDayOut]:
    """The recorded zone of each region (or the one ``area``) by day over ``from..to``
    (default the last 28 days; at most 366 days)."""
    check_days(**{"from": start, "to": end})
    end = end or notifications.today()
    start = start or end - timedelta(days=27)
    return await situation_view.zones_for(
        session, principal, language=lang, area=area, start=start, end=end
    )


@api.get("/alerts", response_model=list[AlertOut], responses=_INVALID)
async def read_alerts(
    session: DbSession, principal: Reader, lang: Language, start: From = None, end: To = None
) -> list[AlertOut]:
    """The alerts of ``from..to`` (default the last 28 days) of the reader's region (their
    facility's; every region for a reader bound to no facility), newest first."""
    check_days(**{"from": start, "to": end})
    end = end or notifications.today()
    start = start or end - timedelta(days=27)
    return await situation_view.alerts_for(session, principal, language=lang, start=start, end=end)
