"""Stillbirths in the synthetic pregnancies (``salomat synth``): birth records whose baby
was stillborn, at 22 completed weeks or more, about as many per live birth as the
population pack's ``vital.stillbirth_rate`` (per 1,000 total births at 28+ weeks) gives
with the 22-27-week ones on top."""

from __future__ import annotations

import math

import pytest

from salomat.country import pack
from salomat.domains.maternal.service.synth import EARLY_STILLBIRTHS
from tests.domains.maternal.test_synth import load, rows
from tests.synth_support import empty_database

PEOPLE = 30_000


@pytest.mark.parametrize("country", ["UZ", "KZ"])
def test_stillbirths_at_the_pack_rate_from_22_weeks(country: str):
    with empty_database() as url:
        load(country, 3, url, PEOPLE)
        babies = rows(
            url,
            "SELECT b.outcome, r.ga_days FROM birth_baby b "
            "JOIN birth_record r ON r.id = b.birth_id",
        )
    live = sum(1 for b in babies if b["outcome"] == "live")
    still = [b["ga_days"] for b in babies if b["outcome"] == "stillbirth"]
    assert live > 500
    rate = pack.load(country, "population")["vital"]["stillbirth_rate"] / 1000
    p = rate / (1 - rate) * (1 + EARLY_STILLBIRTHS)
    expected = live * p
    # a Poisson count: 4.5 standard deviations either side (some draws overlap a recent
    # birth and are dropped, so the lower side is wider)
    assert (
        expected - 5 * math.sqrt(expected) - 2
        <= len(still)
        <= expected + 4.5 * math.sqrt(expected) + 1
    ), (len(still), expected)
    assert still, "no stillbirth drawn"
    assert all(22 * 7 <= ga <= 41 * 7 for ga in still)
