"""Territory: the CSV validator (property tests), import all-or-nothing, populations, demo."""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from salomat.cli import app as cli_app
from salomat.core.config import get_settings
from salomat.core.db import dispose_engines, session_factory
from salomat.domains.registry import service
from salomat.domains.registry.schemas import AGE_BANDS
from tests.conftest import migrated_sqlite, scratch_database
from tests.factories import unique

pytestmark = pytest.mark.anyio

LANGS = ["uz", "ru", "en"]
HEADER = [
    "code",
    "level",
    "parent_code",
    "name",
    *(f"name_{lang}" for lang in LANGS),
    "is_rural",
    "latitude",
    "longitude",
    "year",
    *(f"{s}_{b}" for s in ("male", "female") for b in AGE_BANDS),
]
PACKS = Path(__file__).resolve().parents[3] / "src" / "salomat" / "country"


def _csv(rows: list[dict[str, str]], comments: int = 0) -> str:
    out = io.StringIO()
    for i in range(comments):
        out.write(f"# comment {i}\n")
    w = csv.DictWriter(out, HEADER, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in HEADER})
    return out.getvalue()


def _pop(counts: list[int], year: int = 2025) -> dict[str, str]:
    cells = {"year": str(year)}
    for i, col in enumerate(f"{s}_{b}" for s in ("male", "female") for b in AGE_BANDS):
        cells[col] = str(counts[i % len(counts)])
    return cells


def _tree(prefix: str, settlements: list[dict[str, Any]]) -> list[dict[str, str]]:
    rows = [
        {"code": prefix, "level": "region", "name": "Region"},
        {"code": f"{prefix}-D", "level": "district", "parent_code": prefix, "name": "District"},
    ]
    for i, s in enumerate(settlements):
        rows.append(
            {
                "code": f"{prefix}-D-{i}",
                "level": "settlement",
                "parent_code": f"{prefix}-D",
                "name": s["name"],
                "name_ru": s["name"],
                "is_rural": "true" if s["rural"] else "false",
                "latitude": f"{s['lat']:.4f}",
                "longitude": f"{s['lon']:.4f}",
                **_pop(s["counts"]),
            }
        )
    return rows


# ---- the row validator (pure) -------------------------------------------------------

names = st.text(
    alphabet=st.characters(
        categories=("L",), exclude_characters="\x00", max_codepoint=0x4FF
    ),  # Latin and Cyrillic
    min_size=1,
    max_size=30,
)
settlement = st.fixed_dictionaries(
    {
        "name": names,
        "rural": st.booleans(),
        "lat": st.floats(-90, 90, allow_nan=False),
        "lon": st.floats(-180, 180, allow_nan=False),
        "counts": st.lists(st.integers(0, 100_000), min_size=1, max_size=36),
    }
)
#: a column and a value that is wrong there whatever the rest of the row
BAD_CELLS = st.sampled_from(
    [
        ("code", ""),
        ("code", "has space"),
        ("level", "village"),
        ("parent_code", ""),
        ("name", ""),
        ("name", "x" * 201),
        ("is_rural", "maybe"),
        ("is_rural", ""),
        ("latitude", "91"),
        ("latitude", "north"),
        ("longitude", "-181"),
        ("year", "1850"),
        ("year", ""),
        ("male_0", "-3"),
        ("female_85", "many"),
        ("male_40", ""),
        ("female_10", "1.5"),
    ]
)


@given(st.lists(settlement, min_size=1, max_size=6), st.integers(0, 3))
@settings(max_examples=60, deadline=None)
def test_valid_files_pass_and_keep_every_value(settlements, comments):
    rows, issues = service.check_territory_csv(_csv(_tree("R", settlements), comments), LANGS)
    assert issues == []
    assert len(rows) == len(settlements) + 2
    for row, s in zip(rows[2:], settlements, strict=True):
        assert row.unit.name == s["name"].strip()
        assert row.unit.is_rural is s["rural"]
        assert row.unit.latitude == pytest.approx(s["lat"], abs=1e-4)
        assert row.population is not None
        assert row.population.male[0] == s["counts"][0]
        assert row.population.year == 2025


@given(
    st.lists(settlement, min_size=1, max_size=5),
    st.integers(0, 2),
    st.data(),
)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_bad_cell_is_reported_at_its_line_and_column(settlements, comments, data):
    rows = _tree("R", settlements)
    target = data.draw(st.integers(2, len(rows) - 1), label="settlement row")
    column, value = data.draw(BAD_CELLS, label="bad cell")
    rows[target][column] = value
    text = _csv(rows, comments)
    _, issues = service.check_territory_csv(text, LANGS)
    line = comments + 2 + target  # comments, header, then rows from line 1 + comments + 1
    assert issues, (column, value)
    assert {i.line for i in issues} == {line}, issues
    assert column in {i.column for i in issues}, issues


def test_file_level_mistakes_name_the_line():
    rows = _tree("R", [{"name": "A", "rural": True, "lat": 1, "lon": 1, "counts": [1]}])
    rows.append(dict(rows[2]))  # the same code twice
    rows.append({"code": "S2", "level": "settlement", "parent_code": "R", "name": "B"})
    rows[-1] |= {"is_rural": "true"}
    _, issues = service.check_territory_csv(_csv(rows), LANGS)
    got = {(i.line, i.column) for i in issues}
    assert (5, "code") in got  # duplicate of line 4
    assert (6, "parent_code") in got  # a settlement directly under a region
    assert "line 4" in next(i.message for i in issues if i.line == 5)


def test_header_mistakes_are_reported_before_any_row():
    text = "code,level,name,name_xx,male_0\nA,region,A,,\n"
    _, issues = service.check_territory_csv(text, LANGS)
    assert {i.line for i in issues} == {1}
    assert {"name_xx", "year"} <= {i.column for i in issues}


def test_population_on_a_district_is_refused():
    rows = _tree("R", [])
    rows[1] |= _pop([5])
    _, issues = service.check_territory_csv(_csv(rows), LANGS)
    assert [(i.line, i.column) for i in issues][:1] == [(3, "year")]


def test_the_demo_files_are_valid():
    for country, langs in (("UZ", ["uz", "ru", "en"]), ("KZ", ["kk", "ru", "en"])):
        text = (PACKS / country / "territory.csv").read_text(encoding="utf-8")
        rows, issues = service.check_territory_csv(text, langs)
        assert issues == [], (country, issues[:3])
        levels = [r.unit.level for r in rows]
        assert levels.count("region") == 1
        assert levels.count("district") >= 10
        assert all(r.population for r in rows if r.unit.level == "settlement")
        header = "".join(line for line in text.splitlines() if line.startswith("#"))
        assert "POPULATIONS ARE ILLUSTRATIVE" in header


# ---- import through the API -------------------------------------------------------


async def test_a_bad_file_stores_nothing_and_names_each_bad_row(client, admin_headers):
    p = unique("T")
    rows = _tree(p, [{"name": "A", "rural": True, "lat": 1, "lon": 1, "counts": [3]}] * 2)
    rows[3]["code"] = f"{p}-D-1"
    rows[3]["is_rural"] = "sometimes"
    rows[2]["male_5"] = "-1"
    r = await client.post(
        "/api/v1/territory/import",
        content=_csv(rows).encode(),
        headers=admin_headers | {"Content-Type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"line 4: male_5", "line 5: is_rural"} <= fields
    r = await client.get(f"/api/v1/territory/{p}", headers=admin_headers)
    assert r.status_code == 404


async def test_import_creates_then_updates_and_sums_population(client, admin_headers):
    p = unique("T")
    rows = _tree(
        p,
        [
            {"name": "Town", "rural": False, "lat": 39.6, "lon": 66.9, "counts": [100]},
            {"name": "Village", "rural": True, "lat": 39.7, "lon": 67.0, "counts": [10]},
        ],
    )
    h = admin_headers | {"Content-Type": "text/csv"}
    r = await client.post("/api/v1/territory/import?dry_run=true", content=_csv(rows), headers=h)
    assert r.json() | {"issues": []} == r.json()
    assert (r.json()["created"], r.json()["stored"]) == (4, False)
    assert (await client.get(f"/api/v1/territory/{p}", headers=admin_headers)).status_code == 404
    r = await client.post("/api/v1/territory/import", content=_csv(rows), headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["populations"], r.json()["stored"]) == (4, 2, True)

    r = await client.get(f"/api/v1/territory/{p}/population", headers=admin_headers)
    pop = r.json()
    assert pop["total"] == 36 * 100 + 36 * 10
    assert (pop["urban"], pop["rural"], pop["settlements"], pop["year"]) == (3600, 360, 2, 2025)
    assert pop["bands"][-1] == 85

    rows[3]["name"] = "Village renamed"
    r = await client.post("/api/v1/territory/import", content=_csv(rows), headers=h)
    assert (r.json()["created"], r.json()["updated"], r.json()["unchanged"]) == (0, 1, 3)
    r = await client.get(f"/api/v1/territory/{p}-D-1", headers=admin_headers)
    assert r.json()["name"] == "Village renamed"
    assert r.json()["version"] == 2
    assert r.headers["ETag"] == 'W/"2"'

    # a later file may hang new units under units already stored, but not move them
    more = [
        {
            "code": f"{p}-D-9",
            "level": "settlement",
            "parent_code": f"{p}-D",
            "name": "New",
            "is_rural": "true",
        },
        {"code": f"{p}-D-0", "level": "district", "parent_code": p, "name": "Town"},
    ]
    r = await client.post("/api/v1/territory/import", content=_csv(more), headers=h)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"line 3: level", "line 3: parent_code"}
    r = await client.post("/api/v1/territory/import", content=_csv(more[:1]), headers=h)
    assert r.json()["created"] == 1


async def test_staff_read_territory_but_only_admins_change_it(client, make_user, login, make_place):
    place = await make_place()
    nurse = await login(await make_user("nurse"))
    r = await client.get(
        f"/api/v1/territory?parent_code={place.district}&level=settlement", headers=nurse
    )
    assert [u["code"] for u in r.json()["items"]] == [place.settlement]
    assert r.json()["items"][0]["parent_code"] == place.district
    r = await client.patch(
        f"/api/v1/territory/{place.settlement}",
        json={"name": "x"},
        headers=nurse | {"If-Match": 'W/"1"'},
    )
    assert r.status_code == 403


async def test_territory_update_needs_the_current_version(client, admin_headers, make_place):
    place = await make_place()
    url = f"/api/v1/territory/{place.settlement}"
    r = await client.patch(url, json={"name": "Renamed"}, headers=admin_headers)
    assert r.status_code == 412
    r = await client.patch(
        url, json={"name": "Renamed"}, headers=admin_headers | {"If-Match": 'W/"1"'}
    )
    assert r.status_code == 200
    assert r.json()["version"] == 2
    r = await client.patch(
        url, json={"name": "Again"}, headers=admin_headers | {"If-Match": 'W/"1"'}
    )
    assert r.status_code == 412
    r = await client.patch(
        f"/api/v1/territory/{place.district}",
        json={"is_rural": True},
        headers=admin_headers | {"If-Match": 'W/"1"'},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "is_rural"


async def test_writes_are_stored_as_location_versions(db, admin_headers, client, make_place):
    place = await make_place()
    unit = await service.get_territory(db, place.settlement)
    history = await service.history(db, "Location", unit.id, service_page())
    assert [v.version for v in history.items] == [1]
    assert history.items[0].data["code"] == place.settlement


def service_page() -> Any:
    from salomat.core.pagination import PageParams

    return PageParams(limit=10, offset=0)


async def test_create_refuses_a_parent_at_the_wrong_level(client, admin_headers, make_place):
    place = await make_place()
    body = {"code": unique("S"), "level": "settlement", "parent_code": place.region, "name": "X"}
    r = await client.post(
        "/api/v1/territory", json=body | {"is_rural": True}, headers=admin_headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "parent_code"
    r = await client.post(
        "/api/v1/territory",
        json=body | {"parent_code": place.district, "is_rural": False},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    r = await client.put(
        f"/api/v1/territory/{body['code']}/population",
        json={"year": 2024, "male": [1] * 18, "female": [2] * 18},
        headers=admin_headers,
    )
    assert r.status_code == 200
    assert r.json()["total"] == 54


# ---- CLI and the demo regions -------------------------------------------------------


def _invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli_app, args, env=env)
    finally:
        get_settings.cache_clear()


def test_cli_import_prints_each_bad_row_and_stores_nothing(tmp_path):
    p = unique("C")
    rows = _tree(p, [{"name": "A", "rural": True, "lat": 1, "lon": 1, "counts": [3]}])
    rows[2]["latitude"] = "100"
    f = tmp_path / "t.csv"
    f.write_text(_csv(rows, comments=1), encoding="utf-8")
    result = _invoke(["territory", "import", str(f)])
    assert result.exit_code == 1
    assert "line 5, column latitude: must be between -90 and 90" in result.output
    assert "nothing was stored" in result.output
    rows[2]["latitude"] = "10"
    f.write_text(_csv(rows, comments=1), encoding="utf-8")
    result = _invoke(["territory", "import", str(f), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 unit(s) would be created" in result.output
    result = _invoke(["territory", "import", str(f)])
    assert "3 unit(s) were created" in result.output
    result = _invoke(["territory", "population", p])
    assert result.exit_code == 0, result.output
    assert "108 people in 1 settlement(s)" in result.output


MAIN_URL = os.environ["SALOMAT_DATABASE_URL"]


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    """A database of this run's backend at head (a copy of the run's migrated template)."""
    if MAIN_URL.startswith("sqlite"):
        yield migrated_sqlite(tmp_path / "scratch.sqlite3")
        return
    with scratch_database("salomat_terr") as url:
        yield url


@pytest.mark.parametrize(
    ("country", "region", "facility", "settlement", "parent"),
    [
        ("UZ", "1718", "UZ-SAM-DH-001", "1718236001", "UZ-SAM-DM-001"),
        ("KZ", "190000000", "KZ-ALM-FAP-001", "195000002", "KZ-ALM-DH-001"),
    ],
)
def test_the_demo_region_loads_its_territory_and_facilities(
    scratch_url, tmp_path, country, region, facility, settlement, parent
):
    env = {
        "SALOMAT_DATABASE_URL": scratch_url,
        "SALOMAT_COUNTRY": country,
        "SALOMAT_VAR_DIR": str(tmp_path),
    }
    result = _invoke(["demo", "load", "--no-vital-sample"], env)
    assert result.exit_code == 0, result.output
    result = _invoke(["territory", "population", region], env)
    assert result.exit_code == 0, result.output
    assert "settlement(s)" in result.output

    async def check() -> Any:
        try:
            async with session_factory(scratch_url)() as s:
                districts = await service.list_territory(
                    s, service_page(), level="district", parent_code=region
                )
                fac = await service.facility_by_code(s, facility)
                pop = await service.territory_population(s, region)
                return districts.total, fac, pop
        finally:
            await dispose_engines()

    os.environ["SALOMAT_COUNTRY"], old = country, os.environ["SALOMAT_COUNTRY"]
    get_settings.cache_clear()
    try:
        districts, fac, pop = asyncio.run(check())
    finally:
        os.environ["SALOMAT_COUNTRY"] = old
        get_settings.cache_clear()
    assert districts >= 10
    assert fac.settlement_code == settlement
    assert fac.parent_code == parent
    assert pop.total > 500_000
    assert pop.rural > 0
    assert pop.urban > 0
    assert sum(pop.female) > 0
    assert len(pop.male) == len(AGE_BANDS)
    # a second load (--force) changes nothing and fails on nothing
    result = _invoke(["demo", "load", "--force", "--no-vital-sample"], env)
    assert result.exit_code == 0, result.output
