"""A mobile visit's counts name a village and a day: for a planner, analyst or
epidemiologist (anyone but the team's own facility) a count of 1 to 4 is shown as "<5"
(the project's small-count rule, core/suppression.py), 0 and 5 and more as they are. The
reference is the rule's words: 1-4 withheld, 0 and >=5 shown."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from salomat.core.security import Principal
from salomat.domains.planning.models_mobile import MobileVisit, MobileVisitPerson
from salomat.domains.planning.schemas_mobile import TeamIn
from salomat.domains.planning.service import mobile

pytestmark = pytest.mark.anyio

DAY = date(2026, 3, 2)


async def _visit(plan, make_person, services: dict[str, int]) -> int:  # type: ignore[no-untyped-def]
    """A visit to S1 by a team of S6's facility: ``services[code]`` people given each."""
    team = await mobile.create_team(
        plan.db, plan.principal(), TeamIn(facility_code=plan.facilities["S6"], name="T")
    )
    v = MobileVisit(
        team_id=team.id,
        settlement_id=plan.settlement_ids["S1"],
        visited_on=DAY,
        recorded_by="nurse",
        created_at=datetime.now(UTC),
    )
    plan.db.add(v)
    await plan.db.flush()
    people = [await make_person() for _ in range(max(services.values(), default=0))]
    for code, n in services.items():
        plan.db.add_all(
            MobileVisitPerson(visit_id=v.id, person_id=p.id, service=code) for p in people[:n]
        )
    await plan.db.flush()
    return team.id


def _reader(role: str, facility_id: int | None = None) -> Principal:
    return Principal(user_id=0, username=role, role=role, session_id="t", facility_id=facility_id)


@pytest.mark.parametrize("role", ["planner", "analyst", "epidemiologist"])
async def test_small_counts_are_withheld_from_other_roles(plan, kz, make_person, role) -> None:  # type: ignore[no-untyped-def]
    team = await _visit(plan, make_person, {"referral": 1, "screening": 4, "consultation": 5})
    (s,) = await mobile.list_visits(plan.db, _reader(role), team, DAY, DAY)
    assert s.services == {"referral": "<5", "screening": "<5", "consultation": 5}
    assert s.people == 5  # five distinct people seen: shown
    assert s.settlement == plan.settlements["S1"]


async def test_four_people_seen_is_withheld(plan, kz, make_person) -> None:  # type: ignore[no-untyped-def]
    team = await _visit(plan, make_person, {"consultation": 4})
    (s,) = await mobile.list_visits(plan.db, _reader("planner"), team, DAY, DAY)
    assert (s.people, s.services) == ("<5", {"consultation": "<5"})


async def test_the_teams_own_facility_sees_exact_counts(plan, kz, make_person) -> None:  # type: ignore[no-untyped-def]
    team = await _visit(plan, make_person, {"referral": 1, "consultation": 5})
    own = _reader("planner", plan.facility_ids["S6"])
    (s,) = await mobile.list_visits(plan.db, own, team, DAY, DAY)
    assert s.services == {"referral": 1, "consultation": 5}
    assert s.people == 5
    # another facility's user is not the team's own
    other = _reader("planner", plan.facility_ids["S5"])
    (s,) = await mobile.list_visits(plan.db, other, team, DAY, DAY)
    assert s.services == {"referral": "<5", "consultation": 5}
