"""The demo region's planning section (``planning:`` in the pack's demo.yaml): a census
figure for every settlement of the demo territory (the sum of its population in the
territory CSV, whose figures are illustrative, and marked so as the source), and the staff
of the primary-care facilities with their full-time equivalents, so that the gap list and
the staffing report have something to show.

Then, so that the demo shows them too:

- a SYNTHETIC road network for each region of the demo territory (service/demo_roads.py:
  drawn from the settlements' coordinates, not real roads), imported as an OpenStreetMap
  extract would be (``roads.import_bytes``), so that the access figures are along roads;
- a mobile medical team (``mobile_team:``) at a demo facility with members of the staff
  above, its calendar saved over the territory's settlements without a unit (rounds
  some weeks ago and one from next week: ``plan_team_route``), and visits recorded on
  the past rounds' days with the demo people seen (``record_visit``, by a nurse of the team's
  facility: the scope rule and the audit apply as to any nurse).

Loaded once: when any settlement already has a census figure, nothing more is loaded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.policy import Role
from salomat.core.security import Principal
from salomat.domains.planning.models import SettlementCensus
from salomat.domains.planning.schemas_mobile import RouteIn, SeenIn, TeamIn, VisitIn
from salomat.domains.planning.service import demo_roads, mobile, norms, roads
from salomat.domains.planning.service.settlements import CHILD_BANDS
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PractitionerIn, PractitionerRoleIn
from salomat.domains.registry.service import planning_reads as reads

__all__ = ["load_demo_planning"]

SOURCE = "Illustrative: the demo territory.csv populations, not official statistics"


async def load_demo_planning(
    session: AsyncSession, principal: Principal, data: dict[str, Any]
) -> tuple[int, int]:
    """(census figures, practitioner roles) loaded."""
    if (await session.execute(select(func.count()).select_from(SettlementCensus))).scalar():
        return 0, 0
    source = str(data.get("census_source") or SOURCE)
    ids = reads.settlement_id_select(None)
    population = await reads.population_by_settlement(session, ids, norms.today().year, CHILD_BANDS)
    now = datetime.now(UTC)
    rows = [
        {
            "territory_id": tid,
            "as_of": date(year, 1, 1),
            "population": total,
            "source": source,
            "imported_by": principal.username,
            "imported_at": now,
        }
        for tid, (total, _children, year) in sorted(population.items())
    ]
    if rows:
        await session.execute(insert(SettlementCensus), rows)
    roles = 0
    staff: dict[str, int] = {}
    for s in data.get("staff") or []:
        p = await registry.create_practitioner(
            session,
            principal,
            PractitionerIn(
                family_name=s["family_name"],
                given_name=s["given_name"],
                patronymic=s.get("patronymic"),
                sex=s.get("sex"),
                specialty=s["specialty"],
            ),
        )
        staff[s["family_name"]] = p.id
        await registry.add_practitioner_role(
            session,
            principal,
            p.id,
            PractitionerRoleIn(
                facility_code=s["facility"],
                position=s["position"],
                start_on=date.fromisoformat(str(s.get("start_on", "2020-01-01"))),
                fte=Decimal(str(s.get("fte", 1))),
            ),
        )
        roles += 1
    await session.flush()
    await load_demo_roads(session, principal)
    if data.get("mobile_team"):
        await load_demo_mobile_team(session, principal, data["mobile_team"], staff)
    return len(rows), roles


async def load_demo_roads(session: AsyncSession, principal: Principal) -> dict[str, int]:
    """The synthetic roads of every region holding settlements with coordinates (inside
    the country's bounds: the import refuses others): region code -> directed edges."""
    from salomat.domains.planning.service.settlements import settlement_rows

    bounds = norms.current().bounds
    rows = await settlement_rows(session, principal, None)
    region_of: dict[str, str | None] = {}
    by_region: dict[str, list[demo_roads.DemoPlace]] = {}
    for r in rows:
        if r.latitude is None or r.longitude is None or r.district_code is None:
            continue
        if not bounds.contains(r.latitude, r.longitude):
            continue
        if r.district_code not in region_of:
            d = await registry.territory_by_code(session, r.district_code)
            region_of[r.district_code] = d.parent_code if d is not None else None
        region = region_of[r.district_code]
        if region is None:
            continue
        by_region.setdefault(region, []).append(
            demo_roads.DemoPlace(r.code, r.latitude, r.longitude, r.census_population or 0)
        )
    out = {}
    for region, places in sorted(by_region.items()):
        if len(places) >= 2:
            done = await roads.import_bytes(session, demo_roads.synthetic_osm(places), region)
            out[region] = done.edges
    return out


def _round_start(offset_days: int) -> date:
    """The Monday of the week ``offset_days`` from today (a round starts a week)."""
    day = mobile.today() + timedelta(days=offset_days)
    return day - timedelta(days=day.weekday())


async def load_demo_mobile_team(
    session: AsyncSession, principal: Principal, team: dict[str, Any], staff: dict[str, int]
) -> tuple[int, int]:
    """The demo's mobile team, its calendar and visits: (planned visits, visits)."""
    made = await mobile.create_team(
        session,
        principal,
        TeamIn(
            facility_code=team["facility"],
            name=team["name"],
            members=[staff[m] for m in team.get("members", [])],
        ),
    )
    territory = str(team["territory"])
    rounds = [int(d) for d in team.get("rounds_days", (-21, 7))]
    planned = 0
    #: per round, settlement code -> (planned visit id, day)
    plans: list[dict[str, tuple[int, date]]] = []
    for offset in rounds:
        route = await mobile.plan_team_route(
            session,
            principal,
            made.id,
            RouteIn(territory=territory, start=_round_start(offset), save=True),
        )
        planned += sum(len(d.settlements) for d in route.days)
        cal = (
            await mobile.calendar(
                session, principal, made.id, route.days[0].day, route.days[-1].day
            )
            if route.days
            else []
        )
        plans.append({p.settlement: (p.id, p.planned_on) for p in cal})
    # the team's nurse records the visits: the scope rule (people attached to her facility)
    # and the audit apply as they do to any nurse's
    nurse = Principal(
        user_id=principal.user_id,
        username=principal.username,
        role=Role.nurse.value,
        session_id=principal.session_id,
        facility_id=made.facility_id,
        facility_code=made.facility_code,
    )
    ids = await _person_ids(
        session, principal, [p["national_id"] for v in team.get("visits", []) for p in v["people"]]
    )
    visits = 0
    for v in team.get("visits") or []:
        code, k = str(v["settlement"]), int(v.get("round", 0))
        found = plans[k].get(code) if k < len(plans) else None
        if found is None or found[1] > mobile.today():
            continue  # not on a past round's calendar: nothing to record
        plan_id, day = found
        await mobile.record_visit(
            session,
            nurse,
            made.id,
            VisitIn(
                settlement=code,
                visited_on=day,
                plan_id=plan_id,
                notes=v.get("notes"),
                people=[
                    SeenIn(person_id=ids[p["national_id"]], services=p["services"])
                    for p in v["people"]
                ],
            ),
        )
        visits += 1
    return planned, visits


async def _person_ids(
    session: AsyncSession, principal: Principal, national_ids: list[str]
) -> dict[str, int]:
    from salomat.core.pagination import PageParams
    from salomat.domains.registry.schemas import PersonQuery

    out = {}
    for nid in dict.fromkeys(national_ids):
        page = await registry.search_persons(
            session, principal, PersonQuery(national_id=nid), PageParams(limit=1, offset=0)
        )
        out[nid] = page.items[0].id
    return out
