"""`salomat demo load` (both packs) gives the demo hospitals their beds by profile and two
weeks of occupancy, and notifies a few cases of demo people through the notification
service; the daily counts then have something to show. Loaded once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack

pytestmark = pytest.mark.anyio
EPI = Principal(user_id=0, username="epi-test", role="epidemiologist", session_id="t")


@pytest.fixture(params=("UZ", "KZ"))
def country(request, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


@pytest.fixture
def scratch(country: str) -> Iterator[tuple[str, date]]:
    """A copy of the demo and the day it was loaded as today (the template's, which may
    be an earlier run's: taking today again could be the next day after midnight)."""
    from tests.conftest import _DEMO, demo_database

    with demo_database("salomat_epidemic_demo", country) as (url, _):
        yield url, _DEMO[(country, ())].days[1]


async def test_demo_beds_occupancy_and_notifications(scratch, country) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.epidemic.models import CaseNotification, OccupancyReport
    from salomat.domains.epidemic.service import capacity, counts
    from salomat.domains.epidemic.service.demo import CASES, load_demo_epidemic

    url, today = scratch
    async with session_factory(url)() as s:
        n = await s.scalar(select(func.count()).select_from(CaseNotification))
        assert n == len(CASES)
        assert await s.scalar(select(func.count()).select_from(OccupancyReport)) > 0
        result = await counts.daily_counts(
            s, level="region", start=today - timedelta(days=20), end=today, by="onset"
        )
        assert int(result.counts.sum()) == len(CASES)
        country_beds = await capacity.region_capacity(s, EPI, None, today - timedelta(days=1))
        by = {p.profile: p for p in country_beds.profiles}
        assert by["infectious"].beds
        assert 0 < by["infectious"].occupied <= by["infectious"].beds
        # loaded once: a second load adds nothing
        data = pack.demo(country)
        assert await load_demo_epidemic(s, data, {}, today=today) == (0, 0)
