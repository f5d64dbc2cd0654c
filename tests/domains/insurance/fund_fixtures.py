"""Slice A's arrangement (contributions): a fund analyst under Kazakhstan's pack, an
employer payer with its employee, an independent payer, the state payer (one in the
whole database: found or made), and people with valid IINs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from secrets import randbelow
from typing import Any

import pytest

from tests.factories import national_id_for


@dataclass
class Fund:
    analyst: Any
    headers: dict[str, str]
    employer: dict[str, Any]
    independent: dict[str, Any]
    state: dict[str, Any]
    worker: Any
    worker_nid: str
    own: Any
    own_nid: str
    make: Any

    async def person(self, born: date = date(1985, 4, 2), sex: str = "female") -> tuple[Any, str]:
        return await self.make(born, sex)


def csv_of(*lines: str, header: str = "payer,national_id,month,amount,paid_on") -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


@pytest.fixture
async def fund(kz, db, client, make_user, make_person, make_employer, login) -> Fund:  # type: ignore[no-untyped-def]
    analyst = await make_user("insurance_analyst")
    headers = await login(analyst)

    async def person(born: date = date(1985, 4, 2), sex: str = "female") -> tuple[Any, str]:
        from salomat.core.errors import Conflict

        # an IIN has 10,000 serials a birth date and sex: a clash is retried with another
        for attempt in range(5):
            nid = national_id_for(born, sex, "KZ")
            try:
                return await make_person(birth_date=born, sex=sex, national_id=nid), nid
            except Conflict:
                await db.rollback()
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    org = await make_employer()
    r = await client.post(
        "/api/v1/insurance/payers",
        json={"kind": "employer", "business_id": org.business_id},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    employer = r.json()
    worker, worker_nid = await person(date(1980, 1, 1) + timedelta(days=randbelow(7000)), "male")
    own, own_nid = await person(date(1980, 1, 1) + timedelta(days=randbelow(7000)), "female")
    r = await client.post(
        "/api/v1/insurance/payers",
        json={"kind": "independent", "national_id": own_nid},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    independent = r.json()
    r = await client.get("/api/v1/insurance/payers", params={"kind": "state"}, headers=headers)
    if r.json()["items"]:
        state = r.json()["items"][0]
    else:
        r = await client.post("/api/v1/insurance/payers", json={"kind": "state"}, headers=headers)
        assert r.status_code == 201, r.text
        state = r.json()
    return Fund(
        analyst, headers, employer, independent, state, worker, worker_nid, own, own_nid, person
    )
