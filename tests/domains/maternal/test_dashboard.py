"""The maternal monitoring dashboard (issue 4 item 6).

The acceptance test loads the demo region into a scratch database and checks
the dashboard twice: against figures counted by hand from demo.yaml, and
against a recount from the raw tables written here independently of the
service (residence from the person or facility, gestational age in Python).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from salomat.core.db import get_engine, session_factory
from salomat.core.security import Principal
from salomat.domains.maternal import service
from tests.domains.maternal.test_referrals import facility

pytestmark = pytest.mark.anyio

TODAY = date.today()
ANALYST = Principal(user_id=0, username="test-analyst", role="analyst", session_id="t")
RISKS = ("low", "medium", "high", "unassessed")


# ---- the recount from the raw tables ------------------------------------------------------


async def _rows(session, sql: str) -> list[Any]:
    return list((await session.execute(text(sql))).mappings())


def _day(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def _moment(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(v)).replace(tzinfo=UTC)


async def recount(session, area: str | None, start: date, end: date) -> dict[str, Any]:
    """The dashboard's total for ``area``, counted row by row in Python."""
    terr = {r["id"]: r for r in await _rows(session, "SELECT id, code, parent_id FROM territory")}

    def inside(settlement_id: int | None) -> bool:
        if area is None:
            return True
        node = settlement_id
        while node is not None:
            if terr[node]["code"] == area:
                return True
            node = terr[node]["parent_id"]
        return False

    home = {
        r["id"]: r["settlement_id"]
        for r in await _rows(session, "SELECT id, settlement_id FROM person")
    }
    fac_home = {
        r["id"]: r["settlement_id"]
        for r in await _rows(session, "SELECT id, settlement_id FROM facility")
    }
    pregnancies = [
        p
        for p in await _rows(session, "SELECT * FROM pregnancy")
        if inside(home[p["person_id"]] or fac_home.get(p["facility_id"]))
    ]
    ids = {p["id"] for p in pregnancies}
    visits: dict[int, set[date]] = {}
    for c in await _rows(session, "SELECT pregnancy_id, " + '"on"' + " FROM antenatal_contact"):
        visits.setdefault(c["pregnancy_id"], set()).add(_day(c["on"]))
    f: dict[str, Any] = {"by_risk": {r: [0, 0, 0] for r in RISKS}, "outcomes": Counter()}
    count = Counter()
    for p in pregnancies:
        start_of = _day(p["edd"]) - timedelta(days=280)
        if p["status"] == "current":
            count["current"] += 1
            weeks = (TODAY - start_of).days // 7
            f["by_risk"][p["risk_level"] or "unassessed"][
                0 if weeks < 14 else 1 if weeks < 28 else 2
            ] += 1
        if start <= _day(p["registered_on"]) <= end:
            count["registered"] += 1
            if (_day(p["registered_on"]) - start_of).days // 7 <= 12:
                count["registered_early"] += 1
        if p["status"] == "closed" and start <= _day(p["closed_on"]) <= end:
            count["closed"] += 1
            f["outcomes"][p["outcome"]] += 1
            n = len(visits.get(p["id"], ()))
            count["anc4"] += n >= 4
            count["anc8"] += n >= 8
    births = {
        b["id"]: b
        for b in await _rows(session, "SELECT * FROM birth_record")
        if b["pregnancy_id"] in ids and start <= _day(b["born_on"]) <= end
    }
    for b in births.values():
        count["births"] += 1
        count["caesarean"] += b["mode"].startswith("caesarean")
        count["preterm"] += b["ga_days"] < 37 * 7
    for baby in await _rows(session, "SELECT * FROM birth_baby"):
        if baby["birth_id"] in births:
            count["babies_live"] += baby["outcome"] == "live"
            count["babies_stillborn"] += baby["outcome"] == "stillbirth"
            count["low_birth_weight"] += (baby["birth_weight_g"] or 9999) < 2500
    by_id = {p["id"]: p for p in pregnancies}
    now = datetime.now(UTC)
    for r in await _rows(session, "SELECT * FROM antenatal_referral"):
        p = by_id.get(r["pregnancy_id"])
        if (
            p is not None
            and r["status"] == "sent"
            and now - _moment(r["sent_at"]) > timedelta(hours=24)
            and p["status"] == "current"
            and p["risk_level"] == "high"
        ):
            count["high_risk_pending_24h"] += 1
    f.update(count)
    return f


def as_counted(figures: Any) -> dict[str, Any]:
    """The service's figures in the recount's shape (zero outcomes left out)."""
    d = figures.model_dump()
    out = {k: v for k, v in d.items() if isinstance(v, int) and v}
    out["by_risk"] = d["by_risk"]
    out["outcomes"] = Counter({k: v for k, v in d["outcomes"].items() if v})
    return out


def without_zeros(counted: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counted.items() if not isinstance(v, int) or v}


# ---- the demo region: hand count and recount -----------------------------------------------

#: counted by hand from src/salomat/country/UZ/demo.yaml (its comments say which is which)
DEMO_UZ_SAMARKAND = {
    "current": 8,
    "by_risk": {
        "low": [1, 1, 1],  # Xasanova 9 w; Karimova 23 w; Normatova 30 w
        "medium": [0, 1, 0],  # Abdurahmonova (17 years) 16 w
        # Rahimova 13 w (hypertension); Sattorova 20 w; Qurbonova 37 w; Tursunova 34 w
        # (pre-eclampsia at 26 w stands after two normal contacts)
        "high": [1, 1, 2],
        "unassessed": [0, 0, 0],
    },
    "registered": 14,  # Tursunova's first pregnancy was registered 68 weeks ago
    "registered_early": 11,  # all but Tursunova (16 w), Sattorova (18), Abdurahmonova (14)
    "closed": 6,
    "anc4": 4,  # Nazarova 8, Ergasheva 4, Murodova 5, Hamroyeva 6 contacts
    "anc8": 1,  # Nazarova
    "outcomes": Counter(live_birth=3, stillbirth=1, miscarriage=1, termination=1),
    "births": 4,
    "caesarean": 2,  # Ergasheva (emergency), Hamroyeva (elective)
    "preterm": 3,  # 35, 34 and 36 weeks
    "babies_live": 4,  # Sevinch, Amir, Hasan, Husan
    "babies_stillborn": 1,
    "low_birth_weight": 3,  # 2300, 1900, 2400 g
    "high_risk_pending_24h": 1,  # Rahimova, 30 hours; Sattorova's (5 hours) is not yet late
}


@pytest.fixture
def demo_uz() -> Iterator[tuple[str, Any]]:
    """A database where the UZ demo is loaded (`salomat demo load`: a copy of the run's
    loaded demo, tests/conftest.py ``demo_database``), and what the load answered."""
    from tests.conftest import demo_database

    with demo_database("salomat_dashboard_demo", "UZ") as loaded:
        yield loaded


async def test_the_dashboard_equals_a_hand_count_and_a_recount_of_the_demo_region(demo_uz):
    scratch_url, loaded = demo_uz
    sessions = session_factory(scratch_url)
    try:
        assert loaded.pregnancies == 15
        async with sessions() as s:
            d = await service.maternal_dashboard(s, ANALYST, area="1718")
            assert (d.period_from, d.period_to) == (TODAY - timedelta(days=364), TODAY)
            assert as_counted(d.total) == without_zeros(DEMO_UZ_SAMARKAND)
            assert d.total.early_pct == round(100 * 11 / 14, 1)
            assert d.total.anc8_pct == round(100 / 6, 1)
            assert [(p.facility_code, p.count) for p in d.pending] == [("UZ-SAM-PC-001", 1)]
            assert 30 <= d.pending[0].oldest_hours <= 31
            recounted = await recount(s, "1718", d.period_from, d.period_to)
            assert as_counted(d.total) == without_zeros(recounted)
            # each district's row equals its own recount and the rows add up to the total
            assert {r.code for r in d.rows if r.figures.current or r.figures.closed} == {
                "1718203",  # Oqdaryo: the stillbirth
                "1718209",  # Jomboy
                "1718224",  # Payariq
                "1718236",  # Urgut
                "1718401",  # Samarkand city, and the women with no settlement of their own
            }
            for row in d.rows:
                mine = await recount(s, row.code, d.period_from, d.period_to)
                assert as_counted(row.figures) == without_zeros(mine), row.code
            assert sum(r.figures.current for r in d.rows) == d.total.current
            # a district: one row per settlement
            urgut = await service.maternal_dashboard(s, ANALYST, area="1718236")
            assert urgut.area_level == "district"
            assert {r.level for r in urgut.rows} == {"settlement"}
            assert as_counted(urgut.total) == without_zeros(
                await recount(s, "1718236", urgut.period_from, urgut.period_to)
            )
            assert urgut.total.by_risk["high"] == [0, 1, 1]
            # a longer period takes in the miscarriage of 64 weeks ago
            longer = await service.maternal_dashboard(
                s, ANALYST, area="1718", period_from=TODAY - timedelta(weeks=80)
            )
            assert longer.total.outcomes["miscarriage"] == 2
            assert longer.total.registered == 15
            # the whole country: one row per region
            national = await service.maternal_dashboard(s, ANALYST)
            assert [r.code for r in national.rows] == ["1718"]
            assert as_counted(national.total) == as_counted(d.total)
    finally:
        await get_engine(scratch_url).dispose()


# ---- boundaries (in the shared test database, each test in its own region) ----------------


async def register(client, headers, woman, *, lmp: date, registered_on: date) -> dict:
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={
            "lmp": lmp.isoformat(),
            "registered_on": registered_on.isoformat(),
            "gravida": 1,
            "parity": 0,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
async def region(db, make_place, make_person, make_user, login):
    """A fresh region with a polyclinic, its doctor and an analyst."""
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    analyst = await login(await make_user("analyst"))

    async def woman():
        return await make_person(facility_code=poly.code)

    return place, poly, doctor, analyst, woman


async def figures(client, headers, area: str, **params: str) -> dict[str, Any]:
    r = await client.get(
        "/api/v1/dashboards/maternal", params={"area": area, **params}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def test_trimesters_and_early_registration_at_their_boundaries(client, region):
    place, _, doctor, analyst, woman = region
    # (GA today in days, registered how many days after the LMP)
    cases = [(13 * 7 + 6, 12 * 7 + 6), (14 * 7, 13 * 7), (27 * 7 + 6, 20 * 7), (28 * 7, 28 * 7)]
    for ga_today, ga_at_registration in cases:
        lmp = TODAY - timedelta(days=ga_today)
        await register(
            client,
            doctor,
            await woman(),
            lmp=lmp,
            registered_on=lmp + timedelta(days=ga_at_registration),
        )
    d = await figures(client, analyst, place.region)
    total = d["total"]
    assert total["current"] == 4
    assert [sum(x) for x in zip(*total["by_risk"].values(), strict=True)] == [1, 2, 1]
    # 12+6 is early, 13+0 is not
    assert (total["registered"], total["registered_early"]) == (4, 1)
    assert total["early_pct"] == 25.0
    assert d["area_level"] == "region"
    assert [r["code"] for r in d["rows"]] == [place.district]


async def test_a_high_risk_referral_is_pending_only_after_24_hours(client, db, region):
    from salomat.domains.maternal.models import Referral

    place, _, doctor, analyst, woman = region
    centre = await facility(db, "perinatal_centre", place.settlement, 3)
    sent = []
    for _ in range(2):
        p = await register(
            client, doctor, await woman(), lmp=TODAY - timedelta(weeks=20), registered_on=TODAY
        )
        r = await client.post(
            f"/api/v1/pregnancies/{p['id']}/contacts",
            json={"systolic_1": 150, "diastolic_1": 95, "systolic_2": 150, "diastolic_2": 95},
            headers={**doctor, "If-Match": f'W/"{p["version"]}"'},
        )
        assert r.status_code == 201, r.text
        assert r.json()["risk_level"] == "high"
        ref = await client.post(
            f"/api/v1/pregnancies/{p['id']}/referrals",
            json={"kind": "perinatal", "reason": "hypertension", "to_facility_code": centre.code},
            headers=doctor,
        )
        assert ref.status_code == 201, ref.text
        sent.append(ref.json()["id"])
    assert (await figures(client, analyst, place.region))["total"]["high_risk_pending_24h"] == 0
    now = datetime.now(UTC)
    for rid, hours in zip(sent, (23.5, 24.5), strict=True):
        await db.execute(
            update(Referral).where(Referral.id == rid).values(sent_at=now - timedelta(hours=hours))
        )
    await db.commit()
    d = await figures(client, analyst, place.region)
    assert d["total"]["high_risk_pending_24h"] == 1
    assert [(p["facility_code"], p["count"], p["oldest_hours"]) for p in d["pending"]] == [
        (centre.code, 1, 24)
    ]


async def test_bad_areas_and_periods_are_refused_naming_the_field(client, region):
    place, _, _, analyst, _ = region

    async def refused(params: dict[str, str]) -> set[str]:
        r = await client.get("/api/v1/dashboards/maternal", params=params, headers=analyst)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        return {e["field"] for e in r.json()["errors"]}

    assert await refused({"area": "no-such-unit"}) == {"area"}
    assert await refused({"area": place.settlement}) == {"area"}
    assert await refused({"area": place.region, "from": "2026-05-01", "to": "2026-04-01"}) == {
        "from"
    }
    assert await refused({"to": (TODAY + timedelta(days=1)).isoformat()}) == {"to"}
    bad_date = await refused({"from": "31.12.2025"})
    assert any("from" in f for f in bad_date)


async def test_only_aggregate_readers_may_see_it_and_each_view_is_audited(
    client, db, region, make_user, login
):
    place, poly, doctor, analyst, _ = region
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    for headers in (doctor, nurse):
        r = await client.get(
            "/api/v1/dashboards/maternal", params={"area": place.region}, headers=headers
        )
        assert r.status_code == 403
    assert (await client.get("/api/v1/dashboards/maternal")).status_code == 401
    before = await db.scalar(
        text("SELECT count(*) FROM audit_event WHERE resource_type = 'MaternalDashboard'")
    )
    await figures(client, analyst, place.region)
    after = await db.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE resource_type = 'MaternalDashboard' "
            "AND resource_id = :area AND patient_id IS NULL"
        ).bindparams(area=place.region)
    )
    assert after == 1
    assert before is not None


async def test_the_csv_has_the_same_figures_as_the_json(client, region):
    place, _, doctor, analyst, woman = region
    await register(
        client, doctor, await woman(), lmp=TODAY - timedelta(weeks=10), registered_on=TODAY
    )
    d = await figures(client, analyst, place.region)
    r = await client.get(
        "/api/v1/dashboards/maternal.csv", params={"area": place.region}, headers=analyst
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert f"maternal-{place.region}-" in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["code"] for x in lines] == [place.district, place.region]
    total = lines[-1]
    assert int(total["current"]) == d["total"]["current"] == 1
    assert int(total["low_t1"]) + int(total["medium_t1"]) + int(total["high_t1"]) == 1
    assert int(total["registered_early"]) == d["total"]["registered_early"] == 1
    assert total["period_to"] == TODAY.isoformat()


# ---- the web page (without a browser) ---------------------------------------------------


async def test_the_page_shows_the_figures_and_names_a_bad_field(client, region, make_user):
    from tests.domains.registry.test_web import web_login

    place, _, doctor, _, woman = region
    await register(
        client, doctor, await woman(), lmp=TODAY - timedelta(weeks=30), registered_on=TODAY
    )
    await web_login(client, await make_user("analyst"))
    page = await client.get("/dashboard/maternal", params={"area": place.region})
    assert page.status_code == 200
    assert 'data-testid="kpi-current">1<' in page.text
    assert f'data-code="{place.district}"' in page.text
    assert 'data-testid="chart-risk"' in page.text
    bad = await client.get("/dashboard/maternal", params={"area": place.region, "to": "tomorrow"})
    assert bad.status_code == 422
    assert 'data-field="to"' in bad.text
    unknown = await client.get("/dashboard/maternal", params={"area": "nowhere"})
    assert unknown.status_code == 422
    assert 'data-field="area"' in unknown.text
    csv_file = await client.get("/dashboard/maternal.csv", params={"area": place.region})
    assert csv_file.status_code == 200
    assert csv_file.text.splitlines()[-1].split(",")[2] == place.region


async def test_the_title_names_the_area_and_the_csv_speaks_the_readers_language(
    client, region, make_user, login, db
):
    """Issue 13: "Maternal dashboard — <area>" in the page's language; translated CSV headers."""
    from sqlalchemy import update

    from salomat.domains.registry.models import Territory
    from tests.domains.registry.test_web import web_login

    place, _, doctor, _, woman = region
    await register(
        client, doctor, await woman(), lmp=TODAY - timedelta(weeks=30), registered_on=TODAY
    )
    await db.execute(
        update(Territory)
        .where(Territory.code == place.region)
        .values(names={"ru": "Самаркандская область", "uz": "Samarqand viloyati"})
    )
    await db.commit()
    await web_login(client, await make_user("analyst"))
    client.cookies.set("salomat_lang", "ru")
    page = await client.get("/dashboard/maternal", params={"area": place.region})
    assert page.status_code == 200
    title = re.search(r'data-testid="dash-title">([^<]+)<', page.text).group(1)
    assert title == "Мониторинг беременных — Самаркандская область"
    assert "<title>Мониторинг беременных — Самаркандская область" in page.text
    client.cookies.set("salomat_lang", "uz")
    page = await client.get("/dashboard/maternal")
    assert (
        re.search(r'data-testid="dash-title">([^<]+)<', page.text)
        .group(1)
        .endswith("— butun mamlakat")
    )

    client.cookies.set("salomat_lang", "ru")
    csv_file = await client.get("/dashboard/maternal.csv", params={"area": place.region})
    assert csv_file.status_code == 200
    header, *_, total = csv_file.text.splitlines()
    assert header.startswith("Период с,Период по,Код,Территория,Уровень,Беременных сейчас,")
    assert "высокий риск, триместр 1" in header
    assert "Исход: живорождение" in header
    assert not re.search(r"\b[a-z]+_[a-z0-9_]+\b", header)
    assert total.split(",")[2:5] == [place.region, "Итого: Самаркандская область", "область"]
    # the REST API keeps the machine keys for systems
    api = await client.get(
        "/api/v1/dashboards/maternal.csv",
        params={"area": place.region},
        headers=await login(await make_user("analyst")),
    )
    assert api.text.splitlines()[0].startswith("period_from,period_to,code,name,level,current,")
