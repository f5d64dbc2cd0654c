"""The situation of the regions on a day (GET /api/v1/epidemic/situation): counts, Rt (or
"not enough data", never a number, and no Rt-based zone), incidence per 100 000 from the
registry's population, beds, the zone with the rule that decided it, the forecast with
the first day the intensive-care beds are passed; bad query parameters are a 4xx naming
the field, never a 5xx (hypothesis)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.notifications import today
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PopulationIn
from tests.domains.epidemic.situation_support import (
    icu_beds,
    icu_by_hand,
    region_with_cases,
    simple_pack,
)

pytestmark = pytest.mark.anyio

API = "/api/v1/epidemic"
C = 20


@pytest.fixture
def pack(monkeypatch):  # type: ignore[no-untyped-def]
    p = simple_pack()
    monkeypatch.setattr(rules, "current", lambda: p)
    return p


def fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    return {e["field"] for e in r.json().get("errors", [])}


async def test_region_situation(
    db, make_place, make_person, make_user, login, client, pack
) -> None:  # type: ignore[no-untyped-def]
    day = today() - timedelta(days=1)
    person = await make_person()
    a = await region_with_cases(db, make_place, person.id, day, C)
    occ = icu_by_hand(C)
    beds = math.ceil(occ[12])
    await icu_beds(db, a, beds, day)
    # 100 000 residents in the region's one settlement
    half = [5000] * 10 + [0] * 8
    settlement = a.code + "-D-S"
    await registry.set_population(
        db, settlement, PopulationIn(year=day.year, male=half, female=half)
    )
    await db.commit()
    epi = await login(await make_user("epidemiologist"))
    r = await client.get(
        f"{API}/situation", params={"area": a.code, "on": day.isoformat()}, headers=epi
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["edition"] == "t-rt"
    assert len(body["days"]) == 56
    assert len(body["forecast_days"]) == 14
    [reg] = body["regions"]
    assert reg["counts"][-28:] == [C] * 28
    assert sum(reg["counts"]) == 28 * C
    assert reg["rt"]["mean"] == pytest.approx((1 + 7 * C) / (0.2 + 7 * C), rel=1e-4)
    assert reg["rt"]["reason"] is None
    assert reg["population"] == 100_000
    # the daily average of the 7-day window per 100 000: 7·20 / 7 / 100 000 · 100 000
    assert reg["incidence_per_100k"] == pytest.approx(20.0)
    assert reg["beds"]["icu"] == beds
    assert reg["beds"]["infectious"] is None
    assert reg["hospitalised_per_100k"] == 0
    assert reg["zone"] == {"code": "red", "name": "Red", "colour": "#c62828", "rule": 0,
                           "reason": None, "missing": []}  # fmt: skip
    [fc] = reg["forecast"]
    assert fc["icu_beds"]["median"] == pytest.approx(list(occ), rel=1e-6)
    assert fc["icu_beds"]["low"][13] <= fc["icu_beds"]["median"][13] <= fc["icu_beds"]["high"][13]
    assert fc["icu_exceeded_on"] == (day + timedelta(days=14)).isoformat()
    assert fc["infectious_exceeded_on"] is None


async def test_not_enough_data_gives_no_rt_and_no_rt_zone(
    db, make_place, make_person, make_user, login, client, pack
) -> None:  # type: ignore[no-untyped-def]
    day = today() - timedelta(days=1)
    person = await make_person()
    # the last 7-day window: 10 cases, the posterior's CV 1/√(1 + 10) > 0.3; 11 cases:
    # 1/√12 ≤ 0.3, an Rt (no earlier window has 11 either: no Rt to project from)
    few = await region_with_cases(db, make_place, person.id, day, [2, 2, 2, 2, 2, 0, 0, 0])
    enough = await region_with_cases(db, make_place, person.id, day, [2, 2, 2, 2, 2, 1, 0, 0])
    epi = await login(await make_user("epidemiologist"))
    got = {}
    for region in (few, enough):
        params = {"area": region.code, "on": day.isoformat()}
        r = await client.get(f"{API}/situation", params=params, headers=epi)
        assert r.status_code == 200, r.text
        got[region.code] = r.json()["regions"][0]
    rt = got[few.code]["rt"]
    assert rt["mean"] is None
    assert rt["lower"] is None
    assert rt["reason"].startswith("Not enough data")
    zone = got[few.code]["zone"]
    assert zone["code"] is None
    assert zone["rule"] is None
    assert zone["missing"] == ["Reproduction number Rt"]
    assert got[few.code]["forecast"][0]["cases"]["median"] == [None] * 14
    assert got[few.code]["forecast"][0]["rt_day"] is None
    assert got[few.code]["counts"][-5:] == [2] * 5  # the epidemiologist reads notifications
    analyst = await login(await make_user("analyst"))
    r = await client.get(f"{API}/situation", params={"area": few.code, "on": day.isoformat()},
                         headers=analyst)  # fmt: skip
    assert r.json()["suppressed"] is True
    assert r.json()["regions"][0]["counts"][-8:] == [0, 0, 0] + ["<5"] * 5
    # shape 1 + 11, rate 1/5 + ΣΛ (Λ_t = I_{t-1}: 2+2+2+2+1+0+0): mean 12/9.2 > 1
    assert got[enough.code]["rt"]["mean"] == pytest.approx(12 / 9.2)
    assert got[enough.code]["zone"]["code"] == "red"
    assert got[enough.code]["forecast"][0]["rt_day"] == day.isoformat()


async def test_bad_input_names_the_field(client, make_user, login, make_place, pack) -> None:  # type: ignore[no-untyped-def]
    epi = await login(await make_user("epidemiologist"))
    place = await make_place()
    t = today()
    cases = [
        ("/situation", {"area": "NOPE-1"}, "area"),
        ("/situation", {"area": place.district}, "area"),
        ("/situation", {"edition": "no-such"}, "edition"),
        ("/situation", {"on": (t + timedelta(days=1)).isoformat()}, "on"),
        ("/situation", {"horizon": 13}, "horizon"),
        ("/situation", {"horizon": 29}, "horizon"),
        ("/zones", {"area": "NOPE-1"}, "area"),
        ("/zones", {"from": t.isoformat(), "to": (t - timedelta(days=1)).isoformat()}, "from"),
        ("/zones", {"from": (t - timedelta(days=366)).isoformat(), "to": t.isoformat()}, "to"),
        ("/alerts", {"from": t.isoformat(), "to": (t - timedelta(days=1)).isoformat()}, "from"),
        ("/situation", {"on": "0001-01-10"}, "on"),
        ("/zones", {"to": "0001-01-05"}, "to"),
        ("/alerts", {"to": "0001-01-05"}, "to"),
    ]
    for path, params, field in cases:
        r = await client.get(API + path, params=params, headers=epi)
        assert r.status_code == 422, (path, params, r.text)
        assert field in fields(r), (path, params, r.text)
    # the window at its bound: 366 days answer
    r = await client.get(f"{API}/zones", params={"from": (t - timedelta(days=365)).isoformat(),
                                                  "to": t.isoformat()}, headers=epi)  # fmt: skip
    assert r.status_code == 200, r.text
    for h in (14, 28):
        r = await client.get(f"{API}/situation", params={"horizon": h}, headers=epi)
        assert r.status_code == 200, r.text
        assert len(r.json()["forecast_days"]) == h


async def test_permission(client, make_user, login) -> None:  # type: ignore[no-untyped-def]
    nurse = await login(await make_user("nurse"))
    for path in ("/situation", "/zones", "/alerts"):
        r = await client.get(API + path, headers=nurse)
        assert r.status_code == 403
        r = await client.get(API + path)
        assert r.status_code == 401


_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)
_day = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat), _text
)
_params = st.fixed_dictionaries(
    {},
    optional={"area": _text, "on": _day, "edition": _text, "from": _day, "to": _day,
              "by": _text, "horizon": st.one_of(st.integers(-10, 400).map(str), _text)},
)  # fmt: skip


async def test_query_params_never_5xx(client, make_user, login, pack) -> None:  # type: ignore[no-untyped-def]
    examples: list[tuple[str, dict[str, str]]] = []

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(st.sampled_from(["/situation", "/zones", "/alerts"]), _params)
    def collect(path: str, params: dict[str, str]) -> None:
        examples.append((path, params))

    collect()
    epi = await login(await make_user("epidemiologist"))
    for path, params in examples:
        r = await client.get(API + path, params=params, headers=epi)
        assert r.status_code < 500, (path, params, r.text)
        if r.status_code == 422:
            assert fields(r), (path, params, r.text)


@pytest.mark.parametrize("small_at", ["inside", "just_outside"])
async def test_incidence_withheld_beside_a_small_day_for_the_analyst(  # type: ignore[no-untyped-def]
    db, make_place, make_person, make_user, login, client, pack, small_at
) -> None:
    """population × incidence is the window's sum: with the window's other days shown, a
    "<5" day would be that sum minus them. The analyst gets no incidence while the
    window holds a withheld day (its first day: inside; the day before it: shown), the
    epidemiologist always."""
    day = today() - timedelta(days=1)
    window = pack.edition(on=day).window_days
    k = window - 1 if small_at == "inside" else window
    per_day = [C] * 28
    per_day[k] = 3
    person = await make_person()
    a = await region_with_cases(db, make_place, person.id, day, per_day)
    half = [5000] * 10 + [0] * 8
    await registry.set_population(
        db, a.code + "-D-S", PopulationIn(year=day.year, male=half, female=half)
    )
    await db.commit()
    q = {"area": a.code, "on": day.isoformat()}
    epi = await login(await make_user("epidemiologist"))
    [mine] = (await client.get(f"{API}/situation", params=q, headers=epi)).json()["regions"]
    assert mine["incidence_per_100k"] is not None
    analyst = await login(await make_user("analyst"))
    r = await client.get(f"{API}/situation", params=q, headers=analyst)
    assert r.status_code == 200, r.text
    [reg] = r.json()["regions"]
    assert reg["counts"][-1 - k] == "<5"
    assert reg["population"] == 100_000
    if small_at == "inside":
        assert reg["incidence_per_100k"] is None
        # what the analyst can work out: the window's shown days, and nothing to
        # subtract them from; the small day is any of 1..4
        shown = reg["counts"][-window:]
        assert shown.count("<5") == 1
    else:
        assert reg["incidence_per_100k"] == pytest.approx(mine["incidence_per_100k"])


async def test_zones_and_alerts_name_their_zones_in_the_readers_language(  # type: ignore[no-untyped-def]
    db, make_place, make_person, make_user, login, client, monkeypatch
) -> None:
    """/zones and /alerts give each zone's name in the reader's language (from the
    recorded edition; an alert's from the editions in force), not its code alone."""
    from dataclasses import replace

    from salomat.domains.epidemic.models_situation import ZoneDay
    from salomat.domains.epidemic.service import alerts
    from salomat.domains.epidemic.service.matrix import parse_edition
    from tests.domains.epidemic.situation_support import EDITION

    names = {"red": {"en": "Red", "ru": "Красная"}, "green": {"en": "Green", "ru": "Зелёная"}}
    edition = {**EDITION, "zones": [{**z, "names": names[z["code"]]} for z in EDITION["zones"]]}
    p = replace(simple_pack(), editions=(parse_edition(edition),))
    monkeypatch.setattr(rules, "current", lambda: p)
    day = today() - timedelta(days=2)
    person = await make_person()
    c = await region_with_cases(db, make_place, person.id, day, C)
    db.add(ZoneDay(country="UZ", region_id=c.id, day=day - timedelta(days=1), edition="t-rt",
                   zone="green", rule=1, missing=""))  # fmt: skip
    await db.commit()
    await alerts.record_day(db, day, ep=p)
    await db.commit()
    epi = {**await login(await make_user("epidemiologist")), "Accept-Language": "ru"}
    q = {"area": c.code, "from": (day - timedelta(days=1)).isoformat(), "to": day.isoformat()}
    r = await client.get(f"{API}/zones", params=q, headers=epi)
    assert r.status_code == 200, r.text
    assert [(z["zone"], z["zone_name"]) for z in r.json()] == [
        ("green", "Зелёная"),
        ("red", "Красная"),
    ]
    r = await client.get(f"{API}/alerts", params={"from": day.isoformat()}, headers=epi)
    assert r.status_code == 200, r.text
    [change] = [a for a in r.json() if a["region"] == c.code and a["kind"] == "zone_change"]
    assert (change["zone_from_name"], change["zone_to_name"]) == ("Зелёная", "Красная")


@pytest.mark.parametrize("small", [True, False])
async def test_rt_and_projections_withheld_beside_a_small_day_for_the_analyst(  # type: ignore[no-untyped-def]
    db, make_place, make_person, make_user, login, client, pack, small
) -> None:
    """Rt's mean and interval give its posterior's shape (1 + the window's cases), and the
    projections continue the exact counts: beside the shown days either would give a "<5"
    day back. With one anywhere in the period the analyst gets neither (a reason instead);
    without one, the same figures as the epidemiologist."""
    day = today() - timedelta(days=1)
    per_day = [C] * 28
    if small:
        per_day[20] = 2  # outside the incidence window, inside the counts Rt reads
    person = await make_person()
    a = await region_with_cases(db, make_place, person.id, day, per_day)
    q = {"area": a.code, "on": day.isoformat()}
    epi = await login(await make_user("epidemiologist"))
    [mine] = (await client.get(f"{API}/situation", params=q, headers=epi)).json()["regions"]
    assert mine["rt"]["mean"] is not None
    analyst = await login(await make_user("analyst"))
    r = await client.get(f"{API}/situation", params=q, headers=analyst)
    assert r.status_code == 200, r.text
    [reg] = r.json()["regions"]
    if small:
        assert reg["counts"][-21] == "<5"
        assert (reg["rt"]["mean"], reg["rt"]["lower"], reg["rt"]["upper"]) == (None, None, None)
        assert reg["rt"]["reason"].startswith("Withheld")
        assert reg["forecast"] == []
    else:
        assert reg["rt"] == mine["rt"]
        assert reg["forecast"] == mine["forecast"]
