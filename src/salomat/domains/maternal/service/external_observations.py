"""Taking another system's Observation into a woman's current pregnancy.

The shared record (``domains.record``, above maternal in the domain graph) calls
``take_external_observation`` after it stores or updates an Observation, in the same
transaction: the readings the rules read are kept in ``ExternalReading``
(``external_readings`` says which and how) and the pregnancy is re-evaluated, so advice
and danger signs appear as for a reading entered at a contact. Maternal never reads the
record's tables: what it needs arrives as arguments.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core import audit
from salomat.core.config import get_settings
from salomat.core.db import utcnow
from salomat.core.security import Principal
from salomat.country import pack
from salomat.domains.maternal.models import ExternalReading, Pregnancy
from salomat.domains.maternal.service import dating, evaluation, external_readings
from salomat.domains.maternal.service.pregnancy import RESOURCE

__all__ = ["current_risk_levels", "take_external_observation"]

#: the purpose the shared record writes under (``record.service.common.PURPOSE``)
PURPOSE = "shared health record"


def _during(p: Pregnancy, on: date, today: date) -> bool:
    """From day 0 of gestation as dated (EDD - 280 days) to today."""
    return p.edd - timedelta(days=dating.PREGNANCY_DAYS) <= on <= today


async def take_external_observation(
    session: AsyncSession,
    principal: Principal | None,
    *,
    person_id: int,
    resource_id: str,
    version: int,
    resource: dict[str, Any],
    facility_id: int | None,
) -> int:
    """Keep what the antenatal rules read from version ``version`` of Observation
    ``resource_id`` (``shr-<n>``) of ``person_id``, sent by ``facility_id``; return how
    many readings were kept.

    Only for a woman with a current pregnancy (one indexed statement otherwise: nothing
    else is read). The resource's earlier readings in this pregnancy are replaced (an
    update; a status other than final, amended or corrected, entered-in-error included,
    leaves none), and when anything was kept or removed the pregnancy is re-evaluated
    and the re-evaluation audited. A reading outside the pregnancy (before its day 0 or
    after today), of a code not mapped or in a unit not converted is not taken: the
    sender's Observation is kept as sent by the record all the same.
    """
    p = await session.scalar(
        select(Pregnancy)
        .where(Pregnancy.person_id == person_id, Pregnancy.status == "current")
        .with_for_update(key_share=True)
    )
    if p is None:
        return 0
    parsed = external_readings.parse_observation(resource)
    # the country's day: a reading dated this evening in Tashkent is not "after today"
    # on a server whose clock says UTC
    today = pack.today(get_settings().country)
    kept = list(parsed.readings) if parsed.on is not None and _during(p, parsed.on, today) else []
    removed = await session.execute(
        delete(ExternalReading).where(
            ExternalReading.pregnancy_id == p.id, ExternalReading.resource_id == resource_id
        )
    )
    if not kept and not removed.rowcount:
        return 0
    if kept:
        now = utcnow()
        await session.execute(
            insert(ExternalReading),
            [
                {
                    "pregnancy_id": p.id,
                    "person_id": person_id,
                    "resource_id": resource_id,
                    "resource_version": version,
                    "loinc": r.loinc,
                    "field": r.field,
                    "value": r.value,
                    "unit": r.unit,
                    "sent_value": r.sent_value,
                    "sent_unit": r.sent_unit,
                    "effective_on": parsed.on,
                    "effective_at": parsed.at,
                    "facility_id": facility_id,
                    "taken_at": now,
                }
                for r in kept
            ],
        )
    await evaluation.evaluate(session, p)
    await audit.record(
        session,
        principal,
        action="update",
        resource_type=RESOURCE,
        resource_id=str(p.id),
        patient_id=person_id,
        # the shared record's own reason (translated in the citizen's access log); what
        # happened is in the detail
        purpose=PURPOSE,
        detail=(
            f"antenatal advice re-evaluated on Observation/{resource_id}/_history/{version}: "
            f"{len(kept)} reading(s) taken"
        ),
    )
    return len(kept)


async def current_risk_levels(
    session: AsyncSession, person_ids: list[int]
) -> dict[int, str | None]:
    """The risk level of each of these people's current pregnancy (those with one), for
    the demo loader choosing whom a hospital's demo laboratory result is about; no
    principal, no audit: the loader is the platform's own command."""
    if not person_ids:
        return {}
    rows = await session.execute(
        select(Pregnancy.person_id, Pregnancy.risk_level).where(
            Pregnancy.person_id.in_(person_ids), Pregnancy.status == "current"
        )
    )
    return {pid: risk for pid, risk in rows}
