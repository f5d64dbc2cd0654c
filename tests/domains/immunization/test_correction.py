"""A registrar corrects a birth date: the card is counted again from the new date.

The registry publishes ``PersonCorrected`` in the same transaction; the stored
verdicts (``valid``, ``counted_as``), which coverage reads in SQL, follow. The
expected places are the WHO reference's (``who_reference``), from the dates.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.domains.immunization.test_coverage import coverage, give, recount
from tests.domains.immunization.who_reference import who_places
from tests.domains.maternal.test_referrals import facility

pytestmark = pytest.mark.anyio

COHORT = date.today().year - 2
BORN = date(COHORT, 1, 10)
#: Penta at 6 weeks, 10 and 14 weeks of the first birth date
PENTA = [BORN + timedelta(days=d) for d in (42, 70, 98)]


@pytest.fixture
async def setting(db, make_place, make_person, make_user, login):
    place = await make_place()
    poly = await facility(db, "family_polyclinic", place.settlement)
    nurse = await login(await make_user("nurse", facility_code=poly.code))
    registrar = await login(await make_user("registrar"))
    analyst = await login(await make_user("analyst"))
    kid = await make_person(
        facility_code=poly.code, birth_date=BORN, sex="male", settlement_code=place.settlement
    )
    return place, nurse, registrar, analyst, kid


async def correct(client, registrar, person_id: int, **patch: Any) -> dict[str, Any]:
    url = f"/api/v1/persons/{person_id}"
    etag = (await client.get(url, headers=registrar)).headers["etag"]
    r = await client.patch(url, json=patch, headers={**registrar, "If-Match": etag})
    assert r.status_code == 200, r.text
    return r.json()


async def counted(client, nurse, person_id: int) -> list[tuple[str, bool, int | None]]:
    r = await client.get(f"/api/v1/persons/{person_id}/immunizations", headers=nurse)
    return sorted((d["given_on"], d["valid"], d["counted_as"]) for d in r.json())


@pytest.mark.parametrize(
    ("shift", "places"),
    [
        (0, [1, 2, 3]),  # the same date: nothing moves
        (1, [None, 1, 2]),  # born a day later: the first dose is one day before 6 weeks
        (-1, [1, 2, 3]),  # a day earlier: all still count
    ],
)
async def test_a_corrected_birth_date_recounts_the_card(client, db, setting, shift, places):
    place, nurse, registrar, analyst, kid = setting
    for n, on in enumerate(PENTA, start=1):
        await give(client, nurse, kid.id, "penta", n, on)
    assert [c for _, _, c in await counted(client, nurse, kid.id)] == [1, 2, 3]
    new_birth = BORN + timedelta(days=shift)
    await correct(client, registrar, kid.id, birth_date=new_birth.isoformat())
    got = await counted(client, nurse, kid.id)
    assert [c for _, _, c in got] == places
    assert [v for _, v, _ in got] == [p is not None for p in places]
    # the reference from the dates alone agrees
    ref = who_places(new_birth, [("penta", on) for on in PENTA])
    assert [c for _, _, c in got] == [
        next((n for (_, n), day in ref.items() if day == on), None) for on in PENTA
    ]
    # and the coverage, which reads the stored verdicts in SQL, follows
    d = await coverage(client, analyst, area=place.region, cohort=COHORT)
    f = {k: (x["eligible"], x["covered"]) for k, x in d["total"]["figures"].items()}
    assert f["dtp3"] == (1, 1 if places[-1] == 3 else 0)
    assert f == await recount(db, place.region, COHORT)


async def test_a_sex_or_name_correction_leaves_the_counts(client, setting):
    _, nurse, registrar, _, kid = setting
    for n, on in enumerate(PENTA, start=1):
        await give(client, nurse, kid.id, "penta", n, on)
    before = await counted(client, nurse, kid.id)
    await correct(client, registrar, kid.id, sex="female", given_name="Madina")
    assert await counted(client, nurse, kid.id) == before
