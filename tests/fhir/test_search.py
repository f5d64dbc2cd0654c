"""Properties of the FHIR date search parameter and of language negotiation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from salomat.core.errors import Invalid
from salomat.core.i18n import COUNTRY_DEFAULT, LANGUAGES, negotiate
from salomat.fhir.search import LATEST, PREFIXES, parse_date_param

# no example database: the run leaves no .hypothesis/ behind in the tree
SETTINGS = settings(database=None, deadline=None, max_examples=200)
DAY = timedelta(days=1)

dates = st.dates(min_value=date(1, 1, 2), max_value=date(9999, 12, 30))
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timedelta(minutes=m))
fields = st.sampled_from(["date", "recorded", "_lastUpdated"])


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def zone(offset: timedelta) -> str:
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def at_precision(t: datetime, precision: str) -> str:
    """``t`` (UTC) written as a FHIR date/dateTime of the given precision."""
    day = t.date().isoformat()  # zero-pads the year, unlike strftime
    return {
        "year": day[:4],
        "month": day[:7],
        "day": day,
        "minute": f"{day}T{t:%H:%M}Z",
        "second": f"{day}T{t:%H:%M:%S}Z",
        "millisecond": f"{day}T{t:%H:%M:%S}.{t.microsecond // 1000:03d}Z",
        "microsecond": f"{day}T{t:%H:%M:%S}.{t.microsecond:06d}Z",
    }[precision]


precisions = st.sampled_from(
    ["year", "month", "day", "minute", "second", "millisecond", "microsecond"]
)


def interval(value: str) -> tuple[datetime, datetime]:
    since, until = parse_date_param([value])
    assert since is not None
    assert until is not None
    return since, until


# ---- parse_date_param -------------------------------------------------------


@SETTINGS
@given(dates)
@example(date(2024, 2, 29))
@example(date(2026, 12, 31))
def test_eq_a_date_is_that_whole_day_in_utc(d):
    since, until = interval(f"eq{d.isoformat()}")
    assert since == midnight(d)
    assert until - since == DAY
    assert since.tzinfo is UTC
    assert until.tzinfo is UTC
    # no prefix means eq
    assert parse_date_param([d.isoformat()]) == (since, until)


@SETTINGS
@given(dates, dates)
def test_ge_and_lt_give_an_empty_or_well_ordered_interval(a, b):
    since, until = parse_date_param([f"ge{a.isoformat()}", f"lt{b.isoformat()}"])
    assert (since, until) == (midnight(a), midnight(b))
    if a < b:
        assert until - since == (b - a)
    else:
        assert since >= until  # empty: matches nothing
    # a single date with both bounds is empty
    since, until = parse_date_param([f"ge{a.isoformat()}", f"lt{a.isoformat()}"])
    assert since == until


@SETTINGS
@given(instants, precisions)
@example(datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "year")
@example(datetime(2026, 12, 15, tzinfo=UTC), "month")
def test_a_value_covers_its_precision_and_the_prefixes_agree(t, precision):
    """eq contains the instant; gt/sa start after it, lt/eb end before it, ge/le include it."""
    value = at_precision(t, precision)
    since, until = interval(value)
    assert since <= t < until
    if precision == "microsecond":
        assert until - since == timedelta(microseconds=1)
    if precision == "minute":
        assert until - since == timedelta(minutes=1)
    gt = parse_date_param([f"gt{value}"])
    assert gt == parse_date_param([f"sa{value}"]) == (until, None)
    lt = parse_date_param([f"lt{value}"])
    assert lt == parse_date_param([f"eb{value}"]) == (None, since)
    assert parse_date_param([f"ge{value}"]) == (since, None)
    assert parse_date_param([f"le{value}"]) == (None, until)
    assert not (gt[0] <= t)
    assert not (t < lt[1])


@SETTINGS
@given(instants, offsets)
def test_a_time_written_in_any_zone_is_the_same_instant(t, offset):
    t = t.replace(microsecond=0)
    local = t.astimezone(timezone(offset))
    written = f"{local.date().isoformat()}T{local:%H:%M:%S}{zone(offset)}"
    assert interval(written) == interval(at_precision(t, "second"))
    # an unencoded "+" in a query string arrives as a space: still understood
    assert interval(written.replace("+", " ")) == interval(written)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.sampled_from(["eq", "ge", "gt", "le", "lt", "sa", "eb", ""]), dates),
        min_size=1,
        max_size=5,
    ),
    st.randoms(use_true_random=False),
)
def test_several_values_narrow_the_interval_in_any_order(items, rnd):
    values = [f"{p}{d.isoformat()}" for p, d in items]
    since, until = parse_date_param(values)
    shuffled = list(values)
    rnd.shuffle(shuffled)
    assert parse_date_param(shuffled) == (since, until)
    for v in values:
        s1, u1 = parse_date_param([v])
        assert s1 is None or (since is not None and since >= s1)
        assert u1 is None or (until is not None and until <= u1)


@SETTINGS
@given(
    st.one_of(
        st.text(max_size=30),
        st.text(alphabet="0123456789-T:Z+. W", max_size=32),
        st.sampled_from(PREFIXES).flatmap(
            lambda p: st.text(alphabet="0123456789-T:Z+.", max_size=30).map(lambda s: p + s)
        ),
    ),
    fields,
)
@example("eq9999-12-31", "date")
@example("9999-12-31T23:59:59Z", "date")
@example("0001-01-01T00:30:00+01:00", "date")
def test_any_string_either_parses_or_is_refused_naming_the_field(raw, field):
    """Never a crash (a 500): a value is understood or refused as Invalid for ``field``."""
    refused: Invalid | None = None
    try:
        bounds = parse_date_param([raw], field=field)
    except Invalid as e:
        refused = e
    if refused is not None:
        assert refused.status == 422
        assert [err.field for err in refused.errors] == [field]
        assert field in refused.detail
        return
    for bound in bounds:
        assert bound is None or bound.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("2026-13", ""),
        ("2026-02-30", ""),
        ("26-01-01", ""),
        ("2026/01/01", ""),
        ("2026-W01-1", ""),  # an ISO week date, not a FHIR date
        ("２０２６", ""),  # fullwidth digits
        (" 2026", ""),
        ("2026-01-01 10:00:00Z", ""),
        ("2026-01-01T10:00", "a time needs a zone"),
        ("2026-01-01T10:00:00+15:00", "at most 14:00"),
        ("0001-01-01T00:30:00+01:00", "out of range"),
        ("ne2026-01-01", "prefix 'ne' is not supported"),
        ("ap2026-01-01", "prefix 'ap' is not supported"),
        ("", ""),
    ],
)
def test_malformed_values_are_refused_with_a_reason(raw, hint):
    with pytest.raises(Invalid) as caught:
        parse_date_param(["ge2026-01-01", raw], field="recorded")
    (err,) = caught.value.errors
    assert err.field == "recorded"
    assert hint in err.message


def test_the_end_of_the_calendar_is_a_bound_not_a_crash():
    assert interval("eq9999-12-31") == (midnight(date(9999, 12, 31)), LATEST)
    assert parse_date_param(["le9999"]) == (None, LATEST)
    assert parse_date_param(["gt9999-12"]) == (LATEST, None)


def test_precision_is_taken_from_the_value():
    start = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
    assert interval("2026-11-23T10:05Z") == (start, start + timedelta(minutes=1))
    assert interval("2026-11-23T10:05:00Z") == (start, start + timedelta(seconds=1))
    assert interval("2026-11-23T10:05:00.5Z") == (
        start + timedelta(milliseconds=500),
        start + timedelta(milliseconds=600),
    )
    # more digits than a database keeps: the microsecond that holds the value
    assert interval("2026-11-23T10:05:00.1234567Z") == (
        start + timedelta(microseconds=123456),
        start + timedelta(microseconds=123457),
    )
    assert interval("2026-11") == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert interval("2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)
    assert interval("2026-11-23T10:05:00+05:00")[0] == start - timedelta(hours=5)


# ---- language negotiation ---------------------------------------------------

languages = st.sampled_from(sorted(LANGUAGES))
countries = st.sampled_from(["UZ", "KZ", "TJ", ""])
#: tags that name no language Salomat speaks
foreign_tags = st.sampled_from(["de", "fr-FR", "tr", "zh-Hant-TW", "*", "x-klingon", "uzb", "e"])
qvalues = st.sampled_from(["", ";q=1", ";q=0.9", ";q=0.5", ";q=0.001"])
anything = st.one_of(st.none(), st.text(max_size=20))


def accept(tags: list[str]) -> str:
    return ", ".join(tags)


@SETTINGS
@given(anything, anything, st.one_of(st.none(), st.text(max_size=60)), countries)
@example(None, None, "ru;q=nan, en;q=0.1", "UZ")
@example(None, None, ";;;,,,-;q=", "KZ")
def test_the_result_is_always_a_language_we_speak(cookie, pref, accept_language, country):
    lang = negotiate(
        cookie=cookie, user_pref=pref, accept_language=accept_language, country=country
    )
    assert lang in LANGUAGES


@SETTINGS
@given(languages, anything, st.one_of(st.none(), st.text(max_size=60)), countries)
def test_an_explicit_cookie_always_wins(cookie, pref, accept_language, country):
    assert (
        negotiate(cookie=cookie, user_pref=pref, accept_language=accept_language, country=country)
        == cookie
    )


@SETTINGS
@given(anything.filter(lambda c: c not in LANGUAGES), languages, anything, countries)
def test_the_accounts_preference_comes_before_the_browser(cookie, pref, accept_language, country):
    assert (
        negotiate(cookie=cookie, user_pref=pref, accept_language=accept_language, country=country)
        == pref
    )


@SETTINGS
@given(
    st.lists(st.tuples(foreign_tags, qvalues).map("".join), max_size=4),
    st.sampled_from(["UZ", "KZ"]),
)
def test_the_country_default_applies_when_nothing_matches(tags, country):
    lang = negotiate(cookie="xx", user_pref=None, accept_language=accept(tags), country=country)
    assert lang == COUNTRY_DEFAULT[country]
    assert negotiate(cookie=None, user_pref=None, accept_language=None, country="TJ") == "en"


@SETTINGS
@given(
    st.lists(languages, min_size=1, max_size=4, unique=True),
    st.sampled_from(["", "-RU", "-Latn", "-KZ"]),
    st.lists(foreign_tags, max_size=2),
)
def test_the_browser_language_with_the_highest_weight_wins(ours, region, theirs):
    weights = [f"{0.9 - i / 10:.1f}" for i in range(len(ours))]
    tags = [f"{code}{region};q={w}" for code, w in zip(ours, weights, strict=True)]
    tags += [f"{t};q=1" for t in theirs]
    rotated = tags[1:] + tags[:1]
    for header in (accept(tags), accept(rotated)):
        assert (
            negotiate(cookie=None, user_pref=None, accept_language=header, country="KZ")
            == (ours[0])
        )


@SETTINGS
@given(languages, st.sampled_from(["UZ", "KZ"]))
def test_a_language_refused_with_q0_is_never_chosen(lang, country):
    header = f"{lang};q=0"
    assert (
        negotiate(cookie=None, user_pref=None, accept_language=header, country=country)
        == (COUNTRY_DEFAULT[country])
    )
    header = f"{lang};q=0, de"
    assert (
        negotiate(cookie=None, user_pref=None, accept_language=header, country=country)
        == (COUNTRY_DEFAULT[country])
    )


def test_weights_may_be_written_with_spaces():
    header = "ru ; q=0.4, en; q=0.5"
    assert negotiate(cookie=None, user_pref=None, accept_language=header, country="UZ") == "en"
