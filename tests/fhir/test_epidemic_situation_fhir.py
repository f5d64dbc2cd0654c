"""A region's epidemic situation as a FHIR MeasureReport
(``MeasureReport/epi-situation-<day>-<region>``): the day's cases, Rt with its interval,
incidence and hospitalised per 100 000, the zone as a coded group and the median of
intensive-care beds at the horizon, against the figures computed by hand
(tests/domains/epidemic/situation_support.py); a reader without epidemic:cases gets "<5"
and no Rt or projection where the situation withholds them; permission and missing
reports; answers checked against HL7's R4 JSON schema."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salomat.domains.epidemic.service import rules
from salomat.domains.epidemic.service.notifications import today
from salomat.domains.registry import service as registry
from salomat.domains.registry.schemas import PopulationIn
from salomat.fhir import epidemic_situation as mapper
from tests.domains.epidemic.situation_support import (
    icu_beds,
    icu_by_hand,
    region_with_cases,
    simple_pack,
)
from tests.fhir.validator import invalid, schema_errors

pytestmark = pytest.mark.anyio

C = 20
ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


@pytest.fixture
def pack(monkeypatch):  # type: ignore[no-untyped-def]
    p = simple_pack()
    monkeypatch.setattr(rules, "current", lambda: p)
    return p


def _groups(mr: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for g in mr["group"]:
        coding = g["code"]["coding"][0]
        key = "zone" if coding["system"] == mapper.ZONE_SYSTEM else coding["code"]
        out[key] = g
    return out


def _ext(node: dict[str, Any], url: str) -> Any:
    found = [e for e in node.get("extension", []) if e["url"] == url]
    return found[0] if found else None


async def _report(client: Any, day: date, region: str, headers: dict[str, str]) -> Any:
    return await client.get(
        f"/fhir/MeasureReport/epi-situation-{day.isoformat()}-{region}", headers=headers
    )


async def test_a_regions_situation(
    db, make_place, make_person, make_user, login, client, pack
) -> None:  # type: ignore[no-untyped-def]
    day = today() - timedelta(days=1)
    person = await make_person()
    a = await region_with_cases(db, make_place, person.id, day, C)
    occ = icu_by_hand(C)
    await icu_beds(db, a, math.ceil(occ[12]), day)
    half = [5000] * 10 + [0] * 8  # 100 000 residents
    await registry.set_population(
        db, a.code + "-D-S", PopulationIn(year=day.year, male=half, female=half)
    )
    await db.commit()
    epi = await login(await make_user("epidemiologist"))
    r = await _report(client, day, a.code, epi)
    assert r.status_code == 200, r.text
    mr = r.json()
    assert mr["id"] == f"epi-situation-{day.isoformat()}-{a.code}"
    assert mr["subject"]["identifier"] == {"system": "urn:salomat:territory", "value": a.code}
    assert mr["period"] == {"start": day.isoformat(), "end": day.isoformat()}
    g = _groups(mr)
    assert g["cases"]["measureScore"] == {"value": C}
    # Cori's posterior with w_1 = 1: shape 1 + 7C, rate 1/5 + 7C
    assert g["rt"]["measureScore"]["value"] == pytest.approx((1 + 7 * C) / (0.2 + 7 * C), 1e-4)
    interval = _ext(g["rt"], mapper.INTERVAL_EXT)["valueRange"]
    assert interval["low"]["value"] < g["rt"]["measureScore"]["value"] < interval["high"]["value"]
    assert _ext(g["rt"], mapper.DAY_EXT)["valueDate"] == day.isoformat()
    # the daily average of the 7-day window per 100 000
    assert g["incidence"]["measureScore"]["value"] == pytest.approx(20.0)
    assert g["incidence"]["measureScore"]["code"] == "/10*5"
    assert g["hospitalised"]["measureScore"]["value"] == 0
    assert g["zone"]["code"]["coding"][0]["code"] == "red"
    forecast = g["icu-forecast"]
    assert _ext(forecast, mapper.DAY_EXT)["valueDate"] == (day + timedelta(days=14)).isoformat()
    [stratum] = forecast["stratifier"][0]["stratum"]
    assert stratum["value"]["coding"][0]["code"] == "unchanged"
    assert stratum["measureScore"]["value"] == pytest.approx(occ[13], rel=1e-6)
    band = _ext(stratum, mapper.INTERVAL_EXT)["valueRange"]
    assert band["low"]["value"] <= occ[13] <= band["high"]["value"]
    errors = await schema_errors([("situation", mr)])
    assert not invalid(errors), invalid(errors)


@pytest.mark.parametrize("small", [False, True])
async def test_what_the_analyst_gets(
    db, make_place, make_person, make_user, login, client, pack, small
) -> None:  # type: ignore[no-untyped-def]
    """The situation withholds Rt and the projections from a reader without
    epidemic:cases where the period holds a day of 1 to 4 (situation_view): the report
    has neither (masked), and the day's small count is "< 5"."""
    day = today() - timedelta(days=1)
    per_day = [C] * 28
    if small:
        per_day[0] = 3  # the day itself: "<5" to the analyst
    person = await make_person()
    a = await region_with_cases(db, make_place, person.id, day, per_day)
    analyst = await login(await make_user("analyst"))
    r = await _report(client, day, a.code, analyst)
    assert r.status_code == 200, r.text
    mr = r.json()
    g = _groups(mr)
    if small:
        assert g["cases"]["measureScore"] == {"value": 5, "comparator": "<"}
        assert "measureScore" not in g["rt"]
        assert _ext(g["rt"], ABSENT)["valueCode"] == "masked"
        assert _ext(g["rt"], mapper.REASON_EXT)["valueString"].startswith("Withheld")
        assert "stratifier" not in g["icu-forecast"]
        assert _ext(g["icu-forecast"], ABSENT)["valueCode"] == "masked"
    else:
        assert g["cases"]["measureScore"] == {"value": C}
        assert g["rt"]["measureScore"]["value"] > 0
        assert g["icu-forecast"]["stratifier"][0]["stratum"][0]["measureScore"]["value"] > 0
    # the epidemiologist reads the notifications: the exact count and an Rt
    epi = await login(await make_user("epidemiologist"))
    mine = _groups((await _report(client, day, a.code, epi)).json())
    assert mine["cases"]["measureScore"] == {"value": per_day[0]}
    assert "measureScore" in mine["rt"]
    errors = await schema_errors([(f"analyst-{small}", mr)])
    assert not invalid(errors), invalid(errors)


async def test_permission_and_missing_reports(
    db, make_place, make_person, make_user, login, client, pack
) -> None:  # type: ignore[no-untyped-def]
    day = today() - timedelta(days=1)
    person = await make_person()
    a = await region_with_cases(db, make_place, person.id, day, 2)
    assert (await _report(client, day, a.code, {})).status_code == 401
    for role in ("family_doctor", "registrar", "nurse"):
        r = await _report(client, day, a.code, await login(await make_user(role)))
        assert r.status_code == 403, (role, r.text)
    epi = await login(await make_user("epidemiologist"))
    assert (await _report(client, today(), a.code, epi)).status_code == 200
    for rid in (
        f"epi-situation-{(today() + timedelta(days=1)).isoformat()}-{a.code}",
        f"epi-situation-{day.isoformat()}-NO-SUCH-REGION",
        f"epi-situation-{day.isoformat()}-{a.code}-D",  # a district: not a region here
        f"epi-situation-{day.isoformat()}",
        "epi-situation-2026-02-30-X",
        "epi-situation-0001-01-01-X",
    ):
        r = await client.get(f"/fhir/MeasureReport/{rid}", headers=epi)
        assert r.status_code == 404, (rid, r.text)


@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
    code=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", min_size=1, max_size=30),
)
def test_an_id_parses_back(day: date, code: str) -> None:
    assert mapper.parse_report_id(mapper.report_id(day, code)) == (day, code)


@given(st.text(max_size=80))
def test_any_id_parses_or_is_none(rid: str) -> None:
    out = mapper.parse_report_id(f"epi-situation-{rid}")
    assert out is None or (isinstance(out[0], date) and out[1] != "")
