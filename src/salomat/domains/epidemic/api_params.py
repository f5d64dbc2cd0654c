"""Query parameters the epidemic routers share (api.py, api_situation.py): an area code,
a ``from..to`` window checked against the first day of surveillance, and the counting
date (docs/epidemic.md "API").

A day before ``EARLIEST`` is refused naming its field: the default window counts 27 days
back from ``to``, which before year 1 is no date at all (a 500 once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from salomat.core.errors import N_, FieldError, Invalid, api_language

__all__ = [
    "EARLIEST",
    "WINDOW_DAYS",
    "Area",
    "AreaDays",
    "By",
    "From",
    "Language",
    "To",
    "check_days",
    "counts_query",
    "notifications_query",
]

#: no surveillance before this day (and the windows before a day stay in the calendar)
EARLIEST = date(1900, 1, 1)
#: the default window: ``to`` and the 27 days before it
WINDOW_DAYS = 28

Area = Annotated[
    str | None,
    Query(max_length=32, pattern=r"^[A-Za-z0-9._-]+$", description="a region or district code"),
]
By = Annotated[Literal["onset", "report"], Query(description="count by onset or report date")]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]

_INVALID = {422: {"description": "a field is wrong, each named"}}


def _reader_language(request: Request) -> str:
    return api_language(request)


#: the API reader's language (Accept-Language among the pack's; English without it): the
#: names and messages of the answer are in it
Language = Annotated[str, Depends(_reader_language)]


def check_days(**days: date | None) -> None:
    """Refuse, naming each, the days before ``EARLIEST`` (keyword: the query's name)."""
    errs = [
        FieldError(name, N_("Must be on or after %(day)s"), {"day": EARLIEST.isoformat()})
        for name, d in days.items()
        if d is not None and d < EARLIEST
    ]
    if errs:
        raise Invalid.fields(errs)


@dataclass(frozen=True)
class AreaDays:
    """An area (region or district code), ``from..to`` as given (checked against
    ``EARLIEST``) and the counting date."""

    area: str | None
    start: date | None
    end: date | None
    by: str

    def window(self, today: date) -> tuple[date, date]:
        """``from..to`` with the defaults: ``to`` today, ``from`` 27 days before ``to``."""
        end = self.end or today
        return self.start or end - timedelta(days=WINDOW_DAYS - 1), end


def notifications_query(
    district: Area = None, start: From = None, end: To = None, by: By = "report"
) -> AreaDays:
    """The notifications' search and export: ``district``, by report date by default."""
    check_days(**{"from": start, "to": end})
    return AreaDays(district, start, end, by)


def counts_query(
    area: Area = None, start: From = None, end: To = None, by: By = "onset"
) -> AreaDays:
    """The daily counts: ``area``, by onset date by default."""
    check_days(**{"from": start, "to": end})
    return AreaDays(area, start, end, by)
