"""`salomat demo load` (both packs) gives every demo settlement a census figure equal to
its territory.csv population (source marked illustrative) and the planning staff with
their FTE; the gap list and staffing of the demo region then have something to show.
It also draws the region's SYNTHETIC roads (the access figures are then along roads) and
loads a mobile team with its calendar and the visits of demo.yaml's ``mobile_team``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.core.config import get_settings
from salomat.core.db import session_factory
from salomat.core.security import Principal
from salomat.country import pack

pytestmark = pytest.mark.anyio
PLANNER = Principal(user_id=0, username="planning-test", role="planner", session_id="t")


@pytest.fixture(params=("UZ", "KZ"))
def country(request, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SALOMAT_COUNTRY", request.param)
    get_settings.cache_clear()
    yield request.param
    get_settings.cache_clear()


@pytest.fixture
def scratch(country: str) -> Iterator[str]:
    from tests.conftest import demo_database

    with demo_database("salomat_planning_demo", country) as (url, _):
        yield url


def _csv_populations(country: str) -> dict[str, int]:
    """Each settlement's population summed from the pack's territory.csv (the reference)."""
    path = pack.PACKS_DIR / country / "territory.csv"
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    out = {}
    for row in csv.DictReader(lines):
        if row["level"] == "settlement":
            out[row["code"]] = sum(
                int(v) for k, v in row.items() if k.startswith(("male_", "female_")) and v
            )
    return out


async def test_demo_census_and_staff(scratch, country) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.planning import service

    expected = _csv_populations(country)
    region = pack.demo(country)
    async with session_factory(scratch)() as s:
        rows = await service.settlement_rows(s, PLANNER, None)
        got = {r.code: r for r in rows if r.code in expected}
        assert {c: r.census_population for c, r in got.items()} == expected
        assert all(r.population_origin == "census" for r in got.values())
        assert all("territory.csv" in (r.census_source or "") for r in got.values())
        report = await service.staffing(s, PLANNER, None)
        doctors = sum(
            Decimal(str(x["fte"]))
            for x in region["planning"]["staff"]
            if x["position"] == "family_doctor"
        )
        gp = next(x for x in report.by_position if x.position == "family_doctor")
        assert gp.filled == doctors
        # loaded once: a second load adds nothing
        assert await service.load_demo_planning(s, PLANNER, region["planning"]) == (0, 0)


def _territory(country: str) -> list[dict[str, str]]:
    path = pack.PACKS_DIR / country / "territory.csv"
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


async def test_demo_roads_are_synthetic_and_access_is_along_them(scratch, country) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from salomat.domains.planning.models_roads import RoadEdge, RoadNode
    from salomat.domains.planning.service import access

    rows = _territory(country)
    (region,) = [r["code"] for r in rows if r["level"] == "region"]
    n = sum(1 for r in rows if r["level"] == "settlement" and r["latitude"])
    async with session_factory(scratch)() as s:
        nodes = (
            await s.execute(select(func.count()).where(RoadNode.region_code == region))
        ).scalar()
        edges = (
            await s.execute(
                select(RoadEdge.oneway, func.count())
                .where(RoadEdge.region_code == region)
                .group_by(RoadEdge.oneway)
            )
        ).all()
        # a node per settlement; the tree's n-1 roads and the trunk both ways, one one-way
        assert nodes == n
        assert dict(edges) == {False: 2 * (n - 1) + 2, True: 1}
        report = await access.access(s, PLANNER, region)
        assert report.method == "road"
        assert not report.no_coordinates
        assert not report.outside_country
        # every settlement's nearest unit of the threshold level is reached along the roads
        near = [a.nearest.get(report.threshold_level) for a in report.settlements]
        assert len(near) == n
        assert all(x is not None and x.method == "road" for x in near)


async def test_demo_mobile_team_calendar_visits_and_encounters(scratch, country) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from salomat.domains.planning.service import mobile
    from salomat.domains.registry import service as registry
    from salomat.fhir.mobile_encounter import encounter

    spec = pack.demo(country)["planning"]["mobile_team"]
    today = mobile.today()
    async with session_factory(scratch)() as s:
        (team,) = await mobile.list_teams(s, PLANNER)
        assert team.facility_code == spec["facility"]
        assert team.name == spec["name"]
        assert len(team.members) == len(spec["members"])
        cal = await mobile.calendar(
            s, PLANNER, team.id, today - timedelta(days=60), today + timedelta(days=60)
        )
        # the planned visits: the past rounds' settlements visited, next week's not yet
        past = [p for p in cal if p.planned_on <= today]
        future = [p for p in cal if p.planned_on > today]
        assert past
        assert future
        assert not any(p.visited for p in future)
        visited = {(p.settlement, p.planned_on) for p in past if p.visited}
        assert len(visited) == len(spec["visits"])
        assert {c for c, _ in visited} == {str(v["settlement"]) for v in spec["visits"]}
        assert all(p.method == "estimate" for p in cal)
        visits = await mobile.list_visits(s, PLANNER, team.id, today - timedelta(days=60), today)
        assert len(visits) == len(spec["visits"])
        # the planner is not of the team's facility: 2 or 3 people seen is a small count
        assert all(v.people == "<5" for v in visits)
        # the people seen as FHIR Encounters, read by a family doctor of the facility
        fid = await registry.facility_id_by_code(s, spec["facility"])
        doctor = Principal(
            user_id=0,
            username="doctor",
            role="family_doctor",
            session_id="t",
            facility_id=fid,
            facility_code=spec["facility"],
        )
        own = await mobile.list_visits(s, doctor, team.id, today - timedelta(days=60), today)
        assert sorted(v.people for v in own) == sorted(len(v["people"]) for v in spec["visits"])
        first = spec["visits"][0]
        seen = first["people"][0]
        page = await registry.search_persons(s, doctor, _query(seen["national_id"]), _page())
        (person,) = page.items
        found = await mobile.person_encounters(s, doctor, person.id)
        assert [e.settlement_code for e in found] == [str(first["settlement"])]
        resource = encounter(found[0])
        assert resource["subject"]["reference"] == f"Patient/{person.id}"
        assert [t["coding"][0]["code"] for t in resource["type"]] == seen["services"]
        assert resource["period"]["start"] <= today.isoformat()


def _query(national_id: str):  # type: ignore[no-untyped-def]
    from salomat.domains.registry.schemas import PersonQuery

    return PersonQuery(national_id=national_id)


def _page():  # type: ignore[no-untyped-def]
    from salomat.core.pagination import PageParams

    return PageParams(limit=1, offset=0)


_PLACE = st.tuples(
    st.floats(min_value=37.0, max_value=45.0), st.floats(min_value=56.0, max_value=80.0)
)


@pytest.mark.no_db
@settings(max_examples=60, deadline=None)
@given(
    st.lists(_PLACE, min_size=2, max_size=12),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=12, max_size=12),
    st.randoms(use_true_random=False),
)
def test_synthetic_roads_join_every_place_the_same_whatever_the_order(coords, pops, rnd) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.planning.service.demo_roads import DemoPlace, synthetic_ways

    places = [DemoPlace(f"S{i:02}", lat, lon, pops[i]) for i, (lat, lon) in enumerate(coords)]
    ways = synthetic_ways(places)
    shuffled = list(places)
    rnd.shuffle(shuffled)
    assert synthetic_ways(shuffled) == ways  # deterministic: the order read does not matter
    local = [w for w in ways if w.highway == "unclassified" and not w.oneway]
    trunk = [w for w in ways if w.highway == "trunk"]
    oneway = [w for w in ways if w.oneway]
    assert len(local) == len(places) - 1
    big = sorted(places, key=lambda p: (-p.population, p.code))[:2]
    assert [(w.a, w.b) for w in trunk] == [tuple(sorted(p.code for p in big))]
    # the tree alone joins every place (union-find over its roads)
    parent = {p.code: p.code for p in places}

    def root(c: str) -> str:
        while parent[c] != c:
            c = parent[c]
        return c

    for w in local:
        parent[root(w.a)] = root(w.b)
    assert len({root(p.code) for p in places}) == 1
    # one one-way road where some pair is not yet joined, none where every pair is
    joined = {(w.a, w.b) for w in local + trunk}
    pairs = len(places) * (len(places) - 1) // 2
    assert len(oneway) == (1 if pairs > len(joined) else 0)
    assert all(w.a < w.b for w in ways)


@pytest.mark.no_db
def test_synthetic_osm_is_labelled_and_read_by_the_importer() -> None:
    import io

    from salomat.domains.planning.service import norms, roads
    from salomat.domains.planning.service.demo_roads import SOURCE, DemoPlace, synthetic_osm

    p = norms.current()
    # four places about the middle of the deployed country's bounds
    lat = (p.bounds.min_latitude + p.bounds.max_latitude) / 2
    lon = (p.bounds.min_longitude + p.bounds.max_longitude) / 2
    places = [
        DemoPlace("A", lat, lon, 50_000),
        DemoPlace("B", lat - 0.12, lon - 0.15, 5_000),
        DemoPlace("C", lat - 0.02, lon - 0.07, 3_000),
        DemoPlace("D", lat + 0.12, lon - 0.22, 2_000),
    ]
    xml = synthetic_osm(places)
    assert f'generator="{SOURCE}"'.encode() in xml
    assert b"SYNTHETIC" in xml
    net = roads.parse_osm(io.BytesIO(xml), p.access, p.bounds)
    assert len(net.nodes) == 4
    # 3 tree roads and the trunk, both ways; one one-way road
    assert sum(1 for e in net.edges if not e[4]) == 8
    assert sum(1 for e in net.edges if e[4]) == 1


async def test_after_the_demo_load_the_pages_and_fhir_show_the_mobile_team(
    country, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """As after `make run`: the demo doctor reads a person seen by the team in
    ``Encounter?patient=`` (the mobile encounter among the answer's), and the demo planner
    sees the team and its route's days on the mobile page."""
    import httpx

    from salomat.core.db import dispose_engines
    from salomat.domains.planning.service import mobile
    from salomat.domains.registry import service as registry
    from salomat.main import create_app
    from tests.conftest import demo_database

    spec = pack.demo(country)["planning"]["mobile_team"]
    first = spec["visits"][0]
    seen = first["people"][0]
    with demo_database("salomat_planning_demo_http", country) as (url, loaded):
        monkeypatch.setenv("SALOMAT_DATABASE_URL", url)
        get_settings.cache_clear()
        passwords = {u.username: pw for u, pw in loaded.created}
        async with session_factory(url)() as s:
            (team,) = await mobile.list_teams(s, PLANNER)
            fid = await registry.facility_id_by_code(s, spec["facility"])
            doctor = Principal(
                user_id=0, username="t", role="family_doctor", session_id="t", facility_id=fid
            )
            (person,) = (
                await registry.search_persons(s, doctor, _query(seen["national_id"]), _page())
            ).items
        try:
            transport = httpx.ASGITransport(app=create_app(), client=("10.250.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                tokens = {}
                for name in ("doctor", "planner"):
                    r = await c.post(
                        "/auth/token", data={"username": name, "password": passwords[name]}
                    )
                    assert r.status_code == 200, r.text
                    tokens[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
                r = await c.get(
                    "/fhir/Encounter", params={"patient": person.id}, headers=tokens["doctor"]
                )
                assert r.status_code == 200, r.text
                found = [
                    e["resource"]
                    for e in r.json().get("entry", [])
                    if e["resource"]["id"].startswith("mobile-")
                ]
                assert len(found) == 1
                place = found[0]["location"][0]["location"]["identifier"]["value"]
                assert place == str(first["settlement"])
                r = await c.get(
                    "/planning/mobile",
                    params={"team": team.id, "area": spec["territory"]},
                    headers=tokens["planner"],
                )
                assert r.status_code == 200, r.text
                assert spec["name"] in r.text
                assert r.text.count('data-testid="pm-day"') >= 1
        finally:
            await dispose_engines()
            get_settings.cache_clear()
