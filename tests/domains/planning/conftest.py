"""A small region of its own for the planning tests (shared by the planning helpers).

``plan`` builds, directly in the registry's tables (Kazakh facility kinds):

- district ``D1`` (rural), settlements with census figures from the note's vector 1:
  ``S1`` 35 people, nothing; ``S2`` 180, a medical point (its nurse's role ended);
  ``S3`` 420, nothing; ``S4`` 1,200, a medical point; ``S5`` 3,400, a FAP (a feldsher
  1.0, a midwife 0.5)
- district ``D2`` (urban): ``S6`` 15,500 people (the note's vector 4: 12,400 adults and
  3,100 children, in ``territory_population`` too), a polyclinic with family doctors 1.0,
  1.0 and 0.5 FTE and a nurse; three people living in ``S4`` attached to it.

Coordinates lie in the Almaty region. ``kz`` makes the planning services read the Kazakh
pack (tests run with ``SALOMAT_COUNTRY=UZ``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from salomat.core.security import Principal
from salomat.domains.planning.service.norms import today as country_today

AS_OF = date(2025, 1, 1)
SOURCE = "Test census 2025"

#: settlement key -> (population, rural, latitude, longitude, facility kinds)
SETTLEMENTS: dict[str, tuple[int, bool, float, float, tuple[str, ...]]] = {
    "S1": (35, True, 43.60, 77.00, ()),
    "S2": (180, True, 43.62, 77.05, ("medical_point",)),
    "S3": (420, True, 43.65, 77.10, ()),
    "S4": (1200, True, 43.70, 77.15, ("medical_point",)),
    "S5": (3400, True, 43.75, 77.20, ("feldsher_obstetric_point",)),
    "S6": (15500, False, 43.87, 77.06, ("family_polyclinic",)),
}
DISTRICT_OF = {"S1": "D1", "S2": "D1", "S3": "D1", "S4": "D1", "S5": "D1", "S6": "D2"}


@dataclass
class Plan:
    region: str  # territory codes
    districts: dict[str, str]
    settlements: dict[str, str]
    settlement_ids: dict[str, int]
    facilities: dict[str, str] = field(default_factory=dict)  # settlement key -> code
    facility_ids: dict[str, int] = field(default_factory=dict)
    db: Any = None

    def principal(self, role: str = "planner", username: str = "planner-test") -> Principal:
        return Principal(user_id=0, username=username, role=role, session_id="t")


@pytest.fixture
def kz(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planning services read the Kazakh pack."""
    from salomat.domains.planning.service import norms

    monkeypatch.setattr(norms, "current", lambda: norms.planning_pack("KZ"))


@pytest.fixture
async def plan(db, make_person) -> Plan:
    from sqlalchemy import insert

    from salomat.domains.planning.models import SettlementCensus
    from salomat.domains.registry.models import (
        Facility,
        Population,
        Practitioner,
        PractitionerRole,
        Territory,
    )
    from tests.factories import unique

    region = unique("PR")
    db.add(Territory(code=region, level="region", name="Plan region", names={}))
    await db.flush()
    rid = (await db.execute(Territory.__table__.select().where(Territory.code == region))).one().id
    districts, dids = {}, {}
    for key, rural in (("D1", True), ("D2", False)):
        t = Territory(
            code=f"{region}{key}",
            level="district",
            parent_id=rid,
            name=f"District {key}",
            names={"en": f"District {key}", "ru": f"Район {key}"},
            is_rural=rural,
        )
        db.add(t)
        await db.flush()
        districts[key], dids[key] = t.code, t.id
    settlements, sids = {}, {}
    for key, (_pop, rural, lat, lon, _kinds) in SETTLEMENTS.items():
        t = Territory(
            code=f"{region}{key}",
            level="settlement",
            parent_id=dids[DISTRICT_OF[key]],
            name=f"Village {key}",
            names={"en": f"Village {key}", "kk": f"Ауыл {key}"},
            is_rural=rural,
            latitude=lat,
            longitude=lon,
        )
        db.add(t)
        await db.flush()
        settlements[key], sids[key] = t.code, t.id
    now = datetime.now(UTC)
    await db.execute(
        insert(SettlementCensus),
        [
            {
                "territory_id": sids[k],
                "as_of": AS_OF,
                "population": v[0],
                "source": SOURCE,
                "imported_by": "fixture",
                "imported_at": now,
            }
            for k, v in SETTLEMENTS.items()
        ],
    )
    # S6's age structure: 3,100 children (0-14) and 12,400 adults (30-34)
    bands = {("male", 0): 1000, ("female", 0): 1000, ("male", 5): 550, ("female", 5): 550}
    bands |= {("male", 30): 6200, ("female", 30): 6200}
    await db.execute(
        insert(Population),
        [
            {"territory_id": sids["S6"], "year": 2025, "sex": s, "age_from": a, "count": n}
            for (s, a), n in bands.items()
        ],
    )
    p = Plan(region, districts, settlements, sids, db=db)
    for key, v in SETTLEMENTS.items():
        for kind in v[4]:
            f = Facility(
                code=unique("PF"),
                name=f"{kind} {key}",
                names={},
                kind=kind,
                settlement_id=sids[key],
                is_open=True,
            )
            db.add(f)
            await db.flush()
            p.facilities[key], p.facility_ids[key] = f.code, f.id
    staff = [
        ("S6", "family_doctor", Decimal("1.00"), None),
        ("S6", "family_doctor", Decimal("1.00"), None),
        ("S6", "family_doctor", Decimal("0.50"), None),
        ("S6", "nurse", Decimal("1.00"), None),
        ("S5", "feldsher", Decimal("1.00"), None),
        ("S5", "midwife", Decimal("0.50"), None),
        ("S2", "nurse", Decimal("1.00"), country_today() - timedelta(days=1)),  # ended
    ]
    for key, position, fte, end in staff:
        pr = Practitioner(family_name="Test", given_name=unique("N"), specialty="nursing")
        db.add(pr)
        await db.flush()
        db.add(
            PractitionerRole(
                practitioner_id=pr.id,
                facility_id=p.facility_ids[key],
                position=position,
                start_on=date(2020, 1, 1),
                end_on=end,
                fte=fte,
            )
        )
    await db.commit()
    for _ in range(3):
        await make_person(facility_code=p.facilities["S6"], settlement_code=settlements["S4"])
    return p
