"""The indicators computed from the register: the definitions' boundaries, hand counts,
and a recomputation that gives the same figures."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from salomat.domains.statistics import service

pytestmark = pytest.mark.anyio


def _cell(values, indicator: str, area: str, by: str = "", stratum: str = ""):
    return next(
        v for v in values
        if v.indicator == indicator and v.area == area and v.by == by and v.stratum == stratum
    )  # fmt: skip


async def test_infant_neonatal_early_neonatal_boundaries(db, vital) -> None:
    # four babies born on 1 January 2023, dying at 6, 7, 27 and 28 completed days
    born = date(2023, 1, 1)
    for day in (6, 7, 27, 28):
        await vital.death(born, date(2023, 1, 1 + day))
    # born 1 June 2022 (first birthday 365 days later): dying at day 364 and day 365
    await vital.death(date(2022, 6, 1), date(2023, 5, 31))
    await vital.death(date(2022, 6, 1), date(2023, 6, 1))
    # sixteen more live births in 2023 that live
    for i in range(16):
        await vital.born(date(2023, 2, 1 + i), "male" if i % 2 else "female")

    values = await service.compute_period(db, service.parse_period("2023"))
    region = vital.place.region
    assert _cell(values, "live_births", region).value == 20
    assert _cell(values, "early_neonatal_mortality", region).numerator == 1  # day 6 only
    assert _cell(values, "neonatal_mortality", region).numerator == 3  # 6, 7, 27
    infant = _cell(values, "infant_mortality", region)
    assert infant.numerator == 5  # 6, 7, 27, 28, 364; not 365
    assert infant.denominator == 20
    assert infant.value == 250.0  # 5 / 20 x 1000
    assert 0 < infant.ci_low < 250 < infant.ci_high
    assert _cell(values, "under5_mortality", region).numerator == 6
    # the district and the stratum add up the same people
    assert _cell(values, "infant_mortality", vital.place.district).numerator == 5
    assert _cell(values, "live_births", region, "sex", "male").value == 8


async def test_maternal_deaths_by_underlying_cause(db, vital) -> None:
    causes = {
        "O95": True, "O96.0": False, "O97.1": False, "O98.1": True, "A34": True,
        "M83.0": True, "M83.1": False, "F53": True, "O00.1": True, "N18.5": False,
    }  # fmt: skip
    for cause in causes:
        await vital.death(date(1990, 3, 3), date(2023, 4, 4), cause)
    for i in range(10):
        await vital.born(date(2023, 5, 1 + i))
    values = await service.compute_period(db, service.parse_period("2023"))
    mmr = _cell(values, "maternal_mortality_ratio", vital.place.region)
    assert mmr.numerator == sum(causes.values())
    assert mmr.denominator == 10
    assert mmr.value == sum(causes.values()) / 10 * 100_000


async def test_ncd_deaths_feed_sdg_341(db, vital) -> None:
    # a man of 40 dying of a myocardial infarction (I21.9) counts, an accident does not
    await vital.death(date(1982, 1, 1), date(2023, 3, 1), "I21.9", sex="male")
    await vital.death(date(1982, 1, 1), date(2023, 3, 1), "V89.2", sex="male")
    for _ in range(3):
        await vital.born(date(1982, 5, 5), "male")
    values = await service.compute_period(db, service.parse_period("2023"))
    ncd = _cell(values, "ncd_premature_mortality", vital.place.region)
    assert ncd.numerator == 1
    # every other 30-69 group of this region is empty: no probability
    assert ncd.value is None


async def test_recomputing_a_period_gives_the_same_rows(db, vital) -> None:
    from salomat.domains.statistics.models import IndicatorValue

    await vital.death(date(2021, 1, 1), date(2021, 1, 3))
    for i in range(7):
        await vital.born(date(2021, 3, 1 + i))
    period = service.parse_period("2021-01")

    def rows(found):
        return sorted(
            (r.indicator, r.area, r.by, r.stratum, r.numerator, r.denominator, r.value,
             r.ci_low, r.ci_high)
            for r in found
        )  # fmt: skip

    n1 = await service.aggregate_period(db, period)
    await db.commit()
    first = rows(await db.scalars(select(IndicatorValue).where(IndicatorValue.period == "2021-01")))
    n2 = await service.aggregate_period(db, period)
    await db.commit()
    second = rows(
        await db.scalars(select(IndicatorValue).where(IndicatorValue.period == "2021-01"))
    )
    assert n1 == n2 == len(first)
    assert first == second
    region_deaths = [r for r in first if r[0] == "infant_mortality" and r[1] == vital.place.region]
    assert region_deaths[0][4] == 1
