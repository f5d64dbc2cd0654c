"""FHIR dates as intervals and ``system|value`` tokens (property tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.record.service.tokens import LATEST, fhir_interval, parse_token

pytestmark = pytest.mark.no_db

moments = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
)
zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


def _zone(at: datetime) -> str:
    off = at.utcoffset() or timedelta()
    if off == timedelta():
        return "Z"
    sign = "-" if off < timedelta() else "+"
    minutes = abs(int(off.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@given(moments, zones, st.sampled_from(["year", "month", "day", "minute", "second", "ms"]))
def test_a_value_stands_for_the_interval_of_its_precision(at, zone, precision):
    local = at.astimezone(zone)
    text = {
        "year": f"{local.year:04d}",
        "month": f"{local.year:04d}-{local.month:02d}",
        "day": local.strftime("%Y-%m-%d"),
        "minute": local.strftime("%Y-%m-%dT%H:%M") + _zone(local),
        "second": local.strftime("%Y-%m-%dT%H:%M:%S") + _zone(local),
        "ms": local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"
        + _zone(local),
    }[precision]  # fmt: skip
    start, end = fhir_interval(text)
    assert start.tzinfo is not None
    assert end.tzinfo is not None
    assert start < end
    if precision in ("minute", "second", "ms"):
        # the moment itself lies in the interval; its length is the precision
        assert start <= at < end
        step = {"minute": 60, "second": 1, "ms": 0.001}[precision]
        assert (end - start).total_seconds() == pytest.approx(step)
    else:
        # dates are read in UTC: the local calendar date, as a UTC day/month/year
        naive = datetime(local.year, local.month if precision != "year" else 1,
                         local.day if precision == "day" else 1, tzinfo=UTC)  # fmt: skip
        assert start == naive
        assert end - start >= timedelta(days=1)
        # the next interval starts where this one ends
        assert fhir_interval(_next(text, precision))[0] == end or end == LATEST


def _next(text: str, precision: str) -> str:
    _start, end = fhir_interval(text)
    return {"year": f"{end.year:04d}", "month": end.strftime("%Y-%m"),
            "day": end.strftime("%Y-%m-%d")}[precision]  # fmt: skip


@given(st.text(max_size=40))
def test_any_text_is_an_interval_or_a_value_error(text):
    try:
        start, end = fhir_interval(text)
    except ValueError:
        return
    assert start < end or end == LATEST


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-02-30", "2026-03-05T10:00", "2026-03-05T10:00:00", "2026-3-5", "26",
     "2026-03-05T10:00:00+15:00", "2026-03-05T24:00:00Z", "0000", "２０２６"],
)  # fmt: skip
def test_these_are_not_dates(text):
    with pytest.raises(ValueError, match=r".+"):
        fhir_interval(text)


def test_the_end_of_time_is_cut():
    assert fhir_interval("9999")[1] == LATEST
    assert fhir_interval("9999-12-31T23:59:59Z")[1] == LATEST


def _escape(text: str) -> str:
    return "".join("\\" + c if c in "\\|,$" else c for c in text)


@given(st.text(max_size=30), st.text(min_size=1, max_size=30))
def test_a_token_round_trips_through_its_escaped_form(system, value):
    assert parse_token(f"{_escape(system)}|{_escape(value)}") == (system, value)
    assert parse_token(_escape(value)) == (None, value)


@given(st.text(max_size=60))
def test_any_text_is_a_token_or_a_value_error(text):
    try:
        system, value = parse_token(text)
    except ValueError:
        return
    assert value
    assert system is None or isinstance(system, str)


def test_tokens():
    assert parse_token("http://loinc.org|8867-4") == ("http://loinc.org", "8867-4")
    assert parse_token("8867-4") == (None, "8867-4")
    assert parse_token("|x") == ("", "x")
    assert parse_token("a|b|c") == ("a", "b|c")
    for bad in ("", "a|", "|"):
        with pytest.raises(ValueError, match="needs a value"):
            parse_token(bad)
