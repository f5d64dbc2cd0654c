"""Daily counts from the notifications: the areas × days array the Rt core takes (one
statement, by onset or report date, by district or region), fed to ``estimate_rt``; the
REST read, its small-number suppression for the analyst and not for the epidemiologist,
and its refusals."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salomat.domains.epidemic.service import counts
from salomat.domains.epidemic.service.notifications import today
from salomat.domains.epidemic.service.rt import estimate_rt
from salomat.domains.epidemic.service.rules import epidemic_pack

pytestmark = pytest.mark.anyio

API = "/api/v1/epidemic"


async def _notify(client, scene, onset, report, n=1):  # type: ignore[no-untyped-def]
    for _ in range(n):
        r = await client.post(
            f"{API}/notifications",
            json=scene.body(onset_date=onset.isoformat(), report_date=report.isoformat()),
            headers=scene.doctor_auth,
        )
        assert r.status_code == 201, r.text


async def test_arrays_by_onset_and_report(client, scene, db) -> None:  # type: ignore[no-untyped-def]
    from salomat.domains.registry import service as registry

    t = today()
    d0 = t - timedelta(days=6)
    await _notify(client, scene, d0, d0 + timedelta(days=2), n=3)
    await _notify(client, scene, d0 + timedelta(days=1), d0 + timedelta(days=2), n=2)
    district = await registry.territory_id_by_code(db, scene.place.district)
    region = await registry.territory_id_by_code(db, scene.place.region)
    by_onset = await counts.daily_counts(
        db, level="district", start=d0, end=t, by="onset", area_ids=(district,)
    )
    assert by_onset.counts.shape == (1, 7)
    assert by_onset.counts[0].tolist() == [3, 2, 0, 0, 0, 0, 0]
    assert not by_onset.counts.flags.writeable
    by_report = await counts.daily_counts(
        db, level="region", start=d0, end=t, by="report", area_ids=(region,)
    )
    assert by_report.counts[0].tolist() == [0, 0, 5, 0, 0, 0, 0]
    # the array is what the Rt core takes
    series = estimate_rt(by_onset.counts.astype(float), epidemic_pack("UZ").serial_interval)
    assert series.mean.shape == (1, 7)


async def test_rest_counts_suppressed_for_the_analyst(client, scene, make_user, login) -> None:  # type: ignore[no-untyped-def]
    t = today()
    d0 = t - timedelta(days=3)
    await _notify(client, scene, d0, d0, n=4)
    await _notify(client, scene, d0 + timedelta(days=1), d0 + timedelta(days=1), n=5)
    q = {
        "area": scene.place.region,
        "from": d0.isoformat(),
        "to": (d0 + timedelta(days=2)).isoformat(),
    }
    r = await client.get(f"{API}/counts", params=q, headers=scene.epi_auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["suppressed"] is False
    [area] = body["areas"]
    assert area["code"] == scene.place.district
    assert area["counts"] == [4, 5, 0]
    analyst = await login(await make_user("analyst"))
    r = await client.get(f"{API}/counts", params=q, headers=analyst)
    assert r.json()["suppressed"] is True
    assert r.json()["areas"][0]["counts"] == ["<5", 5, 0]
    for role in ("family_doctor", "registrar", "planner"):
        a = await login(await make_user(role))
        assert (await client.get(f"{API}/counts", params=q, headers=a)).status_code == 403


@pytest.mark.parametrize(
    ("q", "field"),
    [
        ({"area": "NOPE"}, "area"),
        ({"by": "admission"}, "by"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "to"),
        # the default start 27 days before year 1 is no date (a 500 once)
        ({"to": "0001-01-05"}, "to"),
        ({"to": "1899-12-31"}, "to"),
        ({"from": "1899-12-31", "to": "1900-01-10"}, "from"),
    ],
)
async def test_counts_refusals_name_the_field(client, scene, q, field) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{API}/counts", params=q, headers=scene.epi_auth)
    assert r.status_code == 422, r.text
    assert field in {e["field"] for e in r.json()["errors"]}


@pytest.mark.parametrize("path", ["notifications", "notifications.csv"])
async def test_notification_days_before_1900_refused(client, scene, path) -> None:  # type: ignore[no-untyped-def]
    r = await client.get(f"{API}/{path}", params={"to": "0001-01-05"}, headers=scene.epi_auth)
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"to"}


async def test_first_day_of_surveillance_accepted(client, scene) -> None:  # type: ignore[no-untyped-def]
    q = {"from": "1900-01-01", "to": "1900-01-01"}
    r = await client.get(f"{API}/counts", params=q, headers=scene.epi_auth)
    assert r.status_code == 200, r.text
    assert r.json()["days"] == ["1900-01-01"]


def test_max_days_boundary() -> None:
    start = today() - timedelta(days=counts.MAX_DAYS - 1)
    assert len(counts._days(start, today())) == counts.MAX_DAYS
    with pytest.raises(Exception, match=r"Invalid|days"):
        counts._days(start - timedelta(days=1), today())
    assert np.int64  # numpy-ready


async def test_every_region_is_listed_zeros_included(client, scene, make_place) -> None:  # type: ignore[no-untyped-def]
    quiet = await make_place()
    t = today()
    await _notify(client, scene, t - timedelta(days=1), t - timedelta(days=1), n=6)
    q = {"from": (t - timedelta(days=2)).isoformat(), "to": t.isoformat()}
    r = await client.get(f"{API}/counts", params=q, headers=scene.epi_auth)
    assert r.status_code == 200, r.text
    by = {a["code"]: a["counts"] for a in r.json()["areas"]}
    assert by[quiet.region] == [0, 0, 0]
    assert by[scene.place.region] == [0, 6, 0]


def _possible(shown: list[int | str], total: int | str) -> list[set[int]]:
    """What an analyst can work out of a day's district cells beside the region's
    published figure: each cell's possible values over every filling-in ("<5": 1 to 4,
    "x": at least 5, a number: itself) whose sum is the region's (a number: itself,
    "<5": 1 to 4, "x": at least 5)."""
    import itertools

    top = 40
    ranges = [
        range(1, 5) if c == "<5" else range(5, top) if c == "x" else range(c, c + 1) for c in shown
    ]
    out: list[set[int]] = [set() for _ in shown]
    for fill in itertools.product(*ranges):
        s = sum(fill)
        ok = 1 <= s <= 4 if total == "<5" else s >= 5 if total == "x" else s == total
        if ok:
            for i, v in enumerate(fill):
                out[i].add(v)
    return out


async def test_analyst_cannot_work_out_a_small_district_from_its_region(  # type: ignore[no-untyped-def]
    client, scene, db, make_user, login
) -> None:
    """A region's daily count (the country by region) beside its districts (the region by
    district): a "<5" district is not the region minus the others. Day 0: districts 3
    and 6 (region 9: the 6 is withheld as "x"); day 1: 1 and 5 (region 6: no complement
    protects a 1 beside a 5, so the region's figure is withheld too, in both answers)."""
    from salomat.domains.registry import service as registry
    from salomat.domains.registry.schemas import TerritoryIn

    other = f"{scene.place.region}-D2"
    await registry.create_territory(
        db, TerritoryIn(code=other, level="district", parent_code=scene.place.region, name="D2")
    )
    await db.commit()
    d0 = today() - timedelta(days=3)
    d1 = d0 + timedelta(days=1)
    for day, here, there in ((d0, 3, 6), (d1, 1, 5)):
        await _notify(client, scene, day, day, n=here)
        for _ in range(there):
            r = await client.post(
                f"{API}/notifications",
                json=scene.body(
                    onset_date=day.isoformat(), report_date=day.isoformat(), district=other
                ),
                headers=scene.doctor_auth,
            )
            assert r.status_code == 201, r.text
    window = {"from": d0.isoformat(), "to": d1.isoformat()}
    analyst = await login(await make_user("analyst"))

    async def seen(headers, area=None):  # type: ignore[no-untyped-def]
        q = {**window, **({"area": area} if area else {})}
        r = await client.get(f"{API}/counts", params=q, headers=headers)
        assert r.status_code == 200, r.text
        return {a["code"]: a["counts"] for a in r.json()["areas"]}

    # the epidemiologist sees every number
    assert (await seen(scene.epi_auth))[scene.place.region] == [9, 6]
    assert await seen(scene.epi_auth, scene.place.region) == {
        scene.place.district: [3, 1],
        other: [6, 5],
    }
    regions = (await seen(analyst))[scene.place.region]
    districts = await seen(analyst, scene.place.region)
    assert regions == [9, "x"]
    assert districts == {scene.place.district: ["<5", "<5"], other: ["x", "x"]}
    # one district's own answer shows the same signs
    assert (await seen(analyst, other))[other] == ["x", "x"]
    for j in range(2):
        cells = [districts[scene.place.district][j], districts[other][j]]
        small, _ = _possible(cells, regions[j])
        assert len(small) > 1, (j, cells, regions[j], small)
        assert small <= {1, 2, 3, 4}


async def test_no_small_cell_withholds_nothing(client, scene, db, make_user, login) -> None:  # type: ignore[no-untyped-def]
    """Districts of 5 and more beside their region: nothing withheld (5 is the first
    count shown)."""
    d0 = today() - timedelta(days=2)
    await _notify(client, scene, d0, d0, n=5)
    analyst = await login(await make_user("analyst"))
    q = {"from": d0.isoformat(), "to": d0.isoformat()}
    r = await client.get(f"{API}/counts", params=q, headers=analyst)
    assert {a["code"]: a["counts"] for a in r.json()["areas"]}[scene.place.region] == [5]
    r = await client.get(f"{API}/counts", params={**q, "area": scene.place.region}, headers=analyst)
    assert r.json()["areas"][0]["counts"] == [5]


@pytest.mark.no_db
@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=5))
def test_a_regions_day_leaves_no_small_district_worked_out(parts: list[int]) -> None:
    """Property: a day of a region (its districts against the region's published figure),
    protected as ``counts.protected_cells`` protects it, leaves no "<5" district that the
    published sum pins to one value (``core.suppression.pinned``, an integer programme) —
    except where the signs alone decide it (every cell "<5": four districts of "<5" in a
    region of "<5" are 1 each), which no withholding changes."""
    from salomat.core.suppression import is_small, pinned, protect_lines

    values: dict[object, int] = {("d", i): n for i, n in enumerate(parts)}
    values["r"] = sum(parts)
    lines = [([("d", i) for i in range(len(parts))], "r")]
    hidden = protect_lines(values, lines)
    found = pinned(values, lines, hidden)
    assert not found or all(is_small(n) for n in values.values() if n), (parts, hidden)


async def test_counts_name_the_areas_in_the_readers_language(client, scene, db) -> None:  # type: ignore[no-untyped-def]
    """The API answers in the language of Accept-Language (English without it): the
    regions' names from the registry (it answered English whatever was asked)."""
    from sqlalchemy import update

    from salomat.domains.registry.models import Territory

    await db.execute(
        update(Territory)
        .where(Territory.code == scene.place.region)
        .values(names={"ru": "Тестовая область", "uz": "Sinov viloyati"})
    )
    await db.commit()
    t = today()
    q = {"from": t.isoformat(), "to": t.isoformat()}
    for lang, name in (("ru", "Тестовая область"), ("uz", "Sinov viloyati"), (None, "Region")):
        h = {**scene.epi_auth, **({"Accept-Language": lang} if lang else {})}
        r = await client.get(f"{API}/counts", params=q, headers=h)
        assert r.status_code == 200, r.text
        assert {a["code"]: a["name"] for a in r.json()["areas"]}[scene.place.region] == name
