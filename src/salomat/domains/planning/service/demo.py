"""The demo region's planning section (``planning:`` in the pack's demo.yaml): a census
figure for every settlement of the demo territory (the sum of its population in the
territory CSV, whose figures are illustrative, and marked so as the source), and the staff
of the primary-care facilities with their full-time equivalents, so that the gap list and
the staffing report have something to show.

Loaded once: when any settlement already has a census figure, nothing more is loaded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.planning.models import SettlementCensus
from salomat.domains.planning.service import norms
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
    return len(rows), roles
