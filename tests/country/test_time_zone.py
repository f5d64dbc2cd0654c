"""Each pack names its civil time zone, and the system's tz database knows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from salomat.country import pack

#: pure rules, no database: they run once, in the SQLite suite (tests/conftest.py)
pytestmark = pytest.mark.no_db


@pytest.mark.parametrize(("country", "zone"), [("UZ", "Asia/Tashkent"), ("KZ", "Asia/Almaty")])
def test_each_pack_names_its_zone_at_utc_plus_five(country, zone):
    tz = pack.time_zone(country)
    assert tz.key == zone
    # Kazakhstan moved to one UTC+5 zone on 1 March 2024 (tzdata 2024a); an older
    # tz database on the server would show every time an hour late
    summer = datetime(2025, 7, 1, 12, tzinfo=UTC).astimezone(tz)
    winter = datetime(2025, 1, 15, 12, tzinfo=UTC).astimezone(tz)
    assert summer.utcoffset() == winter.utcoffset() == timedelta(hours=5)


def test_a_fixed_instant_reads_as_local_wall_time():
    instant = datetime(2026, 3, 8, 21, 30, tzinfo=UTC)
    assert instant.astimezone(pack.time_zone("UZ")).strftime("%Y-%m-%d %H:%M") == (
        "2026-03-09 02:30"
    )
