"""Input and output of the access, scenario, route and mobile-team routes (api_access)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from salomat.core.params import MAX_SMALL_ID

CODE = Field(min_length=1, max_length=32)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProposedIn(_In):
    """A unit the planner would open: a unit code of the pack in a settlement."""

    settlement: str = CODE
    unit: str = Field(min_length=1, max_length=32)


class ScenarioIn(_In):
    territory: str = CODE
    edition: str | None = Field(default=None, max_length=32)
    proposed: list[ProposedIn] = Field(min_length=1, max_length=200)


class TeamIn(_In):
    facility_code: str = CODE
    name: str = Field(min_length=1, max_length=200)
    #: practitioner ids of the registry
    members: list[Annotated[int, Field(ge=1, le=MAX_SMALL_ID)]] = Field(
        default_factory=list, max_length=20
    )


class TeamOut(BaseModel):
    id: int
    facility_id: int
    facility_code: str | None
    name: str
    active: bool
    members: list[int]


class RouteIn(_In):
    """Plan the team's route over a district's settlements that lack a unit (or over the
    settlements named), from ``start`` on; ``save`` writes the visit calendar."""

    territory: str = CODE
    start: date
    settlements: list[str] | None = Field(default=None, max_length=500)
    #: at most this many settlements a working day (the team's capacity; none: the day
    #: alone limits)
    capacity: int | None = Field(default=None, ge=1, le=50)
    save: bool = False


class RouteDayOut(BaseModel):
    day: date
    settlements: list[str]
    names: list[str]
    km: float
    minutes: float
    travel_minutes: float
    service_minutes: float


class RouteOut(BaseModel):
    team_id: int
    territory: str
    base: str
    method: str
    km: float
    days: list[RouteDayOut]
    #: settlements one working day cannot reach and serve (too far)
    unreachable: list[str]
    no_coordinates: list[str]
    outside_country: list[str]
    saved: bool
    #: code -> name in the reader's language of the base and of every settlement the
    #: lists above name by code
    place_names: dict[str, str] = {}


class PlannedVisitOut(BaseModel):
    id: int
    team_id: int
    settlement: str
    settlement_name: str
    planned_on: date
    sequence: int
    day_km: float
    day_minutes: float
    method: str
    visited: bool


class SeenIn(_In):
    person_id: int = Field(ge=1, le=2**62)
    services: list[str] = Field(min_length=1, max_length=10)


class VisitIn(_In):
    settlement: str = CODE
    visited_on: date
    plan_id: int | None = Field(default=None, ge=1, le=2**62)
    notes: str | None = Field(default=None, max_length=2000)
    people: list[SeenIn] = Field(min_length=1, max_length=500)


class SeenOut(BaseModel):
    person_id: int
    services: list[str]


class VisitOut(BaseModel):
    id: int
    team_id: int
    settlement: str
    settlement_name: str
    visited_on: date
    plan_id: int | None
    notes: str | None
    recorded_by: str
    people: list[SeenOut]


class VisitSummary(BaseModel):
    """A visit without the people: what a planner sees."""

    id: int
    team_id: int
    settlement: str
    settlement_name: str
    visited_on: date
    #: counts of 1 to 4 are "<5" for anyone but the team's own facility (small-count rule)
    people: int | str
    services: dict[str, int | str]
