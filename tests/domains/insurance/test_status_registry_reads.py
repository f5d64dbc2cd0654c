"""The registry's one bulk resolver by national id, as the fund's file import, category
lists and claims call it: a record merged into one that was merged later resolves to
the last survivor, for the ids (payments) and for the vitals (the claims' sex and age
rules) alike; an unknown id is absent."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from salomat.domains.registry import service as registry
from tests.domains.insurance.test_status import kz_person

pytestmark = pytest.mark.anyio


async def test_a_merged_record_resolves_along_its_merges_to_the_last_survivor(kz, db, make_person):
    # written around the merge service (which moves the national id to the survivor):
    # an old record still naming its national id, merged into B, B merged into C
    old = await kz_person(make_person, born=date(1961, 1, 1), sex="male")
    middle = await kz_person(make_person, born=date(1962, 2, 2), sex="male")
    last = await kz_person(make_person, born=date(1963, 3, 3), sex="female")
    alone = await kz_person(make_person, born=date(1964, 4, 4), sex="male")
    for merged, into in ((old.id, middle.id), (middle.id, last.id)):
        await db.execute(
            text("UPDATE person SET merged_into_id = :into WHERE id = :id"),
            {"into": into, "id": merged},
        )
    wanted = [old.national_id, alone.national_id, "000000000000"]
    ids = await registry.person_ids_by_national_ids(db, wanted)
    assert ids == {old.national_id: last.id, alone.national_id: alone.id}
    vitals = await registry.vitals_by_national_ids(db, wanted)
    assert set(vitals) == {old.national_id, alone.national_id}
    v = vitals[old.national_id]
    assert (v.person_id, v.sex, v.birth_date) == (last.id, "female", date(1963, 3, 3))
    assert vitals[alone.national_id].birth_date == date(1964, 4, 4)
