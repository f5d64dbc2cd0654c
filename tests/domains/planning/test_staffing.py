"""Staffing posts against filled FTE (the note's vector 4 and the test region).

Reference values are written from the note: 15,500 people at 1 GP : 1,700 (KZ,
UNVERIFIED ratio) is 9.12 FTE, 10 posts; UZ's brigade of up to 3,000 gives 6 brigades and
the 2030 target of 1,700 gives 10.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from salomat.domains.planning.service.staffing import staffing

pytestmark = pytest.mark.anyio


def line(lines, position, **kw):  # type: ignore[no-untyped-def]
    found = [
        x
        for x in lines
        if x.position == position and all(getattr(x, k) == v for k, v in kw.items())
    ]
    assert len(found) == 1, found
    return found[0]


async def test_vector_4_kz_town(kz, plan) -> None:  # type: ignore[no-untyped-def]
    r = await staffing(plan.db, plan.principal(), plan.districts["D2"])
    assert r.edition.code == "kz-gp-1700"
    assert r.population == 15_500
    gp = line(r.by_position, "family_doctor")
    assert gp.exact_fte == Decimal("9.12")
    assert gp.required == 10
    assert gp.filled == Decimal("2.50")  # 1.0 + 1.0 + 0.5
    assert gp.deficit == Decimal("7.50")
    nurse = line(r.by_position, "nurse")  # no per-unit nurse for a polyclinic
    assert (nurse.required, nurse.filled, nurse.surplus) == (0, Decimal("1.00"), Decimal("1.00"))


async def test_region_by_district_rurality_and_total(kz, plan) -> None:  # type: ignore[no-untyped-def]
    r = await staffing(plan.db, plan.principal(), plan.region)
    d1, d2 = plan.districts["D1"], plan.districts["D2"]
    rural_pop = 35 + 180 + 420 + 1200 + 3400
    gp1 = line(r.by_district, "family_doctor", district_code=d1)
    assert (gp1.population, gp1.exact_fte, gp1.required) == (rural_pop, Decimal("3.08"), 4)
    assert gp1.deficit == 4
    # per unit: 2 medical points (a nurse each), 1 FAP (a feldsher and a midwife)
    assert line(r.by_district, "nurse", district_code=d1).required == 2
    # S2's nurse left yesterday: not a filled post today
    assert line(r.by_district, "nurse", district_code=d1).filled == 0
    midwife = line(r.by_district, "midwife", district_code=d1)
    assert (midwife.required, midwife.filled, midwife.deficit) == (
        1,
        Decimal("0.50"),
        Decimal("0.50"),
    )
    assert line(r.by_district, "feldsher", district_code=d1).deficit == 0
    assert line(r.by_district, "family_doctor", district_code=d2).required == 10
    # rural / urban
    assert line(r.by_rurality, "family_doctor", rural=True).required == 4
    assert line(r.by_rurality, "family_doctor", rural=False).required == 10
    # regional totals: deficits of the cells summed (a surplus fills no other district)
    gp = line(r.by_position, "family_doctor")
    assert (gp.required, gp.deficit) == (14, Decimal("11.50"))
    nurse = line(r.by_position, "nurse")
    assert (nurse.required, nurse.filled, nurse.deficit, nurse.surplus) == (
        2,
        Decimal("1.00"),
        Decimal("2"),
        Decimal("1.00"),
    )
    assert r.total.population == 15_500 + rural_pop
    assert r.total.deficit == Decimal("11.50") + 2 + Decimal("0.50")


async def test_national_total_counts_the_region(kz, plan) -> None:  # type: ignore[no-untyped-def]
    r = await staffing(plan.db, plan.principal(), None)
    assert r.population >= 15_500 + 5235


async def test_uz_brigades_vector_4(plan) -> None:  # type: ignore[no-untyped-def]
    # the deployed pack in tests is UZ's: PP-185, a brigade per 3,000 from 01.07.2025
    r = await staffing(plan.db, plan.principal(), plan.districts["D2"], on=date(2026, 1, 1))
    assert r.edition.code == "uz-pp185-2025"
    assert r.brigades == 6  # ceil(15,500 / 3,000)
    assert line(r.by_position, "family_doctor").required == 6
    # 3,100 children at 1 paediatrician : 3,000 children (UNVERIFIED): ceil(1.03) = 2
    assert r.children == 3100
    assert line(r.by_position, "paediatrician").required == 2
    r = await staffing(plan.db, plan.principal(), plan.districts["D2"], on=date(2030, 1, 1))
    assert r.edition.code == "uz-pp185-2030"
    assert r.brigades == 10  # ceil(15,500 / 1,700)
    fd = line(r.by_position, "family_doctor")
    assert (fd.required, fd.exact_fte) == (10, Decimal("9.12"))


async def test_unknown_staffing_edition_422(plan) -> None:  # type: ignore[no-untyped-def]
    from salomat.core.errors import Invalid

    with pytest.raises(Invalid) as e:
        await staffing(plan.db, plan.principal(), plan.region, edition_code="nope")
    assert [f.field for f in e.value.errors] == ["staffing_edition"]


async def test_staff_of_a_closed_facility_fill_no_post(kz, plan) -> None:  # type: ignore[no-untyped-def]
    """S5's FAP closed yesterday: its feldsher (role still active) fills no post today, as
    the closed FAP is no longer counted as a unit either."""
    from datetime import timedelta

    from sqlalchemy import update

    from salomat.domains.planning.service.norms import today
    from salomat.domains.registry.models import Facility

    d1 = plan.districts["D1"]
    before = await staffing(plan.db, plan.principal(), d1)
    assert line(before.by_position, "feldsher").filled == Decimal("1.00")
    await plan.db.execute(
        update(Facility)
        .where(Facility.id == plan.facility_ids["S5"])
        .values(closed_on=today() - timedelta(days=1))
    )
    await plan.db.commit()
    after = await staffing(plan.db, plan.principal(), d1)
    assert line(after.by_position, "feldsher").filled == 0
    assert line(after.by_position, "midwife").filled == 0
    # one day before the closing, the feldsher still filled the post
    earlier = await staffing(plan.db, plan.principal(), d1, on=today() - timedelta(days=2))
    assert line(earlier.by_position, "feldsher").filled == Decimal("1.00")


async def test_children_not_known_are_reported_beside_the_per_child_posts(plan) -> None:  # type: ignore[no-untyped-def]
    """UZ pack (a paediatrician per 3,000 children): D1's five villages have census figures
    but no age structure, so their children are not known; the paediatrician's 0 posts
    there come with the 5 settlements and 5,235 people left out, not silently."""
    d1_pop = 35 + 180 + 420 + 1200 + 3400
    r = await staffing(plan.db, plan.principal(), plan.region)
    assert (r.children_unknown_settlements, r.children_unknown_population) == (5, d1_pop)
    ped = line(r.by_district, "paediatrician", district_code=plan.districts["D1"])
    assert ped.required == 0
    assert ped.of_children
    assert (ped.children_unknown_settlements, ped.children_unknown_population) == (5, d1_pop)
    # S6 has its age structure: nothing unknown in D2
    ped2 = line(r.by_district, "paediatrician", district_code=plan.districts["D2"])
    assert ped2.children_unknown_settlements == 0
    assert ped2.required == 2  # 3,100 children / 3,000
    # a position counted per person carries no such figure
    gp = line(r.by_district, "family_doctor", district_code=plan.districts["D1"])
    assert not gp.of_children
    assert gp.children_unknown_settlements == 0
    assert (r.total.children_unknown_settlements, r.total.children_unknown_population) == (
        5,
        d1_pop,
    )
