"""Two regions of their own with births and infant deaths registered through the registry
service, for the indicator pages' tests: the small one has 3 infant deaths among 20 births
in the year shown (a suppressed cell), the large one 6 among 30 (200.0 per 1000). Both have
the same in the target's baseline year (2020), so the reduction target has its line. The
year is then computed through the statistics service, as the aggregate job does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from salomat.core.security import Principal

#: the year the pages show: the last closed one (the dashboard's default once computed)
Y = date.today().year - 1
BASELINE = 2020

SYSTEM = Principal(user_id=0, username="fixture", role="registrar", session_id="fixture")


@dataclass
class Region:
    region: str
    district: str


async def _year(db: Any, make_person: Any, place: Any, year: int, births: int, deaths: int):
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import DeathIn

    for i in range(births):
        born = date(year, 1, 5) + timedelta(days=i * 3)
        p = await make_person(birth_date=born, sex="female" if i % 2 else "male",
                              settlement_code=place.settlement)  # fmt: skip
        if i < deaths:
            await service.register_death(
                db, SYSTEM, p.id, DeathIn(deceased_on=born + timedelta(days=40), cause="P07.3"),
                expected_version=p.version,
            )  # fmt: skip
            await db.commit()


async def computed_regions(db: Any, make_place: Any, make_person: Any) -> list[Region]:
    from salomat.domains.statistics import service

    out = []
    for births, deaths in ((20, 3), (30, 6)):
        place = await make_place()
        for year in (BASELINE, Y):
            await _year(db, make_person, place, year, births, deaths)
        out.append(Region(place.region, place.district))
    for year in (BASELINE, Y):
        await service.aggregate_period(db, service.parse_period(str(year)))
        await db.commit()
    return out
