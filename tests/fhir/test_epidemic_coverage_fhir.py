"""Revaccination coverage as a FHIR MeasureReport under /fhir
(``MeasureReport/revaccination-<day>-<area>``): both denominators with their populations
and scores against counts made by hand, the age strata coded in the published
terminology, a region, a district and the country, the day's boundaries, permission and
audit as the REST coverage; answers checked against HL7's R4 JSON schema."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from salomat.domains.epidemic.service.notifications import today
from salomat.fhir import epidemic_coverage as mapper
from tests.domains.epidemic.test_revaccination_sql import (
    OLD,
    ON,
    RECENT,
    REV,
    _doses,
    _people,
    _settlement_id,
)
from tests.fhir.validator import invalid, schema_errors

pytestmark = pytest.mark.anyio

POP = "http://terminology.hl7.org/CodeSystem/measure-population"
FORTY, SIXTY_FIVE = date(1985, 1, 1), date(1960, 1, 1)  # 40-49 and 60-69 on ON


@pytest.fixture
async def area(db, make_place):  # type: ignore[no-untyped-def]
    """40-49: 3 revaccinated, 1 eligible only, 1 completed recently (not eligible);
    60-69: 2 revaccinated; one person with a single dose (not counted)."""
    place = await make_place()
    sid = await _settlement_id(db, place.settlement)
    for born, n, days in (
        (FORTY, 3, REV),
        (FORTY, 1, OLD),
        (FORTY, 1, RECENT),
        (SIXTY_FIVE, 2, REV),
        (FORTY, 1, OLD[:1]),
    ):
        await _doses(db, await _people(db, n, born, settlement_id=sid), days)
    await db.commit()
    return place


@pytest.fixture
async def reader(make_user, login) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return await login(await make_user("epidemiologist"))


def _pops(node: dict[str, Any]) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in node["population"]}


def _group(mr: dict[str, Any], code: str) -> dict[str, Any]:
    (g,) = [g for g in mr["group"] if g["code"]["coding"][0]["code"] == code]
    assert g["code"]["coding"][0]["system"] == mapper.DENOMINATOR_SYSTEM
    return g


def _strata(group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (stratifier,) = group["stratifier"]
    out = {}
    for s in stratifier["stratum"]:
        (coding,) = s["value"]["coding"]
        assert coding["system"] == mapper.AGE_GROUP_SYSTEM
        out[coding["code"]] = s
    return out


async def _get(client: Any, rid: str, headers: dict[str, str]) -> Any:
    return await client.get(f"/fhir/MeasureReport/{rid}", headers=headers)


async def test_a_regions_coverage_by_denominator_and_age_group(client, db, area, reader) -> None:  # type: ignore[no-untyped-def]
    rid = f"revaccination-{ON.isoformat()}-{area.region}"
    r = await _get(client, rid, reader)
    assert r.status_code == 200, r.text
    mr = r.json()
    assert mr["id"] == rid
    assert (mr["type"], mr["status"]) == ("summary", "complete")
    assert mr["period"] == {"start": ON.isoformat(), "end": ON.isoformat()}
    assert mr["subject"]["identifier"] == {"system": "urn:salomat:territory", "value": area.region}
    everyone, eligible = _group(mr, "all"), _group(mr, "eligible")
    # by hand: 7 completed a primary series, 6 of them eligible, 5 revaccinated
    assert _pops(everyone) == {"initial-population": 7, "denominator": 7, "numerator": 5}
    assert _pops(eligible) == {"initial-population": 7, "denominator": 6, "numerator": 5}
    assert everyone["measureScore"]["value"] == pytest.approx(100 * 5 / 7, abs=0.05)
    assert eligible["measureScore"]["value"] == pytest.approx(100 * 5 / 6, abs=0.05)
    assert everyone["measureScore"]["code"] == "%"
    strata = _strata(eligible)
    assert list(strata) == ["0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70+"]
    assert _pops(strata["40-49"]) == {"initial-population": 5, "denominator": 4, "numerator": 3}
    assert strata["40-49"]["measureScore"]["value"] == pytest.approx(75.0)
    assert _pops(strata["60-69"]) == {"initial-population": 2, "denominator": 2, "numerator": 2}
    assert strata["60-69"]["measureScore"]["value"] == pytest.approx(100.0)
    # an empty band: populations of 0 and no score (no denominator to divide by)
    assert _pops(strata["18-29"]) == {"initial-population": 0, "denominator": 0, "numerator": 0}
    assert "measureScore" not in strata["18-29"]
    assert _strata(everyone)["40-49"]["measureScore"]["value"] == pytest.approx(60.0)
    errors = await schema_errors([("coverage", mr)])
    assert not invalid(errors), invalid(errors)
    audited = await db.scalar(
        text(
            "SELECT count(*) FROM audit_event WHERE resource_type = 'ImmunizationCoverage' "
            "AND resource_id = :area AND patient_id IS NULL"
        ).bindparams(area=area.region)
    )
    assert audited == 1


async def test_a_district_and_the_country(client, area, reader) -> None:  # type: ignore[no-untyped-def]
    r = await _get(client, f"revaccination-{ON.isoformat()}-{area.district}", reader)
    assert r.status_code == 200, r.text
    district = r.json()
    assert _pops(_group(district, "eligible")) == {
        "initial-population": 7,
        "denominator": 6,
        "numerator": 5,
    }
    r = await _get(client, f"revaccination-{ON.isoformat()}-country", reader)
    assert r.status_code == 200, r.text
    country = r.json()
    assert country["id"] == f"revaccination-{ON.isoformat()}-country"
    assert "subject" not in country
    pops = _pops(_group(country, "all"))
    assert pops["initial-population"] >= 7
    assert pops["numerator"] >= 5
    errors = await schema_errors([("district", district), ("country", country)])
    assert not invalid(errors), invalid(errors)


async def test_no_such_report(client, area, reader) -> None:  # type: ignore[no-untyped-def]
    first = date(2020, 1, 1)
    for rid in (
        f"revaccination-{ON.isoformat()}-NO-SUCH-AREA",
        f"revaccination-{ON.isoformat()}",
        f"revaccination-{ON.isoformat()}-",
        "revaccination-2025-13-01-country",
        f"revaccination-{(first - timedelta(days=1)).isoformat()}-country",
        f"revaccination-{(today() + timedelta(days=1)).isoformat()}-country",
    ):
        r = await _get(client, rid, reader)
        assert r.status_code == 404, (rid, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
    for day in (first, today()):
        r = await _get(client, f"revaccination-{day.isoformat()}-country", reader)
        assert r.status_code == 200, (day, r.text)


async def test_who_reads_coverage(client, area, make_user, login) -> None:  # type: ignore[no-untyped-def]
    rid = f"revaccination-{ON.isoformat()}-{area.region}"
    assert (await _get(client, rid, {})).status_code == 401
    for role in ("nurse", "registrar", "pharmacist"):
        r = await _get(client, rid, await login(await make_user(role)))
        assert r.status_code == 403, (role, r.text)
    for role in ("analyst", "family_doctor"):
        r = await _get(client, rid, await login(await make_user(role)))
        assert r.status_code == 200, (role, r.text)


_CODE = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.",
    min_size=1,
    max_size=30,
).filter(lambda c: c != "country")


@given(day=st.dates(min_value=date(2020, 1, 1), max_value=date(2100, 1, 1)), code=_CODE)
def test_an_id_parses_back(day: date, code: str) -> None:
    assert mapper.parse_report_id(mapper.report_id(day, code)) == (day, code)
    assert mapper.parse_report_id(mapper.report_id(day, None)) == (day, None)


@given(st.text(max_size=80))
def test_any_id_parses_or_is_none(rid: str) -> None:
    out = mapper.parse_report_id(f"revaccination-{rid}")
    assert out is None or (isinstance(out[0], date) and out[1] != "")
