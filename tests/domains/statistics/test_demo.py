"""The engine on the demo (both packs): infant, neonatal and early-neonatal mortality of
the counted district equal demo.yaml's hand count, and the district with 3 deaths shows
a suppressed cell in the public CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date

import pytest

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack

pytestmark = pytest.mark.anyio
ANALYST = Principal(user_id=0, username="statistics-test", role="analyst", session_id="t")


@pytest.fixture
def scratch(country: str) -> Iterator[str]:
    """A database where the pack's demo is loaded (`salomat demo load`: a copy of the
    run's loaded demo, tests/conftest.py ``demo_database``)."""
    from tests.conftest import demo_database

    with demo_database("salomat_statistics_demo", country) as (url, _):
        yield url


@pytest.fixture(params=("UZ", "KZ"))
def country(request, monkeypatch):
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


def _cell(values, indicator: str, area: str):
    return next(v for v in values if v.indicator == indicator and v.area == area and v.by == "")


async def test_demo_mortality_equals_the_hand_count(scratch, country) -> None:
    from salomat.domains.statistics import service

    data = pack.demo(country)
    spec = data["vital_statistics"]
    counted = spec["counted"]
    # the hand count, from demo.yaml: births of the last complete year in the district,
    # and the ages at death in days of those who died
    births = len(counted)
    ages = [p["died_at_day"] for p in counted if "died_at_day" in p]
    year = str(date.today().year - 1)
    async with session_factory(scratch)() as s:
        values = await service.compute_period(s, service.parse_period(year))
        district = spec["counted_district"]
        assert _cell(values, "live_births", district).value == births
        infant = _cell(values, "infant_mortality", district)
        assert infant.numerator == sum(1 for a in ages if a < 365)
        assert infant.denominator == births
        assert infant.value == pytest.approx(1000 * infant.numerator / births)
        assert _cell(values, "neonatal_mortality", district).numerator == sum(
            1 for a in ages if a <= 27
        )
        assert _cell(values, "early_neonatal_mortality", district).numerator == sum(
            1 for a in ages if a <= 6
        )

        # the district with 3 deaths: suppressed in the public CSV of the region's districts
        small = spec["suppressed_district"]
        assert _cell(values, "crude_death_rate", small).numerator == 3
        vs = await service.indicator_values(
            s, ANALYST, "crude_death_rate", year, area=None, by="district"
        )
        text = service.values_csv(vs).text
        rows = list(csv.DictReader(io.StringIO(text)))
        line = next(r for r in rows if r["area"] == small)
        assert line["suppressed"] == "1"
        assert line["value"] == ""
        assert line["numerator"] == ""
        await s.rollback()
