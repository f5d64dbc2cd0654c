"""The demo's epidemic data (docs/epidemic.md "Demo"): the beds of the demo hospitals by
profile (from the beds the pack's demo.yaml gives each facility: ``infectious``,
``intensive_care`` as ``icu``, the rest as ``general``), their occupancy over the last
two weeks, and a few case notifications of demo people in the polyclinic's and the
hospital's districts, notified by the polyclinic through the same service as a doctor's
(the checks and the audit apply). Illustrative figures, not surveillance data.

Loaded once: when any notification exists, nothing more is loaded.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from salomat.core.security import Principal
from salomat.domains.epidemic.models import CaseNotification
from salomat.domains.epidemic.schemas import BedsIn, NotificationIn, OccupancyIn
from salomat.domains.epidemic.service import capacity, notifications
from salomat.domains.registry import service as registry

__all__ = ["load_demo_epidemic"]

#: (days before today of onset, days from onset to report, ICD-10, lab confirmed,
#: hospitalised)
CASES = (
    (12, 2, "U07.1", True, False),
    (10, 1, "U07.1", True, True),
    (9, 3, "U07.2", False, False),
    (7, 1, "B05", True, False),
    (6, 2, "U07.1", True, False),
    (5, 1, "A37", False, False),
    (4, 2, "U07.1", True, True),
    (3, 1, "U07.1", False, False),
)


def _profiles(beds: dict[str, Any]) -> dict[str, int]:
    out = {"infectious": int(beds.get("infectious", 0)), "icu": int(beds.get("intensive_care", 0))}
    out["general"] = sum(
        int(n) for k, n in beds.items() if k not in ("infectious", "intensive_care", "day_care")
    )
    return {p: n for p, n in out.items() if n > 0}


async def _district(session: AsyncSession, settlement: str | None) -> str | None:
    t = await registry.territory_by_code(session, settlement) if settlement else None
    return t.parent_code if t is not None and t.level == "settlement" else None


async def load_demo_epidemic(
    session: AsyncSession, data: dict[str, Any], person_ids: dict[str, int], *, today: date
) -> tuple[int, int]:
    """(notifications, occupancy days) loaded."""
    if (await session.execute(select(func.count()).select_from(CaseNotification))).scalar():
        return 0, 0
    facilities = {f["code"]: f for f in data.get("facilities", [])}
    occupancy_days = 0
    start = today - timedelta(days=30)
    for code, f in facilities.items():
        profiles = _profiles(f.get("beds") or {})
        if not profiles or f.get("kind") in ("family_polyclinic", "sanatorium"):
            continue
        fid = await registry.facility_id_by_code(session, code)
        if fid is None:
            continue
        nurse = Principal(user_id=0, username="cli:demo-load", role="nurse", session_id="cli",
                          facility_id=fid)  # fmt: skip
        for profile, beds in profiles.items():
            await capacity.register_beds(
                session, nurse, BedsIn(facility=code, profile=profile, beds=beds, valid_from=start)
            )
            for d in range(14, 0, -1):
                # a slow rise in infectious and ICU occupancy; general beds steady
                share = 0.45 + 0.03 * (14 - d) if profile != "general" else 0.7
                occupied = min(beds, round(beds * share))
                await capacity.report_occupancy(
                    session,
                    nurse,
                    OccupancyIn(
                        facility=code, day=today - timedelta(days=d), profile=profile,
                        occupied=occupied, admitted=max(1, beds // 10),
                        discharged=max(1, beds // 12),
                    ),
                )  # fmt: skip
                occupancy_days += 1
    polyclinic = data.get("polyclinic")
    pid = await registry.facility_id_by_code(session, polyclinic) if polyclinic else None
    if pid is None:
        return 0, occupancy_days
    districts = [
        d
        for d in [
            await _district(session, f.get("settlement"))
            for f in facilities.values()
            if f.get("kind") in ("family_polyclinic", "district_hospital")
        ]
        if d
    ]
    if not districts:
        return 0, occupancy_days
    doctor = Principal(user_id=0, username="cli:demo-load", role="family_doctor", session_id="cli",
                       facility_id=pid)  # fmt: skip
    born = await registry.birth_dates(session, list(person_ids.values()))
    people = [p for p in sorted(person_ids.values()) if p in born]
    made = 0
    for i, (ago, delay, icd10, lab, hosp) in enumerate(CASES):
        onset = today - timedelta(days=ago)
        candidates = [p for p in people if born[p] <= onset]
        if not candidates:
            continue
        person = candidates[(i * 7) % len(candidates)]
        report = min(onset + timedelta(days=delay), today)
        await notifications.create_notification(
            session,
            doctor,
            NotificationIn(
                person_id=person, icd10=icd10, onset_date=onset, report_date=report,
                district=districts[i % len(districts)], lab_confirmed=lab,
                hospitalised=hosp, admission_date=report if hosp else None,
            ),
        )  # fmt: skip
        made += 1
    return made, occupancy_days
