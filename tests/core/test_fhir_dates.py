"""core.fhir_dates: the one reading of FHIR dates that the record's stored times and
every date search parameter share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.core.fhir_dates import DateHint, date_value, fhir_interval, split_prefix

SETTINGS = settings(database=None, deadline=None, max_examples=200)

values = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).flatmap(
        lambda t: st.sampled_from(
            [
                t.date().isoformat()[:4],
                t.date().isoformat()[:7],
                t.date().isoformat(),
                f"{t.date().isoformat()}T{t:%H:%M}Z",
                f"{t.date().isoformat()}T{t:%H:%M:%S}+05:00",
                f"{t.date().isoformat()}T{t:%H:%M:%S}.{t.microsecond:06d}-03:30",
            ]
        )
    ),
    st.text(alphabet="0123456789-T:Z+. ", max_size=30),
)


@SETTINGS
@given(values, st.sampled_from(["", "eq", "ge", "lt", "sa", "ap"]))
def test_a_stored_time_and_a_searched_one_are_the_same_interval(value, prefix):
    """What the record stores for a time (fhir_interval) is what a search for that time
    compares with (date_value): one reading, or both refuse it."""
    try:
        stored = fhir_interval(value)
    except ValueError:
        stored = None
    refused: Invalid | None = None
    try:
        searched: tuple[str, datetime, datetime] | None = date_value(prefix + value, "date")
    except Invalid as e:
        refused, searched = e, None
    if refused is not None:
        assert [err.field for err in refused.errors] == ["date"]
    if stored is None or searched is None:
        # a space in the zone is a query string's "+": searches take it, stored times not
        assert searched is None or " " in value
        return
    assert searched == (prefix or "eq", *stored)
    assert stored[0] < stored[1]
    assert stored[0].utcoffset() == timedelta(0)


def test_a_space_in_the_zone_of_a_search_value_is_a_plus():
    assert date_value("ge2026-01-01T10:00 05:00") == (
        "ge",
        datetime(2026, 1, 1, 5, tzinfo=UTC),
        datetime(2026, 1, 1, 5, 1, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="not a FHIR date"):
        fhir_interval("2026-01-01T10:00 05:00")


@pytest.mark.parametrize(
    ("value", "hint"),
    [("2026-01-01T10:00", "zone"), ("2026-01-01T10:00+15:00", "14:00")],
)
def test_the_reasons_worth_showing_are_hints(value, hint):
    with pytest.raises(DateHint, match=hint):
        fhir_interval(value)
    with pytest.raises(Invalid) as caught:
        date_value(value, "onset")
    assert hint in caught.value.errors[0].message


def test_a_value_without_a_prefix_is_eq():
    assert split_prefix("2024") == ("eq", "2024")
    assert split_prefix("le2024") == ("le", "2024")
