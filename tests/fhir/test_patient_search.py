"""Patient search as issue 18 item 5 asks it: date prefixes on birthdate (R4 search,
"date": a birth date is the interval of its day), ``_count=0`` and ``_summary=count``,
``_id``, ``_lastUpdated``, ``_sort``, comma OR, ``_elements``; each declared in
/fhir/metadata with its definition."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.core.fhir_dates import date_value
from salomat.domains.registry.service import birth_date_condition
from salomat.fhir.patient_api import SEARCH_PARAMS
from tests.factories import national_id_for, unique_name
from tests.fhir.test_patient import bundle, country, expressions, ids, outcome, registrar, system

__all__ = ["registrar"]

pytestmark = pytest.mark.anyio

DAY = date(1990, 1, 1)
SUBSETTED = "SUBSETTED"


@pytest.fixture
async def born(make_person) -> dict[str, Any]:
    """Three people of one family born the day before, on and after 1990-01-01."""
    family = unique_name("Bd")
    out: dict[str, Any] = {"family": family}
    for key, day, sex in (
        ("before", DAY - timedelta(days=1), "female"),
        ("on", DAY, "male"),
        ("after", DAY + timedelta(days=1), "female"),
    ):
        nid = national_id_for(day, sex, country())
        out[key] = await make_person(
            family_name=family,
            given_name=unique_name("Gv"),
            birth_date=day,
            sex=sex,
            national_id=nid,
            duplicate_reason="a family born on three days",
        )
    return out


async def _found(client, headers, **params: Any) -> list[str]:
    return ids(bundle(await client.get("/fhir/Patient", params=params, headers=headers)))


async def test_birthdate_prefixes_at_a_days_boundaries(client, registrar, born):
    """One day below, at and above the value, for each prefix (R4 search, date: the
    birth date is its day; ge / le include eq; sa / eb wholly after / before)."""
    before, on, after = (str(born[k].id) for k in ("before", "on", "after"))

    async def found(value: str) -> set[str]:
        return set(await _found(client, registrar, family=born["family"], birthdate=value))

    day = DAY.isoformat()
    assert await found(day) == {on}
    assert await found(f"eq{day}") == {on}
    assert await found(f"ne{day}") == {before, after}
    assert await found(f"gt{day}") == {after}
    assert await found(f"ge{day}") == {on, after}
    assert await found(f"lt{day}") == {before}
    assert await found(f"le{day}") == {before, on}
    assert await found(f"sa{day}") == {after}
    assert await found(f"eb{day}") == {before}
    assert on in await found(f"ap{day}")
    assert await found("ap1950-06-01") == set()
    # partial dates stand for their interval
    assert await found("1990") == {on, after}
    assert await found("1989-12") == {before}
    assert await found("ge1990") == {on, after}
    assert await found("lt1990-01") == {before}
    assert await found("sa1989") == {on, after}
    # a time: the day holds 10:00 (ge / le) but is not wholly after / before it
    assert await found("ge1990-01-01T10:00:00Z") == {on, after}
    assert await found("gt1990-01-01T10:00:00Z") == {on, after}
    assert await found("le1990-01-01T10:00:00Z") == {before, on}
    assert await found("sa1990-01-01T10:00:00Z") == {after}
    assert await found("eq1990-01-01T10:00:00Z") == set()
    # repeated: all of them; a comma: any of them
    assert set(
        await _found(
            client,
            registrar,
            family=born["family"],
            birthdate=[f"ge{(DAY - timedelta(days=1)).isoformat()}", f"lt{day}"],
        )
    ) == {before}
    assert await found("1989-12-31,1990-01-02") == {before, after}


async def test_count_zero_and_summary_count_give_the_total_only(client, registrar, born):
    for params in ({"_count": "0"}, {"_summary": "count"}):
        r = await client.get(
            "/fhir/Patient", params={"family": born["family"], **params}, headers=registrar
        )
        b = bundle(r)
        assert b["total"] == 3, params
        assert "entry" not in b
        assert b["link"][0]["relation"] == "self"


async def test_id_identifier_gender_and_names_take_comma_alternatives(
    client, registrar, born, make_person
):
    before, on, after = (born[k] for k in ("before", "on", "after"))

    async def found(**params: Any) -> set[str]:
        return set(await _found(client, registrar, **params))

    assert await found(_id=str(on.id)) == {str(on.id)}
    assert await found(_id=f"{on.id},{after.id},abc") == {str(on.id), str(after.id)}
    assert await found(_id=f"{on.id},{after.id}", gender="female") == {str(after.id)}
    assert await found(_id="999999999") == set()
    tokens = f"{system()}|{before.national_id},{after.national_id}"
    assert await found(identifier=tokens) == {str(before.id), str(after.id)}
    assert await found(identifier=f"http://other.example|x,{on.national_id}") == {str(on.id)}
    assert await found(family=born["family"], gender="male,female") == {
        str(p.id) for p in (before, on, after)
    }
    assert await found(family=born["family"], gender="male,other") == {str(on.id)}
    # names: any of them
    other = await make_person(family_name=unique_name("Ot"), given_name=unique_name("Ov"))
    assert await found(family=f"{born['family']},{other.family_name}") == {
        str(p.id) for p in (before, on, after, other)
    }
    assert await found(family=f"{other.family_name},{born['family']}", birthdate="1990") == {
        str(on.id),
        str(after.id),
    }


async def test_general_practitioner_takes_alternatives(
    client, registrar, make_person, make_facility
):
    a, b = await make_facility(), await make_facility()
    family = unique_name("Gp")
    pa = await make_person(a.code, family_name=family)
    pb = await make_person(b.code, family_name=family, duplicate_reason="the family elsewhere")
    await make_person(family_name=family, duplicate_reason="the family unattached")
    got = await _found(
        client,
        registrar,
        family=family,
        **{"general-practitioner": f"Organization/{a.id},Organization/{b.id}"},
    )
    assert set(got) == {str(pa.id), str(pb.id)}


async def test_sort_by_birthdate_family_and_last_updated(client, registrar, born, make_person):
    before, on, after = (str(born[k].id) for k in ("before", "on", "after"))
    family = born["family"]
    assert await _found(client, registrar, family=family, _sort="birthdate") == [
        before,
        on,
        after,
    ]
    assert await _found(client, registrar, family=family, _sort="-birthdate") == [
        after,
        on,
        before,
    ]
    # last updated: the order they were registered in (each later than the one before)
    assert await _found(client, registrar, family=family, _sort="_lastUpdated") == [
        before,
        on,
        after,
    ]
    assert await _found(client, registrar, family=family, _sort="-_lastUpdated") == [
        after,
        on,
        before,
    ]
    a = await make_person(family_name=f"Aa{unique_name('x')}", given_name="Zamira")
    z = await make_person(family_name=f"Zz{unique_name('x')}", given_name="Zamira")
    ids_ = f"{z.id},{a.id}"
    assert await _found(client, registrar, _id=ids_, _sort="family") == [str(a.id), str(z.id)]
    assert await _found(client, registrar, _id=ids_, _sort="-family") == [str(z.id), str(a.id)]
    # pages of a sorted search follow the order
    first = bundle(
        await client.get(
            "/fhir/Patient",
            params={"family": family, "_sort": "-birthdate", "_count": "1", "_offset": "1"},
            headers=registrar,
        )
    )
    assert ids(first) == [on]
    assert first["total"] == 3


async def test_last_updated(client, registrar, born):
    family = born["family"]
    now = datetime.now(UTC)
    every = {str(born[k].id) for k in ("before", "on", "after")}
    day_ago = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert set(await _found(client, registrar, family=family, _lastUpdated=f"ge{day_ago}")) == (
        every
    )
    assert await _found(client, registrar, family=family, _lastUpdated="lt2000") == []
    assert set(
        await _found(client, registrar, family=family, _lastUpdated=f"lt2000,gt{day_ago}")
    ) == (every)


async def test_elements_subsets_each_match(client, registrar, born):
    r = await client.get(
        "/fhir/Patient",
        params={"_id": str(born["on"].id), "_elements": "gender,birthDate,deceased"},
        headers=registrar,
    )
    (entry,) = bundle(r)["entry"]
    res = entry["resource"]
    assert set(res) == {"resourceType", "id", "meta", "gender", "birthDate"}
    assert SUBSETTED in [t["code"] for t in res["meta"]["tag"]]
    assert res["meta"]["versionId"]


async def test_a_clinician_sees_only_her_people_whatever_names_them(
    client, make_user, make_person, login
):
    nurse = await make_user("nurse")
    family = unique_name("Sc")
    mine = await make_person(nurse.facility_code, family_name=family)
    theirs = await make_person(family_name=family, duplicate_reason="a namesake elsewhere")
    headers = await login(nurse)
    for params in (
        {"_id": f"{mine.id},{theirs.id}"},
        {"family": family, "_sort": "-birthdate"},
        {"family": family, "birthdate": "ge1900"},
    ):
        b = bundle(await client.get("/fhir/Patient", params=params, headers=headers))
        assert ids(b) == [str(mine.id)], params
        assert b["total"] == 1
    counted = bundle(
        await client.get("/fhir/Patient", params={"family": family, "_count": "0"}, headers=headers)
    )
    assert counted["total"] == 1


async def test_metadata_declares_each_parameter_with_its_definition(client, registrar):
    cs = bundle_free = (await client.get("/fhir/metadata")).json()
    assert bundle_free["resourceType"] == "CapabilityStatement"
    (patient,) = [r for r in cs["rest"][0]["resource"] if r["type"] == "Patient"]
    declared = {p["name"]: p for p in patient["searchParam"]}
    for name in ("birthdate", "_id", "_lastUpdated", "_sort", "_summary", "_elements", "_count"):
        assert declared[name].get("documentation"), name
    assert "ge" in declared["birthdate"]["documentation"]
    assert set(SEARCH_PARAMS) | {"_count"} == set(declared)
    # each declared parameter is taken (beside a name)
    samples = {
        "_id": "1",
        "identifier": "x",
        "name": "Abc",
        "family": "Abc",
        "given": "Abc",
        "birthdate": "ge1990-01-01",
        "gender": "female,male",
        "general-practitioner": "Organization/1",
        "_lastUpdated": "ge2000",
        "_sort": "-birthdate,family",
        "_summary": "count",
        "_elements": "gender",
        "_offset": "0",
        "_count": "5",
    }
    for name in declared:
        r = await client.get(
            "/fhir/Patient", params={"family": "Abc", name: samples[name]}, headers=registrar
        )
        assert r.status_code == 200, (name, r.text)
    r = await client.get("/fhir/Patient", params={"family": "Abc", "x": "1"}, headers=registrar)
    assert expressions(outcome(r, 422)) == {"x"}


# ---- the prefix reading, against R4's definitions --------------------------------------------

_engine = sa.create_engine("sqlite://")


def _holds(day: date, raw: str) -> bool:
    """``birth_date_condition`` evaluated by SQLite for one birth day."""
    prefix, lower, upper = date_value(raw, "birthdate")
    cond = birth_date_condition(sa.literal(day, sa.Date), prefix, lower, upper)
    with _engine.connect() as c:
        return bool(c.scalar(sa.select(sa.case((cond, 1), else_=0))))


def _r4(day: date, raw: str) -> bool:
    """R4 search, "date", read literally: the target is [day, day + 1) in UTC, the value
    [lower, upper)."""
    prefix, lower, upper = date_value(raw, "birthdate")
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    within = lower <= start and end <= upper
    return {
        "eq": within,
        "ne": not within,
        "gt": end > upper,
        "lt": start < lower,
        "ge": end > upper or within,
        "le": start < lower or within,
        "sa": start >= upper,
        "eb": end <= lower,
    }[prefix]


_days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
_zones = st.sampled_from(["Z", "+05:00", "-03:30", "+14:00"])


@st.composite
def _values(draw: Any) -> str:
    d = draw(_days)
    precision = draw(st.sampled_from(["year", "month", "day", "minute", "second"]))
    if precision == "year":
        text = f"{d.year:04d}"
    elif precision == "month":
        text = f"{d.year:04d}-{d.month:02d}"
    elif precision == "day":
        text = d.isoformat()
    else:
        h, m, s = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
        text = f"{d.isoformat()}T{h:02d}:{m:02d}"
        text += f":{s:02d}" if precision == "second" else ""
        text += draw(_zones)
    prefix = draw(st.sampled_from(["", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]))
    return prefix + text


@settings(deadline=None, max_examples=400)
@given(day=_days, raw=_values())
def test_the_prefix_reading_is_r4s(day: date, raw: str) -> None:
    assert _holds(day, raw) == _r4(day, raw), (day, raw)


@settings(deadline=None, max_examples=100)
@given(day=_days, raw=_values())
def test_a_day_one_below_at_and_above_is_read_as_r4_reads_it(day: date, raw: str) -> None:
    for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
        assert _holds(d, raw) == _r4(d, raw), (d, raw)


# ---- no value makes the search a server error ---------------------------------------------

_names = st.sampled_from([*sorted(SEARCH_PARAMS), "_count", "family:exact", "name:contains"])
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(
    deadline=None, max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=st.lists(st.tuples(_names, _text), min_size=1, max_size=4))
async def test_any_value_of_any_parameter_is_answered_or_refused_by_name(client, registrar, drawn):
    r = await client.get("/fhir/Patient", params=[("family", "Abc"), *drawn], headers=registrar)
    assert r.status_code in (200, 422), (drawn, r.text)
    if r.status_code == 422:
        named = expressions(outcome(r, 422))
        assert named, r.text
        assert named <= {k for k, _ in drawn} | {"identifier", "name", "family"}, (drawn, named)
