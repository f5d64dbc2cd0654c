"""The statistics benchmark's hand-written SQL counts what the engine counts: on the test
database's people (births and deaths at the boundaries of the definitions), the national
counts of ``bench/statistics.py``'s four statements equal the engine's national cells.
The SQL is PostgreSQL's (``age()``, date subtraction), as is the benchmark database."""

from __future__ import annotations

from datetime import date

import pytest

from bench import statistics as bench_statistics
from salomat.core.config import get_settings
from salomat.domains.statistics import service
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(BACKEND != "postgresql", reason="the baseline is PostgreSQL SQL"),
]


async def test_hand_written_counts_equal_the_engine(db, make_place, make_person) -> None:
    from sqlalchemy import update

    from salomat.domains.registry.models import Person

    place = await make_place()
    cases = [
        (date(2019, 1, 1), date(2019, 1, 7), "P07.3"),  # day 6
        (date(2019, 1, 1), date(2019, 1, 8), "P07.3"),  # day 7
        (date(2019, 1, 1), date(2019, 1, 29), "A41.9"),  # day 28
        (date(2018, 6, 1), date(2019, 6, 1), "J18.9"),  # first birthday
        (date(1985, 2, 2), date(2019, 3, 3), "O72.1"),  # maternal
        (date(1975, 2, 2), date(2019, 3, 3), "I21.9"),  # NCD at 44
        (date(1930, 2, 2), date(2019, 3, 3), "I21.9"),  # NCD at 89: not 30-69
    ]
    for born, died, cause in cases:
        p = await make_person(birth_date=born, settlement_code=place.settlement)
        await db.execute(
            update(Person).where(Person.id == p.id).values(deceased_on=died, death_cause=cause)
        )
    await db.commit()
    raw = await bench_statistics.counts_sql()(db, 2019)
    mine = bench_statistics._national(
        await service.compute_period(db, service.parse_period("2019")), get_settings().country
    )
    assert mine == raw
    assert raw["deaths"] >= len(cases)
