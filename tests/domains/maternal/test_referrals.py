"""Referrals to screening and perinatal centres through REST (issue 4, item 4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import unique

pytestmark = pytest.mark.anyio

TODAY = date.today()


@dataclass
class Network:
    polyclinic: Any
    woman: Any
    doctor: dict[str, str]
    maternity: Any  # level 2, near
    centre: Any  # level 3, far
    screening: Any
    maternity_obstetrician: dict[str, str]
    centre_obstetrician: dict[str, str]


async def facility(db, kind: str, settlement: str, level: int | None = None) -> Any:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import FacilityIn

    fac = await service.create_facility(
        db,
        FacilityIn(
            code=unique("F"),
            name=kind,
            kind=kind,
            perinatal_level=level,
            settlement_code=settlement,
        ),
    )
    await db.commit()
    return fac


async def settlement(db, district: str, lat: float, lon: float) -> str:
    from salomat.domains.registry import service
    from salomat.domains.registry.schemas import TerritoryIn

    code = unique(f"{district}-S")
    await service.create_territory(
        db,
        TerritoryIn(
            code=code,
            level="settlement",
            parent_code=district,
            name="Town",
            is_rural=False,
            latitude=lat,
            longitude=lon,
        ),
    )
    await db.commit()
    return code


@pytest.fixture
async def net(db, make_place, make_person, make_user, login) -> Network:
    place = await make_place()  # its settlement lies at 39.6, 66.9
    far = await settlement(db, place.district, 41.3, 69.2)
    poly = await facility(db, "family_polyclinic", place.settlement)
    # a level-1 hospital next door is not enough for level 2 care
    await facility(db, "district_hospital", place.settlement, 1)
    maternity = await facility(db, "maternity_complex", place.settlement, 2)
    centre = await facility(db, "perinatal_centre", far, 3)
    screening = await facility(db, "screening_centre", far)
    # another region's maternity complex at the same spot is not her region's
    other = await make_place()
    await facility(db, "maternity_complex", other.settlement, 2)
    woman = await make_person(facility_code=poly.code)
    doctor = await login(await make_user("family_doctor", facility_code=poly.code))
    mob = await login(await make_user("obstetrician", facility_code=maternity.code))
    cob = await login(await make_user("obstetrician", facility_code=centre.code))
    return Network(poly, woman, doctor, maternity, centre, screening, mob, cob)


async def register_hypertensive(client, n: Network) -> dict[str, Any]:
    """Registered at 10 weeks; the second contact (today, 20 weeks) has 150/95 twice."""
    today = date.today()  # read now: a run that passes midnight must not age her a day
    lmp = today - timedelta(weeks=20)
    on = lmp + timedelta(weeks=10)
    r = await client.post(
        f"/api/v1/persons/{n.woman.id}/pregnancies",
        json={"lmp": lmp.isoformat(), "registered_on": on.isoformat(), "gravida": 1, "parity": 0},
        headers=n.doctor,
    )
    assert r.status_code == 201, r.text
    preg = r.json()
    for day, bp in ((on, (112, 72)), (today, (150, 95))):
        etag = (await client.get(f"/api/v1/pregnancies/{preg['id']}", headers=n.doctor)).headers[
            "etag"
        ]
        r = await client.post(
            f"/api/v1/pregnancies/{preg['id']}/contacts",
            json={
                "on": day.isoformat(),
                "systolic_1": bp[0],
                "diastolic_1": bp[1],
                "systolic_2": bp[0],
                "diastolic_2": bp[1],
                "urine_protein": "none",
                "hiv_test_done": True,
                "syphilis_test_done": True,
                "ultrasound_done": True,
            },
            headers={**n.doctor, "If-Match": etag},
        )
        assert r.status_code == 201, r.text
    return r.json()


async def worklist(client, headers) -> dict[int, set[str]]:
    r = await client.get("/api/v1/worklists/antenatal", headers=headers)
    assert r.status_code == 200, r.text
    return {row["person_id"]: {x["code"] for x in row["reasons"]} for row in r.json()}


async def refer(client, n: Network, preg: dict[str, Any], **kw: Any):
    body = {"kind": "perinatal", "reason": "hypertension 150/95 twice", **kw}
    return await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals", json=body, headers=n.doctor
    )


async def act(client, headers, referral: dict[str, Any], what: str, **body: Any):
    got = await client.get(f"/api/v1/referrals/{referral['id']}", headers=headers)
    assert got.status_code == 200, got.text
    return await client.post(
        f"/api/v1/referrals/{referral['id']}/{what}",
        json=body or None,
        headers={**headers, "If-Match": got.headers["etag"]},
    )


# ---- the acceptance example --------------------------------------------------------------


async def test_high_risk_woman_stays_on_the_worklist_until_the_referral_is_accepted(client, net):
    preg = await register_hypertensive(client, net)
    assert preg["risk_level"] == "high"
    assert preg["care_level"] == 2
    assert "high_risk_no_referral" in (await worklist(client, net.doctor))[net.woman.id]

    # the maternity complex cannot open her record yet
    url = f"/api/v1/pregnancies/{preg['id']}"
    assert (await client.get(url, headers=net.maternity_obstetrician)).status_code == 404

    sent = await refer(client, net, preg)
    assert sent.status_code == 201, sent.text
    ref = sent.json()
    # the nearest open level-2+ facility of her region
    assert ref["to_facility_code"] == net.maternity.code
    assert ref["from_facility_code"] == net.polyclinic.code
    assert ref["required_level"] == 2
    assert ref["status"] == "sent"
    assert sent.headers["location"] == f"/api/v1/referrals/{ref['id']}"
    # sent is not enough
    assert "high_risk_no_referral" in (await worklist(client, net.doctor))[net.woman.id]
    assert (await client.get(url, headers=net.maternity_obstetrician)).status_code == 404

    inbox = await client.get(
        f"/api/v1/facilities/{net.maternity.code}/referrals?status=sent",
        headers=net.maternity_obstetrician,
    )
    assert inbox.status_code == 200
    assert [r["id"] for r in inbox.json()] == [ref["id"]]

    accepted = await act(client, net.maternity_obstetrician, ref, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["care_relationship_id"] is not None

    read = await client.get(url, headers=net.maternity_obstetrician)
    assert read.status_code == 200
    assert read.json()["person_id"] == net.woman.id
    assert net.woman.id not in await worklist(client, net.doctor)

    listed = await client.get(f"/api/v1/pregnancies/{preg['id']}/referrals", headers=net.doctor)
    assert [r["status"] for r in listed.json()] == ["accepted"]

    # seen, then returned with a conclusion: the facility's access ends
    assert (await act(client, net.maternity_obstetrician, ref, "seen")).status_code == 200
    back = await act(
        client, net.maternity_obstetrician, ref, "return", conclusion="Labetalol; review in 1 w"
    )
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "returned"
    assert back.json()["conclusion"] == "Labetalol; review in 1 w"
    assert (await client.get(url, headers=net.maternity_obstetrician)).status_code == 404
    # a returned referral still counts as accepted at the level required
    assert net.woman.id not in await worklist(client, net.doctor)


# ---- destinations ------------------------------------------------------------------------


async def test_level_three_goes_to_the_perinatal_centre_and_screening_to_the_screening_centre(
    client, net
):
    preg = await register_hypertensive(client, net)
    r = await refer(client, net, preg, required_level=3)
    assert r.status_code == 201, r.text
    assert r.json()["to_facility_code"] == net.centre.code
    s = await refer(client, net, preg, kind="screening", reason="second-trimester screening")
    assert s.status_code == 201, s.text
    assert s.json()["to_facility_code"] == net.screening.code
    assert s.json()["required_level"] is None


async def test_an_explicit_destination_must_be_open_and_of_the_right_level(client, net):
    preg = await register_hypertensive(client, net)
    ok = await refer(client, net, preg, to_facility_code=net.centre.code)
    assert ok.status_code == 201, ok.text
    assert ok.json()["to_facility_code"] == net.centre.code
    for code in (net.polyclinic.code, "NO-SUCH"):
        bad = await refer(client, net, preg, to_facility_code=code)
        assert bad.status_code == 422, bad.text
        assert {e["field"] for e in bad.json()["errors"]} == {"to_facility_code"}
    low = await refer(client, net, preg, to_facility_code=net.maternity.code, required_level=3)
    assert low.status_code == 422
    scr = await refer(client, net, preg, kind="screening", to_facility_code=net.maternity.code)
    assert scr.status_code == 422


async def test_sending_needs_her_in_scope(client, net, make_user, login, make_facility):
    preg = await register_hypertensive(client, net)
    stranger = await login(await make_user("family_doctor", facility_code=net.maternity.code))
    r = await client.post(
        f"/api/v1/pregnancies/{preg['id']}/referrals",
        json={"kind": "perinatal", "reason": "x"},
        headers=stranger,
    )
    assert r.status_code == 404


# ---- transitions, If-Match, who may act ------------------------------------------------------


async def test_wrong_transitions_are_refused_with_invalid_state(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    mob = net.maternity_obstetrician
    for what in ("seen", "return"):
        r = await act(client, mob, ref, what, conclusion="x")
        assert r.status_code == 409, (what, r.text)
        assert r.json()["type"].endswith("/invalid-state")
    assert (await act(client, mob, ref, "accept")).status_code == 200
    # accepting an accepted referral again changes nothing: it is answered as it is
    again = await act(client, mob, ref, "accept")
    assert (again.status_code, again.json()["status"]) == (200, "accepted")
    assert (await act(client, mob, ref, "decline")).status_code == 409
    # the refusal names the steps in the reader's language, not as codes
    ru = await act(client, {**mob, "Accept-Language": "ru"}, ref, "decline")
    assert ru.json()["detail"] == (
        f"Направление {ref['id']} уже в состоянии «принято» и больше не может стать «отклонено»."
    ), ru.json()["detail"]
    assert (await act(client, mob, ref, "seen")).status_code == 200
    # returning needs a conclusion
    bare = await act(client, mob, ref, "return")
    assert bare.status_code == 422
    assert (await act(client, mob, ref, "return", conclusion="ok")).status_code == 200


async def test_a_declined_referral_leaves_her_on_the_worklist(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    r = await act(client, net.maternity_obstetrician, ref, "decline", conclusion="no beds")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "declined"
    assert r.json()["care_relationship_id"] is None
    url = f"/api/v1/pregnancies/{preg['id']}"
    assert (await client.get(url, headers=net.maternity_obstetrician)).status_code == 404
    assert "high_risk_no_referral" in (await worklist(client, net.doctor))[net.woman.id]


async def test_updates_need_if_match(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    url = f"/api/v1/referrals/{ref['id']}/accept"
    r = await client.post(url, headers=net.maternity_obstetrician)
    assert r.status_code == 412
    stale = await client.post(url, headers={**net.maternity_obstetrician, "If-Match": 'W/"99"'})
    assert stale.status_code == 412


async def test_only_the_receiving_facility_acts_on_a_referral_and_reads_its_inbox(client, net):
    preg = await register_hypertensive(client, net)
    ref = (await refer(client, net, preg)).json()
    cob = net.centre_obstetrician
    r = await client.post(
        f"/api/v1/referrals/{ref['id']}/accept", headers={**cob, "If-Match": 'W/"1"'}
    )
    assert r.status_code == 404
    assert (await client.get(f"/api/v1/referrals/{ref['id']}", headers=cob)).status_code == 404
    other = await client.get(f"/api/v1/facilities/{net.maternity.code}/referrals", headers=cob)
    assert other.status_code == 404
    own = await client.get(f"/api/v1/facilities/{net.centre.code}/referrals", headers=cob)
    assert own.status_code == 200
    assert own.json() == []
    # the family doctor sends but does not receive
    doc = await client.get(
        f"/api/v1/facilities/{net.polyclinic.code}/referrals", headers=net.doctor
    )
    assert doc.status_code == 403
    # the sender reads her referral (the woman is in scope)
    sender = await client.get(f"/api/v1/referrals/{ref['id']}", headers=net.doctor)
    assert sender.status_code == 200
