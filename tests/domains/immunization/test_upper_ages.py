"""Upper ages and DTP-containing doses when a dose is recorded (REST).

A dose at or after its product's upper age (WHO: no rotavirus from 24 months,
no Hib, so no Penta, from 5 years, no whole-cell pertussis from 7 years) is
refused when given here (422 on ``given_on``: the nurse should not give it), and
kept as history but never counted when it was given elsewhere.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.domains.immunization.who_reference import months_after

pytestmark = pytest.mark.anyio

TODAY = date.today()
#: seven and a half years old: every upper age of the calendar's infant doses has passed
BORN = months_after(TODAY, -90)
VACCINE = {"rota": "rota", "penta": "penta", "dtp": "dtp", "pcv": "pcv13"}


@pytest.fixture
async def nurse_and_child(make_facility, make_person, make_user, login):
    fac = await make_facility()
    nurse = await login(await make_user("nurse", facility_code=fac.code))

    async def child() -> Any:
        return await make_person(facility_code=fac.code, birth_date=BORN, sex="female")

    return nurse, child


async def record(client, nurse, person_id: int, antigen: str, n: int, on: date, here: bool):
    body: dict[str, Any] = {"antigen": antigen, "dose_number": n, "given_on": on.isoformat()}
    if here:
        body |= {"vaccine": VACCINE[antigen], "lot": "L1", "site": "left_thigh"}
    else:
        body |= {"given_elsewhere": True, "place": "paper card"}
    return await client.post(f"/api/v1/persons/{person_id}/immunizations", json=body, headers=nurse)


@pytest.mark.parametrize(
    ("antigen", "n", "months"),
    [("rota", 1, 24), ("penta", 1, 60), ("pcv", 1, 60), ("dtp", 4, 84)],
)
async def test_a_dose_from_its_upper_age_is_refused_here_and_kept_uncounted_from_elsewhere(
    client, nurse_and_child, antigen, n, months
):
    nurse, child = nurse_and_child
    limit = months_after(BORN, months)
    for on, counts in (
        (limit - timedelta(days=1), True),
        (limit, False),
        (limit + timedelta(1), False),
    ):
        kid = await child()
        r = await record(client, nurse, kid.id, antigen, n, on, here=True)
        if counts:
            assert r.status_code == 201, r.text
            assert (r.json()["valid"], r.json()["counted_as"]) == (True, 1)
            continue
        assert r.status_code == 422, r.text
        errors = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert errors["given_on"].startswith("too late"), errors
        assert limit.isoformat() in errors["given_on"]
        # a paper record of it is kept as history, not counted
        r = await record(client, nurse, kid.id, antigen, n, on, here=False)
        assert r.status_code == 201, r.text
        d = r.json()
        assert (d["valid"], d["counted_as"]) == (False, None)
        assert "upper age" in d["invalid_reason"]
        sched = await client.get(f"/api/v1/persons/{kid.id}/immunization-schedule", headers=nurse)
        first = next(
            x
            for x in sched.json()["doses"]
            if x["antigen"] in (antigen, "penta") and x["dose_number"] == 1
        )
        assert first["status"] != "given"


async def test_a_dtp_dose_counts_as_the_first_primary_dose_and_is_flagged(client, nurse_and_child):
    nurse, child = nurse_and_child
    kid = await child()
    # 5 years 2 months: too old for Penta (Hib), not for DTP
    on = months_after(BORN, 62)
    r = await record(client, nurse, kid.id, "penta", 1, on, here=True)
    assert r.status_code == 422
    r = await record(client, nurse, kid.id, "dtp", 1, on, here=True)
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["valid"], d["counted_as"], d["counted_in"], d["needs_review"]) == (
        True,
        1,
        "penta",
        False,
    )
    # the booster is not due: two more DTP-containing doses come first
    sched = (
        await client.get(f"/api/v1/persons/{kid.id}/immunization-schedule", headers=nurse)
    ).json()
    status = {(x["antigen"], x["dose_number"]): x["status"] for x in sched["doses"]}
    assert status[("penta", 1)] == "given"
    assert status[("dtp", 4)] != "given"
    # the card says where it counts
    page = await client.get(f"/patients/{kid.id}/immunizations", headers=nurse)
    assert page.status_code == 200
    assert 'data-testid="counted-in"' in page.text
    assert 'data-series="penta"' in page.text


async def test_a_dose_number_outside_the_dtp_containing_places_is_refused(client, nurse_and_child):
    nurse, child = nurse_and_child
    kid = await child()
    r = await record(client, nurse, kid.id, "dtp", 5, months_after(BORN, 62), here=False)
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert "1, 2, 3, 4" in errors["dose_number"]
