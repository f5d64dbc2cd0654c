"""A planner's saved scenarios: the units proposed in settlements of a territory under a
norm edition, kept so that the comparison (service/access.py ``scenario``) can be run again
as the registry changes. Only the inputs are stored; the comparison is computed each time.
Places only, no person's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.errors import N_, Invalid, NotFound
from salomat.core.security import Principal
from salomat.domains.planning.models import PlanningScenario
from salomat.domains.planning.service import access as acc
from salomat.domains.planning.service import norms
from salomat.domains.planning.service.settlements import area
from salomat.domains.registry.service import planning_reads as reads

__all__ = ["SavedScenario", "delete_scenario", "get_scenario", "list_scenarios", "save_scenario"]


@dataclass(frozen=True)
class SavedScenario:
    id: int
    territory: str
    name: str
    edition: str | None
    #: [{"settlement": code, "unit": unit code}, ...]
    proposed: list[dict[str, str]]
    created_by: str
    created_at: datetime


async def save_scenario(
    session: AsyncSession,
    principal: Principal,
    *,
    territory: str,
    name: str,
    edition: str | None,
    proposed: list[tuple[str, str]],
) -> SavedScenario:
    """Keep a scenario that can be run: each proposal is checked as ``/scenario`` checks it
    (access.py ``check_proposed``: a settlement of the territory, with coordinates in the
    country, and a unit with premises of the pack; each wrong one named
    ``proposed.<i>.settlement`` or ``proposed.<i>.unit``); an unknown territory or edition
    is named too."""
    rules = norms.current()
    where = await area(session, territory)
    assert where is not None
    if edition is not None:
        rules.edition(edition)  # 422 naming ``edition`` when unknown
    units = [acc.ProposedUnit(settlement, unit) for settlement, unit in proposed]
    errors = await acc.check_saved(session, principal, territory, edition, units)
    if errors:
        raise Invalid.fields(errors)
    row = PlanningScenario(
        territory_id=where.id,
        name=name,
        edition=edition,
        proposed=[{"settlement": s, "unit": u} for s, u in proposed],
        created_by=principal.username,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        principal,
        action="create",
        resource_type="PlanningScenario",
        resource_id=str(row.id),
        detail=f"{territory}: {len(proposed)} proposed units",
    )
    return _out(row, territory)


def _out(row: PlanningScenario, territory: str) -> SavedScenario:
    return SavedScenario(
        id=row.id,
        territory=territory,
        name=row.name,
        edition=row.edition,
        proposed=[dict(p) for p in row.proposed or []],
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def list_scenarios(
    session: AsyncSession, principal: Principal, territory: str | None = None
) -> list[SavedScenario]:
    """The saved scenarios (of one territory), newest first."""
    q = select(PlanningScenario).order_by(PlanningScenario.id.desc()).limit(500)
    if territory is not None:
        where = await area(session, territory)
        assert where is not None
        q = q.where(PlanningScenario.territory_id == where.id)
    rows = list((await session.execute(q)).scalars())
    names = await reads.territory_codes_names(session, {r.territory_id for r in rows})
    return [_out(r, names.get(r.territory_id, ("", ""))[0]) for r in rows]


async def _row(session: AsyncSession, scenario_id: int) -> PlanningScenario:
    row = await session.get(PlanningScenario, scenario_id)
    if row is None:
        raise NotFound(N_("No scenario %(id)s"), params={"id": scenario_id})
    return row


async def get_scenario(
    session: AsyncSession, principal: Principal, scenario_id: int
) -> SavedScenario:
    row = await _row(session, scenario_id)
    names = await reads.territory_codes_names(session, [row.territory_id])
    return _out(row, names.get(row.territory_id, ("", ""))[0])


async def delete_scenario(session: AsyncSession, principal: Principal, scenario_id: int) -> None:
    row = await _row(session, scenario_id)
    await session.execute(delete(PlanningScenario).where(PlanningScenario.id == row.id))
    await audit.record(
        session,
        principal,
        action="delete",
        resource_type="PlanningScenario",
        resource_id=str(scenario_id),
    )
