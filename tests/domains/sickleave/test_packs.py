"""The same rules read from each country's pack: Kazakhstan's numbers, written from its
order (ДСМ-198/2020, ../shared/domain/sick-leave.md), not from the code.

- one doctor alone: 6 days (the pack's UNVERIFIED value), so 5 days pass and a 7th
  day needs the VKK;
- maternity in a former nuclear-test zone: from 27 weeks, 170 days (91 + 79), 184
  after a complicated birth (91 + 93).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from salomat.core.config import get_settings
from salomat.domains.sickleave import service
from tests.domains.sickleave.conftest import fields

pytestmark = pytest.mark.anyio

TODAY = date.today()


@pytest.fixture
def kz(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SALOMAT_COUNTRY", "KZ")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_the_kz_pack_reads_the_orders_numbers(kz):
    rules = service.sick_leave_rules()
    assert rules.country == "KZ"
    assert rules.practitioners["doctor"].alone_days == 6
    m = rules.maternity
    assert (m.start_week, m.days, m.extension_days) == (30, 126, 14)
    assert (m.zone_start_week, m.zone_days) == (27, 170)
    assert rules.max_days("own_illness", "A15.0") == 456  # tuberculosis (XDR: 15 months)
    assert rules.max_days("own_illness", "J11.1") == 304


async def test_influenza_in_kazakhstan(kz, client, clinic):
    r = await client.post(
        f"/api/v1/persons/{clinic.worker.id}/sick-leave",
        json={"reason": "own_illness", "diagnosis": "J11.1", "days": 5},
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/sick-leave/{r.json()['id']}/extend"
    assert (await client.post(url, json={"days": 2}, headers=clinic.doctor)).status_code == 422
    r = await client.post(url, json={"days": 1}, headers=clinic.doctor)
    assert r.status_code == 200, r.text
    assert r.json()["days"] == 6
    r = await client.post(url, json={"days": 1}, headers=clinic.doctor)
    assert r.status_code == 422
    assert "ends_on" in fields(r)


@pytest.mark.parametrize("offset", [-1, 0])
async def test_a_test_site_zone_from_27_weeks_for_170_days(kz, client, clinic, make_person, offset):
    woman = await make_person(facility_code=clinic.facility.code, birth_date=date(1993, 6, 1))
    lmp = TODAY - timedelta(days=27 * 7 + offset)
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "gravida": 2, "parity": 1},
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/persons/{woman.id}/sick-leave/maternity"
    r = await client.post(
        url, json={"zone_document": "Certificate SIP-4411"}, headers=clinic.doctor
    )
    if offset < 0:
        assert r.status_code == 422
        assert "starts_on" in fields(r)
        return
    assert r.status_code == 201, r.text
    assert r.json()["days"] == 170
    assert r.json()["zone_document"] == "Certificate SIP-4411"


async def test_no_zone_leave_in_uzbekistan(client, clinic, make_person):
    if get_settings().country != "UZ":
        pytest.skip("the deployed test pack is not UZ")
    woman = await make_person(facility_code=clinic.facility.code, birth_date=date(1993, 6, 1))
    r = await client.post(
        f"/api/v1/persons/{woman.id}/pregnancies",
        json={"lmp": (TODAY - timedelta(weeks=31)).isoformat(), "gravida": 1, "parity": 0},
        headers=clinic.doctor,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/persons/{woman.id}/sick-leave/maternity",
        json={"zone_document": "Certificate SIP-4411"},
        headers=clinic.doctor,
    )
    assert r.status_code == 422
    assert "zone_document" in fields(r)
